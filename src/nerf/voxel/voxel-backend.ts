import type { Vec3 } from '../../core/math';
import { unknownBackendError, type BackendName } from '../common/backend';
import { CpuVoxelBackend } from './voxel-render-cpu';
import type { VoxelGrid } from './voxel-grid';

/**
 * The interface a voxel rendering backend implements: the TypeScript CPU reference
 * (`voxel-render-cpu.ts`) and WebGPU (`voxel-render-webgpu.ts`). Same inputs, same outputs, so the fitting
 * loop (`fit-voxel.ts`) and the tests run either.
 *
 * ## Ray marching (both backends do exactly this; see `voxel-grid.ts` for the grid mapping)
 * For each ray (origin o, unit direction d):
 * - Bounded grids (bgLen = 0): [t0, t1] = the ray's intersection with `grid.box`, t0 raised to `near`;
 *   a ray that misses gets the background. Samples at tᵢ = t0 + (i + 0.5)·stepSize while tᵢ < t1.
 * - Unbounded grids (bgLen > 0): t starts at `near`; at each sample point p = o + t·d, with n the ∞-norm of
 *   u = (p − c)/h, the next step is dt = stepSize when n ≤ 1 and dt = stepSize·n²/bgLen when n > 1 (so the
 *   step measured in contracted space stays ≈ stepSize). Samples at tᵢ (evaluated at the point, then
 *   t += dt); marching stops when n > `farNorm`.
 * - Every sample uses δ = stepSize (contracted-space length) for its opacity: α = 1 − exp(−σ·δ·densityScale).
 * - Samples outside the grid, or in a cell whose occupancy byte is 0, are skipped (no colour, no opacity,
 *   no gradient).
 * - Compositing front to back: wᵢ = Tᵢ·αᵢ, T_{i+1} = Tᵢ(1 − αᵢ), T₀ = 1; stop when T < `stopTransmittance`
 *   or after `maxSamples` samples. rgb = Σ wᵢ cᵢ + T_final · background; alpha = 1 − T_final;
 *   depth = Σ wᵢ tᵢ / max(alpha, 1e-10) (0 when alpha < 1e-6).
 *
 * ## Loss and gradients
 * `trainStep` renders a batch, computes L = mean over rays and the 3 channels of (rgb − target)²
 * (or |rgb − target| with `photometric: 'l1'`; + alphaWeight · mean over rays of (alpha − targetAlpha)² when
 * the batch carries opacity targets; + the distortion term when enabled; other regularisers are applied by the
 * fitting loop on the grid directly), and **adds** lossScale · ∂L/∂(raw values) into the `grads` arrays (same
 * layout as the grid: `density`, `color`). The returned loss is not scaled.
 */

export interface MarchParams {
  /** Step length δ in (contracted-space) world units. Typically half the finest voxel size. */
  stepSize: number;
  /** Rays start at this distance from their origin. */
  near: number;
  /** Unbounded grids: stop marching where the ∞-norm of the normalised point exceeds this. */
  farNorm: number;
  background: Vec3;
  /** Early termination threshold on the transmittance (default 1e-4). */
  stopTransmittance: number;
  /** Cap on the number of steps per ray (evaluated or skipped). */
  maxSamples: number;
  /**
   * Optional distortion regulariser weight λ (mip-NeRF 360 / DVGO v2), training only. Both backends implement
   * it (parity-tested); `fitVoxel` still refuses λ > 0 on WebGPU, where its fused step is not tested with it. Per ray, with sᵢ = (kᵢ + ½)·δ the
   * contracted-space position of sample i (kᵢ its step index, skipped steps counted):
   * L_dist = Σᵢ Σⱼ wᵢwⱼ|sᵢ − sⱼ| + ⅓ Σᵢ wᵢ² δ, added to the loss as λ · mean over rays.
   */
  distortion?: number;
}

export interface RayBatch {
  /** 3 floats per ray. */
  origins: Float32Array;
  /** 3 floats per ray, unit length. */
  dirs: Float32Array;
  count: number;
}

export interface TrainBatch extends RayBatch {
  /** Target RGB, 3 floats per ray, in [0, 1]. */
  target: Float32Array;
  /**
   * Optional opacity targets, 1 float per ray (the ray's accumulated α = 1 − T_final): adds
   * `alphaWeight` · mean over rays of (α − α*)² to the loss (NeRF-Insert's preservation of the original's
   * opacity).
   */
  targetAlpha?: Float32Array;
  alphaWeight?: number;
}

export interface ForwardResult {
  /** Composited RGB (over the background), 3 floats per ray. */
  rgb: Float32Array;
  alpha: Float32Array;
  depth: Float32Array;
  /** Samples evaluated (inside the grid and occupied), for benchmarks. */
  samples: number;
}

export interface VoxelGrads {
  density: Float32Array;
  color: Float32Array;
}

export interface TrainResult {
  /** Mean squared (or absolute) error over the batch's rays and channels (+ the opacity and distortion terms when enabled). */
  loss: number;
  samples: number;
}

/** How `trainStep` scores a batch (defaults: MSE, scale 1). */
export interface TrainOptions {
  /** Multiplies the gradient (not the returned loss): the edit loops weight their terms with it. */
  lossScale?: number;
  /** 'l1': mean absolute error (Instruct-NeRF2NeRF's refit); gradient sign(e)/(3n). */
  photometric?: 'mse' | 'l1';
}

export interface VoxelBackend {
  readonly name: BackendName;
  /**
   * Binds a grid. Call again whenever the grid's values, occupancy or shape changed on the host (after an
   * optimiser step, an occupancy update or an upsample); a GPU backend uploads here.
   */
  setGrid(grid: VoxelGrid): Promise<void>;
  /** Forward render of a batch of rays. */
  render(rays: RayBatch, params: MarchParams): Promise<ForwardResult>;
  /** Forward + analytic backward of a batch against target colours; adds gradients into `grads`. */
  trainStep(batch: TrainBatch, params: MarchParams, grads: VoxelGrads, opts?: TrainOptions): Promise<TrainResult>;
  dispose(): void;
}

/** Default marching parameters for a grid: half-voxel steps, far enough to reach the contracted shell's edge. */
export function defaultMarchParams(grid: VoxelGrid, background: Vec3, overrides: Partial<MarchParams> = {}): MarchParams {
  const stepSize = 0.5 / grid.densityScale;
  return { stepSize, near: 0, farNorm: 1e3, background, stopTransmittance: 1e-4, maxSamples: 4096, ...overrides };
}

/**
 * The voxel backend for a `--backend` value (default 'cpu'); a backend object is returned as is. The WebGPU one is
 * loaded lazily, so CPU-only use never touches WebGPU (a literal specifier: bundlers split it into its own chunk).
 */
export async function createVoxelBackend(which: BackendName | VoxelBackend | undefined): Promise<VoxelBackend> {
  if (which && typeof which === 'object') return which;
  if (!which || which === 'cpu') return new CpuVoxelBackend();
  if (which === 'webgpu') {
    const mod = await import('./voxel-render-webgpu');
    return mod.createWebGpuVoxelBackend();
  }
  throw unknownBackendError(which);
}
