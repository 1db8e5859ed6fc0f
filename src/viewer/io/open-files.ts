import { UserError } from '../../core/errors';
import type { Camera } from '../../core/camera';
import { basename, dirname, extname, joinPath } from '../../core/paths';
import { loadDataset } from '../../io/datasets/dataset';
import { readManifest } from '../../io/scenes/load-scene';
import { readGaussianPly, readPointCloud } from '../../io/formats/ply';
import { readSplat } from '../../io/formats/splat';
import { decodeVoxelScene } from '../../io/formats/voxel-format';
import { gaussiansFromPoints, type Gaussians } from '../../nerf/gaussian/gaussians';
import type { VoxelGrid } from '../../nerf/voxel/voxel-grid';
import type { Mesh } from '../../nerf/mesh/mesh';
import { isPlyMesh } from '../../io/formats/ply-mesh';
import { decodeMesh } from '../../io/scenes/load-mesh';
import { MemoryFiles } from './memory-files';

/** What opening files yields: a scene to show and/or a dataset's cameras. Pure data (posted from the worker). */
export interface OpenedScene {
  name: string;
  gaussians?: Gaussians;
  voxel?: { grid: VoxelGrid; background: [number, number, number]; stepRatio: number };
  mesh?: Mesh;
  background: [number, number, number];
}
export interface OpenResult {
  scene: OpenedScene | null;
  dataset: { name: string; cameras: Camera[] } | null;
}

/** Background for Gaussian files, which do not store one (3DGS renders over black). */
export const SPLAT_BACKGROUND: [number, number, number] = [0, 0, 0];
/** Background for mesh files (stylisation renders over white, as Text2Mesh's demos). */
export const MESH_BACKGROUND: [number, number, number] = [1, 1, 1];
/** At most this many sparse points of a dataset are shown. */
const MAX_SPARSE_POINTS = 300_000;

async function openSceneFile(path: string, files: MemoryFiles, background?: [number, number, number]): Promise<OpenedScene> {
  const ext = extname(path).toLowerCase();
  const bytes = await files.read(path);
  if (ext === '.voxel') {
    const f = decodeVoxelScene(bytes, path);
    return {
      name: basename(path),
      voxel: { grid: f.grid, background: f.background, stepRatio: f.render.stepRatio },
      background: f.background,
    };
  }
  if (ext === '.obj' || ext === '.glb' || ext === '.gltf' || (ext === '.ply' && isPlyMesh(bytes, path))) {
    const mesh = await decodeMesh(bytes, path, async (uri) => {
      const p = joinPath(dirname(path), uri);
      return (await files.exists(p)) ? files.read(p) : null;
    });
    return { name: basename(path), mesh, background: background ?? MESH_BACKGROUND };
  }
  if (ext === '.ply') return { name: basename(path), gaussians: readGaussianPly(bytes, path), background: background ?? SPLAT_BACKGROUND };
  if (ext === '.splat') {
    return { name: basename(path), gaussians: readSplat(bytes, path), background: background ?? SPLAT_BACKGROUND };
  }
  throw new UserError(
    `cannot open ${ext || 'files without an extension'} (open .ply, .splat, .voxel, a mesh (.obj, .glb, .gltf), a scene folder with scene.json, or a dataset folder with transforms.json)`,
    path,
  );
}

/**
 * Opens what the user dropped or picked: a scene folder (scene.json), a dataset folder (transforms.json; its
 * cameras, plus its sparse points as Gaussians when it names a ply), or single .ply / .splat / .voxel files.
 * Errors are UserErrors naming the file.
 */
export async function openFiles(files: MemoryFiles): Promise<OpenResult> {
  const paths = files.paths().sort((a, b) => a.split('/').length - b.split('/').length || a.localeCompare(b));
  if (paths.length === 0) throw new UserError('nothing to open (no files were given)');
  const manifest = paths.find((p) => basename(p) === 'scene.json');
  if (manifest) {
    const dir = dirname(manifest);
    const m = await readManifest(dir, files);
    const bg = Array.isArray(m.background) && m.background.length === 3 ? (m.background as [number, number, number]) : undefined;
    const scene = await openSceneFile(joinPath(dir, m.file), files, bg);
    if (dir !== '.') scene.name = basename(dir);
    return { scene, dataset: null };
  }
  const transforms = paths.find((p) => /^transforms(_train)?\.json$/.test(basename(p)));
  if (transforms) {
    const dir = dirname(transforms);
    const ds = await loadDataset(dir === '' ? '.' : dir, files);
    const name = dir === '.' ? 'dataset' : basename(dir);
    let scene: OpenedScene | null = null;
    if (ds.plyPath && (await files.exists(ds.plyPath))) {
      const pc = readPointCloud(await files.read(ds.plyPath), ds.plyPath);
      const g = gaussiansFromPoints(pc.xyz, pc.rgb, { maxPoints: MAX_SPARSE_POINTS, opacity: 0.9 });
      scene = { name: `${name} sparse points`, gaussians: g, background: ds.background };
    }
    return { scene, dataset: { name, cameras: ds.frames.map((f) => f.camera) } };
  }
  const sceneFiles = paths.filter((p) => ['.ply', '.splat', '.voxel', '.obj', '.glb', '.gltf'].includes(extname(p).toLowerCase()));
  if (sceneFiles.length === 0)
    throw new UserError(
      'nothing to open: expected a .ply, .splat or .voxel file, a mesh (.obj, .ply, .glb, .gltf), a scene folder (scene.json) or a dataset folder (transforms.json)',
      paths[0],
    );
  return { scene: await openSceneFile(sceneFiles[0], files), dataset: null };
}
