import { UserError } from '../core/errors';
import type { EditedScene, SceneSource } from '../edit/scenes/create-editable';
import { loadScene, saveVoxelScene } from '../io/scenes/load-scene';
import { isDirectory, nodeFiles } from '../io/node/node-files';
import type { GaussianScene } from '../nerf/gaussian/gaussian-scene';
import { VoxelGridScene } from '../nerf/voxel/voxel-grid-scene';
import { MeshScene } from '../nerf/mesh/mesh-scene';
import { extname, joinPath } from '../core/paths';
import { readJson } from '../io/files/files';
import { isMeshExtension, plyFileIsMesh } from '../io/scenes/load-mesh';

/** A scene loaded for `edit`: what to edit, and the metadata its folder carries (fit's orbit, dataset, background). */
export interface LoadedSource {
  source: SceneSource;
  meta: Record<string, unknown>;
}

/** Whether SCENE names a mesh (a mesh file, or a scene folder whose manifest says kind mesh), read cheaply. */
export async function isMeshInput(path: string): Promise<boolean> {
  try {
    if (await isDirectory(path)) {
      const manifest = joinPath(path, 'scene.json');
      return (await nodeFiles.exists(manifest)) && (await readJson(nodeFiles, manifest)).kind === 'mesh';
    }
    if (extname(path) === '.ply') return await plyFileIsMesh(path, nodeFiles);
    return isMeshExtension(path);
  } catch {
    return false; // unreadable: loading the scene says why
  }
}

/** Loads SCENE (a voxel, Gaussian or mesh scene folder, or a .voxel, Gaussian or mesh file) for `edit` and `stylize`. */
export async function loadEditSource(path: string, datasetBackground: [number, number, number]): Promise<LoadedSource> {
  const scene = await loadScene(path, nodeFiles);
  if (scene instanceof VoxelGridScene)
    return { source: { kind: 'voxel', grid: scene.grid, background: scene.background, render: scene.settings }, meta: scene.meta ?? {} };
  if (scene.kind === 'gaussians') {
    const gs = scene as GaussianScene;
    return { source: { kind: 'gaussians', gaussians: gs.gaussians, background: gs.background ?? datasetBackground }, meta: gs.meta ?? {} };
  }
  if (scene instanceof MeshScene)
    return { source: { kind: 'mesh', mesh: scene.mesh, background: scene.background }, meta: scene.meta ?? {} };
  throw new UserError(`editing ${scene.kind} scenes is not supported by this build`, path);
}

/**
 * The metadata of an edited scene: everything its parent carried (fit's orbit, the dataset, the background),
 * this edit as `edit`, and every edit so far, oldest first, as `edits`.
 */
export function editedMeta(parent: Record<string, unknown>, edit: Record<string, unknown>): Record<string, unknown> {
  const before = Array.isArray(parent.edits) ? parent.edits : parent.edit ? [parent.edit] : [];
  return { ...parent, edit, edits: [...before, edit] };
}

/** Writes an edited scene folder (`scene.json` + `scene.voxel` / `scene.ply` / `scene.glb`); its manifest names the edit. */
export async function saveEditedScene(
  out: string,
  parent: LoadedSource,
  edited: EditedScene,
  edit: Record<string, unknown>,
): Promise<void> {
  const meta = editedMeta(parent.meta, edit);
  switch (edited.kind) {
    case 'voxel': {
      const render = (parent.source.kind === 'voxel' && parent.source.render) || { stepRatio: 0.5, near: 0 };
      await saveVoxelScene(out, { grid: edited.grid, background: edited.background, render, meta }, nodeFiles, { edit });
      return;
    }
    case 'gaussians': {
      const { saveGaussianScene } = await import('../io/scenes/load-gaussian-scene');
      await saveGaussianScene(out, edited.gaussians, edited.background, nodeFiles, { meta, edit });
      return;
    }
    case 'mesh': {
      const { saveMeshScene } = await import('../io/scenes/load-mesh');
      await saveMeshScene(out, edited.mesh, edited.background, nodeFiles, { meta, edit });
      return;
    }
  }
}
