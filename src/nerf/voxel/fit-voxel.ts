import type { Camera } from '../../core/camera';
import { cameraCenter, cameraForward } from '../../core/camera';
import type { Image } from '../../core/image';
import { pixelRay } from '../../core/rays';
import { Rng } from '../../core/rng';
import { Adam } from '../common/adam';
import {
  createVoxelBackend,
  defaultMarchParams,
  type MarchParams,
  type TrainBatch,
  type TrainResult,
  type VoxelBackend,
} from './voxel-backend';
import type { FusedVoxelBackend } from './voxel-render-webgpu';
import { createVoxelGrid, resolutionFromMax, upsampleGrid, updateOccupancy, voxelSize, type Box3, type VoxelGrid } from './voxel-grid';
import { densitySparsity, gridTotalVariation } from './voxel-regularizers';
import type { Vec3 } from '../../core/math';
import type { BackendName } from '../common/backend';

/** A training view: a camera and its image (RGB, composited over the background). */
export interface FitView {
  camera: Camera;
  image: Image;
}

export interface FitProgress {
  phase: string;
  step: number;
  total: number;
  loss?: number;
  psnr?: number;
  res?: Vec3;
  occupied?: number;
}

export interface FitVoxelOptions {
  /** Final grid resolution along the box's longest axis (vertices). Default 128 (bounded) / 160 (unbounded). */
  res?: number;
  /** Optimisation steps. Default 1000 (bounded: ≈ 35 dB on the demo), 2000 (unbounded). */
  iters?: number;
  /** Rays per step. Default 4096. */
  batch?: number;
  seed?: number;
  shDegree?: 0 | 1;
  lrDensity?: number;
  lrColor?: number;
  /** Learning rates decay exponentially to this fraction at the last step. Default 0.1. */
  lrDecay?: number;
  /** Total variation weights (density, colour); applied every `tvEvery` steps. */
  tvDensity?: number;
  tvColor?: number;
  tvEvery?: number;
  /** Distortion regulariser weight (mip-NeRF 360; see MarchParams.distortion). Default 0 (off). */
  distortion?: number;
  /** Density sparsity weight (see voxel-regularizers.ts), applied every `tvEvery` steps. */
  sparsity?: number;
  /** Coarse-to-fine: steps at which the resolution doubles, ending at `res`. Default at 15% and 35% of iters. */
  upsampleAt?: number[];
  /** Occupancy refresh period in steps (0 disables empty-space skipping). Default 100. */
  occupancyEvery?: number;
  /** Opacity of one finest-voxel step of the initial grid (DVGO's alpha_init). Default 1e-2. */
  alphaInit?: number;
  /** A cell is empty when the opacity of one finest-voxel step at its vertices stays below this. Default 1e-2. */
  occupancyThreshold?: number;
  /** Scene bounds; required. Use `sceneBounds` to derive them from a dataset. */
  box: Box3;
  /** 0 = bounded; > 0 = unbounded with a contracted shell (see voxel-grid.ts). */
  bgLen: number;
  background: Vec3;
  backend?: BackendName | VoxelBackend;
  onProgress?: (p: FitProgress) => void;
  /** Called every so often so that UIs stay responsive (e.g. `() => new Promise(r => setTimeout(r))`). */
  yieldEvery?: number;
  signal?: AbortSignal;
  /** WebGPU: run forward, backward, regularisers and Adam on the device, reading back only the loss (default true). */
  fused?: boolean;
  /** Called with the current grid every `gridEvery` steps (benchmarks: PSNR over time; previews). */
  onGrid?: (grid: VoxelGrid, step: number, params: MarchParams) => Promise<void> | void;
  gridEvery?: number;
}

export interface FitVoxelResult {
  grid: VoxelGrid;
  params: MarchParams;
  stats: { steps: number; seconds: number; rays: number; samples: number; finalLoss: number; finalPsnr: number };
}

/**
 * Scene bounds for fitting. Bounded when the dataset declares a box (the demo's `scene_box`, instant-ngp
 * `aabb`): that box, no contraction. Otherwise an unbounded capture: a cube centred on the point nearest all
 * optical axes (least squares) with half size = half the cameras' median distance from it, so the region the
 * cameras look at gets the uncontracted voxels and everything farther — the cameras themselves and the
 * background out to infinity — lies in the contracted shell of thickness `bgLen` (mip-NeRF 360 / DVGO v2).
 */
export function sceneBounds(cams: Camera[], sceneBox?: Box3, bgLen = 0.5): { box: Box3; bgLen: number } {
  if (sceneBox) return { box: { min: [...sceneBox.min] as Vec3, max: [...sceneBox.max] as Vec3 }, bgLen: 0 };
  const centre = axesFocus(cams);
  const dist = cams
    .map((c) => {
      const o = cameraCenter(c);
      return Math.hypot(o[0] - centre[0], o[1] - centre[1], o[2] - centre[2]);
    })
    .sort((a, b) => a - b);
  let h = 0.5 * dist[dist.length >> 1];
  if (!(h > 0)) h = 1;
  return { box: { min: centre.map((v) => v - h) as Vec3, max: centre.map((v) => v + h) as Vec3 }, bgLen };
}

/** The point nearest all cameras' optical axes (least squares); the cameras' mean when the axes are parallel. */
export function axesFocus(cams: Camera[]): Vec3 {
  const A = [0, 0, 0, 0, 0, 0, 0, 0, 0],
    b = [0, 0, 0];
  for (const c of cams) {
    const o = cameraCenter(c),
      d = cameraForward(c);
    for (let r = 0; r < 3; r++)
      for (let s = 0; s < 3; s++) {
        const m = (r === s ? 1 : 0) - d[r] * d[s];
        A[r * 3 + s] += m;
        b[r] += m * o[s];
      }
  }
  const centre = solve3(A, b);
  if (centre) return centre;
  const mean: Vec3 = [0, 0, 0];
  for (const c of cams) {
    const o = cameraCenter(c);
    for (let a = 0; a < 3; a++) mean[a] += o[a] / cams.length;
  }
  return mean;
}

function solve3(A: number[], b: number[]): Vec3 | null {
  const det = (m: number[]) => m[0] * (m[4] * m[8] - m[5] * m[7]) - m[1] * (m[3] * m[8] - m[5] * m[6]) + m[2] * (m[3] * m[7] - m[4] * m[6]);
  const D = det(A);
  if (Math.abs(D) < 1e-9) return null;
  const out: number[] = [];
  for (let c = 0; c < 3; c++) {
    const M = A.slice();
    for (let r = 0; r < 3; r++) M[r * 3 + c] = b[r];
    out.push(det(M) / D);
  }
  return out as Vec3;
}

/** Marching parameters for a grid while fitting: half of the current voxel size. */
export function marchParamsFor(grid: VoxelGrid, background: Vec3, near = 0): MarchParams {
  const vs = Math.min(...voxelSize(grid));
  return defaultMarchParams(grid, background, { stepSize: 0.5 * vs, near });
}

/**
 * Fits a voxel grid to posed images by minimising the photometric MSE of random ray batches with Adam,
 * coarse to fine, with empty-space skipping and optional total variation (docs/voxels.md § Fitting). Deterministic for a
 * seed.
 */
export async function fitVoxel(views: FitView[], o: FitVoxelOptions): Promise<FitVoxelResult> {
  if (!views.length) throw new Error('fitVoxel: no training views');
  const unbounded = o.bgLen > 0;
  const iters = o.iters ?? (unbounded ? 2000 : 1000);
  const batchSize = o.batch ?? 4096;
  const finalRes = o.res ?? (unbounded ? 160 : 128);
  const shDegree = o.shDegree ?? 0;
  const rng = new Rng(o.seed ?? 0);
  const lrD0 = o.lrDensity ?? 0.1,
    lrC0 = o.lrColor ?? 0.1;
  const lrDecay = o.lrDecay ?? 0.1;
  const tvD = o.tvDensity ?? (unbounded ? 1e-3 : 0),
    tvC = o.tvColor ?? (unbounded ? 1e-4 : 0);
  const tvEvery = o.tvEvery ?? 4;
  const sparsity = o.sparsity ?? 1e-3;
  const occEvery = o.occupancyEvery ?? 100;
  const occThr = o.occupancyThreshold ?? 1e-2;
  const alphaInit = o.alphaInit ?? 1e-2;
  const upsampleAt = (o.upsampleAt ?? [Math.round(iters * 0.15), Math.round(iters * 0.35)])
    .filter((s) => s > 0 && s < iters)
    .sort((a, b) => a - b);
  const nUp = upsampleAt.length;
  const resAt = (level: number) => resolutionFromMax(o.box, Math.max(8, Math.round((finalRes - 1) / 2 ** (nUp - level)) + 1), o.bgLen);
  const finestVoxel = Math.min(...voxelSize({ res: resAt(nUp), box: o.box, bgLen: o.bgLen }));
  let level = 0;
  let grid = createVoxelGrid({ res: resAt(0), box: o.box, bgLen: o.bgLen, shDegree, densityScale: 1 / finestVoxel, alphaInit });
  const backend = await createVoxelBackend(o.backend);
  if ((o.distortion ?? 0) > 0 && backend.name !== 'cpu')
    throw new Error(`fitVoxel: the distortion regulariser is implemented on the CPU backend only (got ${backend.name})`);
  await backend.setGrid(grid);
  // Backends that keep the grid and the Adam state on the device (WebGPU) run the whole step there (fused).
  const fused = o.fused !== false && 'trainAndStep' in backend ? (backend as VoxelBackend & FusedVoxelBackend) : null;
  let grads = { density: new Float32Array(grid.density.length), color: new Float32Array(grid.color.length) };
  const adam = new Adam([
    { name: 'density', params: grid.density, grads: grads.density, lr: lrD0 },
    { name: 'color', params: grid.color, grads: grads.color, lr: lrC0 },
  ]);
  const near = unbounded ? 0.05 * Math.min(...o.box.max.map((v, a) => v - o.box.min[a])) : 0;
  let params = { ...marchParamsFor(grid, o.background, near), distortion: o.distortion ?? 0 };

  // Training pixels: (view, pixel) pairs drawn uniformly over all pixels.
  const offsets = new Float64Array(views.length + 1);
  for (let i = 0; i < views.length; i++) offsets[i + 1] = offsets[i] + views[i].image.width * views[i].image.height;
  const totalPixels = offsets[views.length];
  const batch: TrainBatch = {
    origins: new Float32Array(batchSize * 3),
    dirs: new Float32Array(batchSize * 3),
    target: new Float32Array(batchSize * 3),
    count: batchSize,
  };
  const start = Date.now();
  let rays = 0,
    samples = 0,
    lastLoss = NaN,
    emaLoss = NaN;
  const occWarmup = Math.max(occEvery, upsampleAt[0] ?? Math.round(iters * 0.15));

  for (let step = 0; step < iters; step++) {
    if (o.signal?.aborted) throw new Error('fitting aborted');
    if (level < nUp && step === upsampleAt[level]) {
      level++;
      if (fused) await fused.readGrid(grid);
      grid = upsampleGrid(grid, resAt(level));
      if (occEvery > 0 && step >= occWarmup) updateOccupancy(grid, occThr);
      grads = { density: new Float32Array(grid.density.length), color: new Float32Array(grid.color.length) };
      adam.setGroup('density', grid.density, grads.density);
      adam.setGroup('color', grid.color, grads.color);
      params = { ...marchParamsFor(grid, o.background, near), distortion: o.distortion ?? 0 };
      await backend.setGrid(grid); // the new grid before the next trainStep
    }
    // random batch
    for (let r = 0; r < batchSize; r++) {
      const u = rng.next() * totalPixels;
      let lo = 0,
        hi = views.length - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (offsets[mid] <= u) lo = mid;
        else hi = mid - 1;
      }
      const view = views[lo];
      const pix = Math.min(Math.floor(u - offsets[lo]), view.image.width * view.image.height - 1);
      const px = pix % view.image.width,
        py = (pix / view.image.width) | 0;
      pixelRay(view.camera, px, py, batch.origins, batch.dirs, r);
      const C = view.image.channels,
        d = view.image.data;
      for (let c = 0; c < 3; c++) batch.target[r * 3 + c] = d[pix * C + (C === 1 ? 0 : c)];
    }
    const frac = step / iters;
    adam.setLr('density', lrD0 * Math.pow(lrDecay, frac));
    adam.setLr('color', lrC0 * Math.pow(lrDecay, frac));
    const regNow = tvEvery > 0 && step % tvEvery === 0;
    let res: TrainResult;
    if (fused) {
      res = await fused.trainAndStep(batch, params, {
        lrDensity: lrD0 * Math.pow(lrDecay, frac),
        lrColor: lrC0 * Math.pow(lrDecay, frac),
        beta1: adam.beta1,
        beta2: adam.beta2,
        eps: adam.eps,
        tvDensity: regNow ? tvD * tvEvery : 0,
        tvColor: regNow ? tvC * tvEvery : 0,
        sparsity: regNow ? sparsity * tvEvery : 0,
      });
    } else {
      res = await backend.trainStep(batch, params, grads);
      if (regNow) {
        if (tvD > 0 || tvC > 0) gridTotalVariation(grid, grads, tvD * tvEvery, tvC * tvEvery);
        if (sparsity > 0) densitySparsity(grid, grads.density, sparsity * tvEvery);
      }
      adam.step();
    }
    const occNow = occEvery > 0 && step >= occWarmup && step % occEvery === 0;
    if (occNow) {
      if (fused) await fused.readGrid(grid);
      updateOccupancy(grid, occThr);
    }
    if (!fused || occNow) await backend.setGrid(grid);
    rays += batchSize;
    samples += res.samples;
    lastLoss = res.loss;
    emaLoss = Number.isNaN(emaLoss) ? res.loss : 0.9 * emaLoss + 0.1 * res.loss;
    if (o.onProgress && (step % 10 === 0 || step === iters - 1))
      o.onProgress({
        phase: 'fit',
        step: step + 1,
        total: iters,
        loss: emaLoss,
        psnr: -10 * Math.log10(Math.max(emaLoss, 1e-12)),
        res: grid.res,
      });
    if (o.onGrid && o.gridEvery && (step + 1) % o.gridEvery === 0 && step + 1 < iters) {
      if (fused) await fused.readGrid(grid);
      await o.onGrid(grid, step + 1, marchParamsFor(grid, o.background, near));
    }
    if (o.yieldEvery && step % o.yieldEvery === 0) await new Promise((r) => setTimeout(r, 0));
  }
  if (fused) await fused.readGrid(grid);
  if (occEvery > 0) updateOccupancy(grid, occThr);
  backend.dispose();
  const seconds = (Date.now() - start) / 1000;
  return {
    grid,
    params: marchParamsFor(grid, o.background, near),
    stats: { steps: iters, seconds, rays, samples, finalLoss: lastLoss, finalPsnr: -10 * Math.log10(Math.max(emaLoss, 1e-12)) },
  };
}
