import { cameraExtent, type Camera } from '../../core/camera';
import { undistortView } from '../../core/undistort';
import { UserError } from '../../core/errors';
import type { Image } from '../../core/image';
import { Rng } from '../../core/rng';
import type { Dataset } from '../../io/datasets/dataset';
import type { FileSource } from '../../io/files/files';
import { readPointCloud } from '../../io/formats/ply';
import { createGaussianBackend, type GaussianRasterBackend } from './gaussian-backend';
import type { BackendName } from '../common/backend';
import { shCount } from '../common/sh';
import { createGrads, type GaussianGrads } from './gaussian-project-cpu';
import { gaussiansFromPoints, randomGaussians, selectGaussians, SH_STRIDE, type Gaussians } from './gaussians';
import { logit, sigmoid } from '../../core/math';
import { Adam } from '../common/adam';
import { SsimLoss } from '../common/ssim-loss';
import { applyDensify, planDensify, type DensifyOptions } from './gaussian-densify';

/**
 * Fitting 3D Gaussians to posed images (3DGS): one view per step, L = (1 − λ)·L1 + λ·(1 − SSIM) with λ = 0.2,
 * Adam with per-parameter learning rates (3DGS defaults; positions scaled by the scene extent and decayed
 * exponentially to 1% at the last step), SH degree raised every `shEvery` steps, adaptive density control
 * (clone small / split large Gaussians with a large view-space positional gradient, prune transparent and
 * huge ones, periodic opacity reset), and a hard bound on the count.
 *
 * Defaults are the 3DGS ones with the schedule compressed to a CPU-friendly number of steps (see
 * `defaultSchedule`). Adam is "selective" (as in gsplat's sparse mode): Gaussians that a step's view does
 * not draw keep their parameters and moments; inactive SH bands are not updated. Method and defaults:
 * docs/gaussians.md § Fitting.
 */

export interface GaussianFitView {
  camera: Camera;
  image: Image;
}

export interface GaussianFitProgress {
  phase: string;
  step: number;
  total: number;
  loss?: number;
  psnr?: number;
  count?: number;
}

export interface FitGaussiansOptions {
  iters?: number;
  seed?: number;
  backend?: BackendName | GaussianRasterBackend;
  /**
   * Upper bound on the number of Gaussians (densification stops adding at this count). Default: 4 × the
   * pixels of the largest training image, at least 20 000 (Gaussians much smaller than a pixel add cost,
   * not quality).
   */
  maxGaussians?: number;
  /** Highest SH degree (0..3). Default 3. */
  shDegree?: number;
  /** Steps between SH degree increments. Default 1000. */
  shEvery?: number;
  /** Files, to read the dataset's sparse points (`dataset.plyPath`). */
  files?: FileSource;
  /** Start from these Gaussians instead of initialising. */
  init?: Gaussians;
  /** Random initial Gaussians when the dataset has no sparse points. Default 5000. */
  randomInit?: number;
  /** Sparse points above this count are subsampled. Default 100 000. */
  maxInitPoints?: number;
  lambdaDssim?: number;
  lr?: Partial<typeof LR_DEFAULTS>;
  densifyFrom?: number;
  densifyUntil?: number;
  densifyEvery?: number;
  /** View-space gradient threshold, in NDC units as in 3DGS (0.0002). */
  densifyGradThreshold?: number;
  /** Fraction of the scene extent separating "small" (clone) from "large" (split). Default 0.01. */
  percentDense?: number;
  opacityResetEvery?: number;
  /** Prune below this opacity. Default 0.005. */
  minOpacity?: number;
  /** Called every so often so that UIs stay responsive. */
  yieldEvery?: number;
  signal?: AbortSignal;
}

export const LR_DEFAULTS = {
  /** × scene extent; decays to `positionFinal` × extent */
  position: 0.00016,
  positionFinal: 0.0000016,
  sh0: 0.0025,
  /** higher SH bands: sh0 / 20 */
  shRest: 0.000125,
  opacity: 0.05,
  scale: 0.005,
  rotation: 0.001,
};

export interface FitGaussiansResult {
  gaussians: Gaussians;
  stats: {
    steps: number;
    seconds: number;
    count: number;
    finalLoss: number;
    finalPsnr: number;
    extent: number;
    init: string;
    backend: string;
  };
}

/**
 * The default schedule for a number of steps: 3DGS's 30k-step densification window compressed (5%–60% of the
 * run), the opacity reset kept at 3DGS's 3000 steps — so it happens only in runs of 5000+ steps, where there
 * is time to recover from it (bear at --downscale 4, 4000 steps: 24.2 dB test PSNR with a reset at 1/3 of the
 * run, 25.3 dB without).
 */
export function defaultSchedule(iters: number) {
  return {
    densifyFrom: Math.min(500, Math.round(iters * 0.05)),
    densifyUntil: Math.round(iters * 0.6),
    densifyEvery: 100,
    opacityResetEvery: 3000,
  };
}

/** Initial Gaussians for a dataset: its sparse points (COLMAP points3D, or the ply it names) when present, else random in its box (or around the cameras). */
export async function initialGaussians(
  dataset: Dataset,
  cams: Camera[],
  opts: { files?: FileSource; randomInit?: number; maxInitPoints?: number; rng: Rng },
): Promise<{ g: Gaussians; how: string }> {
  if (dataset.points && dataset.points.xyz.length > 0) {
    const g = gaussiansFromPoints(dataset.points.xyz, dataset.points.rgb, { maxPoints: opts.maxInitPoints ?? 100_000, rng: opts.rng });
    return { g, how: `${g.count} sparse points from ${dataset.sources[dataset.sources.length - 1]}` };
  }
  if (dataset.plyPath && opts.files && (await opts.files.exists(dataset.plyPath))) {
    const pc = readPointCloud(await opts.files.read(dataset.plyPath), dataset.plyPath);
    if (pc.count > 0) {
      const g = gaussiansFromPoints(pc.xyz, pc.rgb, { maxPoints: opts.maxInitPoints ?? 100_000, rng: opts.rng });
      return { g, how: `${g.count} sparse points from ${dataset.plyPath}` };
    }
  }
  const n = opts.randomInit ?? 5000;
  let box = dataset.sceneBox;
  if (!box) {
    const { center, radius } = cameraExtent(cams);
    const h = radius * 0.5;
    box = { min: [center[0] - h, center[1] - h, center[2] - h], max: [center[0] + h, center[1] + h, center[2] + h] };
  }
  return { g: randomGaussians(n, box, opts.rng), how: `${n} random points in the scene box` };
}

/**
 * The 3DGS optimiser over the Gaussians' attributes: selective Adam (rows = Gaussians; a step updates the
 * Gaussians its view drew), β₂ = 0.999, one learning rate per attribute, the SH DC and higher bands apart
 * (only the bands of the current degree are updated).
 */
function gaussianAdam(g: Gaussians, grads: GaussianGrads, lr: typeof LR_DEFAULTS): Adam {
  return new Adam(
    [
      { name: 'means', params: g.means, grads: grads.means, lr: lr.position, width: 3 },
      { name: 'logScales', params: g.logScales, grads: grads.logScales, lr: lr.scale, width: 3 },
      { name: 'rotations', params: g.rotations, grads: grads.rotations, lr: lr.rotation, width: 4 },
      { name: 'opacityLogits', params: g.opacityLogits, grads: grads.opacityLogits, lr: lr.opacity },
      { name: 'sh0', params: g.sh, grads: grads.sh, lr: lr.sh0, width: SH_STRIDE, first: 0, count: 3 },
      { name: 'shRest', params: g.sh, grads: grads.sh, lr: lr.shRest, width: SH_STRIDE, first: 3, count: SH_STRIDE - 3 },
    ],
    { beta1: 0.9, beta2: 0.999, eps: 1e-15, sparse: 'rows' },
  );
}

/** The optimiser's arrays for Gaussians and their gradients (after densification changed the rows). */
function adamArrays(g: Gaussians, grads: GaussianGrads): Record<string, { params: Float32Array; grads: Float32Array }> {
  return {
    means: { params: g.means, grads: grads.means },
    logScales: { params: g.logScales, grads: grads.logScales },
    rotations: { params: g.rotations, grads: grads.rotations },
    opacityLogits: { params: g.opacityLogits, grads: grads.opacityLogits },
    sh0: { params: g.sh, grads: grads.sh },
    shRest: { params: g.sh, grads: grads.sh },
  };
}

export async function fitGaussians(
  dataset: Dataset,
  views: GaussianFitView[],
  opts: FitGaussiansOptions = {},
  onProgress?: (p: GaussianFitProgress) => void,
): Promise<FitGaussiansResult> {
  const t0 = performance.now();
  if (!views.length) throw new UserError('no training views to fit');
  // bounded synthetic scenes converge in 1000 steps; real unbounded captures need more (bear, ¼ size: 23.6 dB at
  // 2000 steps, 25.3 dB at 4000)
  const iters = opts.iters ?? (dataset.sceneBox ? 1000 : 4000);
  if (!Number.isInteger(iters) || iters < 1) throw new UserError(`--iters must be a positive integer, got ${iters}`);
  const maxPixels = Math.max(...views.map((v) => v.camera.width * v.camera.height));
  const maxCount = opts.maxGaussians ?? Math.max(20_000, 4 * maxPixels);
  const maxDeg = Math.max(0, Math.min(3, opts.shDegree ?? 3));
  const shEvery = opts.shEvery ?? 1000;
  const lambda = opts.lambdaDssim ?? 0.2;
  const sched = { ...defaultSchedule(iters) };
  const densifyFrom = opts.densifyFrom ?? sched.densifyFrom,
    densifyUntil = opts.densifyUntil ?? sched.densifyUntil;
  const densifyEvery = opts.densifyEvery ?? sched.densifyEvery,
    resetEvery = opts.opacityResetEvery ?? sched.opacityResetEvery;
  const gradThr = opts.densifyGradThreshold ?? 0.0002,
    percentDense = opts.percentDense ?? 0.01;
  const minOpacity = opts.minOpacity ?? 0.005;
  const lr = { ...LR_DEFAULTS, ...opts.lr };
  const rng = new Rng(opts.seed ?? 0);
  const backend = await createGaussianBackend(opts.backend);
  const bg = dataset.background;
  const cams = views.map((v) => v.camera);
  const { radius: extent } = cameraExtent(cams);

  for (const v of views)
    if (v.image.channels !== 3 || v.image.width !== v.camera.width || v.image.height !== v.camera.height)
      throw new UserError(
        `training image is ${v.image.width}×${v.image.height}×${v.image.channels}, expected RGB ${v.camera.width}×${v.camera.height}`,
      );
  // the rasteriser is pinhole (as 3DGS): views with lens distortion are undistorted first, as COLMAP's image
  // undistorter prepares captures for 3DGS (src/core/undistort.ts)
  views = views.map(undistortView);

  let g: Gaussians;
  let how = 'given';
  if (opts.init)
    g = selectGaussians(
      opts.init,
      Array.from({ length: opts.init.count }, (_, i) => i),
    );
  else
    ({ g, how } = await initialGaussians(dataset, cams, {
      files: opts.files,
      randomInit: opts.randomInit,
      maxInitPoints: Math.min(opts.maxInitPoints ?? 100_000, Math.floor(maxCount / 2)),
      rng,
    }));
  if (g.count > maxCount)
    g = selectGaussians(
      g,
      Array.from({ length: maxCount }, (_, i) => i),
    );
  g.shDegree = opts.init ? Math.min(g.shDegree, maxDeg) : 0;

  let grads: GaussianGrads = createGrads(g.count);
  const adam = gaussianAdam(g, grads, lr);
  let gradAccum = new Float32Array(g.count),
    denom = new Float32Array(g.count),
    maxRadii = new Float32Array(g.count);
  const ssim = new Map<string, SsimLoss>();
  let order: number[] = [];
  let emaLoss = NaN,
    emaMse = NaN;
  let lastResetStep = -1;

  for (let step = 0; step < iters; step++) {
    if (opts.signal?.aborted) throw new UserError('fitting was cancelled');
    if (opts.yieldEvery && step % opts.yieldEvery === 0) await new Promise((r) => setTimeout(r, 0));
    if (step > 0 && step % shEvery === 0 && g.shDegree < maxDeg) g.shDegree++;
    if (!order.length) {
      order = views.map((_, i) => i);
      for (let i = order.length - 1; i > 0; i--) {
        const j = rng.int(i + 1);
        [order[i], order[j]] = [order[j], order[i]];
      }
    }
    const view = views[order.pop()!];
    const cam = view.camera,
      target = view.image.data;
    const W = cam.width,
      H = cam.height,
      npx = W * H;

    const out = await backend.render(g, cam, bg);
    // loss and ∂L/∂image
    const dImage = new Float32Array(npx * 3);
    let l1 = 0,
      mse = 0;
    const w1 = (1 - lambda) / (npx * 3);
    for (let i = 0; i < npx * 3; i++) {
      const d = out.image[i] - target[i];
      l1 += Math.abs(d);
      mse += d * d;
      dImage[i] = d > 0 ? w1 : d < 0 ? -w1 : 0;
    }
    l1 /= npx * 3;
    mse /= npx * 3;
    const key = `${W}x${H}`;
    let sl = ssim.get(key);
    if (!sl) ssim.set(key, (sl = new SsimLoss(W, H)));
    const s = lambda > 0 ? sl.compute(out.image, target, 3, dImage, lambda) : 1;
    const loss = (1 - lambda) * l1 + lambda * (1 - s);
    if (!Number.isFinite(loss)) throw new Error(`Gaussian fit diverged at step ${step} (loss ${loss})`);
    emaLoss = Number.isNaN(emaLoss) ? loss : 0.95 * emaLoss + 0.05 * loss;
    emaMse = Number.isNaN(emaMse) ? mse : 0.95 * emaMse + 0.05 * mse;

    await backend.backward(dImage, null, grads);

    // densification statistics (view-space gradient in NDC units, as 3DGS)
    if (step < densifyUntil) {
      const sx = W / 2,
        sy = H / 2;
      for (let i = 0; i < g.count; i++) {
        const r = out.radius[i];
        if (r > 0) {
          gradAccum[i] += Math.hypot(grads.xy[2 * i] * sx, grads.xy[2 * i + 1] * sy);
          denom[i]++;
          if (r > maxRadii[i]) maxRadii[i] = r;
        }
      }
    }

    // Adam on the Gaussians this view drew (the others have zero gradients this step)
    const drawn = new Uint8Array(g.count);
    for (let i = 0; i < g.count; i++) drawn[i] = out.radius[i] === 0 ? 0 : 1;
    adam.setLr('means', extent * lr.position * Math.pow(lr.positionFinal / lr.position, step / Math.max(1, iters - 1)));
    adam.setActive('shRest', 3 * shCount(g.shDegree) - 3);
    adam.step(drawn);

    // adaptive density control
    if (step + 1 >= densifyFrom && step + 1 < densifyUntil && (step + 1) % densifyEvery === 0) {
      const sizeThreshold = lastResetStep >= 0 ? 20 : Infinity;
      const r = densifyAndPrune(g, adam, gradAccum, denom, maxRadii, {
        gradThr,
        percentDense,
        extent,
        minOpacity,
        maxScreen: sizeThreshold,
        maxWorld: lastResetStep >= 0 ? 0.1 * extent : Infinity,
        maxCount,
        rng,
      });
      g = r.g;
      grads = r.grads;
      gradAccum = new Float32Array(g.count);
      denom = new Float32Array(g.count);
      maxRadii = new Float32Array(g.count);
    }
    if ((step + 1) % resetEvery === 0 && step + 1 < densifyUntil) {
      // opacity reset: clamp every opacity to at most 0.01, restart its moments
      const cap = logit(0.01);
      for (let i = 0; i < g.count; i++) if (g.opacityLogits[i] > cap) g.opacityLogits[i] = cap;
      adam.resetMoments('opacityLogits');
      lastResetStep = step;
    }
    if (onProgress && (step % 10 === 0 || step === iters - 1))
      onProgress({
        phase: 'fit',
        step: step + 1,
        total: iters,
        loss: emaLoss,
        psnr: -10 * Math.log10(Math.max(emaMse, 1e-12)),
        count: g.count,
      });
  }
  // final prune of fully transparent Gaussians
  const keep: number[] = [];
  for (let i = 0; i < g.count; i++) if (sigmoid(g.opacityLogits[i]) >= minOpacity) keep.push(i);
  if (keep.length < g.count) {
    const deg = g.shDegree;
    g = selectGaussians(g, keep);
    g.shDegree = deg;
  }
  backend.dispose?.();
  return {
    gaussians: g,
    stats: {
      steps: iters,
      seconds: (performance.now() - t0) / 1000,
      count: g.count,
      finalLoss: emaLoss,
      finalPsnr: -10 * Math.log10(Math.max(emaMse, 1e-12)),
      extent,
      init: how,
      backend: backend.name,
    },
  };
}

/**
 * `planDensify` + `applyDensify`; with an optimiser, its moments follow the kept rows (zero for new ones) and it
 * is bound to the new Gaussians and the returned (zero) gradients.
 */
export function densifyAndPrune(
  g: Gaussians,
  adam: Adam | null,
  gradAccum: Float32Array,
  denom: Float32Array,
  maxRadii: Float32Array,
  o: DensifyOptions,
): { g: Gaussians; grads: GaussianGrads; cloned: number; split: number; pruned: number } {
  const plan = planDensify(g, gradAccum, denom, maxRadii, o);
  const out = applyDensify(g, plan);
  const grads = createGrads(out.count);
  adam?.remapRows(plan.keep, plan.newOnes.count, adamArrays(out, grads));
  return { g: out, grads, cloned: plan.cloned, split: plan.split, pruned: plan.pruned };
}
