import { subsamplePixels } from '../../core/ray-samples';
import type { DiffusionPrior } from '../diffusion/prior';
import { compositeInMask } from '../regions/regions';
import { renderView } from './edit-views';
import type { LoopStep } from './run-loop';
import { annealedTMax, sampleTimestep, sdsTarget } from './sds-target';

/**
 * Score distillation (Instruct 3D-to-3D, Kamata et al. 2023; Vox-E, Sella et al., ICCV 2023; docs/editing.md)
 * in image space: each step a random training view is rendered, noised at t ~ U[tMin, t_max(step)] (Vox-E's
 * anneal), the editor's guided ε̃ (image condition = the SOURCE scene's render of the same view) gives the
 * one-step estimate x̂, and the step minimises λ·w(t)·‖x − sg(x̂)‖² over the view's pixels whose rays reach what
 * the edit may change (all of them, or a random `editSamples` of them), with x̂ inside the view's depth-aware mask
 * and the source render outside it (pixels that see past the selection keep their colour). Dynamic scaling (Instruct 3D-to-3D): the
 * first `levelUntil` of the iterations run at N/2^levels, then back at N.
 */
export function sdsStep(prior: DiffusionPrior): LoopStep {
  const T = prior.alphasCumprod.length;
  return {
    phase: 'sds',
    async run(ctx) {
      const { scene, cfg, state, rng } = ctx;
      const { sds } = cfg;
      scene.setLevel(sds.levels > 0 && state.step < sds.levelUntil * cfg.iters ? sds.levels : 0);
      const tMax = annealedTMax(state.step, cfg.iters, sds.schedule);
      const timestep = sampleTimestep(rng, sds.schedule.tMin, tMax, T);
      const v = ctx.active[rng.int(ctx.active.length)];
      const x = await ctx.timed('render', () => renderView(scene, v));
      const cond = { image: v.source, instruction: cfg.instruction, textScale: cfg.textScale, imageScale: cfg.imageScale };
      const res = await ctx.timed('editor', () => sdsTarget(prior, x, cond, timestep, rng, sds.schedule.weighting, sds.steps));
      const loss = await ctx.timed('refit', () =>
        scene.addLoss(
          {
            kind: 'view',
            camera: v.camera,
            pixels: subsamplePixels(v.reach, ctx.editSamples, rng),
            // pixels that see past the selection keep the source's colour
            target: v.mask ? compositeInMask(v.source, res.target, v.mask) : res.target,
          },
          { scale: sds.lambda * res.weight },
        ),
      );
      state.viewsEdited++;
      return { loss, event: { t: timestep / T, level: scene.level } };
    },
  };
}
