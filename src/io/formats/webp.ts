import { UserError } from '../../core/errors';
import { limits, limitHint } from '../../core/limits';

/**
 * Lossless WebP decoding for SOG images, with libwebp compiled to WebAssembly (@jsquash/webp) so that Node
 * and the browser decode the exact bytes (a canvas would premultiply alpha and change RGB where A < 255).
 *
 * The browser (Vite) locates the .wasm file itself; Node registers a loader first (`src/io/node/node-webp.ts`).
 * Dimensions are read from the RIFF header before decoding, so callers can refuse sizes their data does not
 * need before libwebp allocates width × height × 4 bytes.
 */

export interface RgbaImage {
  width: number;
  height: number;
  data: Uint8Array;
}

let wasmProvider: (() => Promise<WebAssembly.Module>) | null = null;
let ready: Promise<(b: ArrayBuffer) => Promise<{ width: number; height: number; data: Uint8ClampedArray }>> | null = null;

/** Node: how to obtain the compiled decoder module (browsers fetch it themselves). */
export function setWebpWasmProvider(p: () => Promise<WebAssembly.Module>): void {
  wasmProvider = p;
  ready = null;
}

async function decoder() {
  ready ??= (async () => {
    const mod = await import('@jsquash/webp/decode.js');
    const g = globalThis as { process?: { versions?: { node?: string } }; document?: unknown };
    const isNode = !!g.process?.versions?.node && g.document === undefined;
    if (wasmProvider) await mod.init(await wasmProvider());
    else if (isNode) throw new Error('WebP decoding in Node needs setWebpWasmProvider (src/io/node/node-webp.ts)');
    return mod.default as unknown as (b: ArrayBuffer) => Promise<{ width: number; height: number; data: Uint8ClampedArray }>;
  })();
  return ready;
}

/** Width and height from a WebP file's header (VP8L, VP8X or VP8), or a UserError when it is not one. */
export function webpSize(bytes: Uint8Array, file: string): { width: number; height: number; lossless: boolean } {
  const tag = (o: number) => String.fromCharCode(bytes[o], bytes[o + 1], bytes[o + 2], bytes[o + 3]);
  if (bytes.length < 30 || tag(0) !== 'RIFF' || tag(8) !== 'WEBP') throw new UserError('not a WebP image', file);
  const chunk = tag(12);
  if (chunk === 'VP8L') {
    if (bytes[20] !== 0x2f) throw new UserError('WebP lossless stream has a bad signature', file);
    const b = bytes[21] | (bytes[22] << 8) | (bytes[23] << 16) | (bytes[24] << 24);
    return { width: (b & 0x3fff) + 1, height: ((b >>> 14) & 0x3fff) + 1, lossless: true };
  }
  if (chunk === 'VP8X') {
    const w = 1 + (bytes[24] | (bytes[25] << 8) | (bytes[26] << 16));
    const h = 1 + (bytes[27] | (bytes[28] << 8) | (bytes[29] << 16));
    return { width: w, height: h, lossless: false };
  }
  if (chunk === 'VP8 ') {
    return { width: (bytes[26] | (bytes[27] << 8)) & 0x3fff, height: (bytes[28] | (bytes[29] << 8)) & 0x3fff, lossless: false };
  }
  throw new UserError(`WebP image with an unknown first chunk '${chunk}'`, file);
}

/** Decodes a WebP image to RGBA bytes (exact for lossless images). */
export async function decodeWebp(bytes: Uint8Array, file: string): Promise<RgbaImage> {
  const dec = await decoder();
  const ab = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  let img;
  try {
    img = await dec(ab);
  } catch (e) {
    throw new UserError(`WebP image could not be decoded (${(e as Error).message}; corrupt or truncated?)`, file);
  }
  return { width: img.width, height: img.height, data: new Uint8Array(img.data.buffer, img.data.byteOffset, img.data.byteLength) };
}

/**
 * Reads a WebP image: the header's size is checked (against the pixel limit, then `check`, which returns a
 * problem or null) before libwebp allocates anything, and the decoded image must have the header's size.
 */
export async function readWebpImage(bytes: Uint8Array, file: string, check?: (w: number, h: number) => string | null): Promise<RgbaImage> {
  const { width, height } = webpSize(bytes, file);
  if (width < 1 || height < 1) throw new UserError(`WebP image is ${width}×${height}`, file);
  if (width * height > limits.imagePixels)
    throw new UserError(`WebP image of ${width}×${height} is over the image size limit (${limitHint('imagePixels')})`, file);
  const bad = check?.(width, height);
  if (bad) throw new UserError(bad, file);
  const img = await decodeWebp(bytes, file);
  if (img.width !== width || img.height !== height || img.data.length !== width * height * 4)
    throw new UserError(`WebP image decodes to ${img.width}×${img.height}, not the ${width}×${height} its header says`, file);
  return img;
}
