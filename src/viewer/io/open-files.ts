import { UserError } from '../../core/errors';
import type { Camera } from '../../core/camera';
import { basename, dirname, extname, joinPath } from '../../core/paths';
import { loadDataset } from '../../io/datasets/dataset';
import { readManifest } from '../../io/scenes/load-scene';
import { readPointCloud } from '../../io/formats/ply';
import { decodeVoxelScene } from '../../io/formats/voxel-format';
import { formatFromName, readGaussians } from '../../io/formats/gaussian-formats';
import { BYTES_PER_GAUSSIAN } from '../../io/formats/gaussian-limits';
import { checkGaussiansFinite, gaussiansFromPoints, type Gaussians } from '../../nerf/gaussian/gaussians';
import type { VoxelGrid } from '../../nerf/voxel/voxel-grid';
import type { Mesh } from '../../nerf/mesh/mesh';
import { isPlyMesh } from '../../io/formats/ply-mesh';
import { decodeMesh, resourcesBeside } from '../../io/scenes/load-mesh';
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

/** Background for Gaussian files, which do not store one (3DGS renders over black); the UI can change it. */
export const SPLAT_BACKGROUND: [number, number, number] = [0, 0, 0];
/** Background for mesh files (stylisation renders over white, as Text2Mesh's demos). */
export const MESH_BACKGROUND: [number, number, number] = [1, 1, 1];
/** At most this many sparse points of a dataset are shown. */
const MAX_SPARSE_POINTS = 300_000;
/** The largest file a browser tab reads into one ArrayBuffer. */
export const MAX_FILE_BYTES = 2 ** 31 - 1;
/**
 * Gaussians the viewer holds: each takes its `Gaussians` form (edits, export) plus the drawing buffers (4 vec4
 * and 45 SH floats), about 480 bytes; 2 GiB of them is what a browser tab can be expected to keep.
 */
export const MAX_VIEWER_GAUSSIANS = Math.floor(2 ** 31 / (BYTES_PER_GAUSSIAN + (16 + 45) * 4));

export interface OpenOptions {
  /** Background for Gaussian files opened without a scene folder (the UI's setting). */
  background?: [number, number, number];
  /** Parsing progress (0..1) and what is being parsed. */
  onProgress?: (fraction: number, what: string) => void;
}

const gb = (n: number) => `${(n / 2 ** 30).toFixed(1)} GB`;

async function readChecked(path: string, files: MemoryFiles): Promise<Uint8Array> {
  const size = await files.size(path);
  if (size !== null && size > MAX_FILE_BYTES)
    throw new UserError(
      `this file is ${gb(size)}; the viewer can read files up to ${gb(MAX_FILE_BYTES)} (use the instruct-scene CLI, or reduce it with splat-transform --decimate)`,
      path,
    );
  return files.read(path);
}

async function openSceneFile(
  path: string,
  files: MemoryFiles,
  background?: [number, number, number],
  opts: OpenOptions = {},
): Promise<OpenedScene> {
  const ext = extname(path).toLowerCase();
  const bytes = await readChecked(path, files);
  if (ext === '.voxel') {
    const f = decodeVoxelScene(bytes, path);
    return {
      name: basename(path),
      voxel: { grid: f.grid, background: f.background, stepRatio: f.render.stepRatio },
      background: f.background,
    };
  }
  if (
    ext === '.obj' ||
    ext === '.glb' ||
    ext === '.gltf' ||
    (ext === '.ply' && !/\.compressed\.ply$/i.test(path) && isPlyMesh(bytes, path))
  ) {
    const mesh = await decodeMesh(bytes, path, resourcesBeside(path, files));
    return { name: basename(path), mesh, background: background ?? MESH_BACKGROUND };
  }
  if (formatFromName(path)) {
    const { gaussians } = await readGaussians(bytes, path, files, {
      maxCount: MAX_VIEWER_GAUSSIANS,
      limitReason: 'the viewer can hold about',
      onProgress: opts.onProgress ? (f) => opts.onProgress!(f, basename(path)) : undefined,
    });
    checkGaussiansFinite(gaussians, path);
    const name = basename(path) === 'meta.json' && dirname(path) !== '.' ? basename(dirname(path)) : basename(path);
    return { name, gaussians, background: background ?? opts.background ?? SPLAT_BACKGROUND };
  }
  throw new UserError(`cannot open ${ext || 'files without an extension'} (open ${OPENABLE})`, path);
}

const OPENABLE =
  '.ply, .compressed.ply, .spz, .sog, .splat, .voxel, a mesh (.obj, .ply with faces, .glb, .gltf), a SOG folder (meta.json), a scene folder (scene.json), or a dataset folder (transforms.json or COLMAP sparse/)';

/**
 * Opens what the user dropped or picked: a scene folder (scene.json), a dataset folder (transforms.json or a
 * COLMAP model; its cameras, plus its sparse points as Gaussians), a SOG folder (meta.json + images), or a
 * single Gaussian file (.ply, .compressed.ply, .spz, .sog, .splat; the kind is read from the content), .voxel, or
 * mesh (.obj, a .ply with faces, .glb, .gltf with its buffers and images beside it).
 * Errors are UserErrors naming the file.
 */
export async function openFiles(files: MemoryFiles, opts: OpenOptions = {}): Promise<OpenResult> {
  const paths = files.paths().sort((a, b) => a.split('/').length - b.split('/').length || a.localeCompare(b));
  if (paths.length === 0) throw new UserError('nothing to open (no files were given)');
  const manifest = paths.find((p) => basename(p) === 'scene.json');
  if (manifest) {
    const dir = dirname(manifest);
    const m = await readManifest(dir, files);
    const bg = Array.isArray(m.background) && m.background.length === 3 ? (m.background as [number, number, number]) : undefined;
    const scene = await openSceneFile(joinPath(dir, m.file), files, bg, opts);
    if (dir !== '.') scene.name = basename(dir);
    return { scene, dataset: null };
  }
  const transforms = paths.find((p) => /^transforms(_train)?\.json$/.test(basename(p)));
  // a COLMAP capture: <root>/sparse[/0]/cameras.(bin|txt)
  const colmap = transforms ? undefined : paths.find((p) => /(^|\/)sparse(\/0)?\/cameras\.(bin|txt)$/.test(p));
  if (transforms || colmap) {
    const dir = transforms ? dirname(transforms) : dirname(colmap!).replace(/\/?sparse(\/0)?$/, '') || '.';
    const ds = await loadDataset(dir === '' ? '.' : dir, files);
    const name = dir === '.' ? 'dataset' : basename(dir);
    let scene: OpenedScene | null = null;
    if (ds.points?.xyz.length) {
      const g = gaussiansFromPoints(ds.points.xyz, ds.points.rgb, { maxPoints: MAX_SPARSE_POINTS, opacity: 0.9 });
      scene = { name: `${name} sparse points`, gaussians: g, background: ds.background };
    } else if (ds.plyPath && (await files.exists(ds.plyPath))) {
      const pc = readPointCloud(await files.read(ds.plyPath), ds.plyPath);
      const g = gaussiansFromPoints(pc.xyz, pc.rgb, { maxPoints: MAX_SPARSE_POINTS, opacity: 0.9 });
      scene = { name: `${name} sparse points`, gaussians: g, background: ds.background };
    }
    return { scene, dataset: { name, cameras: ds.frames.map((f) => f.camera) } };
  }
  const sceneFiles = paths.filter((p) => ['.voxel', '.obj', '.glb', '.gltf'].includes(extname(p).toLowerCase()) || formatFromName(p));
  if (sceneFiles.length === 0) throw new UserError(`nothing to open: expected ${OPENABLE}`, paths[0]);
  return { scene: await openSceneFile(sceneFiles[0], files, undefined, opts), dataset: null };
}
