import type { Region } from '../regions/regions';
import { selectForEdit } from '../regions/select-object';
import type { Selection } from '../regions/selection';
import { createEditable, type AnyEditable, type SceneSource } from '../scenes/create-editable';
import type { EditSpec } from './edit-spec';
import { prepareViews, type EditFrame, type EditView } from './edit-views';

/** An edit ready to run: its editable scene and training views. */
export interface OpenEdit {
  scene: AnyEditable;
  views: EditView[];
  /** What the edit may change (undefined: the whole scene): its 2D masks and, in object mode, the gate. */
  selection: Selection | undefined;
}

/**
 * Selects what the edit may change (`spec.select`: the object in the region, or the region), makes the editable
 * for the source scene (whatever its kind) with the spec's options, backend and that gate, and the training
 * views of the frames (frozen source renders, depth-aware masks). `frames` may be made from the editable (the
 * viewer's training images are renders of the scene). An empty or whole-scene selection is a UserError here,
 * before any refit.
 */
export async function openEdit(
  source: SceneSource,
  spec: EditSpec,
  region: Region | undefined,
  frames: EditFrame[] | ((scene: AnyEditable) => Promise<EditFrame[]>),
  onView?: (i: number, n: number) => void,
): Promise<OpenEdit> {
  const sel = region ? selectForEdit(source, region, spec.select) : undefined;
  const scene = await createEditable(source, region, spec.editable, spec.backend, sel?.gate);
  const list = typeof frames === 'function' ? await frames(scene) : frames;
  const views = await prepareViews(scene, list, sel?.selection, spec.dilate, onView);
  return { scene, views, selection: sel?.selection };
}
