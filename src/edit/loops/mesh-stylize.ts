import type { Camera } from '../../core/camera';
import type { Image } from '../../core/image';
import { Rng } from '../../core/rng';
import type { Mesh } from '../../nerf/mesh/mesh';
import { boundingSphere } from '../../nerf/mesh/mesh';
import { randomViews, ringViews, type MeshViewOptions } from '../../nerf/mesh/mesh-views';
import type { StyleFieldRunnerFactory } from '../../nerf/mesh/style-field';
import type { Region } from '../regions/regions';
import type { AnyEditable } from '../scenes/create-editable';
import type { EditedMesh } from '../scenes/mesh-editable';
import type { EditMethod } from './edit-config';
import { runEdit, type EditGuide } from './edit-run';
import { buildEditSpec, type EditOptions, type EditSpec } from './edit-spec';
import { sourceFrames } from './edit-views';
import type { CameraSampler } from './image-loss-step';
import type { LoopState } from './loop-state';
import { openEdit } from './open-edit';
import type { EditEvent } from './run-loop';

/**
 * Mesh stylisation (docs/mesh-stylisation.md) on the one edit engine: Text2Mesh's neural style field
 * (`MeshEditable`) guided by the instruction editor (IDU, SDS) or an image loss (Text2Mesh's CLIP loss), built by
 * `buildEditSpec` / `openEdit` and run by `runEdit` as scene edits are. A mesh has no dataset: its training views
 * are renders of the input from cameras around it, placed as Text2Mesh places them. The CLI's `stylize`, the
 * viewer's worker, the tests and the bench all make their views here.
 */

/** The views of a mesh edit: how many, their size (square), and the background (Text2Mesh renders over white). */
export const MESH_VIEW_DEFAULTS = { views: 8, size: 128, background: [1, 1, 1] as [number, number, number] };

/** Seeds the views' random elevations (apart from the field's seed). */
const VIEW_SEED = 0x7a11;

function viewOptions(mesh: Mesh, size: number): MeshViewOptions {
  const { center, radius } = boundingSphere(mesh);
  return { center, radius, size };
}

/**
 * The training views of a mesh edit: a ring of `n` views around the front view at Text2Mesh's random elevations
 * (IDU re-edits them; image-loss edits render their results there), or for SDS `n` views drawn as Text2Mesh draws
 * its views. Deterministic for a seed.
 */
export function meshEditCameras(mesh: Mesh, method: EditMethod, n: number, size: number, seed: number): Camera[] {
  const rng = new Rng(seed ^ VIEW_SEED);
  const o = viewOptions(mesh, size);
  return method === 'sds' ? randomViews(o, n, rng) : ringViews(o, n, rng);
}

/** The cameras of each image-loss step: Text2Mesh's views around the front view, drawn fresh every step. */
export function meshLossCameras(mesh: Mesh, size: number): CameraSampler {
  const o = viewOptions(mesh, size);
  return (n, rng) => randomViews(o, n, rng);
}

export interface StylizeOptions {
  mesh: Mesh;
  background?: [number, number, number];
  /** The edit's options (instruction or prompt, method, iterations, seed, backend, field…); defaults in edit-spec.ts. */
  options: EditOptions;
  /** The instruction editor (idu, sds) or the image loss (image-loss). */
  guide: EditGuide;
  region?: Region;
  /** Training views (default MESH_VIEW_DEFAULTS.views) and their size (default 128; an image loss's own size). */
  views?: number;
  size?: number;
  /** Runs the field on the CPU (default: this thread). */
  fieldRunner?: StyleFieldRunnerFactory;
  onProgress?(ev: EditEvent): void;
  shouldStop?(): boolean;
}

export interface StylizeResult {
  spec: EditSpec;
  /** The stylised mesh (null when stopped early). */
  edited: EditedMesh | null;
  /** The edited views: IDU's final training images, or renders of the result (SDS, image loss). */
  views: { camera: Camera; image: Image }[];
  /** The views' renders of the input mesh. */
  sources: Image[];
  state: LoopState;
  complete: boolean;
  scene: AnyEditable;
}

/** A whole stylisation in one call (tests, bench; the CLI adds checkpoints and logs around the same pieces). */
export async function stylizeMesh(o: StylizeOptions): Promise<StylizeResult> {
  const method = o.options.method ?? 'idu';
  const size = o.size ?? o.guide.imageLoss?.loss.imageSize ?? MESH_VIEW_DEFAULTS.size;
  const cams = meshEditCameras(o.mesh, method, o.views ?? MESH_VIEW_DEFAULTS.views, size, o.options.seed ?? 0);
  const spec = buildEditSpec(o.options, { kind: 'mesh', cameras: cams, region: o.region });
  const source = {
    kind: 'mesh' as const,
    mesh: o.mesh,
    background: o.background ?? MESH_VIEW_DEFAULTS.background,
    fieldRunner: o.fieldRunner,
  };
  const { scene, views } = await openEdit(source, spec, o.region, (sc) => sourceFrames(sc, cams));
  const guide: EditGuide = o.guide.imageLoss
    ? { imageLoss: { cameras: meshLossCameras(o.mesh, size), ...o.guide.imageLoss } }
    : { prior: o.guide.prior };
  const res = await runEdit({ cfg: spec.config, scene, views, ...guide, onProgress: o.onProgress, shouldStop: o.shouldStop });
  const out = [];
  for (let i = 0; i < views.length; i++)
    out.push({
      camera: views[i].camera,
      image: method === 'idu' ? (res.state.targets[i] ?? views[i].original) : await scene.render(views[i].camera),
    });
  return {
    spec,
    edited: res.complete ? (scene.export() as EditedMesh) : null,
    views: out,
    sources: views.map((v) => v.source),
    state: res.state,
    complete: res.complete,
    scene,
  };
}
