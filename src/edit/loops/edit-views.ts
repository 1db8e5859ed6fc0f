import type { Camera } from '../../core/camera';
import type { Image } from '../../core/image';
import type { EditableScene } from '../scenes/editable';
import type { Region } from '../regions/regions';
import { almostEmpty, regionMask } from '../regions/regions';
import { gatedMask, regionSelection, surfaceMask, type Selection } from '../regions/selection';

/** One training view of an edit: its capture, the frozen source render, and the region's dilated mask. */
export interface EditView {
  file: string;
  camera: Camera;
  /** The dataset image (IDU's image condition; the start of the training set). */
  original: Image;
  /** Render of the frozen original scene (SDS image condition; preservation target). */
  source: Image;
  /** Its opacity per pixel (the preservation term's opacity target). */
  sourceAlpha: Float32Array;
  /**
   * The view's edit mask (depth-aware: the pixels whose surface is in the selection, dilated but never onto a
   * surface outside it; docs/editing.md), or null without a region.
   */
  mask: Image | null;
  /** Pixel indices samples are drawn from: inside the mask (or all pixels without a region). */
  pixels: Uint32Array;
  /** Pixel indices outside the mask (preservation samples). */
  outside: Uint32Array;
  /**
   * Pixel indices whose rays pass through anything the edit may change (a superset of `pixels`): the editor's
   * renders take only these from the scene and the rest from the source render, which is exact for gated edits.
   */
  reach: Uint32Array;
  /** Mask almost empty (< 0.5 %): not edited, not sampled. */
  skipped: boolean;
}

/** A training frame of an edit: a dataset image (or, in the viewer, a render of the scene) and its camera. */
export interface EditFrame {
  file: string;
  camera: Camera;
  image: Image;
}

/**
 * Training frames whose "capture" is the render of the scene as it is (the viewer's edits, meshes): each camera
 * with the editable's source render.
 */
export async function sourceFrames(scene: EditableScene, cams: Camera[]): Promise<EditFrame[]> {
  const frames: EditFrame[] = [];
  for (let i = 0; i < cams.length; i++)
    frames.push({ file: `view_${String(i).padStart(3, '0')}.png`, camera: cams[i], image: (await scene.renderSource(cams[i])).image });
  return frames;
}

/**
 * Builds the views of an edit: frozen source renders, depth-aware edit masks dilated by `dilate(camera)` pixels,
 * skip flags. `limit` is the edit's selection (an object in a region, or the region itself: a bare region is
 * taken as `regionSelection(region)`), or undefined for an edit of the whole scene.
 */
export async function prepareViews(
  scene: EditableScene,
  frames: EditFrame[],
  limit: Selection | Region | undefined,
  dilate: (cam: Camera) => number,
  onView?: (i: number, n: number) => void,
): Promise<EditView[]> {
  const selection = limit && 'classify' in limit ? limit : limit ? regionSelection(limit) : undefined;
  const views: EditView[] = [];
  for (let i = 0; i < frames.length; i++) {
    const f = frames[i];
    const { image: source, alpha: sourceAlpha, depth, gated } = await scene.renderSource(f.camera);
    const mask = !selection
      ? null
      : gated
        ? gatedMask(f.camera, sourceAlpha, gated, dilate(f.camera))
        : surfaceMask(f.camera, depth, sourceAlpha, selection, dilate(f.camera));
    const n = f.camera.width * f.camera.height;
    const inside: number[] = [],
      outside: number[] = [],
      reach: number[] = [];
    const reachMask = selection?.reach(f.camera, dilate(f.camera));
    for (let p = 0; p < n; p++) {
      const m = !mask || mask.data[p] >= 0.5;
      (m ? inside : outside).push(p);
      if (m || !reachMask || reachMask.data[p] >= 0.5) reach.push(p);
    }
    views.push({
      file: f.file,
      camera: f.camera,
      original: f.image,
      source,
      sourceAlpha,
      mask,
      pixels: Uint32Array.from(inside),
      outside: Uint32Array.from(outside),
      reach: Uint32Array.from(reach),
      skipped: mask ? almostEmpty(mask) : false,
    });
    onView?.(i + 1, frames.length);
  }
  return views;
}

/** Views whose region mask covers enough of the image to edit (all views without a region). */
export function countActiveViews(cameras: Camera[], region: Region | undefined, dilate: (cam: Camera) => number): number {
  if (!region) return cameras.length;
  return cameras.filter((c) => !almostEmpty(regionMask(region, c, dilate(c)))).length;
}

/** The current render of a view for the editor: only its masked pixels when the scene can do that exactly. */
export async function renderView(scene: EditableScene, v: EditView): Promise<Image> {
  if (v.mask) {
    const img = await scene.renderPixels(v.camera, v.reach, v.source);
    if (img) return img;
  }
  return scene.render(v.camera);
}
