import { decode as decodePngRaw, encode as encodePngRaw } from 'fast-png';
import jpeg from 'jpeg-js';
import type { Image } from '../../core/image';
import { UserError } from '../../core/errors';

/** Largest image we will decode (pixels); protects against lying headers. */
export const MAX_PIXELS = 16384 * 16384;

function isPng(b: Uint8Array): boolean {
  return b.length > 8 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47;
}
function isJpeg(b: Uint8Array): boolean {
  return b.length > 3 && b[0] === 0xff && b[1] === 0xd8;
}

/** Decodes PNG or JPEG bytes (sniffed from content, not the name) to a float image. Works in Node and the browser. */
export function decodeImage(bytes: Uint8Array, name = 'image'): Image {
  if (isPng(bytes)) {
    let png;
    try {
      png = decodePngRaw(bytes);
    } catch (e) {
      throw new UserError(`not a readable PNG (${(e as Error).message})`, name);
    }
    const { width, height } = png;
    if (width * height > MAX_PIXELS) throw new UserError(`image is too large (${width}×${height})`, name);
    const C = png.channels;
    const maxv = png.depth === 16 ? 65535 : (1 << png.depth) - 1;
    const src = png.data as ArrayLike<number>;
    if (png.palette) {
      const pal = png.palette as number[][];
      const hasAlpha = pal.some((p) => p.length === 4);
      const ch = hasAlpha ? 4 : 3;
      const data = new Float32Array(width * height * ch);
      for (let i = 0; i < width * height; i++) {
        const p = pal[src[i]] ?? [0, 0, 0, 255];
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
    let j;
    try {
      j = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxResolutionInMP: MAX_PIXELS / 1e6, maxMemoryUsageInMB: 4096 });
    } catch (e) {
      throw new UserError(`not a readable JPEG (${(e as Error).message})`, name);
    }
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
