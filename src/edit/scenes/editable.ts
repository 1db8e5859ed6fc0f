import type { Camera } from '../../core/camera';
import type { Image } from '../../core/image';
import type { TrainBatch } from '../../nerf/voxel/voxel-backend';

/** The refit's photometric loss: IDU refits with L1 (Instruct-NeRF2NeRF); SDS and preservation use MSE. */
export type PhotometricLoss = 'mse' | 'l1';

/** A render with its per-pixel opacity α = 1 − T_final (NeRF-Insert preserves both outside the region). */
export interface SourceRender {
  image: Image;
  alpha: Float32Array;
}

/** An opacity target for a view's pixels: adds weight · mean over the pixels of (α − target)². */
export interface AlphaTarget {
  /** α* per pixel of the whole view. */
  target: Float32Array;
  weight: number;
}

/**
 * A scene being edited, as the loops (IDU, SDS) see it. Voxel grids implement it in `voxel-editable.ts`,
 * Gaussians in `gaussian-editable.ts`, meshes (a neural style field) in `mesh-editable.ts`. All losses are mean squared errors over the given rays and the three
 * channels, scaled by `scale` (so callers weight terms: edit targets, NeRF-Insert preservation, SDS λ·w(t)).
 */
export interface EditableScene {
  readonly kind: 'voxel' | 'gaussians' | 'mesh';
  readonly background: [number, number, number];
  /** Render of the scene being edited. */
  render(cam: Camera): Promise<Image>;
  /**
   * Renders only `pixels` of the view and takes the rest from `base` (the frozen source render). Exact when the
   * scene is gated to the region (nothing outside it changes) and `pixels` covers the region's dilated mask;
   * the loops use it to render just the masked part of each view. Absent (or returning null) → full render.
   */
  renderPixels?(cam: Camera, pixels: Uint32Array, base: Image): Promise<Image | null>;
  /** Render of the frozen original (the preservation reference and SDS image condition). */
  renderSource(cam: Camera): Promise<Image>;
  /** The same render with its opacity (the preservation term's opacity target). */
  renderSourceWithAlpha(cam: Camera): Promise<SourceRender>;
  /**
   * Ray-batch representations (voxels) set this: the loops then draw each batch's rays across all views.
   * Rasterisers (Gaussians) leave it unset and get one view per step through `addViewLoss`. The batch may
   * carry opacity targets (`targetAlpha`, `alphaWeight`).
   */
  addRayLoss?(batch: TrainBatch, scale: number, photometric?: PhotometricLoss): Promise<number>;
  /**
   * Adds the gradient of scale·MSE (or L1) over the given pixels of one view against `target` (plus, with
   * `alpha`, scale·weight·MSE of the pixels' opacity); returns the unscaled loss.
   */
  addViewLoss(
    cam: Camera,
    target: Image,
    pixels: ArrayLike<number>,
    scale: number,
    photometric?: PhotometricLoss,
    alpha?: AlphaTarget,
  ): Promise<number>;
  /** Adds the representation's regularisers (voxels: Vox-E Pearson density term); returns their value. */
  regularize(): number;
  /** One optimiser step from the accumulated gradient (gated to the region when there is one). */
  step(): void;
  /** SDS dynamic scaling: work at a resolution reduced by 2^level (0 = full). No-op where meaningless. */
  setLevel(level: number): void;
  readonly level: number;
  /** Checkpoint state (parameters, optimiser moments); restoring it continues bit-exactly. */
  saveState(): StateBlob;
  loadState(s: StateBlob): void;
  /** Final result (voxels: merge G = M·G_edit + (1−M)·G_orig); called once at the end. */
  finalize(): void;
  /** Where renders and gradients run ('cpu', 'webgpu'). */
  readonly backendName?: string;
  /** Frees device memory (GPU backends). */
  dispose?(): void;
}

/** Named typed arrays plus JSON metadata: what checkpoints store. */
export interface StateBlob {
  meta: Record<string, unknown>;
  arrays: Record<string, Float32Array | Uint8Array | Uint32Array>;
}
