import type { Image } from '../../core/image';
import { resizeImage } from '../../core/image';
import type { Latents } from './latents';
import type { InstructPix2Pix } from './pipeline';
import type { DiffusionPrior, PriorCondition } from './prior';

/**
 * The InstructPix2Pix pipeline (ONNX model folder or the built-in model) as the loops' `DiffusionPrior`.
 * Image-condition latents (VAE mean, unscaled) are cached per condition image, text states per instruction
 * (by the pipeline). img2img is the pipeline's edit from noise level `t` with DDIM steps (IDU).
 */
export function ip2pPrior(pipe: InstructPix2Pix, id = pipe.info.name): DiffusionPrior {
  const condCache = new WeakMap<Image, Latents>();
  const sizeFor = (img: Image) => pipe.workingSize(img.width, img.height);
  return {
    id,
    ...(pipe.info.builtin ? { restoreDetail: (decoded: Image, condition: Image) => pipe.restoreLumaDetail(decoded, condition) } : {}),
    alphasCumprod: pipe.alphasCumprod,
    encode: (img) => pipe.encode(img, sizeFor(img)),
    async decode(z, w, h) {
      const img = await pipe.decode(z);
      return img.width === w && img.height === h ? img : resizeImage(img, w, h);
    },
    async predictNoise(zt: Latents, timestep: number, cond: PriorCondition) {
      let c = condCache.get(cond.image);
      if (!c || c.width !== zt.width || c.height !== zt.height) {
        c = await pipe.encodeImage(cond.image, [zt.width * 8, zt.height * 8]);
        condCache.set(cond.image, c);
      }
      const text = await pipe.encodeText(cond.instruction);
      return pipe.predictNoise(zt, timestep, c, text, { textScale: cond.textScale, imageScale: cond.imageScale });
    },
    img2img(input, cond, o) {
      return pipe.edit(cond.image, cond.instruction, {
        init: input,
        t: o.t,
        steps: o.steps,
        seed: o.seed,
        scheduler: 'ddim',
        textScale: cond.textScale,
        imageScale: cond.imageScale,
      });
    },
  };
}
