import { UserError } from '../../core/errors';
import { extname, joinPath } from '../../core/paths';
import type { Scene } from '../../nerf/common/scene';
import { VoxelScene } from '../../nerf/voxel/voxel-scene';
import type { FileSink, FileSource } from '../files/files';
import { parseJson } from '../files/files';
import { decodeVoxelScene, encodeVoxelScene, type VoxelFile } from '../formats/voxel-format';

/**
 * Scene folders and files.
 *
 * A scene folder holds a manifest `scene.json`:
 *   `{"format": "instruct-scene", "version": 1, "kind": "voxel" | "gaussians", "file": "scene.voxel" | "scene.ply", ...}`
 * plus the file it names. `fit --repr voxel` writes `scene.voxel` (see voxel-format.ts); `fit --repr gaussians`
 * writes `scene.ply`. `loadScene` also takes a bare `.voxel`, `.ply` or `.splat` file.
 */
export interface SceneManifest {
  format: 'instruct-scene';
  version: number;
  kind: 'voxel' | 'gaussians' | 'mesh';
  file: string;
  [key: string]: unknown;
}

export const MANIFEST = 'scene.json';
export const VOXEL_FILE = 'scene.voxel';

export async function readManifest(dir: string, files: FileSource): Promise<SceneManifest> {
  const p = joinPath(dir, MANIFEST);
  const m = parseJson(await files.read(p), p);
  if (typeof m !== 'object' || m === null || m.format !== 'instruct-scene')
    throw new UserError('not an instruct-scene manifest (format must be "instruct-scene")', p);
  if (typeof m.version !== 'number' || m.version > 1)
    throw new UserError(`manifest version ${JSON.stringify(m.version)} is not supported (this program reads version 1)`, p);
  if (m.kind !== 'voxel' && m.kind !== 'gaussians' && m.kind !== 'mesh')
    throw new UserError(`kind must be "voxel", "gaussians" or "mesh", got ${JSON.stringify(m.kind)}`, p);
  if (typeof m.file !== 'string' || !m.file || m.file.includes('..'))
    throw new UserError('"file" must name a file inside the scene folder', p);
  return m as SceneManifest;
}

/** Loads a voxel scene file into a VoxelScene (CPU renderer). */
export async function loadVoxelScene(path: string, files: FileSource): Promise<VoxelScene> {
  const f = decodeVoxelScene(await files.read(path), path);
  const s = new VoxelScene(f.grid, f.background, f.render);
  s.meta = f.meta;
  return s;
}

/**
 * Loads a scene from a folder (with scene.json), a `.voxel` file, or a Gaussian `.ply` / `.splat` file.
 * Errors are UserErrors naming the path.
 */
export async function loadScene(path: string, files: FileSource): Promise<Scene> {
  const p = path.replace(/\/+$/, '') || '.';
  const ext = extname(p);
  if (ext === '.voxel') return loadVoxelScene(p, files);
  if (ext === '.ply' && (await isMeshFile(p, files))) return loadMesh(p, files);
  if (ext === '.ply' || ext === '.splat') return loadGaussianScene(p, files);
  if (ext === '.obj' || ext === '.glb' || ext === '.gltf') return loadMesh(p, files);
  if (!(await files.exists(joinPath(p, MANIFEST)))) {
    if (!(await files.exists(p)))
      throw new UserError('no such scene (expected a scene folder, .voxel, .ply, .splat, or a mesh: .obj, .glb, .gltf)', p);
    throw new UserError(
      `not a scene: no ${MANIFEST} here (scene folders come from 'instruct-scene fit' or 'stylize'; files must end in .voxel, .ply, .splat, .obj, .glb or .gltf)`,
      p,
    );
  }
  const m = await readManifest(p, files);
  const file = joinPath(p, m.file);
  if (m.kind === 'voxel') return loadVoxelScene(file, files);
  if (m.kind === 'mesh') return loadMesh(file, files);
  return loadGaussianScene(file, files);
}

// ── Gaussian branch (owned by the Gaussian engineer) ──────────────────────────────────────────────────────
// `.ply` / `.splat` files and folders whose manifest kind is 'gaussians' come here. The module is imported
// lazily so voxel-only use never loads the Gaussian code.
async function loadGaussianScene(path: string, files: FileSource): Promise<Scene> {
  const mod = await import('./load-gaussian-scene');
  return mod.loadGaussianScene(path, files);
}

// ── Mesh branch: .obj / .glb / .gltf files, PLYs with faces, folders whose manifest kind is 'mesh' (loaded lazily).
async function isMeshFile(path: string, files: FileSource): Promise<boolean> {
  const { isPlyMesh } = await import('../formats/ply-mesh');
  return isPlyMesh(await files.read(path), path);
}
async function loadMesh(path: string, files: FileSource): Promise<Scene> {
  const mod = await import('./load-mesh');
  return mod.loadMeshScene(path, files);
}

/** Writes a voxel scene folder: `scene.voxel` + `scene.json` (each written atomically; the manifest last). */
export async function saveVoxelScene(dir: string, f: VoxelFile, files: FileSink, extra: Record<string, unknown> = {}): Promise<void> {
  await files.mkdir(dir);
  await files.write(joinPath(dir, VOXEL_FILE), encodeVoxelScene(f));
  const manifest: SceneManifest = { format: 'instruct-scene', version: 1, kind: 'voxel', file: VOXEL_FILE, ...extra };
  await files.write(joinPath(dir, MANIFEST), JSON.stringify(manifest, null, 2) + '\n');
}
