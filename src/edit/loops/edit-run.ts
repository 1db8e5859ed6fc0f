import type { Checkpoint } from './checkpoint';
import type { EditableScene } from '../scenes/editable';
import type { EditConfig, EditEvent, EditView, LoopState } from './edit-session';
import { initialLoopState } from './edit-session';
import { runIdu } from './idu';
import type { DiffusionPrior } from '../diffusion/prior';
import { runSds } from './sds';

export interface EditRunOptions {
  cfg: EditConfig;
  scene: EditableScene;
  prior: DiffusionPrior;
  views: EditView[];
  /** Settings stored in checkpoints (compared on resume by the caller). */
  settings: Record<string, unknown>;
  /** Continue from this checkpoint instead of the start. */
  resume?: Checkpoint;
  /** Persists a checkpoint (atomically); called every cfg.checkpointEvery steps. */
  saveCheckpoint?(c: Checkpoint): Promise<void>;
  onProgress?(ev: EditEvent): void;
  shouldStop?(): boolean;
}

export interface EditRunResult {
  state: LoopState;
  /** True when the loop ran to the end and the scene was finalised (merged). */
  complete: boolean;
}

/**
 * Runs an edit (IDU or SDS) from the start or from a checkpoint, checkpointing as it goes, and finalises the
 * scene (the voxel merge with the original outside the region) when it reaches the end.
 */
export async function runEdit(o: EditRunOptions): Promise<EditRunResult> {
  let state: LoopState;
  if (o.resume) {
    o.scene.loadState(o.resume.scene);
    state = o.resume.loop;
    if (state.targets.length !== o.views.length)
      throw new Error(`checkpoint has ${state.targets.length} views, the edit has ${o.views.length}`);
  } else state = initialLoopState(o.cfg, o.views);
  const hooks = {
    onProgress: o.onProgress,
    shouldStop: o.shouldStop,
    onCheckpoint: o.saveCheckpoint
      ? (s: LoopState, blob: Checkpoint['scene']) => o.saveCheckpoint!({ settings: o.settings, loop: s, scene: blob })
      : undefined,
  };
  state =
    o.cfg.method === 'idu'
      ? await runIdu(o.scene, o.prior, o.views, o.cfg, state, hooks)
      : await runSds(o.scene, o.prior, o.views, o.cfg, state, hooks);
  if (state.step < o.cfg.iters) return { state, complete: false };
  o.onProgress?.({ phase: 'merge', step: o.cfg.iters, total: o.cfg.iters, viewsEdited: state.viewsEdited });
  o.scene.finalize();
  return { state, complete: true };
}
