import type { Camera } from '../../core/camera';
import type { Image } from '../../core/image';
import { Rng } from '../../core/rng';
import type { EditEvent } from './edit-session';
import { now } from './edit-session';
import type { ImageLoss } from './image-loss';

/** What an image-loss loop needs from a scene: renders in a mode, their gradients, and optimiser steps. */
export interface ImageLossScene {
  renderMode(cam: Camera, mode: 'color' | 'geometry'): Promise<Image>;
  /** Adds ∂L/∂image of the most recent render to the pending gradient. */
  addImageGradient(dImage: Float32Array): Promise<void>;
  step(): void;
  settled?(): Promise<void>;
}

export interface ImageLossLoopConfig {
  iters: number;
  seed: number;
  /** Views rendered per step (Text2Mesh's demos: 5). */
  viewsPerStep: number;
  /** Text2Mesh's geometry term: grey renders of fresh views against the same loss, added before the step. */
  geometry: boolean;
  /** Draws a step's cameras (Text2Mesh: around the front view). */
  cameras(n: number, rng: Rng): Camera[];
}

export interface ImageLossLoopState {
  step: number;
  rng: number;
  lastLoss: number;
  lossMs: number;
  renderMs: number;
}

/**
 * Direct optimisation of a scene against a differentiable image loss, as Text2Mesh optimises its style field
 * against CLIP (Michel et al., CVPR 2022): each step renders `viewsPerStep` views, evaluates the loss on all of
 * them together (the loss may average their embeddings before comparing), backpropagates each view's pixel
 * gradient through the renderer, optionally adds the geometry term on grey renders of fresh views, and takes one
 * optimiser step.
 */
export async function runImageLossLoop(
  scene: ImageLossScene,
  loss: ImageLoss,
  cfg: ImageLossLoopConfig,
  state: ImageLossLoopState = { step: 0, rng: new Rng(cfg.seed).state, lastLoss: 0, lossMs: 0, renderMs: 0 },
  hooks: { onProgress?(ev: EditEvent): void; shouldStop?(): boolean } = {},
): Promise<ImageLossLoopState> {
  const rng = new Rng(0);
  rng.state = state.rng;
  const pass = async (mode: 'color' | 'geometry'): Promise<number> => {
    const cams = cfg.cameras(cfg.viewsPerStep, rng);
    const t0 = now();
    const renders: Image[] = [];
    for (const c of cams) renders.push(await scene.renderMode(c, mode));
    const t1 = now();
    const res = await loss.evaluate(renders, rng, mode);
    const t2 = now();
    // the renderer keeps what its backward needs from its latest render only: render each view again before its gradient
    for (let i = 0; i < cams.length; i++) {
      await scene.renderMode(cams[i], mode);
      await scene.addImageGradient(res.grads[i]);
    }
    state.renderMs += t1 - t0 + (now() - t2);
    state.lossMs += t2 - t1;
    return res.loss;
  };
  for (; state.step < cfg.iters;) {
    if (hooks.shouldStop?.()) break;
    let l = await pass('color');
    if (cfg.geometry) l += await pass('geometry');
    scene.step();
    await scene.settled?.();
    state.lastLoss = l;
    state.step++;
    state.rng = rng.state;
    hooks.onProgress?.({ phase: 'refit', step: state.step, total: cfg.iters, loss: l });
  }
  return state;
}
