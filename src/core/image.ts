import { UserError } from './errors';

/**
 * Images in memory: row-major, top row first, interleaved channels, float32 in [0, 1].
 * `channels` is 3 (RGB) or 4 (RGBA, straight alpha) or 1 (grey / mask).
 */
export interface Image {
  width: number;
  height: number;
  channels: 1 | 3 | 4;
  data: Float32Array;
}

export function createImage(width: number, height: number, channels: 1 | 3 | 4 = 3, fill = 0): Image {
  const data = new Float32Array(width * height * channels);
  if (fill !== 0) data.fill(fill);
  return { width, height, channels, data };
}

/** Composites an RGBA image over a background colour; returns RGB. RGB input is returned as-is. */
export function compositeOver(img: Image, background: readonly [number, number, number]): Image {
  if (img.channels === 3) return img;
  const out = createImage(img.width, img.height, 3);
  const n = img.width * img.height;
  for (let i = 0; i < n; i++) {
    if (img.channels === 1) {
      const g = img.data[i];
      out.data[i * 3] = g;
      out.data[i * 3 + 1] = g;
      out.data[i * 3 + 2] = g;
      continue;
    }
    const a = img.data[i * 4 + 3];
    for (let c = 0; c < 3; c++) out.data[i * 3 + c] = img.data[i * 4 + c] * a + background[c] * (1 - a);
  }
  return out;
}

/** Area-average downscale by an integer factor (output size floor(w/k) × floor(h/k)). */
export function downscaleImage(img: Image, k: number): Image {
  if (k === 1) return img;
  const w = Math.floor(img.width / k),
    h = Math.floor(img.height / k),
    C = img.channels;
  const out = createImage(w, h, C);
  const inv = 1 / (k * k);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      for (let c = 0; c < C; c++) {
        let s = 0;
        for (let dy = 0; dy < k; dy++) for (let dx = 0; dx < k; dx++) s += img.data[((y * k + dy) * img.width + x * k + dx) * C + c];
        out.data[(y * w + x) * C + c] = s * inv;
      }
  return out;
}

/** Bilinear resize to an exact size (used when a file's size differs from the camera's). */
export function resizeImage(img: Image, w: number, h: number): Image {
  if (w === img.width && h === img.height) return img;
  if (img.width % w === 0 && img.height % h === 0 && img.width / w === img.height / h) return downscaleImage(img, img.width / w);
  const C = img.channels,
    out = createImage(w, h, C);
  const sx = img.width / w,
    sy = img.height / h;
  for (let y = 0; y < h; y++) {
    const fy = Math.min(Math.max((y + 0.5) * sy - 0.5, 0), img.height - 1);
    const y0 = Math.floor(fy),
      y1 = Math.min(y0 + 1, img.height - 1),
      ty = fy - y0;
    for (let x = 0; x < w; x++) {
      const fx = Math.min(Math.max((x + 0.5) * sx - 0.5, 0), img.width - 1);
      const x0 = Math.floor(fx),
        x1 = Math.min(x0 + 1, img.width - 1),
        tx = fx - x0;
      for (let c = 0; c < C; c++) {
        const a = img.data[(y0 * img.width + x0) * C + c],
          b = img.data[(y0 * img.width + x1) * C + c];
        const d = img.data[(y1 * img.width + x0) * C + c],
          e = img.data[(y1 * img.width + x1) * C + c];
        out.data[(y * w + x) * C + c] = (a * (1 - tx) + b * tx) * (1 - ty) + (d * (1 - tx) + e * tx) * ty;
      }
    }
  }
  return out;
}

export function clamp01(v: number): number {
  return v < 0 ? 0 : v > 1 ? 1 : v;
}

/**
 * The image as it is displayed and saved: every value clamped to [0, 1] (renderers may overshoot 1, as 3DGS
 * colours are only clamped below). A non-finite value is an error (UserError naming `what`): a scene that
 * renders NaN is corrupt, and a metric over it would be NaN or −700 dB.
 */
export function displayImage(img: Image, what: string): Image {
  const data = new Float32Array(img.data.length);
  for (let i = 0; i < data.length; i++) {
    const v = img.data[i];
    if (!Number.isFinite(v))
      throw new UserError(`${what} has a non-finite value (${v}) at pixel ${Math.floor(i / img.channels)}; the scene is corrupt`);
    data[i] = v < 0 ? 0 : v > 1 ? 1 : v;
  }
  return { ...img, data };
}
