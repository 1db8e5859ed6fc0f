import { Rng } from '../../core/rng';
import type { EditableScene } from '../scenes/editable';
import type { EditConfig, EditView, LoopHooks, LoopState } from './edit-session';
import { now, preservationLoss, renderView, sampleRays, subsample } from './edit-session';
import type { DiffusionPrior } from '../diffusion/prior';
import { compositeInMask } from '../regions/regions';

/**
 * Iterative Dataset Update (Instruct-NeRF2NeRF). The training set starts as the original images; every
 * `editEvery` refit steps, `editCount` views (cycling in order) are replaced by the editor's output for
 * input = the current render, noised to t ~ U[tMin, tMax], condition = the ORIGINAL image of that view.
 * `mode: 'all'` (Instruct-GS2GS): every `editEvery` steps all views are edited, then the refit continues
 * on that fixed set. With a region, edits are composited into the original image only inside the view's
 * dilated mask, views with an almost empty mask are skipped, and rays are drawn inside the masks.
 *
 * Refit loss: L1 of the rendered rays against the current training images, as Instruct-NeRF2NeRF (its
 * optional LPIPS term needs a perceptual model and is not used). Runs from `state.step` to `cfg.iters`, so a checkpointed state resumes.
 */
export async function runIdu(
  scene: EditableScene,
  prior: DiffusionPrior,
  views: EditView[],
  cfg: EditConfig,
  state: LoopState,
  hooks: LoopHooks = {},
): Promise<LoopState> {
  const active = views.map((v, i) => ({ v, i })).filter((x) => !x.v.skipped);
  if (!active.length) throw new Error('runIdu: no view to edit');
  const rng = new Rng(0);
  rng.state = state.rng;
  const { idu } = cfg;
  const preserve = cfg.preserveWeight > 0 && views.some((v) => v.mask);
  const nPreserve = preserve ? Math.round(cfg.raysPerStep * cfg.preserveFraction) : 0;
  const nEdit = cfg.raysPerStep - nPreserve;
  const activeViews = active.map((a) => a.v);
  for (; state.step < cfg.iters;) {
    if (hooks.shouldStop?.()) break;
    const step = state.step;
    if (step % idu.editEvery === 0) {
      const toEdit = idu.mode === 'all' ? active.length : Math.min(idu.editCount, active.length);
      for (let e = 0; e < toEdit; e++) {
        const { v, i } = active[state.cursor % active.length];
        state.cursor = (state.cursor + 1) % active.length;
        const tr = now();
        const render = await renderView(scene, v);
        const t0 = now();
        state.renderMs += t0 - tr;
        const tFrac = rng.uniform(idu.tMin, idu.tMax);
        const seed = rng.int(2 ** 31);
        const edited = await prior.img2img(
          render,
          { image: v.original, instruction: cfg.instruction, textScale: cfg.textScale, imageScale: cfg.imageScale },
          { tFrac, steps: idu.steps, seed },
        );
        state.targets[i] = v.mask ? compositeInMask(v.original, edited, v.mask) : edited;
        state.viewsEdited++;
        state.editorMs += now() - t0;
        hooks.onProgress?.({ phase: 'edit', step, total: cfg.iters, viewsEdited: state.viewsEdited, t: tFrac });
      }
    }
    const t0 = now();
    const targetOf = (v: EditView) => state.targets[views.indexOf(v)] ?? v.original;
    let loss: number;
    // Instruct-NeRF2NeRF refits with L1 on the edited set
    if (scene.addRayLoss)
      loss = await scene.addRayLoss(
        sampleRays(
          activeViews,
          nEdit,
          rng,
          (v) => v.pixels,
          (v) => targetOf(v),
        ),
        1,
        'l1',
      );
    else {
      const v = activeViews[rng.int(activeViews.length)];
      loss = await scene.addViewLoss(v.camera, targetOf(v), subsample(v.pixels, nEdit, rng), 1, 'l1');
    }
    loss += await preservationLoss(scene, views, cfg, rng);
    loss += scene.regularize();
    scene.step();
    state.refitMs += now() - t0;
    state.lastLoss = loss;
    state.step++;
    state.rng = rng.state;
    hooks.onProgress?.({ phase: 'refit', step: state.step, total: cfg.iters, viewsEdited: state.viewsEdited, loss });
    if (hooks.onCheckpoint && state.step % cfg.checkpointEvery === 0 && state.step < cfg.iters)
      await hooks.onCheckpoint(state, scene.saveState());
  }
  return state;
}
