import type { Gaussians } from '../../nerf/gaussian/gaussians';
import { gaussianBounds } from '../../nerf/gaussian/gaussians';
import { createGaussianBackend } from '../../nerf/gaussian/gaussian-backend';
import type { BackendName } from '../../nerf/common/backend';
import type { VoxelGrid } from '../../nerf/voxel/voxel-grid';
import { createVoxelBackend } from '../../nerf/voxel/voxel-backend';
import { VoxelGridScene, type VoxelRenderSettings } from '../../nerf/voxel/voxel-grid-scene';
import type { Mesh } from '../../nerf/mesh/mesh';
import { meshBounds } from '../../nerf/mesh/mesh';
import { createMeshRaster } from '../../nerf/mesh/mesh-backend';
import type { StyleFieldRunnerFactory } from '../../nerf/mesh/style-field';
import type { Bounds, Region } from '../regions/regions';
import type { EditableScene } from './editable';
import { GaussianEditable, type EditedGaussians, type GaussianEditOptions } from './gaussian-editable';
import { MeshEditable, type EditedMesh, type MeshEditOptions } from './mesh-editable';
import { VoxelEditable, type EditedVoxels, type VoxelEditOptions } from './voxel-editable';

/**
 * The scene kinds an edit works on, in one place: what a scene to edit is (`SceneSource`), what an edit makes
 * of it (`EditedScene`, what `EditableScene.export()` returns), each kind's editable options, and the factory.
 * Adding a kind means one editable (an `EditableScene` implementation) and one branch here.
 */
/** A scene to edit: the representation's parameters and how it renders. */
export type SceneSource =
  | { kind: 'voxel'; grid: VoxelGrid; background: [number, number, number]; render?: VoxelRenderSettings }
  | { kind: 'gaussians'; gaussians: Gaussians; background: [number, number, number] }
  | {
      kind: 'mesh';
      mesh: Mesh;
      background: [number, number, number];
      /**
       * Runs the style field on the CPU (default: this thread; the CLI passes its worker-thread pool). The WebGPU
       * backend runs it on the GPU.
       */
      fieldRunner?: StyleFieldRunnerFactory;
    };

export type SceneKind = SceneSource['kind'];

/** An edited scene, tagged with its kind. */
export type EditedScene = EditedVoxels | EditedGaussians | EditedMesh;

/** Any editable scene the factory makes. */
export type AnyEditable = EditableScene<EditedScene>;

/** The options of each kind's editable (an edit uses its scene's). */
export interface EditableOptions {
  voxel: Partial<VoxelEditOptions>;
  gaussians: Partial<GaussianEditOptions>;
  mesh: MeshEditOptions;
}

/**
 * A fresh editable for `source`, limited to `region`, rendering and computing gradients on `backend`. `gate`,
 * when given, says which elements may change instead of the region (an object selection: vertices of a voxel
 * grid, rows of Gaussians; `src/edit/regions/select-object.ts`).
 */
export async function createEditable(
  source: SceneSource,
  region: Region | undefined,
  options: EditableOptions,
  backend: BackendName = 'cpu',
  gate?: Uint8Array,
): Promise<AnyEditable> {
  switch (source.kind) {
    case 'voxel': {
      const march = new VoxelGridScene(source.grid, source.background, source.render).marchParams();
      const backends = { work: await createVoxelBackend(backend), source: await createVoxelBackend(backend) };
      return new VoxelEditable(source.grid, source.background, region, options.voxel, march, backends, gate);
    }
    case 'gaussians':
      return new GaussianEditable(
        source.gaussians,
        source.background,
        region,
        options.gaussians,
        await createGaussianBackend(backend),
        gate,
      );
    case 'mesh': {
      const runner = backend === 'webgpu' ? (await import('../../nerf/mesh/style-field-webgpu')).webGpuFieldRunner : source.fieldRunner;
      return MeshEditable.create(source.mesh, source.background, region, options.mesh, await createMeshRaster(backend), runner);
    }
  }
}

/** Where a scene lies (region checks; visual hulls when a dataset declares no box). */
export function sourceBounds(source: SceneSource): Bounds {
  if (source.kind === 'gaussians') return gaussianBounds(source.gaussians);
  if (source.kind === 'mesh') return meshBounds(source.mesh);
  return { min: [...source.grid.box.min], max: [...source.grid.box.max] };
}
