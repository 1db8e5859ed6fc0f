import type { Image } from '../../core/image';
import type { Latents } from './latents';

/**
 * What the edit loops need from an instruction-conditioned diffusion model. `ip2p-prior.ts` adapts the
 * InstructPix2Pix pipeline (ONNX, or the built-in model) to this; the tests' exact denoiser (tests/helpers/priors.ts) has
 * the same signatures, so the loops are tested without ONNX.
 */

/** Everything that conditions a noise prediction besides the noisy latents and the timestep. */
export interface PriorCondition {
  /** The image condition (IP2P: the ORIGINAL capture for IDU, the SOURCE scene's render for SDS). */
  image: Image;
  instruction: string;
  textScale: number;
  imageScale: number;
}

export interface DiffusionPrior {
  /** Model id for logs (e.g. `builtin` or the folder's name) and file hashes. */
  id: string;
  /**
   * Adds to a decoded SDS target the detail the VAE loses from the condition image, as the model's own edits
   * do (the pipeline's `restoreLuma`). Set for the built-in model only: its VAE is an 8×8 pooling, so D(ẑ₀)
   * alone is a blocky image.
   */
  restoreDetail?(decoded: Image, condition: Image): Promise<Image>;
  /** ᾱ_t for t = 0..T−1 (T = 1000 for IP2P). */
  alphasCumprod: Float32Array;
  /** z = 0.18215·E(x) (VAE mean); identity for analytic priors. */
  encode(img: Image): Promise<Latents>;
  /** x = D(z / 0.18215), RGB in [0, 1]. */
  decode(z: Latents, width: number, height: number): Promise<Image>;
  /** The guided noise prediction ε̃(z_t; instruction, image) at an integer timestep (dual classifier-free guidance). */
  predictNoise(zt: Latents, timestep: number, cond: PriorCondition): Promise<Float32Array>;
  /**
   * img2img: noise `input` to noise level `t` (a fraction of T, in (0, 1]) and denoise with `steps` DDIM-style
   * steps, conditioned on `cond`. Deterministic for a seed.
   */
  img2img(input: Image, cond: PriorCondition, opts: { t: number; steps: number; seed: number }): Promise<Image>;
}

/** ᾱ for IP2P's scaled-linear schedule (β from √0.00085 to √0.012, squared, 1000 steps). */
export function scaledLinearAlphasCumprod(T = 1000, b0 = 0.00085, b1 = 0.012): Float32Array {
  const out = new Float32Array(T);
  let prod = 1;
  for (let i = 0; i < T; i++) {
    const s = Math.sqrt(b0) + ((Math.sqrt(b1) - Math.sqrt(b0)) * i) / (T - 1);
    prod *= 1 - s * s;
    out[i] = prod;
  }
  return out;
}
