import type { Image } from '../../core/image';
import { createImage } from '../../core/image';
import type { Rng } from '../../core/rng';
import type { DiffusionPrior, Latents, PriorCondition } from '../diffusion/prior';

/**
 * Score distillation in image space (REFERENCE §3, the HiFA form): for a render x,
 *   z = 0.18215·E(x), z_t = √ᾱ_t·z + √(1−ᾱ_t)·ε, ε̃ = guided prediction,
 *   ẑ₀ = (z_t − √(1−ᾱ_t)·ε̃)/√ᾱ_t, x̂ = D(ẑ₀/0.18215), loss = λ·w(t)·‖x − sg(x̂)‖².
 * Its gradient w.r.t. x is 2λw(t)(x − x̂): the refit pulls the render towards the one-step denoised target.
 */

export interface SdsSchedule {
  tMin: number;
  /** Initial t_max (fraction of the T train steps). */
  tMax: number;
  /** Vox-E anneal: after `annealStart` (fraction of the iterations) multiply t_max by `annealFactor` every `annealEvery` (fraction), not below `tFloor`. */
  annealStart: number;
  annealEvery: number;
  annealFactor: number;
  tFloor: number;
  weighting: 'sds' | 'uniform';
}

/**
 * Vox-E's schedule (t_max 0.98 × 0.75 every 600 it after it 4000 of 8000, floor 0.22), expressed as fractions
 * of the run so short CPU edits anneal the same way.
 */
export const VOXE_SCHEDULE: SdsSchedule = {
  tMin: 0.02,
  tMax: 0.98,
  annealStart: 4000 / 8000,
  annealEvery: 600 / 8000,
  annealFactor: 0.75,
  tFloor: 0.22,
  weighting: 'sds',
};

/** t_max at iteration `it` of `total`. */
export function annealedTMax(it: number, total: number, s: SdsSchedule): number {
  const frac = it / Math.max(1, total);
  if (frac < s.annealStart) return s.tMax;
  const k = Math.floor((frac - s.annealStart) / s.annealEvery + 1e-9) + 1;
  return Math.max(s.tFloor, Math.max(s.tMin, s.tMax * s.annealFactor ** k));
}

/** Draws an integer timestep t ∈ [tMin·T, tMax·T) . */
export function sampleTimestep(rng: Rng, tMin: number, tMax: number, T: number): number {
  const lo = Math.max(1, Math.round(tMin * T)),
    hi = Math.max(lo + 1, Math.min(T, Math.round(tMax * T)));
  return lo + rng.int(hi - lo);
}

/** w(t) = 1 − ᾱ_t (DreamFusion / Vox-E / threestudio) or 1. */
export function sdsWeight(alphaBar: number, weighting: SdsSchedule['weighting']): number {
  return weighting === 'uniform' ? 1 : 1 - alphaBar;
}

export function gaussianLatents(shape: Omit<Latents, 'data'>, rng: Rng): Latents {
  const data = new Float32Array(shape.channels * shape.height * shape.width);
  for (let i = 0; i < data.length; i++) data[i] = rng.normal();
  return { ...shape, data };
}

export interface SdsTarget {
  /** x̂: the one-step denoised image the render is pulled to. */
  target: Image;
  t: number;
  alphaBar: number;
  weight: number;
  /** ‖ε̃ − ε‖² / n (diagnostics). */
  residual: number;
}

/** One SDS evaluation at timestep t (integer, 0..T−1) for a render x. */
export async function sdsTarget(
  prior: DiffusionPrior,
  x: Image,
  cond: PriorCondition,
  t: number,
  rng: Rng,
  weighting: SdsSchedule['weighting'] = 'sds',
): Promise<SdsTarget> {
  const z = await prior.encode(x);
  const a = prior.alphasCumprod[t];
  const sa = Math.sqrt(a),
    s1 = Math.sqrt(1 - a);
  const eps = gaussianLatents(z, rng);
  const zt: Latents = { ...z, data: new Float32Array(z.data.length) };
  for (let i = 0; i < zt.data.length; i++) zt.data[i] = sa * z.data[i] + s1 * eps.data[i];
  const epsHat = await prior.predictNoise(zt, t, cond);
  const z0: Latents = { ...z, data: new Float32Array(z.data.length) };
  let residual = 0;
  for (let i = 0; i < z0.data.length; i++) {
    z0.data[i] = (zt.data[i] - s1 * epsHat[i]) / sa;
    residual += (epsHat[i] - eps.data[i]) ** 2;
  }
  const target = await prior.decode(z0, x.width, x.height);
  if (prior.keepDetail) {
    const recon = await prior.decode(z, x.width, x.height);
    for (let i = 0, n = x.width * x.height; i < n; i++)
      for (let c = 0; c < 3; c++) target.data[i * 3 + c] += x.data[i * x.channels + c] - recon.data[i * 3 + c];
  }
  for (let i = 0; i < target.data.length; i++) target.data[i] = Math.min(1, Math.max(0, target.data[i]));
  return { target, t, alphaBar: a, weight: sdsWeight(a, weighting), residual: residual / z0.data.length };
}

/**
 * An analytic prior that is exact for one target image per camera key: identity VAE, ε̂ = (z_t − √ᾱ·y)/√(1−ᾱ).
 * REFERENCE §3's sanity check: SDS with it must pull renders to y. `targetFor` picks y from the condition image
 * (the loops pass the source render of the camera being optimised, so tests can key targets on it).
 */
export function exactDenoiserPrior(
  targetFor: (cond: PriorCondition, w: number, h: number) => Image,
  alphasCumprod: Float32Array,
): DiffusionPrior {
  const toLatents = (img: Image): Latents => {
    const { width: w, height: h } = img;
    const data = new Float32Array(3 * w * h);
    for (let c = 0; c < 3; c++) for (let i = 0; i < w * h; i++) data[c * w * h + i] = img.data[i * img.channels + c];
    return { channels: 3, height: h, width: w, data };
  };
  const fromLatents = (z: Latents): Image => {
    const img = createImage(z.width, z.height, 3);
    const n = z.width * z.height;
    for (let c = 0; c < 3; c++) for (let i = 0; i < n; i++) img.data[i * 3 + c] = z.data[c * n + i];
    return img;
  };
  return {
    id: 'exact-denoiser',
    alphasCumprod,
    encode: async (img) => toLatents(img),
    decode: async (z) => fromLatents(z),
    async predictNoise(zt, t, cond) {
      const y = toLatents(targetFor(cond, zt.width, zt.height));
      const a = alphasCumprod[t];
      const out = new Float32Array(zt.data.length);
      for (let i = 0; i < out.length; i++) out[i] = (zt.data[i] - Math.sqrt(a) * y.data[i]) / Math.sqrt(1 - a);
      return out;
    },
    async img2img(input, cond) {
      return targetFor(cond, input.width, input.height);
    },
  };
}

/**
 * Vox-E's volumetric regulariser: L = 1 − Pearson(σ_orig, σ_edit) over voxels. Adds weight·∂L/∂σ_edit into
 * `grad` (when given) and returns L.
 */
export function pearsonLoss(orig: ArrayLike<number>, edit: ArrayLike<number>, weight = 1, grad?: Float32Array): number {
  const n = orig.length;
  let ma = 0,
    mb = 0;
  for (let i = 0; i < n; i++) {
    ma += orig[i];
    mb += edit[i];
  }
  ma /= n;
  mb /= n;
  let cov = 0,
    va = 0,
    vb = 0;
  for (let i = 0; i < n; i++) {
    const da = orig[i] - ma,
      db = edit[i] - mb;
    cov += da * db;
    va += da * da;
    vb += db * db;
  }
  if (va <= 1e-20 || vb <= 1e-20) return 0;
  const sa = Math.sqrt(va),
    sb = Math.sqrt(vb);
  const r = cov / (sa * sb);
  if (grad) {
    // dr/db_j = (a_j − ma)/(sa·sb) − r·(b_j − mb)/vb   (the mean terms cancel)
    for (let i = 0; i < n; i++) grad[i] -= weight * ((orig[i] - ma) / (sa * sb) - (r * (edit[i] - mb)) / vb);
  }
  return 1 - r;
}
