import type { Camera } from '../../core/camera';
import { createGrads, projectBackward, zeroGrads, TILE, type GaussianGrads } from './gaussian-project-cpu';
import { ALPHA_MAX, ALPHA_MIN, STAGE_STRIDE, maxTileLength, stageTile, type ForwardResult } from './gaussian-render-cpu';
import type { Gaussians } from './gaussians';

/**
 * CPU twin of the backward tile rasteriser: per tile and pixel, replays the forward front to back and accumulates
 * the 9 per-Gaussian 2D gradients (∂L/∂u, ∂L/∂v, conic, opacity, rgb), then `projectBackward` takes them to the
 * parameters. Method: docs/gaussians.md; conventions: gaussian-project-cpu.ts and gaussian-render-cpu.ts.
 *
 * | CPU function (this file)  | WGSL kernel entry point                                   |
 * | ------------------------- | --------------------------------------------------------- |
 * | `rasterizeBackwardTiles`  | `rasterize_backward_tiles` (src/shaders/gs_backward.wgsl) |
 * |   then `projectBackward`  | `project_backward` (src/shaders/gs_project_backward.wgsl) |
 *
 * The kernel adds the per-Gaussian sums with float compare-and-swap (f32, order-dependent rounding); this function
 * adds in float64 in tile order, so gradients agree to f32 rounding of the sums.
 *
 * CONVENTIONS
 * - Backward: exact derivative of the forward above, including the α clamp (no gradient where α = 0.99
 *   was clamped) and the colour clamp (no gradient where rgb was clamped to 0). The depth output has no
 *   gradient. The per-pixel backward runs front to back using ∂C/∂α_i = T_i·c_i − (C − P_i)/(1 − α_i),
 *   P_i = Σ_{j≤i} c_j·α_j·T_j (the back-to-front recursion of 3DGS gives the same numbers).
 */

/**
 * Backward of `rasterizeForwardTiles` (`rasterize_backward_tiles`, the reference for the GPU algorithm): gradients
 * of L with respect to every parameter of `g` given ∂L/∂image (RGB, image layout) and optionally ∂L/∂alpha;
 * `out` (if given) is overwritten. `rasterizeBackward` (gaussian-span-cpu.ts) gives the same gradients faster.
 */
export function rasterizeBackwardTiles(
  g: Gaussians,
  cam: Camera,
  fwd: ForwardResult,
  dImage: Float32Array,
  dAlpha?: Float32Array | null,
  out?: GaussianGrads,
): GaussianGrads {
  const n = g.count;
  const grads = out ?? createGrads(n);
  zeroGrads(grads, n);
  const { width, height, projected: p } = fwd;
  const bins = fwd.bins!;
  if (!bins || !fwd.nContrib) throw new Error('rasterizeBackwardTiles needs the result of rasterizeForwardTiles');
  const [bgR, bgG, bgB] = fwd.background;
  // per-Gaussian 2D gradients: u, v, conic (3, matrix form), opacity, rgb (3)
  const G2 = new Float64Array(n * 9);
  const maxLen = Math.max(1, maxTileLength(bins));
  const stage = new Float64Array(maxLen * STAGE_STRIDE);
  const acc = new Float64Array(maxLen * 9);
  for (let ty = 0; ty < bins.tilesY; ty++)
    for (let tx = 0; tx < bins.tilesX; tx++) {
      const t = ty * bins.tilesX + tx;
      const start = bins.ranges[2 * t],
        end = bins.ranges[2 * t + 1],
        nt = end - start;
      if (nt === 0) continue;
      stageTile(p, bins.ids, start, end, stage);
      acc.fill(0, 0, nt * 9);
      const yEnd = Math.min(height, (ty + 1) * TILE),
        xEnd = Math.min(width, (tx + 1) * TILE);
      for (let py = ty * TILE; py < yEnd; py++) {
        const pfy = py + 0.5;
        for (let px = tx * TILE; px < xEnd; px++) {
          const pfx = px + 0.5;
          const pi = py * width + px;
          const last = fwd.nContrib![pi];
          if (last === 0) continue;
          const gr = dImage[3 * pi],
            gg = dImage[3 * pi + 1],
            gb = dImage[3 * pi + 2];
          const ga = dAlpha ? dAlpha[pi] : 0;
          if (gr === 0 && gg === 0 && gb === 0 && ga === 0) continue;
          const Tf = fwd.finalT[pi];
          // C − P_i per channel, starting with P = 0: rest = Σ_j c_j w_j + T_N·bg; alpha channel: 1 − T_N
          let restR = fwd.image[3 * pi],
            restG = fwd.image[3 * pi + 1],
            restB = fwd.image[3 * pi + 2];
          let restA = 1 - Tf;
          // recompute from the colours to avoid float32 rounding of the stored image
          {
            let T = 1,
              cr = 0,
              cg = 0,
              cb = 0;
            for (let j = 0, o = 0; j < last; j++, o += STAGE_STRIDE) {
              const dx = stage[o] - pfx,
                dy = stage[o + 1] - pfy;
              const power = -0.5 * (stage[o + 2] * dx * dx + stage[o + 4] * dy * dy) - stage[o + 3] * dx * dy;
              if (power > 0) continue;
              let alpha = stage[o + 5] * Math.exp(power);
              if (alpha > ALPHA_MAX) alpha = ALPHA_MAX;
              if (alpha < ALPHA_MIN) continue;
              const w = alpha * T;
              cr += stage[o + 6] * w;
              cg += stage[o + 7] * w;
              cb += stage[o + 8] * w;
              T *= 1 - alpha;
            }
            restR = cr + T * bgR;
            restG = cg + T * bgG;
            restB = cb + T * bgB;
            restA = 1 - T;
          }
          let T = 1;
          for (let j = 0, o = 0; j < last; j++, o += STAGE_STRIDE) {
            const dx = stage[o] - pfx,
              dy = stage[o + 1] - pfy;
            const a = stage[o + 2],
              b = stage[o + 3],
              c = stage[o + 4];
            const power = -0.5 * (a * dx * dx + c * dy * dy) - b * dx * dy;
            if (power > 0) continue;
            const G = Math.exp(power);
            const op = stage[o + 5];
            let alpha = op * G;
            const clamped = alpha > ALPHA_MAX;
            if (clamped) alpha = ALPHA_MAX;
            if (alpha < ALPHA_MIN) continue;
            const w = alpha * T;
            const r = stage[o + 6],
              gc = stage[o + 7],
              bc = stage[o + 8];
            restR -= r * w;
            restG -= gc * w;
            restB -= bc * w;
            restA -= w;
            const ao = j * 9;
            // colour gradient
            acc[ao + 6] += gr * w;
            acc[ao + 7] += gg * w;
            acc[ao + 8] += gb * w;
            if (!clamped) {
              const inv = 1 / (1 - alpha);
              const dAl = gr * (r * T - restR * inv) + gg * (gc * T - restG * inv) + gb * (bc * T - restB * inv) + ga * (T - restA * inv);
              acc[ao + 5] += dAl * G; // ∂α/∂opacity = G
              const dPow = dAl * op * G; // ∂α/∂power = opacity·G
              acc[ao] += dPow * -(a * dx + b * dy);
              acc[ao + 1] += dPow * -(b * dx + c * dy);
              acc[ao + 2] += -0.5 * dPow * dx * dx;
              acc[ao + 3] += -0.5 * dPow * dx * dy;
              acc[ao + 4] += -0.5 * dPow * dy * dy;
            }
            T *= 1 - alpha;
          }
        }
      }
      for (let j = 0; j < nt; j++) {
        const i = bins.ids[start + j];
        for (let k = 0; k < 9; k++) G2[i * 9 + k] += acc[j * 9 + k];
      }
    }
  projectBackward(g, cam, p, G2, grads);
  return grads;
}
