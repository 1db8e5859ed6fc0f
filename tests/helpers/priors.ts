import { createImage, type Image } from '../../src/core/image';
import type { DiffusionPrior, PriorCondition } from '../../src/edit/diffusion/prior';
import type { Latents } from '../../src/edit/diffusion/latents';

/**
 * An analytic diffusion prior that is exact for one target image per condition: identity VAE (latents are the
 * image's RGB planes) and ε̂ = (z_t − √ᾱ_t·y)/√(1 − ᾱ_t), the noise that was added if the clean latents were y. Score
 * distillation with it must pull renders to y (the sanity check of DreamFusion-style losses; docs/editing.md), and
 * its img2img returns y. `targetFor` picks y from the condition (the loops pass the source render or the original
 * capture of the camera being optimised, so tests can key targets on it).
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
    async predictNoise(zt, timestep, cond) {
      const y = toLatents(targetFor(cond, zt.width, zt.height));
      const a = alphasCumprod[timestep];
      const out = new Float32Array(zt.data.length);
      for (let i = 0; i < out.length; i++) out[i] = (zt.data[i] - Math.sqrt(a) * y.data[i]) / Math.sqrt(1 - a);
      return out;
    },
    async img2img(input, cond) {
      return targetFor(cond, input.width, input.height);
    },
  };
}
