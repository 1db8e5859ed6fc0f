import { describeValue, UserError } from '../../core/errors';
import { extname, insidePathProblem, joinPath } from '../../core/paths';
import type { Scene } from '../../nerf/common/scene';
import { VoxelGridScene } from '../../nerf/voxel/voxel-grid-scene';
import type { FileSink, FileSource } from '../files/files';
import { readJson } from '../files/files';
import { decodeVoxelScene, encodeVoxelScene, type VoxelFile } from '../formats/voxel-format';
import { isGaussianFileName } from '../formats/gaussian-formats';

/**
 * Scene folders and files.
 *
 * A scene folder holds a manifest `scene.json`:
 *   `{"format": "instruct-scene", "version": 1, "kind": "voxel" | "gaussians" | "mesh", "file": "scene.voxel" | "scene.ply" | "scene.glb", ...}`
 * plus the file it names. `fit --repr voxel` writes `scene.voxel` (see voxel-format.ts); `fit --repr gaussians`
 * writes `scene.ply`; `stylize` writes `scene.glb` (load-mesh.ts). `loadScene` also takes a bare `.voxel` file, a
 * Gaussian file (`.ply`, `.compressed.ply`, `.spz`, `.sog`, a SOG `meta.json`, `.splat`; see
 * src/io/formats/gaussian-formats.ts) or a mesh file (`.obj`, a `.ply` with faces, `.glb`, `.gltf`).
 */
export interface SceneManifest {
  format: 'instruct-scene';
  version: number;
  kind: 'voxel' | 'gaussians' | 'mesh';
  file: string;
  [key: string]: unknown;
}

export const MANIFEST = 'scene.json';
const GAUSSIAN_FILES = '.ply, .compressed.ply, .spz, .sog, SOG meta.json or .splat';
const MESH_FILES = 'a mesh (.obj, .ply with faces, .glb, .gltf)';
export const VOXEL_FILE = 'scene.voxel';

/**
 * Checks a parsed manifest field by field (throws a UserError naming `p`): format, version 1, kind, a "file"
 * inside the scene folder (no absolute paths, no `..` out of it), an RGB background in [0, 1], an object meta.
 */
export function checkManifest(m: any, p: string): SceneManifest {
  if (typeof m !== 'object' || m === null || Array.isArray(m) || m.format !== 'instruct-scene')
    throw new UserError('not an instruct-scene manifest (format must be "instruct-scene")', p);
  if (m.version !== 1)
    throw new UserError(`manifest version ${describeValue(m.version, 40)} is not supported (this program reads version 1)`, p);
  if (m.kind !== 'voxel' && m.kind !== 'gaussians' && m.kind !== 'mesh')
    throw new UserError(`kind must be "voxel", "gaussians" or "mesh", got ${describeValue(m.kind, 40)}`, p);
  const problem = insidePathProblem(m.file);
  if (problem) throw new UserError(`"file" must name a file inside the scene folder: it ${problem}`, p);
  if (m.background !== undefined && !isRgb(m.background))
    throw new UserError(`background must be RGB, three numbers in [0, 1], got ${describeValue(m.background, 60)}`, p);
  if (m.meta !== undefined && (typeof m.meta !== 'object' || m.meta === null || Array.isArray(m.meta)))
    throw new UserError('meta must be an object', p);
  return m as SceneManifest;
}

/** Three finite numbers in [0, 1]. */
export function isRgb(v: unknown): v is [number, number, number] {
  return Array.isArray(v) && v.length === 3 && v.every((x) => typeof x === 'number' && x >= 0 && x <= 1);
}

export async function readManifest(dir: string, files: FileSource): Promise<SceneManifest> {
  const p = joinPath(dir, MANIFEST);
  return checkManifest(await readJson(files, p), p);
}

/** Loads a voxel scene file into a VoxelGridScene (CPU renderer). */
export async function loadVoxelScene(path: string, files: FileSource): Promise<VoxelGridScene> {
  const f = decodeVoxelScene(await files.read(path), path);
  const s = new VoxelGridScene(f.grid, f.background, f.render);
  s.meta = f.meta;
  return s;
}

/**
 * Loads a scene from a folder (with scene.json), a `.voxel` file, or a Gaussian file.
 * Errors are UserErrors naming the path.
 */
export async function loadScene(path: string, files: FileSource): Promise<Scene> {
  const p = path.replace(/\/+$/, '') || '.';
  const ext = extname(p);
  if (ext === '.voxel') return loadVoxelScene(p, files);
  if (ext === '.obj' || ext === '.glb' || ext === '.gltf') return loadMesh(p, files);
  if (ext === '.ply' && !/\.compressed\.ply$/i.test(p)) return loadPly(p, files);
  if (isGaussianFileName(p)) return loadGaussianScene(p, files);
  if (!(await files.exists(joinPath(p, MANIFEST)))) {
    if (!(await files.exists(p)))
      throw new UserError(`no such scene (expected a scene folder, .voxel, ${GAUSSIAN_FILES}, or ${MESH_FILES})`, p);
    throw new UserError(
      `not a scene: no ${MANIFEST} here (scene folders come from 'instruct-scene fit' or 'stylize'; files must be .voxel, ${GAUSSIAN_FILES}, or ${MESH_FILES})`,
      p,
    );
  }
  const m = await readManifest(p, files);
  const file = joinPath(p, m.file);
  if (m.kind === 'voxel') return loadVoxelScene(file, files);
  if (m.kind === 'mesh') return loadMesh(file, files);
  return loadGaussianScene(file, files);
}

/**
 * A `.ply` is a mesh when its header declares faces, else Gaussians (or a point cloud): the file is read once and
 * its bytes go to the reader its header calls for.
 */
async function loadPly(path: string, files: FileSource): Promise<Scene> {
  if (!(await files.exists(path))) throw new UserError('no such file', path);
  const bytes = await files.read(path);
  const { isPlyMesh } = await import('../formats/ply-mesh');
  if (isPlyMesh(bytes, path)) return loadMesh(path, files, bytes);
  return loadGaussianScene(path, files, bytes);
}

// ── Gaussian branch ──────────────────────────────────────────────────────────────────────────────────────────
// Gaussian files and folders whose manifest kind is 'gaussians' come here. The module is imported
// lazily so voxel-only use never loads the Gaussian code.
async function loadGaussianScene(path: string, files: FileSource, bytes?: Uint8Array): Promise<Scene> {
  const mod = await import('./load-gaussian-scene');
  return mod.loadGaussianScene(path, files, bytes);
}

// ── Mesh branch: .obj / .glb / .gltf files, PLYs with faces, folders whose manifest kind is 'mesh' (loaded lazily).
async function loadMesh(path: string, files: FileSource, bytes?: Uint8Array): Promise<Scene> {
  const mod = await import('./load-mesh');
  return mod.loadMeshScene(path, files, bytes);
}

/** Writes a voxel scene folder: `scene.voxel` + `scene.json` (each written atomically; the manifest last). */
export async function saveVoxelScene(dir: string, f: VoxelFile, files: FileSink, extra: Record<string, unknown> = {}): Promise<void> {
  await files.mkdir(dir);
  await files.write(joinPath(dir, VOXEL_FILE), encodeVoxelScene(f));
  const manifest: SceneManifest = { format: 'instruct-scene', version: 1, kind: 'voxel', file: VOXEL_FILE, ...extra };
  await files.write(joinPath(dir, MANIFEST), JSON.stringify(manifest, null, 2) + '\n');
}
