/**
 * Tensors of the Open Inference Protocol (KServe v2 REST, with Triton's binary tensor data extension), shared by
 * the client (./oip-client.ts) and the Node server (src/io/node/oip-server.ts): datatypes, the JSON and binary forms
 * of tensor data, and the request/response body that carries both (docs/remote-inference.md).
 *
 * Binary tensor data is little-endian, row-major, without padding; the body is the JSON header followed by each
 * binary tensor in the order the JSON lists them, and `Inference-Header-Content-Length` gives the header's length.
 * FP16 travels only as binary data (JSON has no half floats). Typed arrays are read and written in the platform's
 * byte order, which is little-endian on every platform the project runs on (x86-64, arm64, wasm).
 */

import { describeValue, UserError } from '../../../core/errors';
import { parseJson } from '../../../io/files/files';

export type OipDatatype =
  'BOOL' | 'UINT8' | 'UINT16' | 'UINT32' | 'UINT64' | 'INT8' | 'INT16' | 'INT32' | 'INT64' | 'FP16' | 'FP32' | 'FP64' | 'BYTES';

export type OipArray =
  | Uint8Array
  | Uint16Array
  | Uint32Array
  | BigUint64Array
  | Int8Array
  | Int16Array
  | Int32Array
  | BigInt64Array
  | Float32Array
  | Float64Array;

type ArrayCtor = { new (n: number): OipArray; new (buf: ArrayBuffer, offset: number, length: number): OipArray };

interface TypeInfo {
  /** onnxruntime's tensor type name */
  ort: string;
  /** bytes per element (0: variable, BYTES) */
  size: number;
  array: ArrayCtor | null;
}

export const OIP_TYPES: Record<OipDatatype, TypeInfo> = {
  BOOL: { ort: 'bool', size: 1, array: Uint8Array },
  UINT8: { ort: 'uint8', size: 1, array: Uint8Array },
  UINT16: { ort: 'uint16', size: 2, array: Uint16Array },
  UINT32: { ort: 'uint32', size: 4, array: Uint32Array },
  UINT64: { ort: 'uint64', size: 8, array: BigUint64Array as unknown as ArrayCtor },
  INT8: { ort: 'int8', size: 1, array: Int8Array },
  INT16: { ort: 'int16', size: 2, array: Int16Array },
  INT32: { ort: 'int32', size: 4, array: Int32Array },
  INT64: { ort: 'int64', size: 8, array: BigInt64Array as unknown as ArrayCtor },
  FP16: { ort: 'float16', size: 2, array: Uint16Array },
  FP32: { ort: 'float32', size: 4, array: Float32Array },
  FP64: { ort: 'float64', size: 8, array: Float64Array },
  BYTES: { ort: 'string', size: 0, array: null },
};

export function isOipDatatype(s: unknown): s is OipDatatype {
  return typeof s === 'string' && Object.prototype.hasOwnProperty.call(OIP_TYPES, s);
}

/** The protocol datatype of an onnxruntime tensor type or an ONNX element type name ('double' = float64), or null. */
export function oipDatatypeOf(type: string): OipDatatype | null {
  if (type === 'double') return 'FP64';
  for (const [k, v] of Object.entries(OIP_TYPES)) if (v.ort === type) return k as OipDatatype;
  return null;
}

/** onnxruntime's tensor type name of a protocol datatype. */
export function ortTypeOf(dt: OipDatatype): string {
  return OIP_TYPES[dt].ort;
}

/** A tensor as it travels: FP16 data are the raw half-float bits. */
export interface WireTensor {
  name: string;
  datatype: OipDatatype;
  shape: number[];
  data: OipArray;
}

/** A malformed tensor or body (the server answers 400; the client reports the server's answer as malformed). */
export class OipFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OipFormatError';
  }
}

/** Number of elements of a shape; throws OipFormatError for dims that are not non-negative integers or a product past `max`. */
export function elementCount(shape: unknown, what: string, max = Number.MAX_SAFE_INTEGER): number {
  if (!Array.isArray(shape)) throw new OipFormatError(`${what}: 'shape' must be an array of non-negative integers`);
  let n = 1;
  for (const d of shape) {
    if (typeof d !== 'number' || !Number.isInteger(d) || d < 0)
      throw new OipFormatError(`${what}: 'shape' must be an array of non-negative integers, got ${describeValue(shape)}`);
    n *= d;
    if (n > max) throw new OipFormatError(`${what}: shape ${describeValue(shape)} has more elements than the request can hold`);
  }
  return n;
}

/** The bytes of a typed array (a view, no copy). */
export function tensorBytes(a: OipArray): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** Binary tensor data → a typed array of `count` elements (copied, so it is aligned whatever the offset in the body). */
export function tensorFromBinary(dt: OipDatatype, count: number, bytes: Uint8Array, what: string): OipArray {
  const t = OIP_TYPES[dt];
  if (!t.array) throw new OipFormatError(`${what}: ${dt} tensors are not supported here`);
  if (bytes.byteLength !== count * t.size)
    throw new OipFormatError(`${what}: ${bytes.byteLength} bytes of binary data, the shape and datatype need ${count * t.size}`);
  const out = new t.array(count);
  tensorBytes(out).set(bytes);
  return out;
}

function flatten(data: unknown, out: unknown[], depth: number, what: string): void {
  if (!Array.isArray(data)) {
    out.push(data);
    return;
  }
  if (depth > 32) throw new OipFormatError(`${what}: 'data' is nested too deeply`);
  for (const v of data) flatten(v, out, depth + 1, what);
}

/** JSON tensor data (row-major, flat or nested) → a typed array; checks the count and every element's type and range. */
export function tensorFromJson(dt: OipDatatype, count: number, data: unknown, what: string): OipArray {
  if (dt === 'FP16') throw new OipFormatError(`${what}: FP16 tensors travel only as binary data (binary tensor data extension)`);
  const t = OIP_TYPES[dt];
  if (!t.array) throw new OipFormatError(`${what}: ${dt} tensors are not supported here`);
  const flat: unknown[] = [];
  flatten(data, flat, 0, what);
  if (flat.length !== count) throw new OipFormatError(`${what}: 'data' has ${flat.length} elements, the shape needs ${count}`);
  const out = new t.array(count);
  const bad = (i: number, v: unknown, want: string) =>
    new OipFormatError(`${what}: element ${i} of 'data' is ${describeValue(v, 40)}, expected ${want}`);
  if (dt === 'BOOL') {
    for (let i = 0; i < count; i++) {
      const v = flat[i];
      if (typeof v !== 'boolean') throw bad(i, v, 'true or false');
      out[i] = v ? 1 : 0;
    }
    return out;
  }
  const float = dt === 'FP32' || dt === 'FP64';
  const [lo, hi] = intRange(dt);
  for (let i = 0; i < count; i++) {
    const v = flat[i];
    if (typeof v !== 'number' || !Number.isFinite(v)) throw bad(i, v, float ? 'a finite number' : 'an integer');
    if (!float && (!Number.isSafeInteger(v) || v < lo || v > hi)) throw bad(i, v, `an integer in [${lo}, ${hi}]`);
    if (out instanceof BigInt64Array || out instanceof BigUint64Array) out[i] = BigInt(v);
    else out[i] = v;
  }
  return out;
}

function intRange(dt: OipDatatype): [number, number] {
  switch (dt) {
    case 'UINT8':
      return [0, 255];
    case 'UINT16':
      return [0, 65535];
    case 'UINT32':
      return [0, 2 ** 32 - 1];
    case 'UINT64':
      return [0, Number.MAX_SAFE_INTEGER];
    case 'INT8':
      return [-128, 127];
    case 'INT16':
      return [-32768, 32767];
    case 'INT32':
      return [-(2 ** 31), 2 ** 31 - 1];
    default:
      return [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER];
  }
}

/** A typed array → JSON tensor data (flat). 64-bit integers past 2^53 cannot be JSON numbers: use binary data for them. */
export function tensorToJson(dt: OipDatatype, a: OipArray, what: string): (number | boolean)[] {
  if (dt === 'FP16') throw new OipFormatError(`${what} is FP16, which travels only as binary data; ask for it with "binary_data": true`);
  if (dt === 'BOOL') return Array.from(a as Uint8Array, (v) => v !== 0);
  if (a instanceof BigInt64Array || a instanceof BigUint64Array) {
    return Array.from(a as ArrayLike<bigint>, (v) => {
      const n = Number(v);
      if (!Number.isSafeInteger(n))
        throw new OipFormatError(`${what} holds ${v}, past what JSON numbers hold exactly; ask for binary data`);
      return n;
    });
  }
  return Array.from(a as ArrayLike<number>);
}

const enc = new TextEncoder();

/** The body of a request or response: the JSON header followed by the binary chunks. */
export function encodeBody(header: unknown, chunks: Uint8Array[]): { body: Uint8Array; headerLength: number | null } {
  const json = enc.encode(JSON.stringify(header));
  if (!chunks.length) return { body: json, headerLength: null };
  let n = json.byteLength;
  for (const c of chunks) n += c.byteLength;
  const body = new Uint8Array(n);
  body.set(json, 0);
  let o = json.byteLength;
  for (const c of chunks) {
    body.set(c, o);
    o += c.byteLength;
  }
  return { body, headerLength: json.byteLength };
}

/**
 * Splits a body into its JSON header and the binary part. `headerLength` is the Inference-Header-Content-Length
 * header's value (null when absent: all JSON).
 */
export function splitBody(body: Uint8Array, headerLength: string | number | null | undefined): { json: unknown; binary: Uint8Array } {
  let n = body.byteLength;
  if (headerLength !== null && headerLength !== undefined && headerLength !== '') {
    const v = typeof headerLength === 'number' ? headerLength : Number(headerLength);
    if (
      !Number.isSafeInteger(v) ||
      v < 0 ||
      v > body.byteLength ||
      (typeof headerLength === 'string' && !/^\d+$/.test(headerLength.trim()))
    )
      throw new OipFormatError(
        `Inference-Header-Content-Length is ${describeValue(headerLength, 40)}; it must be an integer between 0 and the body's length (${body.byteLength})`,
      );
    n = v;
  }
  let json: unknown;
  try {
    // UTF-8, nested at most MAX_JSON_DEPTH deep, the parser's message without the quoted source
    json = parseJson(body.subarray(0, n), 'the JSON header');
  } catch (e) {
    const msg = e instanceof UserError ? e.message.replace('the JSON header: ', '').replace(/^broken JSON/, 'not valid JSON') : String(e);
    throw new OipFormatError(`the JSON header is ${msg}`);
  }
  return { json, binary: body.subarray(n) };
}

/** Reads `size` bytes at `offset` of the binary part. */
export function binarySlice(binary: Uint8Array, offset: number, size: unknown, what: string): Uint8Array {
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0)
    throw new OipFormatError(`${what}: 'binary_data_size' must be a non-negative integer, got ${describeValue(size, 40)}`);
  if (offset + size > binary.byteLength)
    throw new OipFormatError(
      `${what}: 'binary_data_size' ${size} runs past the end of the body (${binary.byteLength - offset} bytes left)`,
    );
  return binary.subarray(offset, offset + size);
}
