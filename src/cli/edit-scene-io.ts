import { UserError } from '../core/errors';
import type { EditableScene } from '../edit/scenes/editable';
import type { GaussianEditOptions } from '../edit/scenes/gaussian-editable';
import type { Bounds, Region } from '../edit/regions/regions';
import { VoxelEditable, type VoxelEditOptions } from '../edit/scenes/voxel-editable';
import { loadScene, saveVoxelScene } from '../io/scenes/load-scene';
import { nodeFiles } from '../io/node/node-files';
import type { Gaussians } from '../nerf/gaussian/gaussians';
import { gaussianBounds } from '../nerf/gaussian/gaussians';
import type { Vec3 } from '../core/math';
import { VoxelGridScene } from '../nerf/voxel/voxel-grid-scene';
import type { BackendName } from '../nerf/common/backend';
import { createVoxelBackend } from '../nerf/voxel/voxel-backend';
import { createGaussianBackend } from '../nerf/gaussian/gaussian-backend';

/** A loaded parent scene, ready to be edited (a fresh EditableScene per call) and saved. */
export interface ParentScene {
  kind: 'voxel' | 'gaussians';
  /** Where the scene lies (region validation and visual hulls when the dataset declares no box). */
  bounds: Bounds;
  /**
   * A fresh scene to edit; `opts` for voxel grids, `gaussianOpts` for Gaussians (the other is ignored);
   * renders and gradients on `backend` (default cpu).
   */
  editable(
    region: Region | undefined,
    opts: Partial<VoxelEditOptions>,
    gaussianOpts?: Partial<GaussianEditOptions>,
    backend?: BackendName,
  ): Promise<EditableScene>;
  save(scene: EditableScene, out: string, meta: Record<string, unknown>): Promise<void>;
}

/** Loads SCENE for `edit`: voxel folders/files now; Gaussian scenes when their loader provides the Gaussians. */
export async function loadEditableScene(path: string, datasetBackground: [number, number, number]): Promise<ParentScene> {
  const scene = await loadScene(path, nodeFiles);
  if (scene instanceof VoxelGridScene) {
    const vs = scene;
    return {
      kind: 'voxel',
      bounds: { min: [...vs.grid.box.min] as Vec3, max: [...vs.grid.box.max] as Vec3 },
      editable: async (region, opts, _g, backend = 'cpu') =>
        new VoxelEditable(vs.grid, vs.background, region, opts, vs.marchParams(), {
          work: await createVoxelBackend(backend),
          source: await createVoxelBackend(backend),
        }),
      async save(ed, out, meta) {
        const grid = (ed as VoxelEditable).grid;
        await saveVoxelScene(
          out,
          { grid, background: vs.background, render: vs.settings, meta: { ...(vs.meta ?? {}), edit: meta } },
          nodeFiles,
          { edit: meta },
        );
      },
    };
  }
  const gs = (scene as unknown as { gaussians?: Gaussians }).gaussians;
  if (scene.kind === 'gaussians' && gs) {
    const [{ GaussianEditable }, { saveGaussianScene }] = await Promise.all([
      import('../edit/scenes/gaussian-editable'),
      import('../io/scenes/load-gaussian-scene'),
    ]);
    const bg = scene.background ?? datasetBackground;
    return {
      kind: 'gaussians',
      bounds: gaussianBounds(gs),
      editable: async (region, opts, gaussianOpts = {}, backend = 'cpu') =>
        new GaussianEditable(
          gs,
          bg,
          region,
          { ...(opts.lrColor !== undefined ? { lrColor: opts.lrColor } : {}), ...gaussianOpts },
          await createGaussianBackend(backend),
        ),
      async save(ed, out, meta) {
        await saveGaussianScene(out, (ed as InstanceType<typeof GaussianEditable>).g, bg, nodeFiles, { edit: meta });
      },
    };
  }
  throw new UserError(`editing ${scene.kind} scenes is not supported by this build`, path);
}

export async function saveEditedScene(
  parent: ParentScene,
  scene: EditableScene,
  out: string,
  meta: Record<string, unknown> = {},
): Promise<void> {
  await parent.save(scene, out, meta);
}
