/**
 * Differentiable SSIM for training (3DGS's D-SSIM term): 11×11 Gaussian window (σ 1.5, separable), zero
 * padding at the borders (as the reference trainers' conv2d with padding 5), C1 = 0.01², C2 = 0.03²,
 * mean over every pixel and channel. The metric used for evaluation lives in `src/edit/eval/metrics.ts`.
 */

const WIN = 11,
  HALF = 5;
const KERNEL = (() => {
  const k = new Float64Array(WIN);
  let s = 0;
  for (let i = 0; i < WIN; i++) {
    k[i] = Math.exp(-((i - HALF) ** 2) / (2 * 1.5 * 1.5));
    s += k[i];
  }
  for (let i = 0; i < WIN; i++) k[i] /= s;
  return k;
})();
const C1 = 0.01 ** 2,
  C2 = 0.03 ** 2;

/** Separable zero-padded Gaussian blur of a w×h plane (`tmp` is scratch of the same size). */
function blur(src: Float64Array, dst: Float64Array, tmp: Float64Array, w: number, h: number): void {
  for (let y = 0; y < h; y++) {
    const row = y * w;
    for (let x = 0; x < w; x++) {
      let s = 0;
      const k0 = Math.max(0, HALF - x),
        k1 = Math.min(WIN, w - x + HALF);
      for (let k = k0; k < k1; k++) s += KERNEL[k] * src[row + x + k - HALF];
      tmp[row + x] = s;
    }
  }
  for (let y = 0; y < h; y++) {
    const k0 = Math.max(0, HALF - y),
      k1 = Math.min(WIN, h - y + HALF);
    for (let x = 0; x < w; x++) {
      let s = 0;
      for (let k = k0; k < k1; k++) s += KERNEL[k] * tmp[(y + k - HALF) * w + x];
      dst[y * w + x] = s;
    }
  }
}

/** Reusable buffers for one image size. */
export class SsimLoss {
  private planes: Float64Array[];
  constructor(
    readonly width: number,
    readonly height: number,
  ) {
    const n = width * height;
    this.planes = Array.from({ length: 11 }, () => new Float64Array(n));
  }

  /**
   * Mean SSIM between `x` and `y` (interleaved, `channels` per pixel). When `grad` is given, adds
   * `scale · ∂(1 − SSIM)/∂x` to it.
   */
  compute(x: Float32Array, y: Float32Array, channels: number, grad?: Float32Array, scale = 1): number {
    const w = this.width,
      h = this.height,
      n = w * h;
    const [px, py, mx, my, sxx, syy, sxy, tmp, dMu, dSxx, dSxy] = this.planes;
    let total = 0;
    const dS = -scale / (n * channels);
    for (let c = 0; c < channels; c++) {
      for (let i = 0; i < n; i++) {
        px[i] = x[i * channels + c];
        py[i] = y[i * channels + c];
      }
      blur(px, mx, tmp, w, h);
      blur(py, my, tmp, w, h);
      for (let i = 0; i < n; i++) dMu[i] = px[i] * px[i];
      blur(dMu, sxx, tmp, w, h);
      for (let i = 0; i < n; i++) dMu[i] = py[i] * py[i];
      blur(dMu, syy, tmp, w, h);
      for (let i = 0; i < n; i++) dMu[i] = px[i] * py[i];
      blur(dMu, sxy, tmp, w, h);
      for (let i = 0; i < n; i++) {
        const ux = mx[i],
          uy = my[i];
        const vx = sxx[i] - ux * ux,
          vy = syy[i] - uy * uy,
          cxy = sxy[i] - ux * uy;
        const A1 = 2 * ux * uy + C1,
          A2 = 2 * cxy + C2,
          B1 = ux * ux + uy * uy + C1,
          B2 = vx + vy + C2;
        const inv = 1 / (B1 * B2);
        const s = A1 * A2 * inv;
        total += s;
        if (grad) {
          dMu[i] = dS * ((2 * uy * A2 - 2 * uy * A1) * inv - s * ((2 * ux) / B1 - (2 * ux) / B2));
          dSxx[i] = dS * (-s / B2);
          dSxy[i] = dS * (2 * A1 * inv);
        }
      }
      if (grad) {
        // ∂/∂x(q) = (G∗D_μ)(q) + 2x(q)·(G∗D_Sxx)(q) + y(q)·(G∗D_Sxy)(q)   (the window is symmetric)
        blur(dMu, mx, tmp, w, h);
        blur(dSxx, sxx, tmp, w, h);
        blur(dSxy, sxy, tmp, w, h);
        for (let i = 0; i < n; i++) grad[i * channels + c] += mx[i] + 2 * px[i] * sxx[i] + py[i] * sxy[i];
      }
    }
    return total / (n * channels);
  }
}
