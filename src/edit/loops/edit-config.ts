import type { SdsSchedule } from './sds-target';

/**
 * How an edit is guided: the instruction editor through Iterative Dataset Update ('idu') or score distillation
 * ('sds'), or a differentiable loss on renders ('image-loss': Text2Mesh's CLIP loss).
 */
export type EditMethod = 'idu' | 'sds' | 'image-loss';

/** The methods guided by the instruction editor (a DiffusionPrior). */
export type EditorMethod = Exclude<EditMethod, 'image-loss'>;

/**
 * Everything the loops read: the method, the instruction and guidance, the schedule of the loop, and each
 * method's settings. `buildEditSpec` (edit-spec.ts) fills it from user options with every default. The loops
 * read it at every step, so a caller may change guidance and noise levels while an edit runs (the viewer's
 * live settings).
 */
export interface EditConfig {
  method: EditMethod;
  instruction: string;
  textScale: number;
  imageScale: number;
  seed: number;
  /** Refit (IDU) or distillation (SDS) iterations. */
  iters: number;
  /** Samples (rays, or pixels of one view) per step, the edit term's and preservation's together. */
  raysPerStep: number;
  /**
   * NeRF-Insert preservation outside the masks against the frozen original: preserveWeight ·
   * (100·MSE(opacity) + 10·MSE(rgb)) (NeRF-Insert uses preserveWeight 10); 0 = off.
   */
  preserveWeight: number;
  /** Fraction of each step's samples spent on preservation (when preserveWeight > 0 and there is a region). */
  preserveFraction: number;
  /** Steps between checkpoints (when the caller saves them). */
  checkpointEvery: number;
  /**
   * Iterative Dataset Update: every `editEvery` steps `editCount` views (cycling) are edited by img2img from
   * noise level t ~ U[tMin, tMax] with `steps` denoising steps; `mode: 'all'` edits every view (Instruct-GS2GS).
   */
  idu: { editEvery: number; editCount: number; tMin: number; tMax: number; steps: number; mode: 'one' | 'all' };
  /**
   * Score distillation: the noise schedule, λ, dynamic scaling (`levels` coarser for the first `levelUntil` of
   * the run), and the target's DDIM steps over the full schedule (`steps`: 1 = the one-step x̂ of classic SDS;
   * more: ⌈steps·t⌉ steps from t, `sdsTarget`).
   */
  sds: { schedule: SdsSchedule; lambda: number; levels: number; levelUntil: number; steps: number };
  /**
   * Image-loss guidance (Text2Mesh): views rendered per step (their embeddings averaged by the loss), and
   * whether the grey geometry renders of as many fresh views add their term. Set for 'image-loss' edits only.
   */
  imageLoss?: { viewsPerStep: number; geometry: boolean };
}
