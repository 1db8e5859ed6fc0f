import { Rng } from '../../core/rng';
import type { EditableScene } from '../scenes/editable';
import type { EditConfig, EditView, LoopHooks, LoopState } from './edit-session';
import { now, preservationLoss, renderView, subsample } from './edit-session';
import type { DiffusionPrior } from '../diffusion/prior';
import { annealedTMax, sampleTimestep, sdsTarget } from './sds-core';

/**
 * Score distillation (Instruct 3D-to-3D / Vox-E) in image space (REFERENCE §3): each step a random training
 * camera is rendered, noised at t ~ U[tMin, t_max(step)] (Vox-E anneal), the editor's guided ε̃ (image
 * condition = the SOURCE scene's render of the same camera) gives the one-step estimate x̂, and the refit
 * minimises λ·w(t)·‖x − sg(x̂)‖² over the view's rays (inside the region's dilated mask when there is one).
 * Dynamic scaling: the first `levelUntil` of the iterations run at N/2^levels, then back at N.
 */
export async function runSds(
  scene: EditableScene,
  prior: DiffusionPrior,
  views: EditView[],
  cfg: EditConfig,
  state: LoopState,
  hooks: LoopHooks = {},
): Promise<LoopState> {
  const active = views.filter((v) => !v.skipped);
  if (!active.length) throw new Error('runSds: no view to edit');
  const rng = new Rng(0);
  rng.state = state.rng;
  const { sds } = cfg;
  const T = prior.alphasCumprod.length;
  const preserve = cfg.preserveWeight > 0 && views.some((v) => v.mask);
  const nPreserve = preserve ? Math.round(cfg.raysPerStep * cfg.preserveFraction) : 0;
  for (; state.step < cfg.iters;) {
    if (hooks.shouldStop?.()) break;
    const step = state.step;
    scene.setLevel(sds.levels > 0 && step < sds.levelUntil * cfg.iters ? sds.levels : 0);
    const tMax = annealedTMax(step, cfg.iters, sds.schedule);
    const t = sampleTimestep(rng, sds.schedule.tMin, tMax, T);
    const v = active[rng.int(active.length)];
    const tr = now();
    const x = await renderView(scene, v);
    const t0 = now();
    state.renderMs += t0 - tr;
    const res = await sdsTarget(
      prior,
      x,
      { image: v.source, instruction: cfg.instruction, textScale: cfg.textScale, imageScale: cfg.imageScale },
      t,
      rng,
      sds.schedule.weighting,
    );
    const t1 = now();
    // the view's pixels inside the mask (all of them, or a random subset of raysPerStep)
    let loss = await scene.addViewLoss(
      v.camera,
      res.target,
      subsample(v.pixels, cfg.raysPerStep - nPreserve, rng),
      sds.lambda * res.weight,
    );
    loss += await preservationLoss(scene, views, cfg, rng);
    loss += scene.regularize();
    scene.step();
    state.editorMs += t1 - t0;
    state.refitMs += now() - t1;
    state.lastLoss = loss;
    state.viewsEdited++;
    state.step++;
    state.rng = rng.state;
    hooks.onProgress?.({
      phase: 'sds',
      step: state.step,
      total: cfg.iters,
      viewsEdited: state.viewsEdited,
      loss,
      t: t / T,
      level: scene.level,
    });
    if (hooks.onCheckpoint && state.step % cfg.checkpointEvery === 0 && state.step < cfg.iters)
      await hooks.onCheckpoint(state, scene.saveState());
  }
  return state;
}
