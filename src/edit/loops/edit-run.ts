import type { DiffusionPrior } from '../diffusion/prior';
import type { EditableScene } from '../scenes/editable';
import type { Checkpoint } from './checkpoint';
import type { EditConfig, EditMethod } from './edit-config';
import type { EditView } from './edit-views';
import { iduStep } from './idu';
import { initialLoopState, type LoopState } from './loop-state';
import { runLoop, type EditEvent, type LoopStep } from './run-loop';
import { sdsStep } from './sds';

/** Each method's step, made for a prior. */
export const METHODS: Record<EditMethod, (prior: DiffusionPrior) => LoopStep> = { idu: iduStep, sds: sdsStep };

export interface EditRunOptions {
  cfg: EditConfig;
  scene: EditableScene;
  prior: DiffusionPrior;
  views: EditView[];
  /** Settings stored in checkpoints (the caller compares them on resume). */
  settings?: Record<string, unknown>;
  /** Continue this live state (the scene is already in it: a paused edit in the same process). */
  state?: LoopState;
  /** Continue from this checkpoint (the scene's state is restored from it). */
  resume?: Checkpoint;
  /** Persists a checkpoint (atomically); called every cfg.checkpointEvery steps. */
  saveCheckpoint?(c: Checkpoint): Promise<void>;
  onProgress?(ev: EditEvent): void;
  shouldStop?(): boolean;
  /** Awaited between steps (see LoopHooks.yield). */
  yield?(): Promise<void>;
}

export interface EditRunResult {
  /** The loop's state (the live state object when one was given). */
  state: LoopState;
  /** True when the loop ran to the end and the scene was finalised (merged). */
  complete: boolean;
}

/**
 * Runs an edit (IDU or SDS) from the start, from a live state or from a checkpoint, checkpointing as it goes,
 * and finalises the scene (the voxel merge with the original outside the region) when it reaches the end.
 */
export async function runEdit(o: EditRunOptions): Promise<EditRunResult> {
  if (o.state && o.resume) throw new Error('runEdit: give a live state or a checkpoint to resume, not both');
  let state: LoopState;
  if (o.resume) {
    if (o.resume.loop.targets.length !== o.views.length)
      throw new Error(`checkpoint has ${o.resume.loop.targets.length} views, the edit has ${o.views.length}`);
    o.scene.loadState(o.resume.scene);
    state = o.resume.loop;
  } else state = o.state ?? initialLoopState(o.cfg, o.views);
  const settings = o.settings ?? {};
  await runLoop(
    o.scene,
    o.views,
    o.cfg,
    state,
    {
      onProgress: o.onProgress,
      shouldStop: o.shouldStop,
      yield: o.yield,
      onCheckpoint: o.saveCheckpoint ? (loop, scene) => o.saveCheckpoint!({ settings, loop, scene }) : undefined,
    },
    METHODS[o.cfg.method](o.prior),
  );
  if (state.step < o.cfg.iters) return { state, complete: false };
  o.onProgress?.({ phase: 'merge', step: o.cfg.iters, total: o.cfg.iters, viewsEdited: state.viewsEdited });
  o.scene.finalize();
  return { state, complete: true };
}
