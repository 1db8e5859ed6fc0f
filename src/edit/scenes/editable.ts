import type { Camera } from '../../core/camera';
import type { Image } from '../../core/image';
import type { RaySamples } from '../../core/ray-samples';

/** The refit's photometric loss: IDU refits with L1 (Instruct-NeRF2NeRF); SDS and preservation use MSE. */
export type PhotometricLoss = 'mse' | 'l1';

/**
 * A render with its per-pixel opacity α = 1 − T_final (NeRF-Insert preserves both outside the region) and
 * depth: the expected distance along the unit ray of the opaque part (Σ wᵢ tᵢ / α; 0 where nothing was hit),
 * which places the surface a pixel shows (depth-aware edit masks, docs/editing.md).
 */
export interface SourceRender {
  image: Image;
  alpha: Float32Array;
  depth: Float32Array;
  /**
   * For a gated scene (a region or an object selection): the opacity each pixel owes to the elements the edit
   * may change, Σ wᵢ over them (the render of the gate as a colour over black). `gated / alpha` is the share of
   * the surface a pixel shows that the edit may change — what its depth-aware mask is made of.
   */
  gated?: Float32Array;
}

/**
 * How a scene takes its supervision, which decides how the loops draw samples (`drawSamples` in
 * src/edit/loops/samples.ts, the one place that reads it):
 * - `'rays'`: any rays of any views in one batch (ray marchers: a batch spreads over all views);
 * - `'view'`: the pixels of one view per call (rasterisers render whole views).
 */
export type SampleMode = 'rays' | 'view';

/** Pixels to supervise with their targets: rays drawn across views, or pixels of one view. */
export type LossSamples =
  | { kind: 'rays'; rays: RaySamples }
  | {
      kind: 'view';
      camera: Camera;
      /** Pixel indices (y·width + x) of the view. */
      pixels: ArrayLike<number>;
      /** Target colours (whole view). */
      target: Image;
      /** Target opacity per pixel of the whole view (the preservation term), when the term has an opacity weight. */
      targetAlpha?: Float32Array;
    };

/**
 * The weights of one loss term: scale · (photometric error + alphaWeight · mean (α − α*)²). The photometric
 * error is the mean over the samples and the three channels of the squared (MSE) or absolute (L1) difference.
 */
export interface LossTerm {
  scale: number;
  photometric?: PhotometricLoss;
  /** Weight of the opacity error (needs target opacities in the samples). */
  alphaWeight?: number;
}

/** Named typed arrays plus JSON metadata: what checkpoints store. */
export interface StateBlob {
  meta: Record<string, unknown>;
  arrays: Record<string, Float32Array | Uint8Array | Uint32Array>;
}

/**
 * A scene being edited, as the loops (IDU, SDS, image losses) see it, whatever its representation: voxel grids
 * (`voxel-editable.ts`), Gaussians (`gaussian-editable.ts`), meshes under a neural style field
 * (`mesh-editable.ts`); `create-editable.ts` makes the right one for a scene. `Exported` is what `export()` returns: the representation's edited scene, tagged with its kind.
 */
export interface EditableScene<Exported extends { kind: string } = { kind: string }> {
  readonly kind: Exported['kind'];
  readonly background: [number, number, number];
  /** Where renders and gradients run ('cpu', 'webgpu'). */
  readonly backendName: string;
  /** How the loops draw this scene's samples. */
  readonly sampling: SampleMode;
  /** Render of the scene being edited. */
  render(cam: Camera): Promise<Image>;
  /**
   * Renders only `pixels` of the view and takes the rest from `base` (the frozen source render), or returns
   * null when that would not be exact (it is when nothing outside the region can change and `pixels` covers
   * the region's dilated mask); the loops then render the whole view.
   */
  renderPixels(cam: Camera, pixels: Uint32Array, base: Image): Promise<Image | null>;
  /** Render of the frozen original with its opacity (preservation reference, SDS image condition). */
  renderSource(cam: Camera): Promise<SourceRender>;
  /**
   * Adds the gradient of one loss term over the samples (see LossTerm); returns the unscaled loss
   * (photometric + alphaWeight · opacity error).
   */
  addLoss(samples: LossSamples, term: LossTerm): Promise<number>;
  /** Adds the representation's regularisers (voxels: colour TV in the region, Vox-E's Pearson term); returns their value. */
  regularize(): number;
  /**
   * One optimiser step from the accumulated gradient (gated to the region when there is one). The loop awaits
   * it: a step may run elsewhere (a mesh's style field runs its backward pass on worker threads or the GPU).
   */
  step(): void | Promise<void>;
  /** SDS dynamic scaling: work at a resolution reduced by 2^level (0 = full). No-op where meaningless. */
  setLevel(level: number): void;
  readonly level: number;
  /** Checkpoint state (parameters, optimiser moments); restoring it continues bit-exactly. */
  saveState(): StateBlob;
  /** Restores `saveState`'s blob; throws naming the first array or value that does not fit this scene. */
  loadState(s: StateBlob): void;
  /**
   * Final result (voxels: merge G = M·G_edit + (1−M)·G_orig; meshes: the field's last evaluation); called once
   * at the end, and awaited.
   */
  finalize(): void | Promise<void>;
  /** The edited scene (after `finalize`). */
  export(): Exported;
  /** Frees device memory (GPU backends); the scene can still be exported. */
  dispose(): void;
}

/** What a render shows for an image loss: the scene's colours, or its surface with every colour grey (Text2Mesh's geometry term). */
export type Shading = 'color' | 'geometry';

/**
 * What image-loss guidance (`imageLossStep` in src/edit/loops/image-loss-step.ts: a differentiable loss on
 * whole renders, such as Text2Mesh's CLIP loss) needs of a scene besides EditableScene: renders in a shading,
 * and the loss's gradient with respect to every pixel of a render. Meshes implement it: their renderer takes
 * an image gradient as it is (no per-pixel targets in between).
 */
export interface ImageGradientTarget {
  renderShaded(cam: Camera, shading: Shading): Promise<Image>;
  /** Renders the view in `shading` and adds ∂L/∂image (`dImage`, the render's layout) to the accumulated gradient. */
  addImageGradient(cam: Camera, shading: Shading, dImage: Float32Array): Promise<void>;
}

/** True for scenes that take image-loss gradients. */
export function takesImageGradients<S extends EditableScene>(s: S): s is S & ImageGradientTarget {
  const t = s as Partial<ImageGradientTarget>;
  return typeof t.renderShaded === 'function' && typeof t.addImageGradient === 'function';
}
