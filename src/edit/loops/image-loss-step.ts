import type { Camera } from '../../core/camera';
import type { Image } from '../../core/image';
import type { Rng } from '../../core/rng';
import { takesImageGradients, type Shading } from '../scenes/editable';
import type { ImageLoss } from './image-loss';
import type { LoopStep } from './run-loop';

/** Draws a step's cameras from the loop's generator (Text2Mesh: views around the front view). */
export type CameraSampler = (n: number, rng: Rng) => Camera[];

/** Text2Mesh's demo settings: 5 views a step, and the geometry term. */
export const IMAGE_LOSS_DEFAULTS = { viewsPerStep: 5, geometry: true } as const;

/**
 * Direct optimisation of a scene against a differentiable image loss, as Text2Mesh optimises its style field
 * against CLIP (Michel et al., CVPR 2022; docs/mesh-stylisation.md). Each step renders `viewsPerStep` views,
 * evaluates the loss on them together (the CLIP loss averages their embeddings before one cosine), and adds each
 * view's pixel gradient through the renderer; with `geometry`, grey renders of as many fresh views add the same
 * loss on the surface's shading alone (Text2Mesh's displacement term). The loop then takes one optimiser step.
 *
 * Cameras come from `cameras` (drawn fresh each step from the loop's generator, as Text2Mesh does), or, without
 * it, are drawn among the edit's active views. Every random draw (cameras, augmentations) comes from the loop's
 * generator, so a seed reproduces a run and a checkpoint resumes it. Time in the loss counts as the editor's.
 */
export function imageLossStep(loss: ImageLoss, cameras?: CameraSampler): LoopStep {
  return {
    phase: 'refit',
    async run(ctx) {
      const { scene, cfg, rng } = ctx;
      if (!takesImageGradients(scene))
        throw new Error(`a ${scene.kind} scene cannot take image-loss guidance (it takes no image gradients)`);
      const o = cfg.imageLoss ?? IMAGE_LOSS_DEFAULTS;
      const draw = (n: number): Camera[] =>
        cameras ? cameras(n, rng) : Array.from({ length: n }, () => ctx.active[rng.int(ctx.active.length)].camera);
      const pass = async (shading: Shading): Promise<number> => {
        const cams = draw(o.viewsPerStep);
        const renders = await ctx.timed('render', async () => {
          const out: Image[] = [];
          for (const c of cams) out.push(await scene.renderShaded(c, shading));
          return out;
        });
        const res = await ctx.timed('editor', () => loss.evaluate(renders, rng, shading));
        await ctx.timed('refit', async () => {
          for (let i = 0; i < cams.length; i++) await scene.addImageGradient(cams[i], shading, res.grads[i]);
        });
        return res.loss;
      };
      let l = await pass('color');
      if (o.geometry) l += await pass('geometry');
      return { loss: l };
    },
  };
}
