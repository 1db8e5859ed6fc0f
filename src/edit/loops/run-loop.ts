import { Rng } from '../../core/rng';
import type { EditableScene, StateBlob } from '../scenes/editable';
import type { EditConfig } from './edit-config';
import type { EditView } from './edit-views';
import type { LoopState } from './loop-state';
import { preservationLoss } from './preservation';

/** Progress events (the CLI prints them; the viewer consumes the same objects). */
export interface EditEvent {
  phase: 'prepare' | 'edit' | 'refit' | 'sds' | 'merge' | 'save';
  step: number;
  total: number;
  viewsEdited?: number;
  loss?: number;
  /** Noise level of the edit or the SDS step, as a fraction of the diffusion model's T. */
  t?: number;
  level?: number;
}

/** What a caller of the loop listens to and controls. */
export interface LoopHooks {
  onProgress?(ev: EditEvent): void;
  /** Called every `checkpointEvery` steps (and never after the last step; the caller saves the result). */
  onCheckpoint?(state: LoopState, scene: StateBlob): Promise<void>;
  /** Polled before each step; true stops the loop at that step boundary (the state stays resumable). */
  shouldStop?(): boolean;
  /**
   * Awaited before each step (and between the editor calls of a step): a caller that must read messages while
   * the loop runs (the viewer's worker: pause, cancel, live settings) returns a macrotask here.
   */
  yield?(): Promise<void>;
}

export const now = (): number => (typeof performance !== 'undefined' ? performance.now() : Date.now());

/** Where a step's time goes: the diffusion model, whole-view renders for it, and the refit. */
export type TimeBucket = 'editor' | 'render' | 'refit';

/** What a method's step gets from the loop. */
export interface StepContext {
  scene: EditableScene;
  cfg: EditConfig;
  state: LoopState;
  /** All views, and the ones not skipped (a region covers enough of them) with their indices in `views`. */
  views: EditView[];
  active: EditView[];
  activeIndex: number[];
  /** Index of a view in `views`. */
  indexOf(v: EditView): number;
  /** The loop's random generator: every draw of a step comes from it, in a fixed order. */
  rng: Rng;
  /** Samples for the edit term this step (the rest of `raysPerStep` goes to preservation). */
  editSamples: number;
  /** Runs `f`, adding its wall time to the bucket's total in the state. */
  timed<T>(bucket: TimeBucket, f: () => Promise<T>): Promise<T>;
  emit(ev: EditEvent): void;
  yield(): Promise<void>;
}

/** A method's step's outcome: the loss it added, and what its progress event carries besides. */
export interface StepResult {
  loss: number;
  event?: Pick<EditEvent, 't' | 'level'>;
}

/**
 * One edit method (IDU, SDS): what it does in a step before the shared part. A step adds the gradient of its
 * edit term to the scene; the loop then adds preservation and the regularisers and takes the optimiser step.
 */
export interface LoopStep {
  /** The phase of its per-step progress events. */
  readonly phase: 'refit' | 'sds';
  run(ctx: StepContext): Promise<StepResult>;
}

/**
 * The loop driver of every edit method and scene kind: from `state.step` to `cfg.iters`, each step runs the
 * method's step, then NeRF-Insert preservation, the scene's regularisers and one optimiser step; it keeps the
 * step counter, the RNG state, the time split and the last loss in `state` (mutated in place), emits progress,
 * checkpoints every `cfg.checkpointEvery` steps, yields and stops when the hooks ask. A checkpointed state
 * resumes bit-exactly.
 */
export async function runLoop(
  scene: EditableScene,
  views: EditView[],
  cfg: EditConfig,
  state: LoopState,
  hooks: LoopHooks,
  step: LoopStep,
): Promise<LoopState> {
  const activeIndex = views.flatMap((v, i) => (v.skipped ? [] : [i]));
  if (!activeIndex.length) throw new Error('the edit has no view to edit (every region mask is almost empty)');
  const index = new Map(views.map((v, i) => [v, i]));
  const rng = new Rng(0);
  rng.state = state.rng;
  const preserve = cfg.preserveWeight > 0 && views.some((v) => v.mask);
  const nPreserve = preserve ? Math.round(cfg.raysPerStep * cfg.preserveFraction) : 0;
  const key = { editor: 'editorMs', render: 'renderMs', refit: 'refitMs' } as const;
  const pass = () => Promise.resolve();
  const ctx: StepContext = {
    scene,
    cfg,
    state,
    views,
    active: activeIndex.map((i) => views[i]),
    activeIndex,
    indexOf: (v) => index.get(v) ?? -1,
    rng,
    editSamples: cfg.raysPerStep - nPreserve,
    async timed(bucket, f) {
      const t0 = now();
      try {
        return await f();
      } finally {
        state[key[bucket]] += now() - t0;
      }
    },
    emit: (ev) => hooks.onProgress?.(ev),
    yield: hooks.yield ?? pass,
  };
  while (state.step < cfg.iters) {
    await ctx.yield();
    if (hooks.shouldStop?.()) break;
    const r = await step.run(ctx);
    const loss = await ctx.timed('refit', async () => {
      let l = r.loss + (await preservationLoss(scene, views, cfg, rng));
      l += scene.regularize();
      await scene.step();
      return l;
    });
    state.lastLoss = loss;
    state.step++;
    state.rng = rng.state;
    ctx.emit({ phase: step.phase, step: state.step, total: cfg.iters, viewsEdited: state.viewsEdited, loss, ...r.event });
    if (hooks.onCheckpoint && state.step % cfg.checkpointEvery === 0 && state.step < cfg.iters)
      await hooks.onCheckpoint(state, scene.saveState());
  }
  return state;
}
