import { decompress as zstdDecompress } from 'fzstd';
import { gzipSync } from 'fflate';
import { UserError } from '../../core/errors';
import { checkLimit } from '../../core/limits';
import { createGaussians, SH_STRIDE, type Gaussians } from '../../nerf/gaussian/gaussians';
import { logit } from '../../core/math';
import { gunzipBounded } from './bounded-inflate';
import { checkCount, normaliseQuat, progressTicker, type GaussianReadOptions } from './gaussian-limits';

/**
 * Niantic's `.spz` (see docs/formats.md for the field-level layout).
 *
 * Versions 1–3: one gzip stream holding a 16-byte header (magic "NGSP", version, count, SH degree,
 * fractional bits, flags, reserved) then the arrays positions, alphas, colours, scales, rotations, SH.
 * Version 4: a plaintext 32-byte header (adds the stream count and the table-of-contents offset), optional
 * extension records, a table of (compressed, uncompressed) u64 sizes, then one ZSTD stream per array.
 *
 * Encodings: positions 24-bit signed fixed point (v1: float16); alpha u8 = sigmoid(opacity)·255; colour
 * u8 = f_dc·0.15·255 + 127.5; scale u8 = (ln s + 10)·16; rotation v3+: smallest three of (x, y, z, w) —
 * 2-bit index of the dropped largest component and 3 × (sign bit + 9-bit magnitude of |c|/√½), v1–2: x y z
 * as u8 (c·127.5 + 127.5), w ≥ 0 rebuilt; SH u8 = x·128 + 128, coefficient-major with the channel inner.
 *
 * Axes: values are read and written unchanged, as @playcanvas/splat-transform and Niantic's library with
 * `UNSPECIFIED` coordinates do, so a file written by splat-transform renders like the .ply it came from.
 * (Niantic's spec names RUB as the stored convention and PLY as RDF; Spark reads v3 files with y and z
 * negated relative to splat-transform. See docs/formats.md.) SH degree 4 (v4 only) is read up to degree 3.
 */

const MAGIC = 0x5053474e; // "NGSP" little-endian
const COLOR_SCALE = 0.15;
const SH_COUNTS = [0, 3, 8, 15, 24]; // coefficients per channel above DC, by degree
const MAX_V4_STREAMS = 16;
/** Largest expansion of a ZSTD frame: a 3-byte RLE block header + 1 byte gives up to 128 KiB. */
const ZSTD_MAX_RATIO = 32_768;

export interface SpzInfo {
  version: number;
  count: number;
  shDegree: number;
  fractionalBits: number;
  antialiased: boolean;
}

interface Header extends SpzInfo {
  flags: number;
}

function parseHeader(dv: DataView, file: string, v4Allowed: boolean, opts?: GaussianReadOptions): Header {
  if (dv.byteLength < 16) throw new UserError('SPZ file ends inside its header (truncated file?)', file);
  if (dv.getUint32(0, true) !== MAGIC) throw new UserError('not an SPZ file (no "NGSP" magic)', file);
  const version = dv.getUint32(4, true);
  const count = dv.getUint32(8, true);
  const shDegree = dv.getUint8(12);
  const fractionalBits = dv.getUint8(13);
  const flags = dv.getUint8(14);
  if (version < 1 || version > 4) throw new UserError(`SPZ version ${version} is not supported (this reads versions 1 to 4)`, file);
  if (version === 4 && !v4Allowed) throw new UserError('SPZ version 4 header inside a gzip stream (corrupt file?)', file);
  if (version < 4 && shDegree > 3) throw new UserError(`SPZ version ${version} with SH degree ${shDegree} (at most 3)`, file);
  if (shDegree > 4) throw new UserError(`SPZ SH degree ${shDegree} is not valid (0 to 4)`, file);
  if (fractionalBits > 23) throw new UserError(`SPZ fractional bits ${fractionalBits} is not valid (at most 23)`, file);
  checkCount(count, file, 'this SPZ file', opts); // the caller's own bound (the viewer's) says more than the limit
  checkLimit('elements', count, 'SPZ point count', file);
  return { version, count, shDegree, fractionalBits, flags, antialiased: (flags & 1) !== 0 };
}

/** Byte sizes of the arrays, in file order. */
function arraySizes(h: Header): number[] {
  const n = h.count;
  const sizes = [n * (h.version === 1 ? 6 : 9), n, n * 3, n * 3, n * (h.version >= 3 ? 4 : 3)];
  if (h.shDegree > 0) sizes.push(n * SH_COUNTS[h.shDegree] * 3);
  return sizes;
}

/** Header fields without decoding the arrays (v1–3 inflate only the first bytes' worth). */
export function isSpz(bytes: Uint8Array): boolean {
  return (
    (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) ||
    (bytes.length >= 4 && bytes[0] === 0x4e && bytes[1] === 0x47 && bytes[2] === 0x53 && bytes[3] === 0x50)
  );
}

/** Reads an `.spz` file (any version 1–4, gzip-wrapped or not) into Gaussians. */
export function readSpz(bytes: Uint8Array, file: string, opts?: GaussianReadOptions): Gaussians & { spz: SpzInfo } {
  let h: Header;
  let arrays: Uint8Array[];
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    // versions 1–3: the whole file is one gzip stream; the header fixes the size before anything is allocated
    let hh: Header | null = null;
    const raw = gunzipBounded(bytes, file, 'SPZ', 16, (head) => {
      hh = parseHeader(new DataView(head.buffer, head.byteOffset, 16), file, false, opts);
      // deflate expands at most ~1032×: a count the compressed size cannot hold is a lie
      const total = 16 + arraySizes(hh).reduce((a, b) => a + b, 0);
      if (total > bytes.length * 1100 + 1024)
        throw new UserError(
          `SPZ header promises ${hh.count} points, more than ${bytes.length} compressed bytes can hold (corrupt file?)`,
          file,
        );
      return total;
    });
    h = hh!;
    arrays = splitArrays(raw, 16, arraySizes(h));
  } else {
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    h = parseHeader(dv, file, true, opts);
    if (h.version < 4) {
      // an uncompressed v1–3 stream (some tools write these)
      const sizes = arraySizes(h);
      const total = 16 + sizes.reduce((a, b) => a + b, 0);
      if (bytes.length < total)
        throw new UserError(
          `SPZ header promises ${h.count} points (${total} bytes) but the file has ${bytes.length} (truncated file?)`,
          file,
        );
      arrays = splitArrays(bytes, 16, sizes);
    } else arrays = readV4Streams(bytes, dv, h, file);
  }
  return decodeArrays(h, arrays, file, opts);
}

function splitArrays(raw: Uint8Array, start: number, sizes: number[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  let o = start;
  for (const s of sizes) {
    out.push(raw.subarray(o, o + s));
    o += s;
  }
  return out;
}

function readV4Streams(bytes: Uint8Array, dv: DataView, h: Header, file: string): Uint8Array[] {
  if (bytes.length < 32) throw new UserError('SPZ version 4 file ends inside its 32-byte header (truncated file?)', file);
  const numStreams = dv.getUint8(15);
  const toc = dv.getUint32(16, true);
  const sizes = arraySizes(h);
  if (numStreams < sizes.length || numStreams > MAX_V4_STREAMS)
    throw new UserError(`SPZ version 4 header names ${numStreams} streams; SH degree ${h.shDegree} needs ${sizes.length}`, file);
  if (toc < 32 || toc + numStreams * 16 > bytes.length)
    throw new UserError(`SPZ version 4 table of contents (offset ${toc}) lies outside the file (truncated file?)`, file);
  let off = toc + numStreams * 16;
  const out: Uint8Array[] = [];
  const names = ['positions', 'alphas', 'colours', 'scales', 'rotations', 'SH'];
  for (let s = 0; s < numStreams; s++) {
    const csize = dv.getBigUint64(toc + s * 16, true);
    const usize = dv.getBigUint64(toc + s * 16 + 8, true);
    if (csize > BigInt(bytes.length - off))
      throw new UserError(
        `SPZ stream ${s} (${names[s] ?? 'extra'}) is ${csize} bytes but only ${bytes.length - off} remain (truncated file?)`,
        file,
      );
    const c = Number(csize);
    if (s < sizes.length) {
      if (usize !== BigInt(sizes[s]))
        throw new UserError(
          `SPZ stream ${s} (${names[s]}) says ${usize} bytes uncompressed; ${h.count} points need ${sizes[s]} (corrupt file?)`,
          file,
        );
      // a ZSTD frame expands its input at most ~32,768× (RLE blocks): more is a lie, refused before allocating
      if (sizes[s] > c * ZSTD_MAX_RATIO + 1024)
        throw new UserError(
          `SPZ stream ${s} (${names[s]}) claims ${sizes[s]} bytes from ${c} compressed, more than ZSTD can expand (corrupt file?)`,
          file,
        );
      const target = new Uint8Array(sizes[s]);
      if (sizes[s] > 0) {
        try {
          const r = zstdDecompress(bytes.subarray(off, off + c), target);
          if (r.length !== sizes[s]) throw new Error(`got ${r.length} bytes`);
        } catch (e) {
          throw new UserError(`SPZ stream ${s} (${names[s]}): ZSTD data is corrupt (${(e as Error).message})`, file);
        }
      }
      out.push(target);
    }
    off += c;
  }
  return out;
}

function decodeArrays(h: Header, a: Uint8Array[], file: string, opts?: GaussianReadOptions): Gaussians & { spz: SpzInfo } {
  const n = h.count;
  const deg = Math.min(3, h.shDegree);
  const g = createGaussians(n, deg);
  const [pos, alpha, color, scale, rot] = a;
  const sh = a[5];
  const tick = progressTicker(n, opts);
  const fixed = 1 / (1 << h.fractionalBits);
  const pdv = new DataView(pos.buffer, pos.byteOffset, pos.byteLength);
  const rdv = new DataView(rot.buffer, rot.byteOffset, rot.byteLength);
  const kIn = SH_COUNTS[h.shDegree],
    kOut = SH_COUNTS[deg];
  const SQRT1_2 = Math.SQRT1_2;
  for (let i = 0; i < n; i++) {
    tick(i);
    for (let c = 0; c < 3; c++) {
      if (h.version === 1) g.means[3 * i + c] = halfToFloat(pdv.getUint16((3 * i + c) * 2, true));
      else {
        const o = (3 * i + c) * 3;
        let v = pos[o] | (pos[o + 1] << 8) | (pos[o + 2] << 16);
        if (v & 0x800000) v -= 0x1000000;
        g.means[3 * i + c] = v * fixed;
      }
      g.logScales[3 * i + c] = scale[3 * i + c] / 16 - 10;
      g.sh[i * SH_STRIDE + c] = (color[3 * i + c] / 255 - 0.5) / COLOR_SCALE;
    }
    g.opacityLogits[i] = logit(alpha[i] / 255);
    // rotations into (w, x, y, z)
    if (h.version >= 3) {
      let p = rdv.getUint32(4 * i, true);
      const largest = p >>> 30;
      const q = [0, 0, 0, 0]; // x y z w
      let ss = 0;
      for (let j = 3; j >= 0; j--) {
        if (j === largest) continue;
        const mag = p & 511,
          neg = (p >>> 9) & 1;
        p >>>= 10;
        const v = ((neg ? -1 : 1) * SQRT1_2 * mag) / 511;
        q[j] = v;
        ss += v * v;
      }
      q[largest] = Math.sqrt(Math.max(0, 1 - ss));
      g.rotations[4 * i] = q[3];
      g.rotations[4 * i + 1] = q[0];
      g.rotations[4 * i + 2] = q[1];
      g.rotations[4 * i + 3] = q[2];
    } else {
      const x = rot[3 * i] / 127.5 - 1,
        y = rot[3 * i + 1] / 127.5 - 1,
        z = rot[3 * i + 2] / 127.5 - 1;
      g.rotations[4 * i] = Math.sqrt(Math.max(0, 1 - (x * x + y * y + z * z)));
      g.rotations[4 * i + 1] = x;
      g.rotations[4 * i + 2] = y;
      g.rotations[4 * i + 3] = z;
    }
    normaliseQuat(g.rotations, i);
    if (kOut > 0) {
      const base = i * kIn * 3;
      for (let k = 0; k < kOut; k++) for (let c = 0; c < 3; c++) g.sh[i * SH_STRIDE + 3 * (k + 1) + c] = (sh[base + 3 * k + c] - 128) / 128;
    }
  }
  for (let i = 0; i < 3 * n; i++)
    if (!Number.isFinite(g.means[i])) throw new UserError(`SPZ point ${Math.floor(i / 3)} has a non-finite position`, file);
  opts?.onProgress?.(1);
  return Object.assign(g, {
    spz: { version: h.version, count: n, shDegree: h.shDegree, fractionalBits: h.fractionalBits, antialiased: h.antialiased },
  });
}

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f,
    f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

// ── writing ────────────────────────────────────────────────────────────────────────────────────────────

export interface WriteSpzOptions {
  /** 3 (gzip, default: read by every SPZ reader) or 4 (ZSTD streams). */
  version?: 3 | 4;
  antialiased?: boolean;
  /** A ZSTD compressor for version 4 (the caller loads one; see `loadZstdCompressor`). */
  zstd?: (data: Uint8Array) => Uint8Array;
}

const u8 = (v: number) => (v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v));

/** The arrays of an SPZ file (v3 layout, also used by v4). */
function packArrays(g: Gaussians): { head: { deg: number; fb: number }; arrays: Uint8Array[] } {
  const n = g.count;
  const deg = Math.max(0, Math.min(3, g.shDegree));
  let maxAbs = 0;
  for (let i = 0; i < 3 * n; i++) maxAbs = Math.max(maxAbs, Math.abs(g.means[i]));
  // 12 fractional bits (Niantic's choice) unless the scene is too large for 24 bits
  let fb = 12;
  while (fb > 0 && maxAbs * (1 << fb) >= 0x7fffff) fb--;
  if (maxAbs * (1 << fb) >= 0x7fffff) throw new UserError(`positions up to ${maxAbs.toExponential(2)} do not fit SPZ's 24-bit fixed point`);
  const pos = new Uint8Array(n * 9),
    alpha = new Uint8Array(n),
    color = new Uint8Array(n * 3),
    scale = new Uint8Array(n * 3),
    rot = new Uint8Array(n * 4);
  const K = SH_COUNTS[deg];
  const sh = new Uint8Array(n * K * 3);
  const rdv = new DataView(rot.buffer);
  const q = [0, 0, 0, 0];
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < 3; c++) {
      let v = Math.round(g.means[3 * i + c] * (1 << fb));
      if (v < 0) v += 0x1000000;
      const o = (3 * i + c) * 3;
      pos[o] = v & 255;
      pos[o + 1] = (v >> 8) & 255;
      pos[o + 2] = (v >> 16) & 255;
      scale[3 * i + c] = u8((g.logScales[3 * i + c] + 10) * 16);
      color[3 * i + c] = u8(g.sh[i * SH_STRIDE + c] * COLOR_SCALE * 255 + 127.5);
    }
    alpha[i] = u8(255 / (1 + Math.exp(-g.opacityLogits[i])));
    // (w, x, y, z) → (x, y, z, w), unit length, largest component positive
    const r = g.rotations;
    const l = Math.hypot(r[4 * i], r[4 * i + 1], r[4 * i + 2], r[4 * i + 3]) || 1;
    q[0] = r[4 * i + 1] / l;
    q[1] = r[4 * i + 2] / l;
    q[2] = r[4 * i + 3] / l;
    q[3] = r[4 * i] / l;
    if (!(l > 0) || (q[0] === 0 && q[1] === 0 && q[2] === 0 && q[3] === 0)) q[3] = 1;
    let largest = 0;
    for (let j = 1; j < 4; j++) if (Math.abs(q[j]) > Math.abs(q[largest])) largest = j;
    const sign = q[largest] < 0 ? -1 : 1;
    let p = 0;
    for (let j = 0; j < 4; j++) {
      if (j === largest) continue;
      const v = q[j] * sign;
      const mag = Math.min(511, Math.round((Math.abs(v) / Math.SQRT1_2) * 511));
      p = (p << 10) | ((v < 0 ? 1 : 0) << 9) | mag;
    }
    rdv.setUint32(4 * i, ((largest << 30) | p) >>> 0, true);
    for (let k = 0; k < K; k++)
      for (let c = 0; c < 3; c++) sh[i * K * 3 + 3 * k + c] = u8(g.sh[i * SH_STRIDE + 3 * (k + 1) + c] * 128 + 128);
  }
  const arrays = [pos, alpha, color, scale, rot];
  if (deg > 0) arrays.push(sh);
  return { head: { deg, fb }, arrays };
}

/** Encodes Gaussians as `.spz` (version 3 by default; 4 needs `opts.zstd`). Axes are written unchanged. */
export function writeSpz(g: Gaussians, opts: WriteSpzOptions = {}): Uint8Array {
  const version = opts.version ?? 3;
  const { head, arrays } = packArrays(g);
  const flags = opts.antialiased ? 1 : 0;
  if (version === 3) {
    const total = 16 + arrays.reduce((s, a) => s + a.length, 0);
    const raw = new Uint8Array(total);
    const dv = new DataView(raw.buffer);
    dv.setUint32(0, MAGIC, true);
    dv.setUint32(4, 3, true);
    dv.setUint32(8, g.count, true);
    raw[12] = head.deg;
    raw[13] = head.fb;
    raw[14] = flags;
    let o = 16;
    for (const a of arrays) {
      raw.set(a, o);
      o += a.length;
    }
    return gzipSync(raw, { level: 6 });
  }
  if (version !== 4) throw new UserError(`SPZ version ${String(version)} cannot be written (choose 3 or 4)`);
  if (!opts.zstd) throw new Error('writeSpz: version 4 needs a ZSTD compressor');
  const streams = arrays.map((a) => opts.zstd!(a));
  const toc = 32;
  const total = toc + streams.length * 16 + streams.reduce((s, a) => s + a.length, 0);
  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, MAGIC, true);
  dv.setUint32(4, 4, true);
  dv.setUint32(8, g.count, true);
  out[12] = head.deg;
  out[13] = head.fb;
  out[14] = flags;
  out[15] = streams.length;
  dv.setUint32(16, toc, true);
  let o = toc + streams.length * 16;
  streams.forEach((s, i) => {
    dv.setBigUint64(toc + i * 16, BigInt(s.length), true);
    dv.setBigUint64(toc + i * 16 + 8, BigInt(arrays[i].length), true);
    out.set(s, o);
    o += s.length;
  });
  return out;
}

/** A ZSTD compressor (WebAssembly zstd 1.5, level 9), loaded on first use: only writers of SPZ v4 need it. */
export async function loadZstdCompressor(): Promise<(data: Uint8Array) => Uint8Array> {
  const { Zstd } = await import('@hpcc-js/wasm-zstd');
  const z = await Zstd.load();
  return (data) => (data.length ? z.compress(data, 9) : z.compress(new Uint8Array(0), 9));
}
