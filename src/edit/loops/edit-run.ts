import type { DiffusionPrior } from '../diffusion/prior';
import type { EditableScene } from '../scenes/editable';
import type { Checkpoint } from './checkpoint';
import type { EditConfig, EditorMethod } from './edit-config';
import type { EditView } from './edit-views';
import { iduStep } from './idu';
import type { ImageLoss } from './image-loss';
import { imageLossStep, type CameraSampler } from './image-loss-step';
import { initialLoopState, type LoopState } from './loop-state';
import { runLoop, type EditEvent, type LoopStep } from './run-loop';
import { sdsStep } from './sds';

/** Each editor method's step, made for a prior. */
export const METHODS: Record<EditorMethod, (prior: DiffusionPrior) => LoopStep> = { idu: iduStep, sds: sdsStep };

/** What guides an edit: the instruction editor (IDU, SDS) or an image loss ('image-loss'). */
export interface EditGuide {
  /** The instruction editor of 'idu' and 'sds' edits. */
  prior?: DiffusionPrior;
  /** The loss of 'image-loss' edits, and how each step draws its cameras (default: among the edit's views). */
  imageLoss?: { loss: ImageLoss; cameras?: CameraSampler };
}

/** The step of the configured method with its guide (an Error when the guide it needs is missing). */
export function loopStepFor(cfg: EditConfig, guide: EditGuide): LoopStep {
  if (cfg.method === 'image-loss') {
    if (!guide.imageLoss) throw new Error('an image-loss edit needs an image loss');
    return imageLossStep(guide.imageLoss.loss, guide.imageLoss.cameras);
  }
  if (!guide.prior) throw new Error(`a ${cfg.method} edit needs the instruction editor (a diffusion prior)`);
  return METHODS[cfg.method](guide.prior);
}

export interface EditRunOptions extends EditGuide {
  cfg: EditConfig;
  scene: EditableScene;
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
 * Runs an edit (IDU, SDS or an image loss) from the start, from a live state or from a checkpoint, checkpointing as it goes,
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
    loopStepFor(o.cfg, o),
  );
  if (state.step < o.cfg.iters) return { state, complete: false };
  o.onProgress?.({ phase: 'merge', step: o.cfg.iters, total: o.cfg.iters, viewsEdited: state.viewsEdited });
  await o.scene.finalize();
  return { state, complete: true };
}
