import type { Camera, Distortion } from '../../core/camera';
import { downscaleCamera, rowMajorToColumnMajor } from '../../core/camera';
import { describeValue, UserError } from '../../core/errors';
import type { Image } from '../../core/image';
import { compositeOver, downscaleImage, resizeImage } from '../../core/image';
import { dirname, insidePathProblem, joinPath, resolveInside } from '../../core/paths';
import { limits, limitHint } from '../../core/limits';
import type { FileSource } from '../files/files';
import { readJson } from '../files/files';
import { decodeImage, readImageHeader } from '../images/image-codec';

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

/** Coordinates and distances beyond this are corruption, not scenes (docs/limits.md). */
export const MAX_COORD = 1e8;

const short = (v: unknown) => describeValue(v, 60);

function num(v: unknown, what: string, file: string, lo = -Infinity, hi = Infinity): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new UserError(`${what} must be a finite number, got ${short(v)}`, file);
  if (v < lo || v > hi) throw new UserError(`${what} must be in [${lo}, ${hi}], got ${v}`, file);
  return v;
}

/**
 * A camera-to-world matrix: 4×4 or 3×4 of finite numbers, last row (0, 0, 0, 1), translation within ±MAX_COORD,
 * and a rotation part that is not degenerate (an all-zero or flattened matrix has no view direction).
 */
function matrix4(m: unknown, what: string, file: string): Float32Array {
  if (!Array.isArray(m) || (m.length !== 4 && m.length !== 3) || !m.every((r) => Array.isArray(r) && r.length === 4))
    throw new UserError(`${what} must be a 4×4 (or 3×4) array of numbers`, file);
  const rows = (m as unknown[][]).map((r, i) => r.map((v, j) => num(v, `${what}[${i}][${j}]`, file, -MAX_COORD, MAX_COORD)));
  if (rows.length === 3) rows.push([0, 0, 0, 1]);
  if (Math.abs(rows[3][0]) + Math.abs(rows[3][1]) + Math.abs(rows[3][2]) > 1e-6 || Math.abs(rows[3][3] - 1) > 1e-6)
    throw new UserError(`${what}: the last row must be [0, 0, 0, 1], got ${short(rows[3])}`, file);
  const col = (j: number) => Math.hypot(rows[0][j], rows[1][j], rows[2][j]);
  const n0 = col(0),
    n1 = col(1),
    n2 = col(2);
  const det =
    rows[0][0] * (rows[1][1] * rows[2][2] - rows[1][2] * rows[2][1]) -
    rows[0][1] * (rows[1][0] * rows[2][2] - rows[1][2] * rows[2][0]) +
    rows[0][2] * (rows[1][0] * rows[2][1] - rows[1][1] * rows[2][0]);
  if (!(n0 > 1e-9 && n1 > 1e-9 && n2 > 1e-9) || !(Math.abs(det) > 1e-3 * n0 * n1 * n2))
    throw new UserError(`${what}: the rotation part is degenerate (zero or flattened axes), not a camera pose`, file);
  return rowMajorToColumnMajor(rows);
}

function vec3(v: unknown, what: string, file: string, lo = -MAX_COORD, hi = MAX_COORD): [number, number, number] {
  if (!Array.isArray(v) || v.length !== 3) throw new UserError(`${what} must be an array of 3 numbers`, file);
  return [num(v[0], `${what}[0]`, file, lo, hi), num(v[1], `${what}[1]`, file, lo, hi), num(v[2], `${what}[2]`, file, lo, hi)];
}

/** An axis-aligned box with finite coordinates within ±MAX_COORD and a positive extent on every axis. */
function box3(minV: unknown, maxV: unknown, what: string, file: string): NonNullable<Dataset['sceneBox']> {
  const min = vec3(minV, `${what} min`, file),
    max = vec3(maxV, `${what} max`, file);
  for (let a = 0; a < 3; a++)
    if (!(max[a] - min[a] > 1e-6 * Math.max(1, Math.abs(min[a]))))
      throw new UserError(`${what}: max must exceed min on every axis (axis ${'xyz'[a]}: ${min[a]} to ${max[a]})`, file);
  return { min, max };
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
  if (w * h > limits.imagePixels)
    throw new UserError(`${where}: ${w}×${h} images are over the image size limit (${limitHint('imagePixels')})`, file);
  let fx = get('fl_x'),
    fy = get('fl_y');
  const angle = (k: string) => num(get(k), `${where}: ${k} (radians)`, file, 1e-4, Math.PI - 1e-4);
  if (fx === undefined) {
    if (get('camera_angle_x') === undefined) throw new UserError(`${where}: no focal length (fl_x or camera_angle_x)`, file);
    fx = (0.5 * w) / Math.tan(0.5 * angle('camera_angle_x'));
  }
  if (fy === undefined) fy = get('camera_angle_y') !== undefined ? (0.5 * h) / Math.tan(0.5 * angle('camera_angle_y')) : fx;
  fx = num(fx, `${where}: fl_x`, file);
  fy = num(fy, `${where}: fl_y`, file);
  if (fx <= 0 || fy <= 0) throw new UserError(`${where}: focal length must be positive`, file);
  if (fx > 1e4 * Math.max(w, h) || fy > 1e4 * Math.max(w, h))
    throw new UserError(`${where}: focal length ${Math.max(fx, fy)} px is absurd for a ${w}×${h} image`, file);
  const cx = get('cx') === undefined ? w / 2 : num(get('cx'), `${where}: cx`, file, -100 * w, 100 * w);
  const cy = get('cy') === undefined ? h / 2 : num(get('cy'), `${where}: cy`, file, -100 * h, 100 * h);
  const model = (get('camera_model') ?? 'OPENCV') as string;
  if (typeof model !== 'string') throw new UserError(`${where}: camera_model must be a string`, file);
  if (!['PINHOLE', 'OPENCV', 'SIMPLE_PINHOLE', 'SIMPLE_RADIAL', 'RADIAL'].includes(model))
    throw new UserError(`${where}: camera_model ${short(model)} is not supported (use PINHOLE or OPENCV)`, file);
  const dn = (k: string) => (get(k) === undefined ? 0 : num(get(k), `${where}: ${k}`, file, -1e3, 1e3));
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
  if (!Number.isInteger(downscale) || downscale < 1 || downscale > 1024)
    throw new UserError(`--downscale must be an integer in [1, 1024], got ${downscale}`);
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

  const parsed: { file: string; split?: Split; top: any }[] = [];
  for (const { file, split } of jsons) parsed.push({ file, split, top: await readJson(files, file) });
  // Blender files carry no image size: take it from the first image of any split that exists (never assume one)
  let blenderSize: [number, number] | undefined;
  const sizeFromImages = async (file: string): Promise<[number, number]> => {
    if (blenderSize) return blenderSize;
    for (const { top } of parsed)
      for (const fr of Array.isArray(top?.frames) ? (top.frames as any[]) : []) {
        if (insidePathProblem(fr?.file_path) !== null) continue;
        let p = joinPath(root, fr.file_path.replace(/^\.\//, ''));
        if (!/\.(png|jpe?g)$/i.test(p)) p += '.png';
        if (!(await files.exists(p))) continue;
        const hd = readImageHeader(await files.read(p), p);
        return (blenderSize = [hd.width, hd.height]);
      }
    throw new UserError('the file gives no image size (w, h) and none of the images exists to take it from', file);
  };
  for (const { file, split, top } of parsed) {
    if (typeof top !== 'object' || top === null || Array.isArray(top)) throw new UserError('expected a JSON object at the top level', file);
    if (!Array.isArray(top.frames)) throw new UserError('"frames" must be an array', file);
    if (split) {
      format = 'blender';
      explicitSplit = true;
    } else if (top.aabb_scale !== undefined || (top.fl_x === undefined && top.camera_angle_x !== undefined)) format = 'instant-ngp';
    if (top.background !== undefined) background = vec3(top.background, 'background (RGB)', file, 0, 1);
    if (top.scene_box !== undefined) {
      const b = top.scene_box;
      sceneBox = box3(b?.min, b?.max, 'scene_box', file);
    } else if (Array.isArray(top.aabb) && top.aabb.length === 2) {
      sceneBox = box3(top.aabb[0], top.aabb[1], 'aabb', file);
    }
    if (top.ply_file_path !== undefined) plyPath = resolveInside(root, top.ply_file_path, 'ply_file_path', file);
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
    for (let i = 0; i < top.frames.length; i++) {
      const fr = top.frames[i];
      const where = `frame ${i}`;
      if (typeof fr !== 'object' || fr === null) throw new UserError(`${where} must be an object`, file);
      if (typeof fr.file_path !== 'string') throw new UserError(`${where}: file_path must be a string`, file);
      const label = `${where} (${short(fr.file_path)})`;
      const c2w = matrix4(fr.transform_matrix, `${label}: transform_matrix`, file);
      const noSize = (fr.w ?? top.w) === undefined || (fr.h ?? top.h) === undefined;
      const intr = intrinsics(top, fr, file, label, format === 'blender' && noSize ? await sizeFromImages(file) : undefined);
      const rel = fr.file_path.replace(/^\.\//, '');
      let p = resolveInside(root, rel, `${where} file_path`, file);
      if (format === 'blender' && !/\.(png|jpe?g)$/i.test(rel)) p += '.png';
      const maskPath = fr.mask_path !== undefined ? resolveInside(root, fr.mask_path, `${where} mask_path`, file) : undefined;
      frames.push({ index: 0, file: rel, path: p, camera: { ...intr, c2w }, split: split ?? 'train', maskPath });
    }
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
  const sources = colmap ? colmap.sources : jsons.map((j) => j.file);
  if (downscale > 1)
    for (const f of kept) {
      const small = downscaleCamera(f.camera, downscale);
      if (small.width < MIN_SIDE || small.height < MIN_SIDE)
        throw new UserError(
          `--downscale ${downscale} makes the ${f.camera.width}×${f.camera.height} images of ${f.file} ${small.width}×${small.height}, too small (at least ${MIN_SIDE}×${MIN_SIDE}); use a smaller --downscale`,
          sources[0],
        );
      f.camera = small;
    }
  return { root, sources, format, frames: kept, background, sceneBox, plyPath, points: colmap?.points, appliedTransform, downscale };
}

/** Frames of one split ('all' for every frame). */
export function framesOf(ds: Dataset, split: Split | 'all'): DatasetFrame[] {
  return split === 'all' ? ds.frames : ds.frames.filter((f) => f.split === split);
}

/** Smallest image side after --downscale. */
export const MIN_SIDE = 1;

/**
 * How an image of `w`×`h` on disk becomes the camera's size: 'same', 'downscale' (it is the camera's size ×
 * the dataset's --downscale, rounded down as the camera was), or null when it is neither — a frame whose
 * image disagrees with its camera is refused, never resized silently.
 */
function fitToCamera(w: number, h: number, frame: DatasetFrame, ds: Dataset): 'same' | 'downscale' | null {
  const { width, height } = frame.camera;
  if (w === width && h === height) return 'same';
  if (ds.downscale > 1 && Math.floor(w / ds.downscale) === width && Math.floor(h / ds.downscale) === height) return 'downscale';
  return null;
}

async function readFrameFile(ds: Dataset, frame: DatasetFrame, path: string, files: FileSource, what: string): Promise<Image> {
  const bytes = await files.read(path);
  const head = readImageHeader(bytes, path);
  const how = fitToCamera(head.width, head.height, frame, ds);
  if (!how) {
    const k = ds.downscale;
    throw new UserError(
      `${what} is ${head.width}×${head.height} but its camera in ${ds.sources[0]} is ${k > 1 ? `${frame.camera.width * k}×${frame.camera.height * k} (÷${k} = ${frame.camera.width}×${frame.camera.height})` : `${frame.camera.width}×${frame.camera.height}`}; fix w/h in the dataset or the image`,
      path,
    );
  }
  let img = decodeImage(bytes, path);
  if (how === 'downscale') {
    const { width, height } = frame.camera;
    img =
      img.width === width * ds.downscale && img.height === height * ds.downscale
        ? downscaleImage(img, ds.downscale)
        : resizeImage(img, width, height);
  }
  return img;
}

/**
 * Reads a frame's image: RGBA composited over the dataset's background, downscaled to the camera's size.
 * A missing file resolves to null (callers skip it and count it); an undecodable one, or one whose size is
 * not the camera's (or the camera's × --downscale), throws a UserError.
 */
export async function loadFrameImage(ds: Dataset, frame: DatasetFrame, files: FileSource): Promise<Image | null> {
  if (!(await files.exists(frame.path))) return null;
  const img = await readFrameFile(ds, frame, frame.path, files, 'image');
  return compositeOver(img, ds.background);
}

/** Reads a frame's mask (grey, 1 = keep), or null when it has none; sized like the frame's image. */
export async function loadFrameMask(frame: DatasetFrame, files: FileSource, ds?: Dataset): Promise<Image | null> {
  if (!frame.maskPath) return null;
  const d = ds ?? ({ downscale: 1, sources: ['the dataset'] } as unknown as Dataset);
  let m = await readFrameFile(d, frame, frame.maskPath, files, 'mask');
  if (m.channels !== 1) {
    const g = new Float32Array(m.width * m.height);
    for (let i = 0; i < g.length; i++) g[i] = m.data[i * m.channels];
    m = { width: m.width, height: m.height, channels: 1, data: g };
  }
  return m;
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
    // names in images.bin/.txt stay inside the image folder (docs/limits.md)
    path: resolveInside(joinPath(root, sub), im.name, `image ${im.id} name`, model.sources[1]),
    camera: { ...colmapIntrinsics(model.cameras.get(im.cameraId)!), c2w: colmapCameraToWorld(im.q, im.t, model.sources[1]) },
    split: 'train' as Split,
  }));
  return { root, jsons: [] as { file: string; split?: Split }[], frames, points: model.points ?? undefined, sources: model.sources };
}
