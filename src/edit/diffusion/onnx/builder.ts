/**
 * Builds ONNX models (ModelProto, ir_version 8, default opset 17) from TypeScript: inputs, outputs,
 * initializers and nodes, serialised with the small protobuf writer in `proto.ts`. Used for the built-in
 * model and for the tiny test models, which keep the exact names, shapes and dtypes of the real exports.
 */
import { ProtoWriter } from './proto';
import { toF16Bits } from './half';

export type OnnxDtype = 'float32' | 'float16' | 'int64' | 'int32' | 'int8' | 'uint8' | 'bool' | 'double';

/** TensorProto.DataType codes. */
export const DTYPE_CODE: Record<OnnxDtype, number> = {
  float32: 1,
  uint8: 2,
  int8: 3,
  int32: 6,
  int64: 7,
  bool: 9,
  float16: 10,
  double: 11,
};
export const DTYPE_NAME: Record<number, string> = {
  1: 'float32',
  2: 'uint8',
  3: 'int8',
  4: 'uint16',
  5: 'int16',
  6: 'int32',
  7: 'int64',
  8: 'string',
  9: 'bool',
  10: 'float16',
  11: 'double',
  12: 'uint32',
  13: 'uint64',
  16: 'bfloat16',
};

/** A dimension: a fixed size or a symbolic name (dim_param), e.g. 'batch'. */
export type Dim = number | string;

/** Attribute values: number → INT, {f} → FLOAT, string → STRING, number[] → INTS, {floats} → FLOATS, {tensor} → TENSOR. */
export type AttrValue = number | string | number[] | { f: number } | { floats: number[] } | { tensor: TensorData };

export interface TensorData {
  dtype: OnnxDtype;
  dims: number[];
  /** values; float16 tensors take float numbers (converted to half bits), int64 take numbers or bigints */
  data: ArrayLike<number> | BigInt64Array;
}

export interface ModelOptions {
  opset?: number;
  irVersion?: number;
  producer?: string;
  docString?: string;
}

function tensorBytes(t: TensorData): Uint8Array {
  const n = t.dims.reduce((a, b) => a * b, 1);
  if (t.data.length !== n) throw new Error(`tensor data has ${t.data.length} values, dims ${JSON.stringify(t.dims)} need ${n}`);
  switch (t.dtype) {
    case 'float32': {
      const a = Float32Array.from(t.data as ArrayLike<number>);
      return new Uint8Array(a.buffer);
    }
    case 'float16':
      return new Uint8Array(toF16Bits(t.data as ArrayLike<number>).buffer);
    case 'double':
      return new Uint8Array(Float64Array.from(t.data as ArrayLike<number>).buffer);
    case 'int64': {
      const a = new BigInt64Array(n);
      for (let i = 0; i < n; i++) a[i] = BigInt(t.data[i] as number | bigint);
      return new Uint8Array(a.buffer);
    }
    case 'int32':
      return new Uint8Array(Int32Array.from(t.data as ArrayLike<number>).buffer);
    case 'int8':
      return new Uint8Array(Int8Array.from(t.data as ArrayLike<number>).buffer);
    case 'uint8':
    case 'bool':
      return Uint8Array.from(t.data as ArrayLike<number>, (v) => (t.dtype === 'bool' ? (v ? 1 : 0) : v));
  }
}

export function tensorProto(name: string, t: TensorData): ProtoWriter {
  const w = new ProtoWriter();
  if (t.dims.length) w.packedInts(1, t.dims);
  w.int(2, DTYPE_CODE[t.dtype]);
  if (name) w.string(8, name);
  w.bytes(9, tensorBytes(t)); // raw_data, little-endian
  return w;
}

function valueInfo(name: string, dtype: OnnxDtype, shape: Dim[] | null): ProtoWriter {
  const tensorType = new ProtoWriter().int(1, DTYPE_CODE[dtype]);
  if (shape) {
    const s = new ProtoWriter();
    for (const d of shape) s.message(1, typeof d === 'number' ? new ProtoWriter().int(1, d) : new ProtoWriter().string(2, d));
    tensorType.message(2, s);
  }
  return new ProtoWriter().string(1, name).message(2, new ProtoWriter().message(1, tensorType));
}

function attribute(name: string, v: AttrValue): ProtoWriter {
  const w = new ProtoWriter().string(1, name);
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) throw new Error(`attribute ${name}: ${v} is not an integer; write {f: ${v}} for a float`);
    return w.int(3, v).int(20, 2);
  }
  if (typeof v === 'string') return w.string(4, v).int(20, 3);
  if (Array.isArray(v)) return w.packedInts(8, v).int(20, 7);
  if ('f' in v) return w.float(2, v.f).int(20, 1);
  if ('floats' in v) return w.packedFloats(7, v.floats).int(20, 6);
  return w.message(5, tensorProto('', v.tensor)).int(20, 4);
}

/**
 * One graph. Value names are strings; `op` returns the name(s) of the node's output(s), generated
 * unless given. Example:
 *   const g = new GraphBuilder('add');
 *   const x = g.input('x', 'float32', ['batch', 3]);
 *   g.output(g.op('Add', [x, g.f32([1, 2, 3], [3])], {}, 'y'), 'float32', ['batch', 3]);
 *   const bytes = g.toModel();
 */
export class GraphBuilder {
  private nodes: ProtoWriter[] = [];
  private inits: ProtoWriter[] = [];
  private inputs: ProtoWriter[] = [];
  private outputs: ProtoWriter[] = [];
  private counter = 0;
  private used = new Set<string>();

  constructor(readonly name: string) {}

  private fresh(prefix: string): string {
    let n: string;
    do n = `${prefix}_${this.counter++}`;
    while (this.used.has(n));
    this.used.add(n);
    return n;
  }

  private claim(name: string): string {
    if (this.used.has(name)) throw new Error(`ONNX graph ${this.name}: value name '${name}' used twice`);
    this.used.add(name);
    return name;
  }

  input(name: string, dtype: OnnxDtype, shape: Dim[]): string {
    this.inputs.push(valueInfo(this.claim(name), dtype, shape));
    return name;
  }

  /** Declares a graph output; `value` must be produced by a node under exactly this name. */
  output(value: string, dtype: OnnxDtype, shape: Dim[] | null): void {
    this.outputs.push(valueInfo(value, dtype, shape));
  }

  initializer(t: TensorData, name?: string): string {
    const n = name ? this.claim(name) : this.fresh('w');
    this.inits.push(tensorProto(n, t));
    return n;
  }

  f32(data: ArrayLike<number>, dims: number[], name?: string): string {
    return this.initializer({ dtype: 'float32', dims, data }, name);
  }

  f16(data: ArrayLike<number>, dims: number[], name?: string): string {
    return this.initializer({ dtype: 'float16', dims, data }, name);
  }

  i64(data: ArrayLike<number>, dims: number[] = [data.length], name?: string): string {
    return this.initializer({ dtype: 'int64', dims, data }, name);
  }

  /** Adds a node; returns its output name (or names when `outputs` is a number > 1 or an array). */
  op(opType: string, inputs: string[], attrs?: Record<string, AttrValue>, output?: string): string;
  op(opType: string, inputs: string[], attrs: Record<string, AttrValue> | undefined, outputs: string[] | number): string[];
  op(opType: string, inputs: string[], attrs: Record<string, AttrValue> = {}, outputs?: string | string[] | number): string | string[] {
    const outs =
      typeof outputs === 'number'
        ? Array.from({ length: outputs }, () => this.fresh(opType.toLowerCase()))
        : Array.isArray(outputs)
          ? outputs.map((o) => this.claim(o))
          : [outputs ? this.claim(outputs) : this.fresh(opType.toLowerCase())];
    const w = new ProtoWriter();
    for (const i of inputs) w.string(1, i);
    for (const o of outs) w.string(2, o);
    w.string(3, `${opType}_${this.nodes.length}`);
    w.string(4, opType);
    for (const [k, v] of Object.entries(attrs)) w.message(5, attribute(k, v));
    this.nodes.push(w);
    return typeof outputs === 'number' || Array.isArray(outputs) ? outs : outs[0];
  }

  graphProto(): ProtoWriter {
    const g = new ProtoWriter();
    for (const n of this.nodes) g.message(1, n);
    g.string(2, this.name);
    for (const t of this.inits) g.message(5, t);
    for (const i of this.inputs) g.message(11, i);
    for (const o of this.outputs) g.message(12, o);
    return g;
  }

  /** Serialises a ModelProto. */
  toModel(opts: ModelOptions = {}): Uint8Array {
    const m = new ProtoWriter();
    m.int(1, opts.irVersion ?? 8);
    m.string(2, opts.producer ?? 'instruct-scene');
    m.string(3, '0.1.0');
    if (opts.docString) m.string(6, opts.docString);
    m.message(7, this.graphProto());
    m.message(8, new ProtoWriter().string(1, '').int(2, opts.opset ?? 17));
    return m.finish();
  }
}
