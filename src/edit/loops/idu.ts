import type { DiffusionPrior } from '../diffusion/prior';
import { compositeInMask } from '../regions/regions';
import type { EditView } from './edit-views';
import { renderView } from './edit-views';
import type { LoopStep } from './run-loop';
import { drawSamples } from './samples';

/**
 * Iterative Dataset Update (Instruct-NeRF2NeRF, Haque et al., ICCV 2023; docs/editing.md). The training set
 * starts as the original images; every `editEvery` steps, `editCount` views (cycling in order) are replaced by
 * the editor's output for input = the current render, noised to t ~ U[tMin, tMax], condition = the ORIGINAL
 * image of that view. `mode: 'all'` (Instruct-GS2GS, Vachha & Haque 2024): every `editEvery` steps all views
 * are edited, then the refit continues on that fixed set. With a region, edits are composited into the
 * original image only inside the view's mask (depth-aware: the pixels showing the selection), and samples are
 * drawn from the pixels whose rays reach what the edit may change — those outside the mask (seeing through
 * the region to the ground behind it) keep their original colour as the target.
 *
 * The step's loss: L1 of the rendered samples against the current training images, as Instruct-NeRF2NeRF
 * (its optional LPIPS term needs a perceptual model and is not used).
 */
export function iduStep(prior: DiffusionPrior): LoopStep {
  return {
    phase: 'refit',
    async run(ctx) {
      const { scene, cfg, state, rng } = ctx;
      const { idu } = cfg;
      const n = ctx.active.length;
      if (state.step % idu.editEvery === 0) {
        const toEdit = idu.mode === 'all' ? n : Math.min(idu.editCount, n);
        for (let e = 0; e < toEdit; e++) {
          if (e > 0) await ctx.yield();
          const i = ctx.activeIndex[state.cursor % n],
            v = ctx.views[i];
          state.cursor = (state.cursor + 1) % n;
          const render = await ctx.timed('render', () => renderView(scene, v));
          await ctx.timed('editor', async () => {
            const t = rng.uniform(idu.tMin, idu.tMax);
            const seed = rng.int(2 ** 31);
            const cond = { image: v.original, instruction: cfg.instruction, textScale: cfg.textScale, imageScale: cfg.imageScale };
            const edited = await prior.img2img(render, cond, { t, steps: idu.steps, seed });
            state.targets[i] = v.mask ? compositeInMask(v.original, edited, v.mask) : edited;
            state.viewsEdited++;
            ctx.emit({ phase: 'edit', step: state.step, total: cfg.iters, viewsEdited: state.viewsEdited, t });
          });
        }
      }
      const targetOf = (v: EditView) => state.targets[ctx.indexOf(v)] ?? v.original;
      const loss = await ctx.timed('refit', () =>
        scene.addLoss(
          drawSamples(scene, ctx.active, ctx.editSamples, rng, (v) => v.reach, targetOf),
          { scale: 1, photometric: 'l1' },
        ),
      );
      return { loss };
    },
  };
}
