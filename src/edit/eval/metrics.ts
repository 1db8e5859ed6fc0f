import type { Image } from '../../core/image';

/**
 * Image quality metrics on [0, 1] images (docs/metrics.md).
 * - PSNR = 10·log10(1 / MSE) over all channels (and the pixels where `mask` > 0.5 when given).
 *   Identical images give Infinity; a capped value is the caller's choice.
 * - SSIM: 11×11 Gaussian window (σ = 1.5), C1 = 0.01², C2 = 0.03², per channel on the valid region
 *   (no padding), averaged over pixels and channels — the usual scikit-image / pytorch-msssim definition.
 *   Images smaller than 11 pixels on a side use the largest odd window that fits (σ scaled by k/11).
 */

function sameSize(a: Image, b: Image): void {
  if (a.width !== b.width || a.height !== b.height)
    throw new Error(`metrics: image sizes differ (${a.width}×${a.height} vs ${b.width}×${b.height})`);
}

/** Channel c of pixel i (grey images broadcast; alpha is ignored). */
function chan(img: Image, i: number, c: number): number {
  return img.data[i * img.channels + (img.channels === 1 ? 0 : c)];
}

export function mse(a: Image, b: Image, mask?: Image): number {
  sameSize(a, b);
  const n = a.width * a.height;
  let s = 0,
    cnt = 0;
  for (let i = 0; i < n; i++) {
    if (mask && mask.data[i * mask.channels] <= 0.5) continue;
    for (let c = 0; c < 3; c++) {
      const d = chan(a, i, c) - chan(b, i, c);
      s += d * d;
    }
    cnt += 3;
  }
  return cnt ? s / cnt : 0;
}

export function psnr(a: Image, b: Image, mask?: Image): number {
  const m = mse(a, b, mask);
  return m <= 0 ? Infinity : -10 * Math.log10(m);
}

function gaussianWindow(size = 11, sigma = 1.5): Float64Array {
  const w = new Float64Array(size);
  const h = (size - 1) / 2;
  let s = 0;
  for (let i = 0; i < size; i++) {
    w[i] = Math.exp(-((i - h) ** 2) / (2 * sigma * sigma));
    s += w[i];
  }
  for (let i = 0; i < size; i++) w[i] /= s;
  return w;
}

/** Separable Gaussian filter over the valid region: output (W−10)×(H−10). */
function filterValid(src: Float64Array, W: number, H: number, w: Float64Array, tmp: Float64Array, out: Float64Array): void {
  const K = w.length,
    ow = W - K + 1,
    oh = H - K + 1;
  for (let y = 0; y < H; y++)
    for (let x = 0; x < ow; x++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += w[k] * src[y * W + x + k];
      tmp[y * ow + x] = s;
    }
  for (let y = 0; y < oh; y++)
    for (let x = 0; x < ow; x++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += w[k] * tmp[(y + k) * ow + x];
      out[y * ow + x] = s;
    }
}

export function ssim(a: Image, b: Image): number {
  sameSize(a, b);
  const W = a.width,
    H = a.height;
  // images smaller than the 11×11 window (e.g. after a large --downscale) use the largest odd window that
  // fits, with σ scaled alike (as scikit-image asks for with win_size)
  const side = Math.min(11, W, H);
  const k = side % 2 ? side : side - 1;
  const win = gaussianWindow(k, (1.5 * k) / 11);
  const K = win.length;
  const C1 = 0.01 ** 2,
    C2 = 0.03 ** 2;
  const n = W * H,
    ow = W - K + 1,
    oh = H - K + 1,
    m = ow * oh;
  const x = new Float64Array(n),
    y = new Float64Array(n),
    xx = new Float64Array(n),
    yy = new Float64Array(n),
    xy = new Float64Array(n);
  const tmp = new Float64Array(H * ow);
  const mx = new Float64Array(m),
    my = new Float64Array(m),
    sxx = new Float64Array(m),
    syy = new Float64Array(m),
    sxy = new Float64Array(m);
  let total = 0;
  const channels = a.channels === 1 && b.channels === 1 ? 1 : 3;
  for (let c = 0; c < channels; c++) {
    for (let i = 0; i < n; i++) {
      const u = chan(a, i, c),
        v = chan(b, i, c);
      x[i] = u;
      y[i] = v;
      xx[i] = u * u;
      yy[i] = v * v;
      xy[i] = u * v;
    }
    filterValid(x, W, H, win, tmp, mx);
    filterValid(y, W, H, win, tmp, my);
    filterValid(xx, W, H, win, tmp, sxx);
    filterValid(yy, W, H, win, tmp, syy);
    filterValid(xy, W, H, win, tmp, sxy);
    let s = 0;
    for (let i = 0; i < m; i++) {
      const ux = mx[i],
        uy = my[i];
      const vx = sxx[i] - ux * ux,
        vy = syy[i] - uy * uy,
        cxy = sxy[i] - ux * uy;
      s += ((2 * ux * uy + C1) * (2 * cxy + C2)) / ((ux * ux + uy * uy + C1) * (vx + vy + C2));
    }
    total += s / m;
  }
  return total / channels;
}
