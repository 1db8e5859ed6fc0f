import { decode as decodePngRaw, encode as encodePngRaw } from 'fast-png';
import jpeg from 'jpeg-js';
import { Unzlib } from 'fflate';
import type { Image } from '../../core/image';
import { UserError } from '../../core/errors';
import { limits, limitHint } from '../../core/limits';

/**
 * Images are hostile input: before a decoder is called, the header is read and checked — PNG chunk lengths,
 * every chunk's CRC, IHDR (0×0 and sizes over limits.imagePixels are refused), the exact inflated size of the
 * image data (counted by streaming inflate, so a zlib bomb cannot allocate), the embedded ICC profile's size;
 * JPEG segment lengths, the frame header's size (refused over the limit, or when the file is too short to hold
 * that many blocks: at least one bit per 8×8 block) — and the decoder gets a memory allowance sized from it.
 */

/** Width and height from an image's header (no decoding). */
export interface ImageHeader {
  format: 'png' | 'jpeg';
  width: number;
  height: number;
}

function isPng(b: Uint8Array): boolean {
  return (
    b.length >= 8 &&
    b[0] === 0x89 &&
    b[1] === 0x50 &&
    b[2] === 0x4e &&
    b[3] === 0x47 &&
    b[4] === 0x0d &&
    b[5] === 0x0a &&
    b[6] === 0x1a &&
    b[7] === 0x0a
  );
}
function isJpeg(b: Uint8Array): boolean {
  return b.length > 3 && b[0] === 0xff && b[1] === 0xd8;
}

let crcTable: Uint32Array | null = null;
/** CRC-32 (ISO 3309, as PNG uses) of bytes[from, to). */
function crc32(bytes: Uint8Array, from: number, to: number): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = from; i < to; i++) c = crcTable[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function checkPixels(width: number, height: number, name: string): void {
  if (width < 1 || height < 1) throw new UserError(`image header says ${width}×${height}: an image needs at least one pixel`, name);
  if (width * height > limits.imagePixels)
    throw new UserError(
      `image is ${width}×${height} = ${(width * height).toLocaleString('en-US')} pixels, over the limit (${limitHint('imagePixels')})`,
      name,
    );
}

const PNG_CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
const PNG_DEPTHS: Record<number, number[]> = { 0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16] };

/** Bytes of filtered scanlines for a w×h (sub)image. */
function scanlineBytes(w: number, h: number, bitsPerPixel: number): number {
  return w && h ? h * (1 + Math.ceil((w * bitsPerPixel) / 8)) : 0;
}

/** Streams `parts` through inflate, counting bytes, and throws once they exceed `max`; returns the total. */
function inflatedSize(parts: Uint8Array[], max: number, what: string, name: string): number {
  let total = 0;
  let ended = false;
  const inf = new Unzlib((chunk, final) => {
    total += chunk.length;
    if (total > max)
      throw new UserError(
        `${what} inflates to more than the ${max.toLocaleString('en-US')} bytes the header allows (corrupt or a zip bomb)`,
        name,
      );
    if (final) ended = true;
  });
  try {
    // small slices: deflate expands at most ~1032×, so each push yields at most a few MB before the count stops it
    const SLICE = 4096;
    for (let i = 0; i < parts.length; i++)
      for (let o = 0; o < parts[i].length || o === 0; o += SLICE)
        inf.push(parts[i].subarray(o, o + SLICE), i === parts.length - 1 && o + SLICE >= parts[i].length);
    if (!parts.length) inf.push(new Uint8Array(0), true);
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError(`${what} is corrupt (${(e as Error).message})`, name);
  }
  if (!ended) throw new UserError(`${what} is truncated`, name);
  return total;
}

/** Checks a PNG's structure (see the module comment) and returns its header. */
export function inspectPng(
  b: Uint8Array,
  name: string,
  opts: { inflate?: boolean } = {},
): ImageHeader & { depth: number; colorType: number } {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let off = 8;
  let ihdr: { width: number; height: number; depth: number; colorType: number; interlace: number } | null = null;
  const idat: Uint8Array[] = [];
  let plte = false;
  let end = false;
  let prevType = '';
  while (!end) {
    if (off + 12 > b.length) throw new UserError('not a readable PNG (truncated: it ends before the IEND chunk)', name);
    const len = dv.getUint32(off);
    if (len > 0x7fffffff || off + 12 + len > b.length)
      throw new UserError(`not a readable PNG (chunk at byte ${off} claims ${len} bytes, past the end of the file)`, name);
    const type = String.fromCharCode(b[off + 4], b[off + 5], b[off + 6], b[off + 7]);
    if (!/^[A-Za-z]{4}$/.test(type)) throw new UserError(`not a readable PNG (bad chunk type at byte ${off})`, name);
    const crc = dv.getUint32(off + 8 + len);
    if (crc32(b, off + 4, off + 8 + len) !== crc)
      throw new UserError(`not a readable PNG (CRC error in the ${type} chunk at byte ${off}: the file is corrupt)`, name);
    const data = b.subarray(off + 8, off + 8 + len);
    if (!ihdr && type !== 'IHDR') throw new UserError('not a readable PNG (the first chunk is not IHDR)', name);
    switch (type) {
      case 'IHDR': {
        if (ihdr) throw new UserError('not a readable PNG (two IHDR chunks)', name);
        if (len !== 13) throw new UserError('not a readable PNG (IHDR chunk is not 13 bytes)', name);
        const width = dv.getUint32(off + 8),
          height = dv.getUint32(off + 12);
        const [depth, colorType, compression, filter, interlace] = data.subarray(8, 13);
        checkPixels(width, height, name);
        if (!PNG_DEPTHS[colorType]?.includes(depth))
          throw new UserError(`not a readable PNG (colour type ${colorType} with bit depth ${depth} is not valid)`, name);
        if (compression !== 0 || filter !== 0 || interlace > 1)
          throw new UserError('not a readable PNG (unknown compression, filter or interlace method)', name);
        ihdr = { width, height, depth, colorType, interlace };
        break;
      }
      case 'PLTE':
        if (len === 0 || len % 3 !== 0 || len > 768) throw new UserError('not a readable PNG (bad palette length)', name);
        plte = true;
        break;
      case 'IDAT':
        if (idat.length && prevType !== 'IDAT') throw new UserError('not a readable PNG (IDAT chunks are not consecutive)', name);
        idat.push(data);
        break;
      case 'iCCP': {
        const z = data.indexOf(0);
        if (z < 0 || z + 2 > len) throw new UserError('not a readable PNG (bad iCCP chunk)', name);
        inflatedSize([data.subarray(z + 2)], 16 * 1024 * 1024, 'the embedded ICC profile', name);
        break;
      }
      case 'IEND':
        end = true;
        break;
    }
    prevType = type;
    off += 12 + len;
  }
  const h = ihdr!;
  if (!idat.length) throw new UserError('not a readable PNG (no image data: IDAT chunk missing)', name);
  if (h.colorType === 3 && !plte) throw new UserError('not a readable PNG (palette image without a PLTE chunk)', name);
  if (opts.inflate !== false) {
    const bpp = PNG_CHANNELS[h.colorType] * h.depth;
    let expected = 0;
    if (h.interlace === 0) expected = scanlineBytes(h.width, h.height, bpp);
    else
      for (const [x0, y0, dx, dy] of [
        [0, 0, 8, 8],
        [4, 0, 8, 8],
        [0, 4, 4, 8],
        [2, 0, 4, 4],
        [0, 2, 2, 4],
        [1, 0, 2, 2],
        [0, 1, 1, 2],
      ])
        expected += scanlineBytes(Math.ceil((h.width - x0) / dx), Math.ceil((h.height - y0) / dy), bpp);
    const got = inflatedSize(idat, expected, 'the image data', name);
    if (got !== expected)
      throw new UserError(
        `not a readable PNG (the image data holds ${got} bytes, a ${h.width}×${h.height} image needs ${expected}: truncated or corrupt)`,
        name,
      );
  }
  return { format: 'png', width: h.width, height: h.height, depth: h.depth, colorType: h.colorType };
}

/** Checks a JPEG's segments up to its frame header and returns the size; see the module comment. */
export function inspectJpeg(b: Uint8Array, name: string): ImageHeader & { components: number; blocks: number } {
  let off = 2;
  while (off < b.length) {
    if (b[off] !== 0xff) throw new UserError(`not a readable JPEG (expected a marker at byte ${off})`, name);
    while (off < b.length && b[off] === 0xff) off++; // fill bytes
    if (off >= b.length) break;
    const m = b[off++];
    if (m === 0xd8 || m === 0x01 || (m >= 0xd0 && m <= 0xd7)) continue; // no length
    if (m === 0xd9) break;
    if (off + 2 > b.length) break;
    const len = (b[off] << 8) | b[off + 1];
    if (len < 2 || off + len > b.length)
      throw new UserError(`not a readable JPEG (segment 0x${m.toString(16)} at byte ${off - 2} runs past the end)`, name);
    const isSof = m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc;
    if (isSof) {
      if (len < 8) throw new UserError('not a readable JPEG (short frame header)', name);
      const height = (b[off + 3] << 8) | b[off + 4],
        width = (b[off + 5] << 8) | b[off + 6],
        nc = b[off + 7];
      if (m !== 0xc0 && m !== 0xc1 && m !== 0xc2)
        throw new UserError(
          `JPEG coding 0x${m.toString(16)} (lossless, hierarchical or arithmetic) is not supported; save it as a baseline or progressive JPEG or a PNG`,
          name,
        );
      checkPixels(width, height, name);
      if (nc !== 1 && nc !== 3 && nc !== 4) throw new UserError(`not a readable JPEG (${nc} colour components)`, name);
      if (len < 8 + 3 * nc) throw new UserError('not a readable JPEG (short frame header)', name);
      let maxH = 1,
        maxV = 1;
      const samp: [number, number][] = [];
      for (let c = 0; c < nc; c++) {
        const s = b[off + 9 + 3 * c];
        const hs = s >> 4,
          vs = s & 15;
        if (hs < 1 || hs > 4 || vs < 1 || vs > 4) throw new UserError('not a readable JPEG (bad sampling factors)', name);
        samp.push([hs, vs]);
        maxH = Math.max(maxH, hs);
        maxV = Math.max(maxV, vs);
      }
      const mcus = Math.ceil(width / (8 * maxH)) * Math.ceil(height / (8 * maxV));
      const blocks = mcus * samp.reduce((s, [hs, vs]) => s + hs * vs, 0);
      // every coded block takes at least one bit of entropy-coded data
      if (b.length * 8 < blocks)
        throw new UserError(
          `not a readable JPEG (its header says ${width}×${height}, ${blocks.toLocaleString('en-US')} blocks, but the file has only ${b.length} bytes: truncated or a lying header)`,
          name,
        );
      return { format: 'jpeg', width, height, components: nc, blocks };
    }
    off += len;
  }
  throw new UserError('not a readable JPEG (no frame header before the end of the file)', name);
}

/** Width and height from a PNG or JPEG header, checked as decodeImage checks them; no pixel data is decoded. */
export function readImageHeader(bytes: Uint8Array, name = 'image'): ImageHeader {
  if (isPng(bytes)) return inspectPng(bytes, name, { inflate: false });
  if (isJpeg(bytes)) return inspectJpeg(bytes, name);
  throw new UserError('not a PNG or JPEG image', name);
}

/** Decodes PNG or JPEG bytes (sniffed from content, not the name) to a float image. Works in Node and the browser. */
export function decodeImage(bytes: Uint8Array, name = 'image'): Image {
  if (isPng(bytes)) {
    const head = inspectPng(bytes, name);
    let png;
    try {
      png = decodePngRaw(bytes);
    } catch (e) {
      throw new UserError(`not a readable PNG (${(e as Error).message})`, name);
    }
    const { width, height } = png;
    if (width !== head.width || height !== head.height) throw new UserError('not a readable PNG (decoder disagrees with the header)', name);
    const C = png.channels;
    const maxv = png.depth === 16 ? 65535 : (1 << png.depth) - 1;
    const src = png.data as ArrayLike<number>;
    if (src.length < width * height * (png.palette ? 1 : C)) throw new UserError('not a readable PNG (too little image data)', name);
    if (png.palette) {
      const pal = png.palette as number[][];
      const hasAlpha = pal.some((p) => p.length === 4);
      const ch = hasAlpha ? 4 : 3;
      const data = new Float32Array(width * height * ch);
      for (let i = 0; i < width * height; i++) {
        const p = pal[src[i]];
        if (!p)
          throw new UserError(`not a readable PNG (pixel ${i} uses palette entry ${src[i]}, but the palette has ${pal.length})`, name);
        for (let c = 0; c < ch; c++) data[i * ch + c] = (p[c] ?? 255) / 255;
      }
      return { width, height, channels: ch as 3 | 4, data };
    }
    // grey, grey+alpha, rgb, rgba
    const outC: 1 | 3 | 4 = C === 1 ? 1 : C === 2 ? 4 : (C as 3 | 4);
    const data = new Float32Array(width * height * outC);
    for (let i = 0; i < width * height; i++) {
      if (C === 2) {
        const g = src[i * 2] / maxv;
        data[i * 4] = g;
        data[i * 4 + 1] = g;
        data[i * 4 + 2] = g;
        data[i * 4 + 3] = src[i * 2 + 1] / maxv;
      } else for (let c = 0; c < C; c++) data[i * C + c] = src[i * C + c] / maxv;
    }
    return { width, height, channels: outC, data };
  }
  if (isJpeg(bytes)) {
    const head = inspectJpeg(bytes, name);
    // jpeg-js counts 256 bytes per coefficient block plus the RGBA output; allow that with some slack
    const budgetMB = Math.ceil((head.blocks * 256 + head.width * head.height * 4) / 2 ** 20) + 64;
    let j;
    try {
      j = jpeg.decode(bytes, {
        useTArray: true,
        formatAsRGBA: true,
        tolerantDecoding: true,
        maxResolutionInMP: limits.imagePixels / 1e6,
        maxMemoryUsageInMB: budgetMB,
      });
    } catch (e) {
      throw new UserError(`not a readable JPEG (${(e as Error).message})`, name);
    }
    if (j.width !== head.width || j.height !== head.height)
      throw new UserError('not a readable JPEG (decoder disagrees with the header)', name);
    const n = j.width * j.height;
    const data = new Float32Array(n * 3);
    for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) data[i * 3 + c] = j.data[i * 4 + c] / 255;
    return { width: j.width, height: j.height, channels: 3, data };
  }
  throw new UserError('not a PNG or JPEG image', name);
}

function toBytes(img: Image, outC: number): Uint8Array {
  const n = img.width * img.height;
  const out = new Uint8Array(n * outC);
  for (let i = 0; i < n; i++)
    for (let c = 0; c < outC; c++) {
      const v = img.channels === 1 ? img.data[i] : c < img.channels ? img.data[i * img.channels + c] : 1;
      out[i * outC + c] = Math.round(Math.min(Math.max(Number.isFinite(v) ? v : 0, 0), 1) * 255);
    }
  return out;
}

/** Encodes an image as 8-bit PNG (RGB, RGBA or grey, as the image has). */
export function encodePng(img: Image): Uint8Array {
  const C = img.channels;
  return encodePngRaw({ width: img.width, height: img.height, data: toBytes(img, C), channels: C, depth: 8 });
}

/** Encodes an image as JPEG (RGB). */
export function encodeJpeg(img: Image, quality = 95): Uint8Array {
  const rgba = toBytes(img.channels === 4 ? img : { ...img }, 4);
  if (img.channels === 1) for (let i = 0; i < img.width * img.height; i++) rgba[i * 4 + 1] = rgba[i * 4 + 2] = rgba[i * 4];
  const res = jpeg.encode({ data: rgba, width: img.width, height: img.height }, quality);
  return new Uint8Array(res.data);
}

/** Encodes by file extension (.png, .jpg/.jpeg). */
export function encodeImage(img: Image, name: string): Uint8Array {
  return /\.jpe?g$/i.test(name) ? encodeJpeg(img) : encodePng(img);
}
