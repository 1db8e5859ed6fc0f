import type { Camera, Distortion } from '../../core/camera';
import { describeValue, UserError } from '../../core/errors';
import { checkLimit, limitHint, limits } from '../../core/limits';
import { insidePathProblem, joinPath } from '../../core/paths';
import type { FileSource } from '../files/files';

/**
 * COLMAP sparse models (Schönberger & Frahm, CVPR 2016), the input of the original 3DGS pipeline: a folder
 * with `sparse/0/` (or `sparse/`) holding `cameras`, `images` and `points3D` as `.bin` or `.txt`, and the
 * photos in `images/` (plus `images_2`, `images_4`, `images_8` downscaled copies, used by --downscale when
 * present, as 3DGS does).
 *
 * Binary files are little-endian and start with a u64 count; every count and length is checked against the
 * bytes left before anything is allocated. Camera models SIMPLE_PINHOLE, PINHOLE, SIMPLE_RADIAL, RADIAL and
 * OPENCV are read; the others get one line naming the model. Poses are world→camera in OpenCV axes
 * (x right, y down, z forward): camera-to-world = inverse, then the camera's y and z axes are flipped to the
 * OpenGL convention the project uses. World axes are kept as COLMAP wrote them.
 */

export const COLMAP_MODELS = [
  'SIMPLE_PINHOLE',
  'PINHOLE',
  'SIMPLE_RADIAL',
  'RADIAL',
  'OPENCV',
  'OPENCV_FISHEYE',
  'FULL_OPENCV',
  'FOV',
  'SIMPLE_RADIAL_FISHEYE',
  'RADIAL_FISHEYE',
  'THIN_PRISM_FISHEYE',
] as const;
const PARAMS = [3, 4, 4, 5, 8, 8, 12, 5, 4, 5, 12];
const SUPPORTED = new Set([0, 1, 2, 3, 4]);

interface ColmapCamera {
  id: number;
  model: number;
  width: number;
  height: number;
  params: number[];
}
interface ColmapImage {
  id: number;
  q: [number, number, number, number];
  t: [number, number, number];
  cameraId: number;
  name: string;
}
export interface ColmapModel {
  dir: string;
  cameras: Map<number, ColmapCamera>;
  images: ColmapImage[];
  points: { xyz: Float32Array; rgb: Float32Array } | null;
  sources: string[];
}

/** A little-endian reader that checks every read against the file's length. */
class Reader {
  o = 0;
  private dv: DataView;
  constructor(
    private b: Uint8Array,
    private file: string,
  ) {
    this.dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  }
  left(): number {
    return this.b.length - this.o;
  }
  need(n: number, what: string): void {
    if (n > this.left()) throw new UserError(`COLMAP file ends inside ${what} (truncated file?)`, this.file);
  }
  u64(what: string): number {
    this.need(8, what);
    const v = this.dv.getBigUint64(this.o, true);
    this.o += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new UserError(`COLMAP ${what} is ${v} (not a sane count or size)`, this.file);
    return Number(v);
  }
  i32(what: string): number {
    this.need(4, what);
    const v = this.dv.getInt32(this.o, true);
    this.o += 4;
    return v;
  }
  f64(what: string): number {
    this.need(8, what);
    const v = this.dv.getFloat64(this.o, true);
    this.o += 8;
    if (!Number.isFinite(v)) throw new UserError(`COLMAP ${what} is ${v} (not a finite number)`, this.file);
    return v;
  }
  u8(): number {
    this.need(1, 'a colour');
    return this.b[this.o++];
  }
  /** A count of records of at least `minBytes` each: checked against the bytes left. */
  count(what: string, minBytes: number): number {
    const n = this.u64(`the ${what} count`);
    if (n * minBytes > this.left())
      throw new UserError(
        `COLMAP header promises ${n} ${what} (at least ${n * minBytes} bytes) but only ${this.left()} bytes follow (truncated or corrupt file?)`,
        this.file,
      );
    return n;
  }
  name(): string {
    const end = this.b.indexOf(0, this.o);
    if (end < 0) throw new UserError('COLMAP file ends inside an image name (truncated file?)', this.file);
    const s = new TextDecoder().decode(this.b.subarray(this.o, end));
    this.o = end + 1;
    return s;
  }
}

function checkModel(model: number, id: number, file: string): void {
  if (!(model >= 0 && model < COLMAP_MODELS.length)) throw new UserError(`camera ${id} has unknown COLMAP model number ${model}`, file);
  if (!SUPPORTED.has(model))
    throw new UserError(
      `camera ${id} uses the ${COLMAP_MODELS[model]} model, which is not supported (SIMPLE_PINHOLE, PINHOLE, SIMPLE_RADIAL, RADIAL or OPENCV; undistort the capture with 'colmap image_undistorter' first)`,
      file,
    );
}

/** Coordinates beyond this are corruption, not scenes (as for transforms.json; docs/limits.md). */
const MAX_COORD = 1e8;

/**
 * The ranges transforms.json cameras are held to (docs/limits.md): integer sizes within the pixel limit, focal
 * lengths positive and at most 10⁴ image sides, the principal point within 100 sides, distortion within ±1000.
 */
function checkCamera(c: ColmapCamera, file: string): void {
  const where = `camera ${c.id}`;
  if (!(Number.isInteger(c.width) && Number.isInteger(c.height) && c.width >= 1 && c.height >= 1 && c.width <= 65536 && c.height <= 65536))
    throw new UserError(`${where} is ${c.width}×${c.height} (not a sane image size)`, file);
  if (c.width * c.height > limits.imagePixels)
    throw new UserError(`${where}: ${c.width}×${c.height} images are over the image size limit (${limitHint('imagePixels')})`, file);
  const k = colmapIntrinsics(c);
  const side = Math.max(c.width, c.height);
  for (const [n, f] of [
    ['focal length', k.fx],
    ['focal length (y)', k.fy],
  ] as const)
    if (!(f > 0 && f <= 1e4 * side))
      throw new UserError(`${where} has ${n} ${f}, not a sane value for a ${c.width}×${c.height} image`, file);
  if (!(Math.abs(k.cx) <= 100 * c.width && Math.abs(k.cy) <= 100 * c.height))
    throw new UserError(`${where} has principal point (${k.cx}, ${k.cy}), far outside its ${c.width}×${c.height} image`, file);
  if (k.distortion)
    for (const [n, v] of Object.entries(k.distortion))
      if (!(Math.abs(v) <= 1000)) throw new UserError(`${where} has distortion ${n} = ${v} (must be within ±1000)`, file);
}

function checkPose(im: ColmapImage, file: string): void {
  const where = `image ${im.id} (${describeValue(im.name, 80)})`;
  if (!(Math.hypot(...im.q) > 1e-9)) throw new UserError(`${where} has a zero rotation quaternion`, file);
  if (!im.t.every((v) => Math.abs(v) <= MAX_COORD))
    throw new UserError(`${where} has translation ${describeValue(im.t)}, beyond ±${MAX_COORD} (corrupt?)`, file);
  const problem = insidePathProblem(im.name);
  if (problem) throw new UserError(`${where}: the image name ${problem}`, file);
}

function checkPoint(xyz: Float32Array, i: number, file: string): void {
  for (let a = 0; a < 3; a++)
    if (!(Math.abs(xyz[3 * i + a]) <= MAX_COORD))
      throw new UserError(`point ${i} has coordinate ${xyz[3 * i + a]}, beyond ±${MAX_COORD} (corrupt?)`, file);
}

function camerasBin(b: Uint8Array, file: string): Map<number, ColmapCamera> {
  const r = new Reader(b, file);
  const n = r.count('cameras', 24 + 3 * 8);
  const out = new Map<number, ColmapCamera>();
  for (let i = 0; i < n; i++) {
    const id = r.i32('a camera id');
    const model = r.i32('a camera model');
    checkModel(model, id, file);
    const width = r.u64('a camera width'),
      height = r.u64('a camera height');
    const params = Array.from({ length: PARAMS[model] }, () => r.f64(`camera ${id}'s parameters`));
    const c = { id, model, width, height, params };
    checkCamera(c, file);
    if (out.has(id)) throw new UserError(`camera ${id} is listed twice`, file);
    out.set(id, c);
  }
  return out;
}

function imagesBin(b: Uint8Array, file: string): ColmapImage[] {
  const r = new Reader(b, file);
  const n = r.count('images', 4 + 56 + 4 + 1 + 8);
  const out: ColmapImage[] = [];
  for (let i = 0; i < n; i++) {
    const id = r.i32('an image id');
    const q = [r.f64('a rotation'), r.f64('a rotation'), r.f64('a rotation'), r.f64('a rotation')] as ColmapImage['q'];
    const t = [r.f64('a translation'), r.f64('a translation'), r.f64('a translation')] as ColmapImage['t'];
    const cameraId = r.i32('a camera id');
    const name = r.name();
    const n2d = r.u64(`image ${id}'s 2D point count`);
    if (n2d * 24 > r.left())
      throw new UserError(
        `COLMAP image ${id} promises ${n2d} 2D points (${n2d * 24} bytes) but only ${r.left()} bytes follow (truncated or corrupt file?)`,
        file,
      );
    r.o += n2d * 24;
    const im = { id, q, t, cameraId, name };
    checkPose(im, file);
    out.push(im);
  }
  return out;
}

function pointsBin(b: Uint8Array, file: string): { xyz: Float32Array; rgb: Float32Array } {
  const r = new Reader(b, file);
  const n = r.count('points', 8 + 24 + 3 + 8 + 8);
  checkLimit('elements', n, 'COLMAP point count', file);
  const xyz = new Float32Array(n * 3),
    rgb = new Float32Array(n * 3);
  for (let i = 0; i < n; i++) {
    r.u64('a point id');
    for (let a = 0; a < 3; a++) xyz[3 * i + a] = r.f64('a point position');
    checkPoint(xyz, i, file);
    for (let a = 0; a < 3; a++) rgb[3 * i + a] = r.u8() / 255;
    r.need(8, 'a point error');
    r.o += 8;
    const track = r.u64(`point ${i}'s track length`);
    if (track * 8 > r.left())
      throw new UserError(
        `COLMAP point ${i} promises a track of ${track} (${track * 8} bytes) but only ${r.left()} bytes follow (truncated or corrupt file?)`,
        file,
      );
    r.o += track * 8;
  }
  return { xyz, rgb };
}

/** Non-comment, non-empty lines of a COLMAP text file (images.txt keeps its empty 2D-point lines). */
function textLines(b: Uint8Array, keepEmpty = false): string[] {
  return new TextDecoder()
    .decode(b)
    .split(/\r?\n/)
    .filter((l) => !l.startsWith('#') && (keepEmpty || l.trim() !== ''));
}

function numbers(tok: string[], what: string, file: string): number[] {
  return tok.map((s) => {
    const v = Number(s);
    if (s === '' || !Number.isFinite(v)) throw new UserError(`COLMAP ${what}: '${s.slice(0, 20)}' is not a number`, file);
    return v;
  });
}

function camerasTxt(b: Uint8Array, file: string): Map<number, ColmapCamera> {
  const out = new Map<number, ColmapCamera>();
  for (const line of textLines(b)) {
    const tok = line.trim().split(/\s+/);
    const what = `camera line '${line.slice(0, 40)}'`;
    if (tok.length < 5) throw new UserError(`COLMAP ${what} needs an id, a model, width, height and parameters`, file);
    const [id, width, height] = numbers([tok[0], tok[2], tok[3]], what, file);
    const model = COLMAP_MODELS.indexOf(tok[1] as (typeof COLMAP_MODELS)[number]);
    if (model < 0) throw new UserError(`camera ${id} has unknown COLMAP model '${tok[1].slice(0, 40)}'`, file);
    checkModel(model, id, file);
    const params = numbers(tok.slice(4), `camera ${id}`, file);
    if (params.length !== PARAMS[model])
      throw new UserError(`camera ${id} (${tok[1]}) has ${params.length} parameters, expected ${PARAMS[model]}`, file);
    const c = { id, model, width, height, params };
    checkCamera(c, file);
    if (out.has(id)) throw new UserError(`camera ${id} is listed twice`, file);
    out.set(id, c);
  }
  return out;
}

function imagesTxt(b: Uint8Array, file: string): ColmapImage[] {
  const lines = textLines(b, true);
  while (lines.length && lines[lines.length - 1].trim() === '') lines.pop();
  const out: ColmapImage[] = [];
  for (let i = 0; i < lines.length; i += 2) {
    if (lines[i].trim() === '') {
      i--; // tolerate a stray blank line
      continue;
    }
    const tok = lines[i].trim().split(/\s+/);
    if (tok.length < 10) throw new UserError(`COLMAP image line '${lines[i].slice(0, 40)}' needs 10 fields`, file);
    const v = numbers(tok.slice(0, 9), `image line '${lines[i].slice(0, 40)}'`, file);
    const im: ColmapImage = { id: v[0], q: [v[1], v[2], v[3], v[4]], t: [v[5], v[6], v[7]], cameraId: v[8], name: tok.slice(9).join(' ') };
    checkPose(im, file);
    out.push(im);
  }
  return out;
}

function pointsTxt(b: Uint8Array, file: string): { xyz: Float32Array; rgb: Float32Array } {
  const lines = textLines(b);
  checkLimit('elements', lines.length, 'COLMAP point count', file);
  const xyz = new Float32Array(lines.length * 3),
    rgb = new Float32Array(lines.length * 3);
  lines.forEach((line, i) => {
    const v = numbers(line.trim().split(/\s+/).slice(0, 7), `point line '${line.slice(0, 40)}'`, file);
    if (v.length < 7) throw new UserError(`COLMAP point line '${line.slice(0, 40)}' needs at least 7 fields`, file);
    for (let a = 0; a < 3; a++) {
      xyz[3 * i + a] = v[1 + a];
      rgb[3 * i + a] = Math.min(1, Math.max(0, v[4 + a] / 255));
    }
    checkPoint(xyz, i, file);
  });
  return { xyz, rgb };
}

/** The sparse-model folder of a capture (`sparse/0`, `sparse`, or the folder itself), or null. */
export async function findColmapModel(root: string, files: FileSource): Promise<string | null> {
  for (const d of [joinPath(root, 'sparse/0'), joinPath(root, 'sparse'), root])
    for (const ext of ['.bin', '.txt']) if (await files.exists(joinPath(d, `cameras${ext}`))) return d;
  return null;
}

/** Reads a COLMAP sparse model (cameras, images, and points3D when present), binary or text. */
export async function readColmapModel(dir: string, files: FileSource): Promise<ColmapModel> {
  const pick = async (name: string): Promise<[string, boolean] | null> => {
    if (await files.exists(joinPath(dir, `${name}.bin`))) return [joinPath(dir, `${name}.bin`), true];
    if (await files.exists(joinPath(dir, `${name}.txt`))) return [joinPath(dir, `${name}.txt`), false];
    return null;
  };
  const cam = await pick('cameras');
  const img = await pick('images');
  if (!cam || !img) throw new UserError('COLMAP model needs cameras and images (.bin or .txt)', dir);
  const cameras = cam[1] ? camerasBin(await files.read(cam[0]), cam[0]) : camerasTxt(await files.read(cam[0]), cam[0]);
  const images = img[1] ? imagesBin(await files.read(img[0]), img[0]) : imagesTxt(await files.read(img[0]), img[0]);
  const sources = [cam[0], img[0]];
  let points = null;
  const pts = await pick('points3D');
  if (pts) {
    points = pts[1] ? pointsBin(await files.read(pts[0]), pts[0]) : pointsTxt(await files.read(pts[0]), pts[0]);
    sources.push(pts[0]);
  }
  for (const im of images)
    if (!cameras.has(im.cameraId))
      throw new UserError(`image ${im.id} (${im.name}) names camera ${im.cameraId}, which is not in the model`, img[0]);
  if (!images.length) throw new UserError('COLMAP model has no images', img[0]);
  return { dir, cameras, images, points, sources };
}

/** Intrinsics of a COLMAP camera in the project's Camera form. */
export function colmapIntrinsics(c: ColmapCamera): Omit<Camera, 'c2w'> {
  const p = c.params;
  const zero: Distortion = { k1: 0, k2: 0, k3: 0, k4: 0, p1: 0, p2: 0 };
  const base = { width: c.width, height: c.height };
  switch (COLMAP_MODELS[c.model]) {
    case 'SIMPLE_PINHOLE':
      return { ...base, fx: p[0], fy: p[0], cx: p[1], cy: p[2] };
    case 'PINHOLE':
      return { ...base, fx: p[0], fy: p[1], cx: p[2], cy: p[3] };
    case 'SIMPLE_RADIAL':
      return { ...base, fx: p[0], fy: p[0], cx: p[1], cy: p[2], distortion: { ...zero, k1: p[3] } };
    case 'RADIAL':
      return { ...base, fx: p[0], fy: p[0], cx: p[1], cy: p[2], distortion: { ...zero, k1: p[3], k2: p[4] } };
    default: // OPENCV
      return { ...base, fx: p[0], fy: p[1], cx: p[2], cy: p[3], distortion: { ...zero, k1: p[4], k2: p[5], p1: p[6], p2: p[7] } };
  }
}

/** Camera-to-world (column-major, OpenGL camera axes) from COLMAP's world→camera quaternion and translation. */
export function colmapCameraToWorld(q: [number, number, number, number], t: [number, number, number], file: string): Float32Array {
  const l = Math.hypot(...q);
  if (!(l > 0)) throw new UserError('COLMAP image has a zero rotation quaternion', file);
  const [w, x, y, z] = q.map((v) => v / l);
  // R (world→camera), row-major
  const R = [
    [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
    [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
    [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
  ];
  // camera-to-world rotation = Rᵀ; centre = −Rᵀ t; OpenCV → OpenGL: negate the camera's y and z axes
  const m = new Float32Array(16);
  const flip = [1, -1, -1];
  for (let col = 0; col < 3; col++) for (let row = 0; row < 3; row++) m[col * 4 + row] = R[col][row] * flip[col];
  for (let row = 0; row < 3; row++) m[12 + row] = -(R[0][row] * t[0] + R[1][row] * t[1] + R[2][row] * t[2]);
  m[15] = 1;
  return m;
}
