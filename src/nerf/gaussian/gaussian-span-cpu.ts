import type { Camera } from '../../core/camera';
import { rasterizeBackwardTiles } from './gaussian-backward-cpu';
import { depthOrder } from './gaussian-bin-cpu';
import {
  createGrads,
  projectBackward,
  projectGaussians,
  zeroGrads,
  TILE,
  type GaussianGrads,
  type Projected,
} from './gaussian-project-cpu';
import { ALPHA_MAX, ALPHA_MIN, T_MIN, type ForwardResult } from './gaussian-render-cpu';
import type { Gaussians } from './gaussians';

/**
 * The fast CPU rasteriser (the default of `--backend cpu`), forward and backward. It has no kernel of its own:
 * it computes exactly what the tile twins compute (gaussian-render-cpu.ts, gaussian-backward-cpu.ts), in less time.
 *
 * | CPU function (this file) | steps (CPU twins → WGSL entry points)                                          |
 * | ------------------------ | ------------------------------------------------------------------------------ |
 * | `rasterizeForward`       | `projectGaussians` → `project_gaussians`, `depthOrder` → depth sort, then the  |
 * |                          | pixel/Gaussian pairs of `rasterize_forward_tiles`                              |
 * | `rasterizeBackward`      | the pairs of `rasterize_backward_tiles`, then `projectBackward` → `project_backward` |
 *
 * Instead of testing every pixel of a tile against the tile's list, it splats each Gaussian in global depth
 * order over only the pixels where α ≥ 1/255 is possible (per-row ellipse spans inside its tile rectangle), with
 * per-pixel transmittance and termination flags, and evaluates exp(power) along a row by a multiplicative
 * recurrence. The pixel/Gaussian pairs, their order and every decision are those of the tile path
 * (tests/gaussian-raster.test.ts checks images and gradients agree), at a fraction of the cost.
 */

/**
 * The pixel box a Gaussian can reach with α ≥ 1/255, clipped to its tile rectangle and the image:
 * [x0, x1) × [y0, y1). Outside the square of half-size √(2·ln(255·opacity)·λmax) around the mean,
 * opacity·exp(power) < 1/255 (since dᵀ·conic·d ≥ |d|²/λmax), so such pairs are skipped by the tile
 * rasteriser too: iterating over this box gives exactly the tile rasteriser's result.
 */
function footprint(p: Projected, i: number, width: number, height: number, box: Int32Array): boolean {
  const op = p.opacity[i];
  if (op * 255 < 1) return false;
  const c00 = p.cov2d[3 * i],
    c01 = p.cov2d[3 * i + 1],
    c11 = p.cov2d[3 * i + 2];
  const mid = 0.5 * (c00 + c11);
  const lam = mid + Math.sqrt(Math.max(0.1, mid * mid - (c00 * c11 - c01 * c01)));
  const r = Math.sqrt(2 * Math.log(255 * op) * lam) + 0.5; // margin for rounding
  const u = p.xy[2 * i],
    v = p.xy[2 * i + 1];
  box[0] = Math.max(p.rect[4 * i] * TILE, Math.ceil(u - r - 0.5));
  box[1] = Math.max(p.rect[4 * i + 1] * TILE, Math.ceil(v - r - 0.5));
  box[2] = Math.min(p.rect[4 * i + 2] * TILE, width, Math.floor(u + r - 0.5) + 1);
  box[3] = Math.min(p.rect[4 * i + 3] * TILE, height, Math.floor(v + r - 0.5) + 1);
  return box[2] > box[0] && box[3] > box[1];
}

/**
 * The pixels of row `py` where Gaussian (u, v, conic a b c) can reach α ≥ 1/255 (a·dx² + 2b·dx·dy + c·dy² ≤ k2),
 * clipped to `box`, with one pixel of margin (the per-pixel tests decide): span = [x0, x1, G(x0), r(x0)] where
 * G = exp(power) at pixel x0 and r(x) = G(x+1)/G(x), so that along the row G(x+1) = G(x)·r(x), r(x+1) = r(x)·e^(−a).
 * False when the row misses the ellipse.
 */
function rowSpan(
  u: number,
  v: number,
  a: number,
  b: number,
  c: number,
  k2: number,
  py: number,
  box: Int32Array,
  span: Float64Array,
): boolean {
  const dy = v - (py + 0.5);
  const D = b * b * dy * dy - a * (c * dy * dy - k2);
  if (D < 0) return false;
  const sq = Math.sqrt(D);
  const x0 = Math.max(box[0], Math.ceil(u - (-b * dy + sq) / a - 0.5) - 1);
  span[0] = x0;
  span[1] = Math.min(box[2], Math.floor(u - (-b * dy - sq) / a - 0.5) + 2);
  const dx0 = u - (x0 + 0.5);
  span[2] = Math.exp(-0.5 * a * dx0 * dx0 - b * dx0 * dy - 0.5 * c * dy * dy);
  span[3] = Math.exp(a * dx0 - 0.5 * a + b * dy);
  return true;
}

/**
 * Forward rasterisation of `g` seen from `cam` over `background`. Gaussians are splatted one at a time in
 * global depth order over their footprints, with per-pixel transmittance and early termination: the same
 * pixel/Gaussian pairs in the same order as the tile rasteriser (`rasterizeForwardTiles`), hence the same
 * image, but without the work of testing every pixel of a tile against every Gaussian of its list.
 */
export function rasterizeForward(g: Gaussians, cam: Camera, background: readonly [number, number, number]): ForwardResult {
  const { width, height } = cam;
  const p = projectGaussians(g, cam);
  const order = depthOrder(p);
  const npx = width * height;
  const Tb = new Float64Array(npx).fill(1);
  const col = new Float64Array(npx * 3),
    dep = new Float64Array(npx);
  const done = new Uint8Array(npx);
  const box = new Int32Array(4);
  const span = new Float64Array(4);
  for (let oi = 0; oi < order.length; oi++) {
    const i = order[oi];
    if (!footprint(p, i, width, height, box)) continue;
    const u = p.xy[2 * i],
      v = p.xy[2 * i + 1];
    const a = p.conic[3 * i],
      b = p.conic[3 * i + 1],
      c = p.conic[3 * i + 2];
    const op = p.opacity[i],
      z = p.depth[i];
    const r = p.rgb[3 * i],
      gc = p.rgb[3 * i + 1],
      bc = p.rgb[3 * i + 2];
    const k2 = 2 * Math.log(255 * op); // α ≥ 1/255 ⟺ a·dx² + 2b·dx·dy + c·dy² ≤ k2
    const q = Math.exp(-a);
    for (let py = box[1]; py < box[3]; py++) {
      if (!rowSpan(u, v, a, b, c, k2, py, box, span)) continue;
      const x0 = span[0],
        x1 = span[1];
      const row = py * width;
      let G = span[2],
        rr = span[3];
      for (let px = x0; px < x1; px++, G *= rr, rr *= q) {
        const pi = row + px;
        if (done[pi]) continue;
        let alpha = op * G;
        if (alpha > ALPHA_MAX) alpha = ALPHA_MAX;
        if (alpha < ALPHA_MIN) continue;
        const T = Tb[pi];
        const testT = T * (1 - alpha);
        if (testT < T_MIN) {
          done[pi] = 1;
          continue;
        }
        const w = alpha * T;
        col[3 * pi] += r * w;
        col[3 * pi + 1] += gc * w;
        col[3 * pi + 2] += bc * w;
        dep[pi] += z * w;
        Tb[pi] = testT;
      }
    }
  }
  const [bgR, bgG, bgB] = background;
  const image = new Float32Array(npx * 3),
    alphaOut = new Float32Array(npx),
    depthOut = new Float32Array(npx),
    finalT = new Float32Array(npx);
  for (let pi = 0; pi < npx; pi++) {
    const T = Tb[pi];
    col[3 * pi] += T * bgR;
    col[3 * pi + 1] += T * bgG;
    col[3 * pi + 2] += T * bgB;
    image[3 * pi] = col[3 * pi];
    image[3 * pi + 1] = col[3 * pi + 1];
    image[3 * pi + 2] = col[3 * pi + 2];
    alphaOut[pi] = 1 - T;
    depthOut[pi] = T < 1 ? dep[pi] / (1 - T) : 0;
    finalT[pi] = T;
  }
  return {
    width,
    height,
    image,
    alpha: alphaOut,
    depth: depthOut,
    finalT,
    background: [bgR, bgG, bgB],
    projected: p,
    nContrib: null,
    bins: null,
    order,
    color64: col,
  };
}

/**
 * Backward pass: gradients of a loss L with respect to every parameter of `g`, given ∂L/∂image (RGB,
 * image layout) and optionally ∂L/∂alpha. `out` (if given) is overwritten. Uses the state saved by
 * `rasterizeForward` for the same `g` and `cam` (a result of `rasterizeForwardTiles` is passed on to
 * `rasterizeBackwardTiles`). Replays the forward front to back, so each pixel's transmittance and
 * termination are recomputed exactly.
 */
export function rasterizeBackward(
  g: Gaussians,
  cam: Camera,
  fwd: ForwardResult,
  dImage: Float32Array,
  dAlpha?: Float32Array | null,
  out?: GaussianGrads,
): GaussianGrads {
  if (!fwd.order || !fwd.color64) return rasterizeBackwardTiles(g, cam, fwd, dImage, dAlpha, out);
  const n = g.count;
  const grads = out ?? createGrads(n);
  zeroGrads(grads, n);
  const { width, height, projected: p, order } = fwd;
  const npx = width * height;
  const Tb = new Float64Array(npx).fill(1);
  // rest = C − P_i per pixel and channel (4th: alpha channel, C = 1 − T_final)
  const rest = new Float64Array(npx * 4);
  for (let pi = 0; pi < npx; pi++) {
    rest[4 * pi] = fwd.color64[3 * pi];
    rest[4 * pi + 1] = fwd.color64[3 * pi + 1];
    rest[4 * pi + 2] = fwd.color64[3 * pi + 2];
    rest[4 * pi + 3] = 1 - fwd.finalT[pi];
  }
  const done = new Uint8Array(npx);
  const G2 = new Float64Array(n * 9);
  const box = new Int32Array(4);
  const span = new Float64Array(4);
  for (let oi = 0; oi < order.length; oi++) {
    const i = order[oi];
    if (!footprint(p, i, width, height, box)) continue;
    const u = p.xy[2 * i],
      v = p.xy[2 * i + 1];
    const a = p.conic[3 * i],
      b = p.conic[3 * i + 1],
      c = p.conic[3 * i + 2];
    const op = p.opacity[i];
    const r = p.rgb[3 * i],
      gc = p.rgb[3 * i + 1],
      bc = p.rgb[3 * i + 2];
    let gU = 0,
      gV = 0,
      gA = 0,
      gB = 0,
      gC = 0,
      gOp = 0,
      gR = 0,
      gG = 0,
      gBl = 0;
    const k2 = 2 * Math.log(255 * op);
    const q = Math.exp(-a);
    for (let py = box[1]; py < box[3]; py++) {
      // the forward's span and recurrence (identical decisions)
      if (!rowSpan(u, v, a, b, c, k2, py, box, span)) continue;
      const dy = v - (py + 0.5);
      const x0 = span[0],
        x1 = span[1];
      const row = py * width;
      let G = span[2],
        rr = span[3];
      for (let px = x0; px < x1; px++, G *= rr, rr *= q) {
        const pi = row + px;
        if (done[pi]) continue;
        const dx = u - (px + 0.5);
        let alpha = op * G;
        const clamped = alpha > ALPHA_MAX;
        if (clamped) alpha = ALPHA_MAX;
        if (alpha < ALPHA_MIN) continue;
        const T = Tb[pi];
        const nT = T * (1 - alpha);
        if (nT < T_MIN) {
          done[pi] = 1;
          continue;
        }
        const w = alpha * T;
        const q = 4 * pi;
        const rR = (rest[q] -= r * w),
          rG = (rest[q + 1] -= gc * w),
          rB = (rest[q + 2] -= bc * w),
          rA = (rest[q + 3] -= w);
        Tb[pi] = nT;
        const dr = dImage[3 * pi],
          dg = dImage[3 * pi + 1],
          db = dImage[3 * pi + 2];
        const da = dAlpha ? dAlpha[pi] : 0;
        gR += dr * w;
        gG += dg * w;
        gBl += db * w;
        if (!clamped) {
          const inv = 1 / (1 - alpha);
          const dAl = dr * (r * T - rR * inv) + dg * (gc * T - rG * inv) + db * (bc * T - rB * inv) + da * (T - rA * inv);
          gOp += dAl * G;
          const dPow = dAl * op * G;
          gU -= dPow * (a * dx + b * dy);
          gV -= dPow * (b * dx + c * dy);
          gA -= 0.5 * dPow * dx * dx;
          gB -= 0.5 * dPow * dx * dy;
          gC -= 0.5 * dPow * dy * dy;
        }
      }
    }
    const o = 9 * i;
    G2[o] = gU;
    G2[o + 1] = gV;
    G2[o + 2] = gA;
    G2[o + 3] = gB;
    G2[o + 4] = gC;
    G2[o + 5] = gOp;
    G2[o + 6] = gR;
    G2[o + 7] = gG;
    G2[o + 8] = gBl;
  }
  projectBackward(g, cam, p, G2, grads);
  return grads;
}

/** Convenience: render to an RGB image + alpha + depth. */
export function renderGaussiansCpu(g: Gaussians, cam: Camera, background: readonly [number, number, number]) {
  const f = rasterizeForward(g, cam, background);
  return { image: { width: f.width, height: f.height, channels: 3 as const, data: f.image }, alpha: f.alpha, depth: f.depth };
}
