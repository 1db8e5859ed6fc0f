import type { Camera, Distortion } from '../../core/camera';
import { downscaleCamera, rowMajorToColumnMajor } from '../../core/camera';
import { UserError } from '../../core/errors';
import type { Image } from '../../core/image';
import { compositeOver, downscaleImage, resizeImage } from '../../core/image';
import { joinPath, dirname } from '../../core/paths';
import type { FileSource } from '../files/files';
import { parseJson } from '../files/files';
import { decodeImage } from '../images/image-codec';

export type Split = 'train' | 'val' | 'test';
export type DatasetFormat = 'nerfstudio' | 'blender' | 'instant-ngp' | 'colmap';

export interface DatasetFrame {
  /** Position in the dataset after sorting by file path. */
  index: number;
  /** File path as written in the JSON. */
  file: string;
  /** Resolved path (root + file, with an extension guessed for Blender files). */
  path: string;
  camera: Camera;
  split: Split;
  maskPath?: string;
}

export interface Dataset {
  root: string;
  /** The JSON file(s) this was read from. */
  sources: string[];
  format: DatasetFormat;
  frames: DatasetFrame[];
  /** Colour RGBA images are composited over, and the colour renders use where rays hit nothing. */
  background: [number, number, number];
  /** An axis-aligned box that bounds the scene, when the file declares one (`scene_box`, or instant-ngp `aabb`). */
  sceneBox?: { min: [number, number, number]; max: [number, number, number] };
  /** Sparse points for Gaussian initialisation (nerfstudio `ply_file_path`), resolved. */
  plyPath?: string;
  /** Sparse points read with the cameras (COLMAP points3D), colours in [0, 1]. */
  points?: { xyz: Float32Array; rgb: Float32Array };
  /** nerfstudio `applied_transform` (3×4 or 4×4, row-major), kept as metadata: poses and points are already in this frame. */
  appliedTransform?: number[][];
  /** Downscale factor applied to cameras and images. */
  downscale: number;
}

export interface LoadDatasetOptions {
  downscale?: number;
  /** Keep at most this many training frames (evenly spaced); test and val frames are kept. */
  maxImages?: number;
}

const INTRINSIC_KEYS = [
  'fl_x',
  'fl_y',
  'cx',
  'cy',
  'w',
  'h',
  'k1',
  'k2',
  'k3',
  'k4',
  'p1',
  'p2',
  'camera_angle_x',
  'camera_angle_y',
  'camera_model',
];

function num(v: unknown, what: string, file: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new UserError(`${what} must be a finite number, got ${JSON.stringify(v)}`, file);
  return v;
}

function matrix4(m: unknown, what: string, file: string): Float32Array {
  if (!Array.isArray(m) || (m.length !== 4 && m.length !== 3) || !m.every((r) => Array.isArray(r) && r.length === 4))
    throw new UserError(`${what} must be a 4×4 (or 3×4) array of numbers`, file);
  const rows = (m as unknown[][]).map((r, i) => r.map((v, j) => num(v, `${what}[${i}][${j}]`, file)));
  if (rows.length === 3) rows.push([0, 0, 0, 1]);
  return rowMajorToColumnMajor(rows);
}

function vec3(v: unknown, what: string, file: string): [number, number, number] {
  if (!Array.isArray(v) || v.length !== 3) throw new UserError(`${what} must be an array of 3 numbers`, file);
  return [num(v[0], `${what}[0]`, file), num(v[1], `${what}[1]`, file), num(v[2], `${what}[2]`, file)];
}

/** Reads the camera intrinsics from a frame, falling back to the top level. */
function intrinsics(top: any, fr: any, file: string, where: string, imageSize?: [number, number]): Omit<Camera, 'c2w'> {
  const get = (k: string) => (fr && fr[k] !== undefined ? fr[k] : top[k]);
  let w = get('w'),
    h = get('h');
  if (w === undefined || h === undefined) {
    if (!imageSize) throw new UserError(`${where}: image size (w, h) is missing`, file);
    [w, h] = imageSize;
  }
  w = num(w, `${where}: w`, file);
  h = num(h, `${where}: h`, file);
  if (w <= 0 || h <= 0 || !Number.isInteger(w) || !Number.isInteger(h))
    throw new UserError(`${where}: w and h must be positive integers`, file);
  let fx = get('fl_x'),
    fy = get('fl_y');
  if (fx === undefined) {
    const ax = get('camera_angle_x');
    if (ax === undefined) throw new UserError(`${where}: no focal length (fl_x or camera_angle_x)`, file);
    fx = (0.5 * w) / Math.tan(0.5 * num(ax, `${where}: camera_angle_x`, file));
  }
  if (fy === undefined) {
    const ay = get('camera_angle_y');
    fy = ay !== undefined ? (0.5 * h) / Math.tan(0.5 * num(ay, `${where}: camera_angle_y`, file)) : fx;
  }
  fx = num(fx, `${where}: fl_x`, file);
  fy = num(fy, `${where}: fl_y`, file);
  if (fx <= 0 || fy <= 0) throw new UserError(`${where}: focal length must be positive`, file);
  const cx = get('cx') === undefined ? w / 2 : num(get('cx'), `${where}: cx`, file);
  const cy = get('cy') === undefined ? h / 2 : num(get('cy'), `${where}: cy`, file);
  const model = (get('camera_model') ?? 'OPENCV') as string;
  if (typeof model !== 'string') throw new UserError(`${where}: camera_model must be a string`, file);
  if (!['PINHOLE', 'OPENCV', 'SIMPLE_PINHOLE', 'SIMPLE_RADIAL', 'RADIAL'].includes(model))
    throw new UserError(`${where}: camera_model ${model} is not supported (use PINHOLE or OPENCV)`, file);
  const dn = (k: string) => (get(k) === undefined ? 0 : num(get(k), `${where}: ${k}`, file));
  const distortion: Distortion | undefined =
    model === 'PINHOLE' || model === 'SIMPLE_PINHOLE'
      ? undefined
      : { k1: dn('k1'), k2: dn('k2'), k3: dn('k3'), k4: dn('k4'), p1: dn('p1'), p2: dn('p2') };
  return { width: w, height: h, fx, fy, cx, cy, distortion };
}

function fileNames(list: unknown): Set<string> | null {
  if (!Array.isArray(list)) return null;
  return new Set(list.map((s) => String(s).replace(/^\.\//, '')));
}

/** Finds the JSON files of a dataset given a folder or a .json path. */
async function locate(path: string, files: FileSource): Promise<{ root: string; jsons: { file: string; split?: Split }[] }> {
  if (/\.json$/i.test(path)) {
    if (!(await files.exists(path))) throw new UserError('no such file', path);
    return { root: dirname(path), jsons: [{ file: path }] };
  }
  const ns = joinPath(path, 'transforms.json');
  if (await files.exists(ns)) return { root: path, jsons: [{ file: ns }] };
  const jsons: { file: string; split: Split }[] = [];
  for (const s of ['train', 'val', 'test'] as Split[]) {
    const f = joinPath(path, `transforms_${s}.json`);
    if (await files.exists(f)) jsons.push({ file: f, split: s });
  }
  if (jsons.length) return { root: path, jsons };
  if (!(await files.exists(path))) throw new UserError('no such file or folder', path);
  throw new UserError('no transforms.json (nerfstudio / instant-ngp) or transforms_train.json (Blender) found in this folder', path);
}

/**
 * Loads a dataset's cameras and file list (images are read later by `loadFrameImage`).
 * Supports nerfstudio `transforms.json`, Blender `transforms_{train,val,test}.json` and instant-ngp `transforms.json`.
 * Frames are sorted by file path; the split is the file's own (Blender files, nerfstudio `*_filenames` lists)
 * or else every 8th frame is `test`.
 */
export async function loadDataset(path: string, files: FileSource, opts: LoadDatasetOptions = {}): Promise<Dataset> {
  const downscale = opts.downscale ?? 1;
  if (!Number.isInteger(downscale) || downscale < 1) throw new UserError(`--downscale must be a positive integer, got ${downscale}`);
  const clean = path.replace(/\/+$/, '') || '.';
  const colmap = /\.json$/i.test(clean) ? null : await colmapDataset(clean, files, downscale);
  const { root, jsons } = colmap ?? (await locate(clean, files));
  const frames: DatasetFrame[] = colmap?.frames ?? [];
  let format: DatasetFormat = colmap ? 'colmap' : 'nerfstudio';
  let background: [number, number, number] | undefined;
  let sceneBox: Dataset['sceneBox'];
  let plyPath: string | undefined;
  let appliedTransform: number[][] | undefined;
  let explicitSplit = false;
  const splitLists: Partial<Record<Split, Set<string> | null>> = {};

  for (const { file, split } of jsons) {
    const top = parseJson(await files.read(file), file);
    if (typeof top !== 'object' || top === null || Array.isArray(top)) throw new UserError('expected a JSON object at the top level', file);
    if (!Array.isArray(top.frames)) throw new UserError('"frames" must be an array', file);
    if (split) {
      format = 'blender';
      explicitSplit = true;
    } else if (top.aabb_scale !== undefined || (top.fl_x === undefined && top.camera_angle_x !== undefined)) format = 'instant-ngp';
    if (top.background !== undefined) background = vec3(top.background, 'background', file);
    if (top.scene_box !== undefined) {
      const b = top.scene_box;
      sceneBox = { min: vec3(b?.min, 'scene_box.min', file), max: vec3(b?.max, 'scene_box.max', file) };
    } else if (Array.isArray(top.aabb) && top.aabb.length === 2) {
      sceneBox = { min: vec3(top.aabb[0], 'aabb[0]', file), max: vec3(top.aabb[1], 'aabb[1]', file) };
    }
    if (typeof top.ply_file_path === 'string') plyPath = joinPath(root, top.ply_file_path);
    if (top.applied_transform !== undefined) {
      matrix4(top.applied_transform, 'applied_transform', file);
      appliedTransform = top.applied_transform;
    }
    for (const s of ['train', 'val', 'test'] as Split[]) {
      const l = fileNames(top[`${s}_filenames`]);
      if (l) {
        splitLists[s] = l;
        explicitSplit = true;
      }
    }
    top.frames.forEach((fr: any, i: number) => {
      const where = `frame ${i}`;
      if (typeof fr !== 'object' || fr === null) throw new UserError(`${where} must be an object`, file);
      if (typeof fr.file_path !== 'string') throw new UserError(`${where}: file_path must be a string`, file);
      const c2w = matrix4(fr.transform_matrix, `${where} (${fr.file_path}): transform_matrix`, file);
      const intr = intrinsics(top, fr, file, `${where} (${fr.file_path})`, format === 'blender' ? [800, 800] : undefined);
      const rel = fr.file_path.replace(/^\.\//, '');
      let p = joinPath(root, rel);
      if (format === 'blender' && !/\.(png|jpe?g)$/i.test(rel)) p += '.png';
      const maskPath = typeof fr.mask_path === 'string' ? joinPath(root, fr.mask_path) : undefined;
      frames.push({ index: 0, file: rel, path: p, camera: { ...intr, c2w }, split: split ?? 'train', maskPath });
    });
  }
  if (!frames.length) throw new UserError('the dataset has no frames', jsons[0].file);
  if (!jsons[0]?.split) frames.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
  frames.forEach((f, i) => (f.index = i));
  if (!jsons[0]?.split) {
    if (explicitSplit) {
      for (const f of frames) {
        for (const s of ['test', 'val', 'train'] as Split[]) if (splitLists[s]?.has(f.file)) f.split = s;
      }
    } else frames.forEach((f, i) => (f.split = i % 8 === 0 ? 'test' : 'train'));
  }
  // Blender images are RGBA over white; our own datasets state their background.
  background ??= [1, 1, 1];
  let kept = frames;
  if (opts.maxImages !== undefined) {
    if (!Number.isInteger(opts.maxImages) || opts.maxImages < 1)
      throw new UserError(`--max-images must be a positive integer, got ${opts.maxImages}`);
    const train = frames.filter((f) => f.split === 'train');
    const keep = new Set<DatasetFrame>();
    const n = Math.min(opts.maxImages, train.length);
    for (let i = 0; i < n; i++) keep.add(train[Math.floor((i * train.length) / n)]);
    kept = frames.filter((f) => f.split !== 'train' || keep.has(f));
  }
  if (downscale > 1) for (const f of kept) f.camera = downscaleCamera(f.camera, downscale);
  const sources = colmap ? colmap.sources : jsons.map((j) => j.file);
  return { root, sources, format, frames: kept, background, sceneBox, plyPath, points: colmap?.points, appliedTransform, downscale };
}

/** Frames of one split ('all' for every frame). */
export function framesOf(ds: Dataset, split: Split | 'all'): DatasetFrame[] {
  return split === 'all' ? ds.frames : ds.frames.filter((f) => f.split === split);
}

/**
 * Reads a frame's image: RGBA composited over the dataset's background, downscaled to the camera's size.
 * A missing file resolves to null (callers skip it and count it); an undecodable one throws a UserError.
 */
export async function loadFrameImage(ds: Dataset, frame: DatasetFrame, files: FileSource): Promise<Image | null> {
  if (!(await files.exists(frame.path))) return null;
  let img = decodeImage(await files.read(frame.path), frame.path);
  img = compositeOver(img, ds.background);
  const { width, height } = frame.camera;
  if (ds.downscale > 1 && Math.abs(img.width - width) > 1 && img.width % ds.downscale === 0 && img.height % ds.downscale === 0)
    img = downscaleImage(img, ds.downscale);
  if (img.width !== width || img.height !== height) {
    const ratio = img.width / width;
    if (Math.abs(img.height / height - ratio) > 0.02)
      throw new UserError(`image is ${img.width}×${img.height} but its camera is ${width}×${height}`, frame.path);
    img = resizeImage(img, width, height);
  }
  return img;
}

/** Reads a frame's mask (grey, 1 = keep), or null when it has none. */
export async function loadFrameMask(frame: DatasetFrame, files: FileSource): Promise<Image | null> {
  if (!frame.maskPath) return null;
  let m = decodeImage(await files.read(frame.maskPath), frame.maskPath);
  if (m.channels !== 1) {
    const g = new Float32Array(m.width * m.height);
    for (let i = 0; i < g.length; i++) g[i] = m.data[i * m.channels];
    m = { width: m.width, height: m.height, channels: 1, data: g };
  }
  return resizeImage(m, frame.camera.width, frame.camera.height);
}

export interface LoadedView {
  frame: DatasetFrame;
  image: Image;
}

/** Loads the images of a split, skipping missing files; `missing` counts them for the caller's warning. */
export async function loadViews(
  ds: Dataset,
  split: Split | 'all',
  files: FileSource,
  onProgress?: (done: number, total: number) => void,
): Promise<{ views: LoadedView[]; missing: string[] }> {
  const frames = framesOf(ds, split);
  const views: LoadedView[] = [];
  const missing: string[] = [];
  for (let i = 0; i < frames.length; i++) {
    const img = await loadFrameImage(ds, frames[i], files);
    if (img) views.push({ frame: frames[i], image: img });
    else missing.push(frames[i].path);
    onProgress?.(i + 1, frames.length);
  }
  if (!views.length)
    throw new UserError(`none of the ${frames.length} ${split} images could be found (first: ${frames[0]?.path ?? 'none'})`, ds.sources[0]);
  return { views, missing };
}

export { INTRINSIC_KEYS };

/**
 * A COLMAP capture (src/io/datasets/colmap.ts) as frames, when `root` holds a sparse model and no
 * transforms.json (which wins: nerfstudio's processed captures carry both). Images come from `images/`, or
 * from `images_K/` when downscaling by K and that folder exists (3DGS's convention).
 */
async function colmapDataset(root: string, files: FileSource, downscale: number) {
  if ((await files.exists(joinPath(root, 'transforms.json'))) || (await files.exists(joinPath(root, 'transforms_train.json')))) return null;
  const { findColmapModel, readColmapModel, colmapIntrinsics, colmapCameraToWorld } = await import('./colmap');
  const dir = await findColmapModel(root, files);
  if (!dir) return null;
  const model = await readColmapModel(dir, files);
  const sub = downscale > 1 && (await files.exists(joinPath(root, `images_${downscale}`))) ? `images_${downscale}` : 'images';
  const frames: DatasetFrame[] = model.images.map((im) => ({
    index: 0,
    file: im.name,
    path: joinPath(root, sub, im.name),
    camera: { ...colmapIntrinsics(model.cameras.get(im.cameraId)!), c2w: colmapCameraToWorld(im.q, im.t, model.sources[1]) },
    split: 'train' as Split,
  }));
  return { root, jsons: [] as { file: string; split?: Split }[], frames, points: model.points ?? undefined, sources: model.sources };
}
