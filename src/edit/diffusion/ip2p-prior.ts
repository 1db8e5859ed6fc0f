import type { Image } from '../../core/image';
import { resizeImage } from '../../core/image';
import type { InstructPix2Pix, Latents as PipeLatents } from './pipeline';
import type { DiffusionPrior, Latents, PriorCondition } from './prior';

/**
 * The InstructPix2Pix pipeline (ONNX model folder or the built-in model) as the loops' `DiffusionPrior`.
 * Image-condition latents (VAE mean, unscaled) are cached per condition image, text states per instruction
 * (by the pipeline). img2img is the pipeline's edit with `strength` = the noise level and DDIM steps (IDU).
 */
export function ip2pPrior(pipe: InstructPix2Pix, id = pipe.info.name): DiffusionPrior {
  const condCache = new WeakMap<Image, PipeLatents>();
  const sizeFor = (img: Image) => pipe.workingSize(img.width, img.height);
  return {
    id,
    keepDetail: pipe.info.builtin,
    alphasCumprod: pipe.alphasCumprod,
    encode: (img) => pipe.encode(img, sizeFor(img)),
    async decode(z, w, h) {
      const img = await pipe.decode(z);
      return img.width === w && img.height === h ? img : resizeImage(img, w, h);
    },
    async predictNoise(zt: Latents, t: number, cond: PriorCondition) {
      let c = condCache.get(cond.image);
      if (!c || c.width !== zt.width || c.height !== zt.height) {
        c = await pipe.encodeImage(cond.image, [zt.width * 8, zt.height * 8]);
        condCache.set(cond.image, c);
      }
      const text = await pipe.encodeText(cond.instruction);
      return pipe.predictNoise(zt, t, c, text, { text: cond.textScale, image: cond.imageScale });
    },
    img2img(input, cond, o) {
      return pipe.edit(cond.image, cond.instruction, {
        init: input,
        strength: o.tFrac,
        steps: o.steps,
        seed: o.seed,
        scheduler: 'ddim',
        textScale: cond.textScale,
        imageScale: cond.imageScale,
      });
    },
  };
}
