/**
 * Reads what a model promises without running it: graph inputs/outputs (names, element types, shapes
 * with symbolic dims), opset, producer, and the external-data files its initializers point at.
 * Initializer payloads are skipped, never copied.
 */
import { DTYPE_NAME } from './builder';
import { ProtoError, asInt64, asString, readFields } from './proto';

export interface ValueSpec {
  name: string;
  /** 'float32', 'float16', 'int64', … or 'unknown(N)' / 'non-tensor' */
  dtype: string;
  /** dims: number (fixed), string (symbolic), null (unknown); null when the rank is unknown */
  shape: (number | string | null)[] | null;
}

export interface ModelInfo {
  irVersion: number;
  opset: number;
  producer: string;
  docString: string;
  inputs: ValueSpec[];
  outputs: ValueSpec[];
  /** external data file names (relative to the model's folder), deduplicated */
  externalData: string[];
}

function readValueInfo(b: Uint8Array): ValueSpec {
  const v: ValueSpec = { name: '', dtype: 'non-tensor', shape: null };
  for (const f of readFields(b)) {
    if (f.field === 1) v.name = asString(f.bytes);
    else if (f.field === 2 && f.bytes) {
      for (const tf of readFields(f.bytes)) {
        if (tf.field !== 1 || !tf.bytes) continue; // tensor_type
        for (const tt of readFields(tf.bytes)) {
          if (tt.field === 1) {
            const code = asInt64(tt.int);
            v.dtype = DTYPE_NAME[code] ?? `unknown(${code})`;
          } else if (tt.field === 2 && tt.bytes) {
            v.shape = [];
            for (const d of readFields(tt.bytes)) {
              if (d.field !== 1 || !d.bytes) continue;
              let dim: number | string | null = null;
              for (const x of readFields(d.bytes)) {
                if (x.field === 1) dim = asInt64(x.int);
                else if (x.field === 2) dim = asString(x.bytes);
              }
              v.shape.push(dim);
            }
          }
        }
      }
    }
  }
  return v;
}

function externalLocation(tensor: Uint8Array): string | null {
  let external = false;
  let loc: string | null = null;
  for (const f of readFields(tensor)) {
    if (f.field === 14) external = asInt64(f.int) === 1;
    else if (f.field === 13 && f.bytes) {
      let k = '',
        val = '';
      for (const e of readFields(f.bytes)) {
        if (e.field === 1) k = asString(e.bytes);
        else if (e.field === 2) val = asString(e.bytes);
      }
      if (k === 'location') loc = val;
    }
  }
  return external ? loc : null;
}

/** Parses a ModelProto's signature. Throws ProtoError on bytes that are not a model. */
export function readModelInfo(bytes: Uint8Array): ModelInfo {
  const info: ModelInfo = { irVersion: 0, opset: 0, producer: '', docString: '', inputs: [], outputs: [], externalData: [] };
  let graph: Uint8Array | undefined;
  for (const f of readFields(bytes)) {
    if (f.field === 1 && f.wire === 0) info.irVersion = asInt64(f.int);
    else if (f.field === 2 && f.wire === 2) info.producer = asString(f.bytes);
    else if (f.field === 6 && f.wire === 2) info.docString = asString(f.bytes);
    else if (f.field === 7 && f.wire === 2) graph = f.bytes;
    else if (f.field === 8 && f.wire === 2 && f.bytes) {
      let domain = '',
        version = 0;
      for (const o of readFields(f.bytes)) {
        if (o.field === 1) domain = asString(o.bytes);
        else if (o.field === 2) version = asInt64(o.int);
      }
      if (domain === '' || domain === 'ai.onnx') info.opset = version;
    }
  }
  if (!graph || info.irVersion <= 0) throw new ProtoError('no graph or ir_version: not an ONNX model');
  const initNames = new Set<string>();
  const inputs: ValueSpec[] = [];
  const ext = new Set<string>();
  for (const f of readFields(graph)) {
    if (f.field === 11 && f.bytes) inputs.push(readValueInfo(f.bytes));
    else if (f.field === 12 && f.bytes) info.outputs.push(readValueInfo(f.bytes));
    else if (f.field === 5 && f.bytes) {
      for (const t of readFields(f.bytes)) if (t.field === 8) initNames.add(asString(t.bytes));
      const loc = externalLocation(f.bytes);
      if (loc) ext.add(loc);
    }
  }
  // IR < 4 lists initializers among the inputs; those are weights, not inputs.
  info.inputs = inputs.filter((v) => !initNames.has(v.name));
  info.externalData = [...ext];
  return info;
}

export function formatSpec(v: ValueSpec): string {
  const shape = v.shape ? `[${v.shape.map((d) => (d === null ? '?' : d)).join(',')}]` : '[unknown rank]';
  return `${v.name} ${v.dtype} ${shape}`;
}
