import type { Region } from '../regions/regions';
import { createEditable, type AnyEditable, type SceneSource } from '../scenes/create-editable';
import type { EditSpec } from './edit-spec';
import { prepareViews, type EditFrame, type EditView } from './edit-views';

/** An edit ready to run: its editable scene and training views. */
export interface OpenEdit {
  scene: AnyEditable;
  views: EditView[];
}

/**
 * Makes the editable for the source scene (whatever its kind) with the spec's options and backend, and the
 * training views of the frames (frozen source renders, region masks). `frames` may be made from the editable
 * (the viewer's training images are renders of the scene).
 */
export async function openEdit(
  source: SceneSource,
  spec: EditSpec,
  region: Region | undefined,
  frames: EditFrame[] | ((scene: AnyEditable) => Promise<EditFrame[]>),
  onView?: (i: number, n: number) => void,
): Promise<OpenEdit> {
  const scene = await createEditable(source, region, spec.editable, spec.backend);
  const list = typeof frames === 'function' ? await frames(scene) : frames;
  const views = await prepareViews(scene, list, region, spec.dilate, onView);
  return { scene, views };
}
