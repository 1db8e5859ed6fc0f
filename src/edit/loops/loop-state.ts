import type { Image } from '../../core/image';
import { Rng } from '../../core/rng';
import type { EditConfig } from './edit-config';

/** Loop state that checkpoints carry (with the scene's StateBlob): resuming from it continues bit-exactly. */
export interface LoopState {
  step: number;
  /** The loop's random generator state (every draw of the loop comes from it). */
  rng: number;
  /** IDU: next view to edit (index into the active views). */
  cursor: number;
  viewsEdited: number;
  /** IDU: the current training image of each view (null = still the original). */
  targets: (Image | null)[];
  /** Time in the diffusion model (img2img / noise predictions incl. VAE), in the refit (samples, backward, optimiser), and rendering whole views for the editor. */
  editorMs: number;
  refitMs: number;
  renderMs: number;
  lastLoss: number;
}

export function initialLoopState(cfg: Pick<EditConfig, 'seed'>, views: readonly unknown[]): LoopState {
  return {
    step: 0,
    rng: new Rng(cfg.seed).state,
    cursor: 0,
    viewsEdited: 0,
    targets: views.map(() => null),
    editorMs: 0,
    refitMs: 0,
    renderMs: 0,
    lastLoss: 0,
  };
}
