import type { Camera } from '../../core/camera';
import { binGaussians, type TileBins } from './gaussian-bin-cpu';
import { projectGaussians, TILE, type Projected } from './gaussian-project-cpu';
import type { Gaussians } from './gaussians';

/**
 * CPU twin of the forward tile rasteriser of 3DGS (Kerbl et al. 2023): every pixel of a 16×16 tile composites
 * the tile's depth-sorted list front to back. Conventions of the projection and the tiles: gaussian-project-cpu.ts;
 * the method: docs/gaussians.md.
 *
 * | CPU function (this file) | WGSL kernel entry point                                 |
 * | ------------------------ | ------------------------------------------------------- |
 * | `rasterizeForwardTiles`  | `rasterize_forward_tiles` (src/shaders/gs_render.wgsl)  |
 * | `stageTile`              | the workgroup-memory loads (`s_u`, `s_v`, …) of a round |
 *
 * The kernel runs one workgroup per tile and one thread per pixel; this function loops over the tiles and pixels
 * in the same order of Gaussians, so `nContrib` (tile-list entries up to the last contributor) matches exactly
 * and colours to f32 rounding.
 *
 * CONVENTIONS
 * - Compositing, per pixel front to back: G = exp(power) (skip when power > 0); α = min(0.99, opacity·G);
 *   skip α < 1/255; stop (without this Gaussian) when T·(1 − α) < 1e-4; C += rgb·α·T; T ·= (1 − α).
 *   Output colour = C + T·background; alpha = 1 − T; depth = Σ α·T·z / (1 − T) (0 where 1 − T = 0).
 *   α = 0.99 (ALPHA_MAX), 1/255 (ALPHA_MIN) and 1e-4 (T_MIN) are the 3DGS constants.
 */

export const ALPHA_MAX = 0.99;
export const ALPHA_MIN = 1 / 255;
export const T_MIN = 1e-4;

export interface ForwardResult {
  width: number;
  height: number;
  /** RGB, row-major, top row first (Image layout) */
  image: Float32Array;
  /** 1 − final transmittance */
  alpha: Float32Array;
  /** alpha-normalised expected depth */
  depth: Float32Array;
  /** final transmittance (background weight) */
  finalT: Float32Array;
  background: [number, number, number];
  projected: Projected;
  /** tile path: number of tile-list entries processed up to and including the last contributor */
  nContrib: Uint32Array | null;
  /** tile path: the tile bins */
  bins: TileBins | null;
  /** scatter path: visible Gaussians, front to back */
  order: Uint32Array | null;
  /** scatter path: final colour per pixel in float64 (r, g, b) before float32 rounding */
  color64: Float64Array | null;
}

export const STAGE_STRIDE = 10; // staged per-Gaussian data: u, v, a, b, c, opacity, r, g, b, depth

export function stageTile(p: Projected, ids: Uint32Array, start: number, end: number, stage: Float64Array): void {
  for (let j = start, o = 0; j < end; j++, o += STAGE_STRIDE) {
    const i = ids[j];
    stage[o] = p.xy[2 * i];
    stage[o + 1] = p.xy[2 * i + 1];
    stage[o + 2] = p.conic[3 * i];
    stage[o + 3] = p.conic[3 * i + 1];
    stage[o + 4] = p.conic[3 * i + 2];
    stage[o + 5] = p.opacity[i];
    stage[o + 6] = p.rgb[3 * i];
    stage[o + 7] = p.rgb[3 * i + 1];
    stage[o + 8] = p.rgb[3 * i + 2];
    stage[o + 9] = p.depth[i];
  }
}

export function maxTileLength(bins: TileBins): number {
  let m = 0;
  for (let t = 0; t < bins.ranges.length / 2; t++) m = Math.max(m, bins.ranges[2 * t + 1] - bins.ranges[2 * t]);
  return m;
}

/**
 * Forward rasterisation with per-tile lists (`rasterize_forward_tiles`: the GPU algorithm, the reference for the
 * parity tests). `rasterizeForward` (gaussian-span-cpu.ts) gives the same images faster on a CPU.
 */
export function rasterizeForwardTiles(g: Gaussians, cam: Camera, background: readonly [number, number, number]): ForwardResult {
  const { width, height } = cam;
  const p = projectGaussians(g, cam);
  const bins = binGaussians(p, width, height);
  const npx = width * height;
  const image = new Float32Array(npx * 3),
    alphaOut = new Float32Array(npx),
    depthOut = new Float32Array(npx);
  const finalT = new Float32Array(npx),
    nContrib = new Uint32Array(npx);
  const stage = new Float64Array(Math.max(1, maxTileLength(bins)) * STAGE_STRIDE);
  const [bgR, bgG, bgB] = background;
  for (let ty = 0; ty < bins.tilesY; ty++)
    for (let tx = 0; tx < bins.tilesX; tx++) {
      const t = ty * bins.tilesX + tx;
      const start = bins.ranges[2 * t],
        end = bins.ranges[2 * t + 1],
        n = end - start;
      stageTile(p, bins.ids, start, end, stage);
      const yEnd = Math.min(height, (ty + 1) * TILE),
        xEnd = Math.min(width, (tx + 1) * TILE);
      for (let py = ty * TILE; py < yEnd; py++) {
        const pfy = py + 0.5;
        for (let px = tx * TILE; px < xEnd; px++) {
          const pfx = px + 0.5;
          let T = 1,
            cr = 0,
            cg = 0,
            cb = 0,
            dep = 0,
            last = 0;
          for (let j = 0, o = 0; j < n; j++, o += STAGE_STRIDE) {
            const dx = stage[o] - pfx,
              dy = stage[o + 1] - pfy;
            const power = -0.5 * (stage[o + 2] * dx * dx + stage[o + 4] * dy * dy) - stage[o + 3] * dx * dy;
            if (power > 0) continue;
            let alpha = stage[o + 5] * Math.exp(power);
            if (alpha > ALPHA_MAX) alpha = ALPHA_MAX;
            if (alpha < ALPHA_MIN) continue;
            const testT = T * (1 - alpha);
            if (testT < T_MIN) break;
            const w = alpha * T;
            cr += stage[o + 6] * w;
            cg += stage[o + 7] * w;
            cb += stage[o + 8] * w;
            dep += stage[o + 9] * w;
            T = testT;
            last = j + 1;
          }
          const pi = py * width + px;
          image[3 * pi] = cr + T * bgR;
          image[3 * pi + 1] = cg + T * bgG;
          image[3 * pi + 2] = cb + T * bgB;
          alphaOut[pi] = 1 - T;
          depthOut[pi] = T < 1 ? dep / (1 - T) : 0;
          finalT[pi] = T;
          nContrib[pi] = last;
        }
      }
    }
  return {
    width,
    height,
    image,
    alpha: alphaOut,
    depth: depthOut,
    finalT,
    nContrib,
    background: [bgR, bgG, bgB],
    projected: p,
    bins,
    order: null,
    color64: null,
  };
}
