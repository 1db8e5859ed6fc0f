/**
 * A reader for the safetensors format (Hugging Face): an 8-byte little-endian header length N, N bytes of JSON
 * `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__"?: {…}}`, then the tensors' bytes, offsets
 * relative to the end of the header. Every size the header claims is checked against the file's size before
 * anything is allocated, so a lying header gets one clear error instead of a huge allocation.
 */
import { describeValue, UserError } from '../../core/errors';
import { toF16Bits } from '../diffusion/onnx/half';
import { parseJson } from '../../io/files/files';

export type SafetensorsDtype =
  'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'U16' | 'U32' | 'U64' | 'BOOL' | 'F8_E4M3' | 'F8_E5M2';

const DTYPE_BYTES: Record<SafetensorsDtype, number> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  U16: 2,
  U32: 4,
  U64: 8,
  BOOL: 1,
  F8_E4M3: 1,
  F8_E5M2: 1,
};

/** The floating-point dtypes the CLIP loader converts to float32. */
export const FLOAT_DTYPES: readonly SafetensorsDtype[] = ['F32', 'F16', 'BF16'];

/** The reference implementation refuses headers above 100 MB; so do we. */
export const MAX_HEADER_BYTES = 100_000_000;

export interface SafetensorsEntry {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  /** absolute byte offsets in the file */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  entries: Map<string, SafetensorsEntry>;
  metadata: Record<string, string>;
  /** byte offset of the data section (8 + header length) */
  dataStart: number;
}

export interface SafetensorsFile extends SafetensorsHeader {
  file: string;
  bytes: Uint8Array;
}

/** The header length N from the first 8 bytes, checked against the file size. */
export function headerLength(prefix: Uint8Array, fileSize: number, file: string): number {
  if (fileSize < 8 || prefix.byteLength < 8)
    throw new UserError(`not a safetensors file (${fileSize} bytes, shorter than the 8-byte header length)`, file);
  const dv = new DataView(prefix.buffer, prefix.byteOffset, 8);
  const n = dv.getUint32(0, true) + dv.getUint32(4, true) * 2 ** 32;
  if (n > fileSize - 8)
    throw new UserError(`safetensors header claims ${n} bytes but the file has only ${fileSize - 8} after the length`, file);
  if (n > MAX_HEADER_BYTES) throw new UserError(`safetensors header of ${n} bytes is larger than the ${MAX_HEADER_BYTES}-byte limit`, file);
  if (n < 2) throw new UserError(`safetensors header of ${n} bytes cannot hold a JSON object`, file);
  return n;
}

/**
 * Parses and checks the header: `bytes` holds at least the first 8 + N bytes, `fileSize` is the whole file's
 * size. Each tensor's byte span must equal its shape × dtype size and lie inside the data section.
 */
export function parseSafetensorsHeader(bytes: Uint8Array, fileSize: number, file: string): SafetensorsHeader {
  const n = headerLength(bytes, fileSize, file);
  if (bytes.byteLength < 8 + n) throw new UserError(`truncated safetensors header (${bytes.byteLength} of ${8 + n} bytes)`, file);
  let json: any;
  try {
    // UTF-8, nested at most MAX_JSON_DEPTH deep, one short line for a syntax error
    json = parseJson(bytes.subarray(8, 8 + n), file);
  } catch (e) {
    const msg = (e as Error).message.replace(`${file}: `, '').replace(/^broken JSON/, 'not valid JSON');
    throw new UserError(`safetensors header is ${msg}`, file);
  }
  if (!json || typeof json !== 'object' || Array.isArray(json)) throw new UserError('safetensors header is not a JSON object', file);
  const dataStart = 8 + n;
  const dataBytes = fileSize - dataStart;
  const entries = new Map<string, SafetensorsEntry>();
  let metadata: Record<string, string> = {};
  for (const [name, v] of Object.entries(json as Record<string, any>)) {
    if (name === '__metadata__') {
      if (v && typeof v === 'object') metadata = v as Record<string, string>;
      continue;
    }
    const where = `tensor '${name}'`;
    if (!v || typeof v !== 'object') throw new UserError(`${where}: header entry is not an object`, file);
    const dtype = v.dtype as SafetensorsDtype;
    if (typeof dtype !== 'string' || !(dtype in DTYPE_BYTES))
      throw new UserError(`${where}: unknown dtype ${describeValue(v.dtype, 40)}`, file);
    const shape = v.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0))
      throw new UserError(`${where}: shape ${describeValue(shape)} is not a list of non-negative integers`, file);
    const offs = v.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isSafeInteger(o) && o >= 0) || offs[0] > offs[1])
      throw new UserError(`${where}: data_offsets ${describeValue(offs)} must be [begin, end] with 0 ≤ begin ≤ end`, file);
    if (offs[1] > dataBytes)
      throw new UserError(`${where}: data_offsets end at byte ${offs[1]} but the file holds only ${dataBytes} bytes of tensor data`, file);
    const count = shape.reduce((a: number, b: number) => a * b, 1);
    const need = count * DTYPE_BYTES[dtype];
    if (offs[1] - offs[0] !== need)
      throw new UserError(
        `${where}: shape [${shape.join(', ')}] of ${dtype} needs ${need} bytes but data_offsets span ${offs[1] - offs[0]}`,
        file,
      );
    entries.set(name, { name, dtype, shape: shape.slice(), begin: dataStart + offs[0], end: dataStart + offs[1] });
  }
  return { entries, metadata, dataStart };
}

/** Parses a whole safetensors file held in memory. */
export function readSafetensors(bytes: Uint8Array, file: string): SafetensorsFile {
  return { ...parseSafetensorsHeader(bytes, bytes.byteLength, file), file, bytes };
}

/**
 * A tensor as float32 (F32 as a zero-copy view when aligned, F16 and BF16 converted). Throws naming the tensor
 * for other dtypes.
 */
export function tensorAsF32(st: SafetensorsFile, e: SafetensorsEntry): Float32Array {
  const count = (e.end - e.begin) / DTYPE_BYTES[e.dtype];
  const abs = st.bytes.byteOffset + e.begin;
  let out: Float32Array;
  switch (e.dtype) {
    case 'F32':
      out = abs % 4 === 0 ? new Float32Array(st.bytes.buffer, abs, count) : new Float32Array(st.bytes.slice(e.begin, e.end).buffer);
      break;
    case 'F16':
    case 'BF16': {
      const src = abs % 2 === 0 ? new Uint16Array(st.bytes.buffer, abs, count) : new Uint16Array(st.bytes.slice(e.begin, e.end).buffer);
      out = e.dtype === 'F16' ? f16ToF32(src) : bf16ToF32(src);
      break;
    }
    default:
      throw new UserError(`tensor '${e.name}': dtype ${e.dtype} is not supported (expected ${FLOAT_DTYPES.join(', ')})`, st.file);
  }
  // weights are finite in any real checkpoint: a NaN or ∞ (a damaged file) would make every embedding NaN
  for (let i = 0; i < out.length; i++)
    if (!Number.isFinite(out[i])) throw new UserError(`tensor '${e.name}' holds ${out[i]} at index ${i} (a damaged file?)`, st.file);
  return out;
}

const HALF_TABLE = (() => {
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const s = h & 0x8000 ? -1 : 1,
      e = (h >>> 10) & 0x1f,
      m = h & 0x3ff;
    t[h] = e === 0 ? s * m * 2 ** -24 : e === 31 ? (m ? NaN : s * Infinity) : s * (1 + m / 1024) * 2 ** (e - 15);
  }
  return t;
})();

export function f16ToF32(src: Uint16Array): Float32Array {
  const out = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = HALF_TABLE[src[i]];
  return out;
}

export function bf16ToF32(src: Uint16Array): Float32Array {
  const out = new Float32Array(src.length);
  const bits = new Uint32Array(out.buffer);
  for (let i = 0; i < src.length; i++) bits[i] = src[i] << 16;
  return out;
}

/** Serialises tensors as a safetensors file (float32, float16 or bfloat16), names in the given order. */
export function writeSafetensors(
  tensors: { name: string; shape: number[]; data: Float32Array; dtype?: 'F32' | 'F16' | 'BF16' }[],
  metadata: Record<string, string> = { format: 'pt' },
): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let off = 0;
  const parts: Uint8Array[] = [];
  for (const t of tensors) {
    const dtype = t.dtype ?? 'F32';
    let bytes: Uint8Array;
    if (dtype === 'F32') bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    else {
      const u = new Uint16Array(t.data.length);
      if (dtype === 'F16') u.set(toF16Bits(t.data));
      else {
        const b = new Uint32Array(Float32Array.from(t.data).buffer);
        for (let i = 0; i < u.length; i++) u[i] = (b[i] + 0x7fff + ((b[i] >>> 16) & 1)) >>> 16; // round to nearest even
      }
      bytes = new Uint8Array(u.buffer);
    }
    header[t.name] = { dtype, shape: t.shape, data_offsets: [off, off + bytes.byteLength] };
    parts.push(bytes);
    off += bytes.byteLength;
  }
  let json = JSON.stringify(header);
  while ((8 + json.length) % 8) json += ' '; // the data section starts 8-byte aligned
  const hb = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + hb.byteLength + off);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, hb.byteLength, true);
  out.set(hb, 8);
  let p = 8 + hb.byteLength;
  for (const b of parts) {
    out.set(b, p);
    p += b.byteLength;
  }
  return out;
}
