import { unpackHalf, unpackSnorm, packHalf2 } from '../../core/half';
import type { SplatBuffers } from './splat-data';
import { SPLAT_WORDS, bitsToF32, f32ToBits } from './splat-record';
import { LOD_NONE, lodParent } from './splat-lod';

/**
 * CPU twin of src/shaders/splat_project.wgsl and splat_sort.wgsl (same steps, same names in camelCase), and the
 * viewer's projection on backends without compute shaders (three's WebGL2 backend). See the WGSL for the maths.
 */

export const LOD_BINS = 256;
export const DEPTH_BINS = 65536;
/** Words of the shared state buffer: counters, then the two level-of-detail histograms. */
export const STATE_WORDS = 4 + 2 * LOD_BINS;
/** u32 words per draw record. */
export const RECORD_WORDS = 8;
const DILATION = 0.3;

/** The projection's parameters (the WGSL `Params` struct). */
export interface SplatParams {
  /** rows 0..2 of the model-view matrix, 4 values each (object → three's view space) */
  view: Float64Array;
  /** rows 2 and 3 of the projection matrix */
  projZ: [number, number, number, number];
  projW: [number, number, number, number];
  /** camera centre in object space, and the near cull distance */
  cam: [number, number, number, number];
  fx: number;
  fy: number;
  cx: number;
  cy: number;
  width: number;
  height: number;
  /** lowest and highest NDC depth of the backend (WebGPU 0..1, WebGL −1..1) */
  zLo: number;
  zHi: number;
  /** clamp limits of x/z and y/z: [−limXn, limXp], [−limYn, limYp] */
  lims: [number, number, number, number];
  /** view-depth range of the keys (and of the depth render mode) */
  depthNear: number;
  depthFar: number;
  /** focal length (pixels) used for the level-of-detail node sizes */
  lodFocal: number;
  regionMin: [number, number, number];
  regionMax: [number, number, number];
  nodes: number;
  leaves: number;
  capacity: number;
  lod: boolean;
  budget: number;
  minBin: number;
  mode: number;
  shDegree: number;
  /** lengths of the frustum side planes' normals (fx, 0, cx), (fx, 0, w − cx), (0, fy, cy), (0, fy, h − cy) */
  planes: [number, number, number, number];
}

/** Bytes of the WGSL `Params` struct. */
export const PARAMS_BYTES = 240;

/** Packs `p` as the WGSL struct (15 × 16 bytes). */
export function writeSplatParams(p: SplatParams, out = new ArrayBuffer(PARAMS_BYTES)): ArrayBuffer {
  const f = new Float32Array(out),
    u = new Uint32Array(out);
  f.set(p.view.subarray(0, 12), 0);
  f.set(p.projZ, 12);
  f.set(p.projW, 16);
  f.set(p.cam, 20);
  f.set([p.fx, p.fy, p.cx, p.cy], 24);
  f.set([p.width, p.height, p.zLo, p.zHi], 28);
  f.set(p.lims, 32);
  f.set([p.depthNear, p.depthFar, p.lodFocal, 0], 36);
  f.set([...p.regionMin, 0], 40);
  f.set([...p.regionMax, 0], 44);
  u.set([p.nodes, p.leaves, p.capacity, p.lod ? 1 : 0], 48);
  u.set([p.budget, p.minBin, p.mode, p.shDegree], 52);
  f.set(p.planes, 56);
  return out;
}

const f32 = Math.fround;

/** What `splatParams` needs: matrices (column-major, three.js order) and the frame's settings. */
export interface SplatFrameInput {
  /** object → view (camera.matrixWorldInverse × object.matrixWorld) */
  modelView: ArrayLike<number>;
  /** the camera's projection (off-centre principal points allowed; perspective only) */
  projection: ArrayLike<number>;
  /** camera centre in object space */
  cameraInObject: [number, number, number];
  width: number;
  height: number;
  /** NDC depth range 0..1 (WebGPU) or −1..1 (WebGL) */
  webgpu: boolean;
  /** bounding sphere of the splats in object space (depth keys span it) */
  sphere: { center: [number, number, number]; radius: number };
  splats: SplatBuffers;
  capacity: number;
  lod: boolean;
  budget: number;
  lodMinPixels: number;
  mode: number;
  regionMin: [number, number, number];
  regionMax: [number, number, number];
}

/** Near distance below which splats are culled (the CPU rasteriser's NEAR). */
export const NEAR = 0.01;

/** The projection's parameters for one frame: pinhole intrinsics from the projection matrix, clamp limits, depth range. */
export function splatParams(f: SplatFrameInput): SplatParams {
  const e = f.modelView;
  const view = new Float64Array(12);
  for (let r = 0; r < 3; r++) for (let c = 0; c < 4; c++) view[4 * r + c] = e[4 * c + r];
  const P = f.projection;
  const W = f.width,
    H = f.height;
  // three's perspective: ndc.x = P0·x/(−z) − P8, ndc.y = P5·y/(−z) − P9; pixels (u right, v down)
  const fx = (P[0] * W) / 2,
    fy = (P[5] * H) / 2;
  const cx = ((1 - P[8]) * W) / 2,
    cy = ((1 + P[9]) * H) / 2;
  const [sx, sy, sz] = f.sphere.center;
  const depth = -(e[2] * sx + e[6] * sy + e[10] * sz + e[14]);
  const r = f.sphere.radius + 1e-3;
  return {
    view,
    projZ: [P[2], P[6], P[10], P[14]],
    projW: [P[3], P[7], P[11], P[15]],
    cam: [...f.cameraInObject, NEAR],
    fx,
    fy,
    cx,
    cy,
    width: W,
    height: H,
    zLo: f.webgpu ? 0 : -1,
    zHi: 1,
    lims: [cx / fx + (0.3 * W) / fx, (W - cx) / fx + (0.3 * W) / fx, cy / fy + (0.3 * H) / fy, (H - cy) / fy + (0.3 * H) / fy],
    depthNear: Math.max(0, depth - r),
    depthFar: depth + r,
    lodFocal: Math.max(fx, fy),
    regionMin: f.regionMin,
    regionMax: f.regionMax,
    nodes: f.lod ? f.splats.nodes : f.splats.count,
    leaves: f.splats.count,
    capacity: f.capacity,
    lod: f.lod,
    budget: Math.max(1, Math.min(f.budget, f.capacity)),
    minBin: f.lodMinPixels > 0 ? sizeBin(f.lodMinPixels) : 0,
    mode: f.mode,
    shDegree: f.splats.sh ? f.splats.shDegree : 0,
    planes: [Math.hypot(fx, cx), Math.hypot(fx, W - cx), Math.hypot(fy, cy), Math.hypot(fy, H - cy)],
  };
}

function toCamera(p: SplatParams, x: number, y: number, z: number, out: Float64Array): Float64Array {
  const v = p.view;
  out[0] = v[0] * x + v[1] * y + v[2] * z + v[3];
  out[1] = -(v[4] * x + v[5] * y + v[6] * z + v[7]);
  out[2] = -(v[8] * x + v[9] * y + v[10] * z + v[11]);
  return out;
}

const _t = new Float64Array(3);

export function sphereVisible(p: SplatParams, x: number, y: number, z: number, r: number): boolean {
  const t = toCamera(p, x, y, z, _t);
  if (t[2] + r <= p.cam[3]) return false;
  const { fx, fy, cx, cy, width: w, height: h, planes: q } = p;
  if (fx * t[0] + cx * t[2] < -r * q[0]) return false;
  if ((w - cx) * t[2] - fx * t[0] < -r * q[1]) return false;
  if (fy * t[1] + cy * t[2] < -r * q[2]) return false;
  if ((h - cy) * t[2] - fy * t[1] < -r * q[3]) return false;
  return true;
}

export function sphereSize(p: SplatParams, x: number, y: number, z: number, r: number): number {
  const d = Math.hypot(x - p.cam[0], y - p.cam[1], z - p.cam[2]) - r;
  if (d <= 0) return 3e38;
  return (p.lodFocal * r) / d;
}

export function sizeBin(s: number): number {
  if (s <= 0.00390625) return 0;
  return Math.min(LOD_BINS - 1, Math.max(0, Math.floor((Math.log2(s) + 8) * 8)));
}

function centre(s: SplatBuffers, n: number, out: Float64Array): Float64Array {
  const o = n * SPLAT_WORDS;
  out[0] = bitsToF32(s.data[o]);
  out[1] = bitsToF32(s.data[o + 1]);
  out[2] = bitsToF32(s.data[o + 2]);
  return out;
}

const _c = new Float64Array(3);
function radius(s: SplatBuffers, n: number): number {
  return bitsToF32(s.lod![2 * n + 1]);
}

export function nodeBin(p: SplatParams, s: SplatBuffers, n: number): number {
  if (n < p.leaves) return 0;
  const c = centre(s, n, _c);
  return sizeBin(sphereSize(p, c[0], c[1], c[2], radius(s, n)));
}

export function parentBin(p: SplatParams, s: SplatBuffers, n: number): number {
  const q = lodParent(s.lod!, n);
  if (q === LOD_NONE) return LOD_BINS;
  const c = centre(s, q, _c);
  return sizeBin(sphereSize(p, c[0], c[1], c[2], radius(s, q)));
}

/**
 * `splat_lod_bins`: each merged node's size bin | (its sphere is in view) << 9 → `lodbins`, and the size histograms
 * of the visible nodes (state[4..]) and of their parents (state[4+LOD_BINS..]); leaves count through their parent
 * (bin 0, and its bin as theirs' parent), being in view when it is.
 */
export function splatLodBins(p: SplatParams, s: SplatBuffers, state: Uint32Array, lodbins: Uint32Array): void {
  const c = new Float64Array(3);
  for (let n = p.leaves; n < p.nodes; n++) {
    centre(s, n, c);
    const r = radius(s, n);
    const bn = sizeBin(sphereSize(p, c[0], c[1], c[2], r));
    const visible = sphereVisible(p, c[0], c[1], c[2], r);
    lodbins[n] = bn | ((visible ? 1 : 0) << 9);
    if (!visible) continue;
    state[4 + bn]++;
    const bp = parentBin(p, s, n);
    if (bp < LOD_BINS) state[4 + LOD_BINS + bp]++;
    const kids = s.lod![2 * n] >>> 28;
    state[4] += kids;
    state[4 + LOD_BINS + bn] += kids;
  }
}

/** (size bin, parent's size bin, in view) of node n after `splatLodBins`. */
export function nodeLod(p: SplatParams, s: SplatBuffers, lodbins: Uint32Array, n: number): [number, number, number] {
  const q = lodParent(s.lod!, n);
  let bn = 0,
    vis = 0,
    bp = LOD_BINS;
  if (n >= p.leaves) {
    bn = lodbins[n] & 511;
    vis = lodbins[n] >>> 9;
  }
  if (q !== LOD_NONE) {
    bp = lodbins[q] & 511;
    if (n < p.leaves) vis = lodbins[q] >>> 9;
  }
  return [bn, bp, vis];
}

/** `splat_lod_select`: the finest size bin whose cut draws at most `budget` nodes (state[1]), and that count (state[2]); clears the histograms. */
export function splatLodSelect(p: SplatParams, state: Uint32Array): void {
  let best = LOD_BINS - 1;
  const drawn = new Int32Array(LOD_BINS);
  let sum = 0;
  for (let i = 0; i < LOD_BINS; i++) {
    sum += state[4 + i] - state[4 + LOD_BINS + i];
    drawn[i] = sum;
    // cleared for the next frame
    state[4 + i] = 0;
    state[4 + LOD_BINS + i] = 0;
  }
  for (let i = LOD_BINS - 1; i >= 0; i--) if (drawn[i] <= p.budget) best = Math.min(best, i);
  const b = Math.max(best, p.minBin);
  state[1] = b;
  state[2] = Math.max(drawn[b], 0);
}

const SH1 = 0.4886025119029199;
const Y = new Float64Array(16);

function shBasisRest(deg: number, x: number, y: number, z: number): void {
  Y[1] = -SH1 * y;
  Y[2] = SH1 * z;
  Y[3] = -SH1 * x;
  if (deg < 2) return;
  const xx = x * x,
    yy = y * y,
    zz = z * z;
  Y[4] = 1.0925484305920792 * x * y;
  Y[5] = -1.0925484305920792 * y * z;
  Y[6] = 0.31539156525252005 * (2 * zz - xx - yy);
  Y[7] = -1.0925484305920792 * x * z;
  Y[8] = 0.5462742152960396 * (xx - yy);
  if (deg < 3) return;
  Y[9] = -0.5900435899266435 * y * (3 * xx - yy);
  Y[10] = 2.890611442640554 * x * y * z;
  Y[11] = -0.4570457994644658 * y * (4 * zz - xx - yy);
  Y[12] = 0.3731763325901154 * z * (2 * zz - 3 * xx - 3 * yy);
  Y[13] = -0.4570457994644658 * x * (4 * zz - xx - yy);
  Y[14] = 1.445305721320277 * z * (xx - yy);
  Y[15] = -0.5900435899266435 * x * (xx - 3 * yy);
}

/**
 * `splat_project`: appends a draw record, key and histogram count for every node that is drawn (see the WGSL).
 * Records: u, v (pixels), NDC depth, axis 1 (pixels, f32 × 2), f16 (axis-2 length, k²), f16 (r, g), f16 (b, opacity).
 */
export function splatProject(
  p: SplatParams,
  s: SplatBuffers,
  state: Uint32Array,
  records: Uint32Array,
  keys: Uint32Array,
  hist: Uint32Array,
  lodbins: Uint32Array,
): void {
  const d = s.data;
  const c = new Float64Array(3),
    t = new Float64Array(3);
  const v = p.view;
  const w0 = [v[0], v[1], v[2]],
    w1 = [-v[4], -v[5], -v[6]],
    w2 = [-v[8], -v[9], -v[10]];
  const deg = p.shDegree;
  const coeffs = (deg + 1) * (deg + 1);
  const words = deg > 0 ? (3 * (coeffs - 1) + 1) >> 1 : 0;
  const b = state[1];
  for (let n = 0; n < p.nodes; n++) {
    const o = n * SPLAT_WORDS;
    centre(s, n, c);
    if (p.lod) {
      const [bn, bp, vis] = nodeLod(p, s, lodbins, n);
      if (!vis || bn > b || bp <= b) continue;
    }
    const w7 = d[o + 7];
    const opacity = (w7 >>> 16) / 65535;
    if (opacity * 255 <= 1) continue;
    toCamera(p, c[0], c[1], c[2], t);
    const tz = t[2];
    if (!(tz > p.cam[3])) continue;
    const sx = unpackHalf(d[o + 3], 0),
      sy = unpackHalf(d[o + 3], 1),
      sz = unpackHalf(d[o + 4], 0);
    const rxy = unpackSnorm(d[o + 6], 0),
      rxz = unpackSnorm(d[o + 6], 1),
      ryz = unpackSnorm(w7, 0);
    const S00 = sx * sx,
      S01 = rxy * sx * sy,
      S02 = rxz * sx * sz,
      S11 = sy * sy,
      S12 = ryz * sy * sz,
      S22 = sz * sz;
    const ux = Math.min(p.lims[1], Math.max(-p.lims[0], t[0] / tz)),
      uy = Math.min(p.lims[3], Math.max(-p.lims[2], t[1] / tz));
    const j00 = p.fx / tz,
      j02 = (-p.fx * ux) / tz,
      j11 = p.fy / tz,
      j12 = (-p.fy * uy) / tz;
    const T0x = j00 * w0[0] + j02 * w2[0],
      T0y = j00 * w0[1] + j02 * w2[1],
      T0z = j00 * w0[2] + j02 * w2[2];
    const T1x = j11 * w1[0] + j12 * w2[0],
      T1y = j11 * w1[1] + j12 * w2[1],
      T1z = j11 * w1[2] + j12 * w2[2];
    const S1x = S00 * T1x + S01 * T1y + S02 * T1z,
      S1y = S01 * T1x + S11 * T1y + S12 * T1z,
      S1z = S02 * T1x + S12 * T1y + S22 * T1z;
    const a =
      T0x * (S00 * T0x + S01 * T0y + S02 * T0z) +
      T0y * (S01 * T0x + S11 * T0y + S12 * T0z) +
      T0z * (S02 * T0x + S12 * T0y + S22 * T0z) +
      DILATION;
    const bb = T0x * S1x + T0y * S1y + T0z * S1z;
    const cc = T1x * S1x + T1y * S1y + T1z * S1z + DILATION;
    const det = a * cc - bb * bb;
    if (!(det > 0)) continue;
    const k2 = 2 * Math.log(opacity * 255);
    const k = Math.sqrt(k2);
    const mid = 0.5 * (a + cc),
      hd = 0.5 * (a - cc);
    const disc = Math.sqrt(hd * hd + bb * bb);
    const l1 = mid + disc,
      l2 = Math.max(det / l1, 1e-6);
    let e1x = 1,
      e1y = 0;
    const vx = hd >= 0 ? hd + disc : bb,
      vy = hd >= 0 ? bb : disc - hd;
    const vl = vx * vx + vy * vy;
    if (vl > 1e-24) {
      const il = 1 / Math.sqrt(vl);
      e1x = vx * il;
      e1y = vy * il;
    }
    const a1x = e1x * k * Math.sqrt(l1),
      a1y = e1y * k * Math.sqrt(l1);
    const a2len = k * Math.sqrt(l2);
    const u = (p.fx * t[0]) / tz + p.cx,
      vv = (p.fy * t[1]) / tz + p.cy;
    const ex = Math.abs(a1x) + a2len * Math.abs(e1y),
      ey = Math.abs(a1y) + a2len * Math.abs(e1x);
    if (u + ex < 0 || u - ex > p.width || vv + ey < 0 || vv - ey > p.height) continue;
    const vx4 = v[0] * c[0] + v[1] * c[1] + v[2] * c[2] + v[3],
      vy4 = v[4] * c[0] + v[5] * c[1] + v[6] * c[2] + v[7],
      vz4 = v[8] * c[0] + v[9] * c[1] + v[10] * c[2] + v[11];
    const zn =
      (p.projZ[0] * vx4 + p.projZ[1] * vy4 + p.projZ[2] * vz4 + p.projZ[3]) /
      (p.projW[0] * vx4 + p.projW[1] * vy4 + p.projW[2] * vz4 + p.projW[3]);
    if (zn > p.zHi) continue;
    const ndcZ = Math.max(zn, p.zLo);
    let r = unpackHalf(d[o + 4], 1),
      g = unpackHalf(d[o + 5], 0),
      bl = unpackHalf(d[o + 5], 1);
    if (deg > 0 && s.sh) {
      const dx = c[0] - p.cam[0],
        dy = c[1] - p.cam[1],
        dz = c[2] - p.cam[2];
      const il = 1 / Math.hypot(dx, dy, dz);
      shBasisRest(deg, dx * il, dy * il, dz * il);
      const base = n * words;
      for (let kk = 1; kk < coeffs; kk++) {
        const h = 3 * (kk - 1);
        r += Y[kk] * shHalf(s.sh, base, h);
        g += Y[kk] * shHalf(s.sh, base, h + 1);
        bl += Y[kk] * shHalf(s.sh, base, h + 2);
      }
    }
    r = Math.max(r, 0);
    g = Math.max(g, 0);
    bl = Math.max(bl, 0);
    const dn = Math.min(1, Math.max(0, (tz - p.depthNear) / Math.max(p.depthFar - p.depthNear, 1e-6)));
    if (p.mode === 1) r = g = bl = dn;
    if (p.mode === 2) {
      const inside =
        c[0] >= p.regionMin[0] &&
        c[1] >= p.regionMin[1] &&
        c[2] >= p.regionMin[2] &&
        c[0] <= p.regionMax[0] &&
        c[1] <= p.regionMax[1] &&
        c[2] <= p.regionMax[2];
      if (inside) {
        r = r * 0.5 + 0.5;
        g = g * 0.5 + 0.4;
        bl = bl * 0.5;
      } else {
        r *= 0.35;
        g *= 0.35;
        bl *= 0.35;
      }
    }
    const slot = state[0]++;
    if (slot >= p.capacity) continue;
    const ro = slot * RECORD_WORDS;
    records[ro] = f32ToBits(u);
    records[ro + 1] = f32ToBits(vv);
    records[ro + 2] = f32ToBits(ndcZ);
    records[ro + 3] = f32ToBits(a1x);
    records[ro + 4] = f32ToBits(a1y);
    records[ro + 5] = packHalf2(a2len, k2);
    records[ro + 6] = packHalf2(r, g);
    records[ro + 7] = packHalf2(bl, opacity);
    const key = DEPTH_BINS - 1 - Math.floor(f32(dn) * (DEPTH_BINS - 1));
    keys[slot] = key;
    hist[key]++;
  }
}

function shHalf(sh: Uint32Array, base: number, h: number): number {
  return unpackHalf(sh[base + (h >> 1)], (h & 1) as 0 | 1);
}

/**
 * `splat_offsets`: the records kept (≤ capacity) → state[3] and `count[0]`; exclusive prefix sums of the depth
 * histogram → `offsets`; clears the histogram and the record counter for the next frame.
 */
export function splatOffsets(p: SplatParams, state: Uint32Array, hist: Uint32Array, offsets: Uint32Array, count: Uint32Array): void {
  let sum = 0;
  for (let i = 0; i < DEPTH_BINS; i++) {
    offsets[i] = sum;
    sum += hist[i];
    hist[i] = 0;
  }
  const kept = Math.min(state[0], p.capacity);
  state[3] = kept;
  state[0] = 0;
  count[0] = kept;
}

/** `splat_scatter`: order[offsets[key]++] = record (the CPU version keeps records with equal keys in record order). */
export function splatScatter(state: Uint32Array, keys: Uint32Array, offsets: Uint32Array, order: Uint32Array): void {
  const n = state[3];
  for (let j = 0; j < n; j++) order[offsets[keys[j]]++] = j;
}

/** Scratch buffers of one CPU projection + sort. */
export interface SplatCpuFrame {
  state: Uint32Array<ArrayBuffer>;
  records: Uint32Array<ArrayBuffer>;
  keys: Uint32Array<ArrayBuffer>;
  hist: Uint32Array<ArrayBuffer>;
  offsets: Uint32Array<ArrayBuffer>;
  order: Uint32Array<ArrayBuffer>;
  count: Uint32Array<ArrayBuffer>;
  lodbins: Uint32Array<ArrayBuffer>;
}

/** Scratch for `capacity` records (and `nodes` tree nodes in level-of-detail frames). */
export function createCpuFrame(capacity: number, nodes = 0): SplatCpuFrame {
  return {
    state: new Uint32Array(STATE_WORDS),
    records: new Uint32Array(Math.max(1, capacity) * RECORD_WORDS),
    keys: new Uint32Array(Math.max(1, capacity)),
    hist: new Uint32Array(DEPTH_BINS),
    offsets: new Uint32Array(DEPTH_BINS),
    order: new Uint32Array(Math.max(1, capacity)),
    count: new Uint32Array(4),
    lodbins: new Uint32Array(Math.max(1, nodes)),
  };
}

/** The whole frame on the CPU, as the GPU runs it: (level-of-detail cut), projection, counting sort. Returns the records drawn. */
export function projectAndSortCpu(p: SplatParams, s: SplatBuffers, f: SplatCpuFrame): number {
  if (p.lod) {
    if (f.lodbins.length < p.nodes) f.lodbins = new Uint32Array(p.nodes);
    splatLodBins(p, s, f.state, f.lodbins);
    splatLodSelect(p, f.state);
  }
  splatProject(p, s, f.state, f.records, f.keys, f.hist, f.lodbins);
  splatOffsets(p, f.state, f.hist, f.offsets, f.count);
  splatScatter(f.state, f.keys, f.offsets, f.order);
  return f.state[3];
}
