/**
 * A minimal protocol-buffers wire-format writer and reader: just what building and inspecting ONNX
 * models needs (varints, 32-bit floats, length-delimited fields). Browser-safe, no dependencies.
 */

const WIRE_VARINT = 0,
  WIRE_I64 = 1,
  WIRE_LEN = 2,
  WIRE_I32 = 5;

/** Accumulates one message; nested messages are written into their own writer and embedded as bytes. */
export class ProtoWriter {
  private chunks: Uint8Array[] = [];
  private cur: number[] = [];
  private length = 0;

  private flushCur(): void {
    if (this.cur.length) {
      this.chunks.push(Uint8Array.from(this.cur));
      this.length += this.cur.length;
      this.cur = [];
    }
  }

  private varint(v: number | bigint): void {
    let n = BigInt.asUintN(64, BigInt(v));
    if (n < 0x80n) {
      this.cur.push(Number(n));
      return;
    }
    while (n >= 0x80n) {
      this.cur.push(Number(n & 0x7fn) | 0x80);
      n >>= 7n;
    }
    this.cur.push(Number(n));
  }

  private tag(field: number, wire: number): void {
    this.varint((field << 3) | wire);
  }

  /** int32 / int64 / enum / bool field (negative numbers as 10-byte two's complement, as protobuf does). */
  int(field: number, v: number | bigint): this {
    this.tag(field, WIRE_VARINT);
    this.varint(v);
    return this;
  }

  float(field: number, v: number): this {
    this.tag(field, WIRE_I32);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    this.cur.push(...b);
    return this;
  }

  bytes(field: number, data: Uint8Array): this {
    this.tag(field, WIRE_LEN);
    this.varint(data.length);
    this.flushCur();
    this.chunks.push(data);
    this.length += data.length;
    return this;
  }

  string(field: number, s: string): this {
    return this.bytes(field, new TextEncoder().encode(s));
  }

  message(field: number, m: ProtoWriter): this {
    return this.bytes(field, m.finish());
  }

  /** Packed repeated varints (int64 dims, ints attributes). */
  packedInts(field: number, values: ArrayLike<number | bigint>): this {
    const w = new ProtoWriter();
    for (let i = 0; i < values.length; i++) w.varint(values[i]);
    return this.bytes(field, w.finish());
  }

  /** Packed repeated floats. */
  packedFloats(field: number, values: ArrayLike<number>): this {
    const b = new Uint8Array(values.length * 4);
    const dv = new DataView(b.buffer);
    for (let i = 0; i < values.length; i++) dv.setFloat32(i * 4, values[i], true);
    return this.bytes(field, b);
  }

  /** Copies a field read by `readFields` unchanged. */
  raw(f: ProtoField): this {
    if (f.wire === WIRE_VARINT) return this.int(f.field, f.int!);
    if (f.wire === WIRE_LEN) return this.bytes(f.field, f.bytes!);
    this.tag(f.field, f.wire);
    this.cur.push(...f.bytes!);
    return this;
  }

  finish(): Uint8Array {
    this.flushCur();
    if (this.chunks.length === 1) return this.chunks[0];
    const out = new Uint8Array(this.length);
    let o = 0;
    for (const c of this.chunks) {
      out.set(c, o);
      o += c.length;
    }
    return out;
  }
}

export interface ProtoField {
  field: number;
  wire: number;
  /** varint value (as bigint, so int64 survives) for wire 0; raw bits for wire 1/5 */
  int?: bigint;
  /** payload for length-delimited fields (a view, not a copy) */
  bytes?: Uint8Array;
}

/** Thrown for malformed protobuf bytes; callers turn it into a UserError naming the file. */
export class ProtoError extends Error {}

/** Iterates the fields of one message. Never allocates from lengths it has not checked against the buffer. */
export function* readFields(buf: Uint8Array): Generator<ProtoField> {
  let p = 0;
  const n = buf.length;
  const varint = (): bigint => {
    let shift = 0n,
      r = 0n;
    for (let i = 0; i < 10; i++) {
      if (p >= n) throw new ProtoError('truncated varint');
      const b = buf[p++];
      r |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return r;
      shift += 7n;
    }
    throw new ProtoError('varint longer than 10 bytes');
  };
  while (p < n) {
    const key = Number(varint());
    const field = key >>> 3,
      wire = key & 7;
    if (field === 0) throw new ProtoError('field number 0');
    if (wire === WIRE_VARINT) yield { field, wire, int: varint() };
    else if (wire === WIRE_I64) {
      if (p + 8 > n) throw new ProtoError('truncated fixed64');
      yield { field, wire, bytes: buf.subarray(p, p + 8) };
      p += 8;
    } else if (wire === WIRE_I32) {
      if (p + 4 > n) throw new ProtoError('truncated fixed32');
      yield { field, wire, bytes: buf.subarray(p, p + 4) };
      p += 4;
    } else if (wire === WIRE_LEN) {
      const len = varint();
      if (len > BigInt(n - p)) throw new ProtoError(`length ${len} runs past the end (${n - p} bytes left)`);
      const l = Number(len);
      yield { field, wire, bytes: buf.subarray(p, p + l) };
      p += l;
    } else throw new ProtoError(`unsupported wire type ${wire}`);
  }
}

/** Signed int64 from a varint field (protobuf int64 is two's complement). */
export function asInt64(v: bigint | undefined): number {
  return Number(BigInt.asIntN(64, v ?? 0n));
}

export function asString(b: Uint8Array | undefined): string {
  return b ? new TextDecoder().decode(b) : '';
}

/** Reads packed or unpacked repeated varints. */
export function readPackedInts(f: ProtoField, out: number[]): void {
  if (f.wire === WIRE_VARINT) {
    out.push(asInt64(f.int));
    return;
  }
  if (f.wire !== WIRE_LEN || !f.bytes) return;
  const b = f.bytes;
  let p = 0;
  while (p < b.length) {
    let shift = 0n,
      r = 0n;
    for (;;) {
      if (p >= b.length) throw new ProtoError('truncated packed varint');
      const x = b[p++];
      r |= BigInt(x & 0x7f) << shift;
      if (x < 0x80) break;
      shift += 7n;
    }
    out.push(Number(BigInt.asIntN(64, r)));
  }
}
