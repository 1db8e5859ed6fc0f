import type { Image } from '../../core/image';
import type { Rng } from '../../core/rng';
import type { Latents } from '../diffusion/latents';
import type { DiffusionPrior, PriorCondition } from '../diffusion/prior';

/**
 * Score distillation in image space (the form of HiFA, Zhu et al., ICLR 2024; docs/editing.md): for a render x,
 *   z = 0.18215·E(x), z_t = √ᾱ_t·z + √(1−ᾱ_t)·ε, ε̃ = guided prediction,
 *   ẑ₀ = (z_t − √(1−ᾱ_t)·ε̃)/√ᾱ_t (or DDIM steps from z_t, `sdsTarget`), x̂ = D(ẑ₀/0.18215), loss = λ·w(t)·‖x − sg(x̂)‖².
 * Its gradient w.r.t. x is 2λw(t)(x − x̂): the refit pulls the render towards the denoised target.
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

/** Draws an integer timestep in [tMin·T, tMax·T) (tMin, tMax: noise levels as fractions of T). */
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
  /** The integer timestep (0..T−1). */
  timestep: number;
  alphaBar: number;
  weight: number;
  /** ‖ε̃ − ε‖² / n (diagnostics). */
  residual: number;
}

/**
 * The DDIM (η = 0) timesteps of a target from integer timestep `timestep` with `steps` steps over the full
 * schedule of T: ⌈steps·t/T⌉ of them (at least one), evenly spaced from `timestep` down, largest first.
 */
export function targetTimesteps(timestep: number, steps: number, T: number): number[] {
  const n = Math.max(1, Math.min(timestep, Math.ceil((steps * timestep) / T)));
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(Math.round((timestep * (n - i)) / n));
  return out;
}

/**
 * One SDS evaluation at an integer timestep (0..T−1) for a render x. `steps` = 1 (classic SDS): x̂ is the
 * one-step estimate D(ẑ₀). `steps` > 1: x̂ is denoised from z_t by ⌈steps·t/T⌉ deterministic DDIM steps
 * (Song et al., ICLR 2021), the multi-step target of DreamGaussian's refinement stage (Tang et al., ICLR 2024;
 * docs/editing.md): the target is then an image the model would produce rather than its one-step estimate. A
 * prior with `restoreDetail` (the built-in model) adds back the detail its VAE loses from the condition image, as
 * its own edits do; the earlier x̂ = x + D(ẑ₀) − D(z) kept the render's own detail instead, which let errors finer
 * than a latent pixel stay and made the object's pixels overshoot where a latent pixel straddles its edge.
 */
export async function sdsTarget(
  prior: DiffusionPrior,
  x: Image,
  cond: PriorCondition,
  timestep: number,
  rng: Rng,
  weighting: SdsSchedule['weighting'] = 'sds',
  steps = 1,
): Promise<SdsTarget> {
  const z = await prior.encode(x);
  const a = prior.alphasCumprod[timestep];
  const sa = Math.sqrt(a),
    s1 = Math.sqrt(1 - a);
  const eps = gaussianLatents(z, rng);
  const n = z.data.length;
  const zt: Latents = { ...z, data: new Float32Array(n) };
  for (let i = 0; i < n; i++) zt.data[i] = sa * z.data[i] + s1 * eps.data[i];
  const ts = targetTimesteps(timestep, steps, prior.alphasCumprod.length);
  const z0: Latents = { ...z, data: new Float32Array(n) };
  let residual = 0;
  for (let k = 0; k < ts.length; k++) {
    const ak = prior.alphasCumprod[ts[k]];
    const sak = Math.sqrt(ak),
      s1k = Math.sqrt(1 - ak);
    const epsHat = await prior.predictNoise(zt, ts[k], cond);
    for (let i = 0; i < n; i++) z0.data[i] = (zt.data[i] - s1k * epsHat[i]) / sak;
    if (k === 0) for (let i = 0; i < n; i++) residual += (epsHat[i] - eps.data[i]) ** 2;
    if (k + 1 < ts.length) {
      const an = prior.alphasCumprod[ts[k + 1]];
      const san = Math.sqrt(an),
        s1n = Math.sqrt(1 - an);
      for (let i = 0; i < n; i++) zt.data[i] = san * z0.data[i] + s1n * epsHat[i];
    }
  }
  let target = await prior.decode(z0, x.width, x.height);
  if (prior.restoreDetail) target = await prior.restoreDetail(target, cond.image);
  for (let i = 0; i < target.data.length; i++) target.data[i] = Math.min(1, Math.max(0, target.data[i]));
  return { target, timestep, alphaBar: a, weight: sdsWeight(a, weighting), residual: residual / n };
}
