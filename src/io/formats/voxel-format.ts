import { describeValue, UserError } from '../../core/errors';
import { jsonDepth, MAX_JSON_DEPTH } from '../files/files';
import { checkLimit } from '../../core/limits';
import { cellCount, colorDims, vertexCount, type VoxelGrid } from '../../nerf/voxel/voxel-grid';
import { type VoxelRenderSettings } from '../../nerf/voxel/voxel-grid-scene';
import type { Vec3 } from '../../core/math';

/**
 * The saved voxel scene: one binary file (`scene.voxel`), a JSON header followed by the raw arrays.
 *
 * ```
 * offset 0   8 bytes   magic "ISVOXEL\0"
 * offset 8   u32 LE    header length H (bytes of UTF-8 JSON)
 * offset 12  H bytes   header JSON (see VoxelFileHeader), then zero padding to a multiple of 4
 * offset P   payload   the arrays named in header.arrays, in order, each at header.arrays[i].offset
 *                      (relative to P), little-endian, no gaps:
 *                        density   float32 × nx·ny·nz                  raw density (voxel-grid.ts layout)
 *                        color     float32 × nx·ny·nz·K (K = 3 or 12)  raw colour features
 *                        occupancy uint8   × (nx−1)(ny−1)(nz−1)        empty-space cells
 * ```
 * The header repeats everything needed to interpret the arrays: `version` (1), `res`, `box`, `bgLen`,
 * `densityShift`, `densityScale`, `shDegree`, `background`, `render` ({stepRatio, near}), and free-form `meta`
 * (how it was fitted). Readers reject a newer major version, check every array's size against `res` and the
 * file's length before allocating anything, and reject non-finite values with one line naming the file.
 */

export const VOXEL_MAGIC = 'ISVOXEL\0';
export const VOXEL_FORMAT_VERSION = 1;
/** Coordinates of the box and distances beyond this are corruption, not scenes. */
const MAX_COORD = 1e8;
/** The JSON header is small; refuse a length field that claims more. */
const MAX_HEADER = 16 * 1024 * 1024;

export interface VoxelArrayInfo {
  name: 'density' | 'color' | 'occupancy';
  dtype: 'float32' | 'uint8';
  offset: number;
  length: number;
}

export interface VoxelFileHeader {
  format: 'instruct-scene-voxel';
  version: number;
  res: Vec3;
  box: { min: Vec3; max: Vec3 };
  bgLen: number;
  densityShift: number;
  densityScale: number;
  shDegree: 0 | 1;
  background: Vec3;
  render: VoxelRenderSettings;
  arrays: VoxelArrayInfo[];
  meta?: Record<string, unknown>;
}

export interface VoxelFile {
  grid: VoxelGrid;
  background: Vec3;
  render: VoxelRenderSettings;
  meta?: Record<string, unknown>;
}

/** Serialises a grid to the format above. */
export function encodeVoxelScene(f: VoxelFile): Uint8Array {
  const g = f.grid;
  const n = vertexCount(g.res),
    K = colorDims(g.shDegree),
    cells = cellCount(g.res);
  const arrays: VoxelArrayInfo[] = [
    { name: 'density', dtype: 'float32', offset: 0, length: n },
    { name: 'color', dtype: 'float32', offset: 4 * n, length: n * K },
    { name: 'occupancy', dtype: 'uint8', offset: 4 * n * (1 + K), length: cells },
  ];
  const header: VoxelFileHeader = {
    format: 'instruct-scene-voxel',
    version: VOXEL_FORMAT_VERSION,
    res: g.res,
    box: g.box,
    bgLen: g.bgLen,
    densityShift: g.densityShift,
    densityScale: g.densityScale,
    shDegree: g.shDegree,
    background: f.background,
    render: f.render,
    arrays,
    meta: f.meta,
  };
  const json = new TextEncoder().encode(JSON.stringify(header));
  const P = align4(12 + json.length);
  const total = P + 4 * n * (1 + K) + cells;
  const out = new Uint8Array(total);
  out.set(new TextEncoder().encode(VOXEL_MAGIC), 0);
  new DataView(out.buffer).setUint32(8, json.length, true);
  out.set(json, 12);
  writeF32(out, P, g.density);
  writeF32(out, P + 4 * n, g.color);
  out.set(g.occupancy, P + 4 * n * (1 + K));
  return out;
}

function align4(x: number): number {
  return (x + 3) & ~3;
}

const littleEndian = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

function writeF32(out: Uint8Array, at: number, a: Float32Array): void {
  if (littleEndian) out.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), at);
  else {
    const dv = new DataView(out.buffer, out.byteOffset);
    for (let i = 0; i < a.length; i++) dv.setFloat32(at + 4 * i, a[i], true);
  }
}

function readF32(bytes: Uint8Array, at: number, n: number): Float32Array {
  const out = new Float32Array(n);
  if (littleEndian) new Uint8Array(out.buffer).set(bytes.subarray(at, at + 4 * n));
  else {
    const dv = new DataView(bytes.buffer, bytes.byteOffset);
    for (let i = 0; i < n; i++) out[i] = dv.getFloat32(at + 4 * i, true);
  }
  return out;
}

function finiteNumber(v: unknown, what: string, file: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v))
    throw new UserError(`header: ${what} must be a finite number, got ${describeValue(v)}`, file);
  return v;
}

function vec3(v: unknown, what: string, file: string): Vec3 {
  if (!Array.isArray(v) || v.length !== 3) throw new UserError(`header: ${what} must be an array of 3 numbers`, file);
  return [finiteNumber(v[0], `${what}[0]`, file), finiteNumber(v[1], `${what}[1]`, file), finiteNumber(v[2], `${what}[2]`, file)];
}

/** Parses and validates a voxel scene file. Throws a UserError naming `file` on anything wrong. */
export function decodeVoxelScene(bytes: Uint8Array, file: string): VoxelFile {
  if (bytes.length < 12 || new TextDecoder().decode(bytes.subarray(0, 8)) !== VOXEL_MAGIC)
    throw new UserError('not an instruct-scene voxel file (bad magic bytes)', file);
  const H = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(8, true);
  if (H > bytes.length - 12 || H > MAX_HEADER)
    throw new UserError(`truncated or corrupt: header length ${H} exceeds the file size (${bytes.length} bytes)`, file);
  let h: any;
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(12, 12 + H));
    if (jsonDepth(text) > MAX_JSON_DEPTH) throw new Error(`nested more than ${MAX_JSON_DEPTH} levels deep`);
    h = JSON.parse(text);
  } catch (e) {
    throw new UserError(`corrupt header (${(e as Error).message.replace(/,? "[\s\S]*$/, '')})`, file);
  }
  if (typeof h !== 'object' || h === null || h.format !== 'instruct-scene-voxel')
    throw new UserError('header: format must be "instruct-scene-voxel"', file);
  const version = finiteNumber(h.version, 'version', file);
  if (!Number.isInteger(version) || version < 1) throw new UserError(`header: version must be a positive integer, got ${version}`, file);
  if (version > VOXEL_FORMAT_VERSION)
    throw new UserError(
      `format version ${version} is newer than this program reads (${VOXEL_FORMAT_VERSION}); update instruct-scene`,
      file,
    );
  const res = vec3(h.res, 'res', file);
  if (!res.every((r) => Number.isInteger(r) && r >= 2 && r <= 4096))
    throw new UserError(`header: res must be integers in [2, 4096], got ${describeValue(h.res)}`, file);
  const box = { min: vec3(h.box?.min, 'box.min', file), max: vec3(h.box?.max, 'box.max', file) };
  if (![...box.min, ...box.max].every((v) => Math.abs(v) <= MAX_COORD))
    throw new UserError(`header: box coordinates must lie within ±${MAX_COORD}`, file);
  if (!box.min.every((v, a) => box.max[a] - v > 1e-6 * Math.max(1, Math.abs(v))))
    throw new UserError('header: box.max must exceed box.min on every axis', file);
  const bgLen = finiteNumber(h.bgLen, 'bgLen', file);
  if (bgLen < 0 || bgLen > 100) throw new UserError(`header: bgLen must be in [0, 100], got ${bgLen}`, file);
  const densityShift = finiteNumber(h.densityShift, 'densityShift', file);
  const densityScale = finiteNumber(h.densityScale, 'densityScale', file);
  if (Math.abs(densityShift) > 1e4) throw new UserError(`header: densityShift must be within ±1e4, got ${densityShift}`, file);
  if (densityScale <= 0 || densityScale > 1e6) throw new UserError(`header: densityScale must be in (0, 1e6], got ${densityScale}`, file);
  const shDegree = h.shDegree;
  if (shDegree !== 0 && shDegree !== 1) throw new UserError(`header: shDegree must be 0 or 1, got ${describeValue(shDegree)}`, file);
  const background = vec3(h.background, 'background', file);
  if (!background.every((v) => v >= 0 && v <= 1))
    throw new UserError(`header: background must be RGB in [0, 1], got ${describeValue(h.background)}`, file);
  const stepRatio = finiteNumber(h.render?.stepRatio, 'render.stepRatio', file);
  const near = finiteNumber(h.render?.near, 'render.near', file);
  if (stepRatio <= 0.01 || stepRatio > 10) throw new UserError('header: render.stepRatio must be in (0.01, 10]', file);
  if (near < 0 || near > MAX_COORD) throw new UserError(`header: render.near must be in [0, ${MAX_COORD}], got ${near}`, file);

  const n = vertexCount(res);
  checkLimit('voxelVertices', n, `grid ${res.join('×')} vertex count`, file);
  const K = colorDims(shDegree);
  const cells = cellCount(res);
  const P = align4(12 + H);
  const want: Record<string, { dtype: string; length: number; offset: number }> = {
    density: { dtype: 'float32', length: n, offset: 0 },
    color: { dtype: 'float32', length: n * K, offset: 4 * n },
    occupancy: { dtype: 'uint8', length: cells, offset: 4 * n * (1 + K) },
  };
  if (!Array.isArray(h.arrays) || h.arrays.length !== 3) throw new UserError('header: arrays must list density, color, occupancy', file);
  for (const a of h.arrays) {
    const w = want[a?.name];
    if (!w) throw new UserError(`header: unknown array ${describeValue(a?.name)}`, file);
    if (a.dtype !== w.dtype || a.length !== w.length || a.offset !== w.offset)
      throw new UserError(
        `header: array ${a.name} is ${a.dtype}×${a.length} at ${a.offset}, but a ${res.join('×')} grid needs ${w.dtype}×${w.length} at ${w.offset}`,
        file,
      );
  }
  const expected = P + 4 * n * (1 + K) + cells;
  if (bytes.length !== expected)
    throw new UserError(
      `${bytes.length < expected ? 'truncated' : 'has trailing bytes'}: ${bytes.length} bytes, but the header's ${res.join('×')} grid needs ${expected}`,
      file,
    );

  const density = readF32(bytes, P, n);
  const color = readF32(bytes, P + 4 * n, n * K);
  for (let i = 0; i < density.length; i++)
    if (!Number.isFinite(density[i])) throw new UserError(`density contains a non-finite value (${density[i]}) at vertex ${i}`, file);
  for (let i = 0; i < color.length; i++)
    if (!Number.isFinite(color[i]))
      throw new UserError(`color contains a non-finite value (${color[i]}) at vertex ${Math.floor(i / K)}`, file);
  const occupancy = bytes.slice(P + 4 * n * (1 + K), expected);
  const grid: VoxelGrid = { res, box, bgLen, densityShift, densityScale, shDegree, density, color, occupancy };
  return { grid, background, render: { stepRatio, near }, meta: typeof h.meta === 'object' && h.meta ? h.meta : undefined };
}
