import { UserError } from '../../core/errors';
import { createGaussians, SH_STRIDE, type Gaussians } from '../../nerf/gaussian/gaussians';
import { logit } from '../../core/math';
import { SH_C0 } from '../../nerf/common/sh';
import { checkCount, normaliseQuat, progressTicker, type GaussianReadOptions } from './gaussian-limits';
import { parsePlyHeader, type PlyElement, type PlyHeader } from './ply';

/**
 * PlayCanvas compressed PLY (`.compressed.ply`, written by SuperSplat and splat-transform).
 *
 * Binary little-endian. Element `chunk` (one per 256 splats, float32): min/max of x y z, of the log scales
 * (`min_scale_x`…) and optionally of the linear colour (`min_r`…). Element `vertex` (uint32 each):
 * `packed_position` and `packed_scale` as 11-10-11 bits (x in the top bits), each lerped within its chunk's
 * range; `packed_rotation` as 2 bits (index of the dropped largest of rot_0..rot_3) + 3 × 10 bits
 * ((c·√½… see docs/formats.md)); `packed_color` as 8-8-8-8 RGBA (colour = 0.5 + SH_C0·f_dc lerped in the
 * chunk's colour range when given, alpha = sigmoid(opacity)). Optional element `sh`: 9, 24 or 45 uint8
 * `f_rest_*` (channel-major as in 3DGS .ply), value = (n/256 − 0.5)·8 with 0 → −4 and 255 → +4.
 * Coordinates are the .ply's, unchanged.
 */

const CHUNK = 256;
const CHUNK_PROPS = ['min_x', 'min_y', 'min_z', 'max_x', 'max_y', 'max_z'];
const SCALE_PROPS = ['min_scale_x', 'min_scale_y', 'min_scale_z', 'max_scale_x', 'max_scale_y', 'max_scale_z'];
const COLOR_PROPS = ['min_r', 'min_g', 'min_b', 'max_r', 'max_g', 'max_b'];
const VERTEX_PROPS = ['packed_position', 'packed_rotation', 'packed_scale', 'packed_color'];
const SIZE: Record<string, number> = { int8: 1, uint8: 1, int16: 2, uint16: 2, int32: 4, uint32: 4, float32: 4, float64: 8 };

/** True when a PLY header describes a compressed PLY (a vertex element with `packed_position`). */
export function isCompressedPlyHeader(h: PlyHeader): boolean {
  return h.elements.some((e) => e.name === 'vertex' && e.properties.some((p) => p.name === 'packed_position'));
}

function rowSize(e: PlyElement, file: string): number {
  let s = 0;
  for (const p of e.properties) {
    if (p.listCount) throw new UserError(`compressed PLY element '${e.name}' has a list property`, file);
    s += SIZE[p.type];
  }
  return s;
}

/** Reads a PlayCanvas compressed PLY into Gaussians. */
export function readCompressedPly(bytes: Uint8Array, file: string, opts?: GaussianReadOptions): Gaussians {
  const h = parsePlyHeader(bytes, file, 'compressed PLY');
  if (h.format !== 'binary_little_endian') throw new UserError(`compressed PLY must be binary_little_endian, not ${h.format}`, file);
  const chunkEl = h.elements.find((e) => e.name === 'chunk');
  const vertexEl = h.elements.find((e) => e.name === 'vertex');
  const shEl = h.elements.find((e) => e.name === 'sh');
  if (!chunkEl || !vertexEl) throw new UserError('compressed PLY needs a chunk and a vertex element', file);
  const n = vertexEl.count;
  checkCount(n, file, 'this compressed PLY', opts);
  if (chunkEl.count !== Math.ceil(n / CHUNK))
    throw new UserError(`compressed PLY has ${chunkEl.count} chunks for ${n} splats (expected ${Math.ceil(n / CHUNK)})`, file);
  if (shEl && shEl.count !== n) throw new UserError(`compressed PLY sh element has ${shEl.count} rows for ${n} splats`, file);
  // every element is fixed-size: check the body size BEFORE allocating anything
  const offsets = new Map<PlyElement, number>();
  let off = h.bodyOffset;
  for (const e of h.elements) {
    offsets.set(e, off);
    off += e.count * rowSize(e, file);
  }
  if (off > bytes.length)
    throw new UserError(
      `compressed PLY header promises ${off - h.bodyOffset} bytes of data but the file holds ${bytes.length - h.bodyOffset} (truncated file?)`,
      file,
    );

  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // column byte offsets within a row, with type checks
  const colOf = (e: PlyElement, name: string, type: string, required: boolean): number => {
    let o = 0;
    for (const p of e.properties) {
      if (p.name === name) {
        if (p.type !== type) throw new UserError(`compressed PLY ${e.name}.${name} must be ${type}, not ${p.type}`, file);
        return o;
      }
      o += SIZE[p.type];
    }
    if (required) throw new UserError(`compressed PLY ${e.name} element has no '${name}' property`, file);
    return -1;
  };
  const chunkRow = rowSize(chunkEl, file);
  const chunkBase = offsets.get(chunkEl)!;
  const hasColor = chunkEl.properties.some((p) => p.name === 'min_r');
  const chunkCols = [...CHUNK_PROPS, ...SCALE_PROPS, ...(hasColor ? COLOR_PROPS : [])].map((p) => colOf(chunkEl, p, 'float32', true));
  const nc = chunkEl.count;
  const bounds = new Float32Array(nc * 18);
  for (let c = 0; c < nc; c++)
    chunkCols.forEach((co, k) => {
      const v = dv.getFloat32(chunkBase + c * chunkRow + co, true);
      if (!Number.isFinite(v))
        throw new UserError(`compressed PLY chunk ${c}: ${[...CHUNK_PROPS, ...SCALE_PROPS, ...COLOR_PROPS][k]} is ${v}`, file);
      bounds[c * 18 + k] = v;
    });
  const vRow = rowSize(vertexEl, file);
  const vBase = offsets.get(vertexEl)!;
  const [pp, pr, ps, pc] = VERTEX_PROPS.map((p) => colOf(vertexEl, p, 'uint32', true));

  let rest = 0;
  let shBase = 0,
    shRow = 0;
  let shCols: number[] = [];
  if (shEl) {
    rest = shEl.properties.length;
    if (![9, 24, 45].includes(rest)) throw new UserError(`compressed PLY sh element has ${rest} properties (expected 9, 24 or 45)`, file);
    shCols = Array.from({ length: rest }, (_, j) => colOf(shEl, `f_rest_${j}`, 'uint8', true));
    shBase = offsets.get(shEl)!;
    shRow = rowSize(shEl, file);
  }
  const K = rest / 3; // coefficients per channel above DC
  const deg = [0, 3, 8, 15].indexOf(K);
  const g = createGaussians(n, deg);
  const tick = progressTicker(n, opts);
  const un = (v: number, bits: number) => (v & ((1 << bits) - 1)) / ((1 << bits) - 1);
  const lerp = (a: number, b: number, t: number) => a * (1 - t) + b * t;
  const ROT = Math.SQRT2; // stored components are c·(√2/2) + 0.5
  for (let i = 0; i < n; i++) {
    tick(i);
    const b = (i >> 8) * 18;
    const o = vBase + i * vRow;
    const P = dv.getUint32(o + pp, true),
      R = dv.getUint32(o + pr, true),
      S = dv.getUint32(o + ps, true),
      C = dv.getUint32(o + pc, true);
    g.means[3 * i] = lerp(bounds[b], bounds[b + 3], un(P >>> 21, 11));
    g.means[3 * i + 1] = lerp(bounds[b + 1], bounds[b + 4], un(P >>> 11, 10));
    g.means[3 * i + 2] = lerp(bounds[b + 2], bounds[b + 5], un(P, 11));
    g.logScales[3 * i] = lerp(bounds[b + 6], bounds[b + 9], un(S >>> 21, 11));
    g.logScales[3 * i + 1] = lerp(bounds[b + 7], bounds[b + 10], un(S >>> 11, 10));
    g.logScales[3 * i + 2] = lerp(bounds[b + 8], bounds[b + 11], un(S, 11));
    const largest = R >>> 30;
    const comps = [(un(R >>> 20, 10) - 0.5) * ROT, (un(R >>> 10, 10) - 0.5) * ROT, (un(R, 10) - 0.5) * ROT];
    const m = Math.sqrt(Math.max(0, 1 - (comps[0] ** 2 + comps[1] ** 2 + comps[2] ** 2)));
    for (let j = 0, k = 0; j < 4; j++) g.rotations[4 * i + j] = j === largest ? m : comps[k++];
    normaliseQuat(g.rotations, i);
    const cr = un(C >>> 24, 8),
      cg = un(C >>> 16, 8),
      cb = un(C >>> 8, 8);
    const col = hasColor
      ? [lerp(bounds[b + 12], bounds[b + 15], cr), lerp(bounds[b + 13], bounds[b + 16], cg), lerp(bounds[b + 14], bounds[b + 17], cb)]
      : [cr, cg, cb];
    for (let c = 0; c < 3; c++) g.sh[i * SH_STRIDE + c] = (col[c] - 0.5) / SH_C0;
    g.opacityLogits[i] = logit(un(C, 8));
    if (rest) {
      const so = shBase + i * shRow;
      for (let j = 0; j < rest; j++) {
        const v = bytes[so + shCols[j]];
        const t = v === 0 ? 0 : v === 255 ? 1 : (v + 0.5) / 256;
        const ch = Math.floor(j / K),
          k = 1 + (j % K);
        g.sh[i * SH_STRIDE + 3 * k + ch] = (t - 0.5) * 8;
      }
    }
  }
  opts?.onProgress?.(1);
  return g;
}

/**
 * Encodes Gaussians as a PlayCanvas compressed PLY. Splats are written in Morton order of their positions
 * (so each 256-splat chunk is compact, as the format expects); the last chunk's range covers only its splats.
 */
export function writeCompressedPly(g: Gaussians): Uint8Array {
  const n = g.count;
  const deg = Math.max(0, Math.min(3, g.shDegree));
  const K = [0, 3, 8, 15][deg];
  const order = mortonOrder(g);
  const nc = Math.ceil(n / CHUNK);
  const header =
    'ply\nformat binary_little_endian 1.0\ncomment written by instruct-scene\n' +
    `element chunk ${nc}\n` +
    [...CHUNK_PROPS, ...SCALE_PROPS, ...COLOR_PROPS].map((p) => `property float ${p}\n`).join('') +
    `element vertex ${n}\n` +
    VERTEX_PROPS.map((p) => `property uint ${p}\n`).join('') +
    (K ? `element sh ${n}\n` + Array.from({ length: 3 * K }, (_, j) => `property uchar f_rest_${j}\n`).join('') : '') +
    'end_header\n';
  const head = new TextEncoder().encode(header);
  const out = new Uint8Array(head.length + nc * 18 * 4 + n * 16 + n * 3 * K);
  out.set(head);
  const dv = new DataView(out.buffer);
  const chunkOff = head.length,
    vOff = chunkOff + nc * 72,
    shOff = vOff + n * 16;
  const pack = (v: number, bits: number) => {
    const t = (1 << bits) - 1;
    return Math.max(0, Math.min(t, Math.floor(v * t + 0.5)));
  };
  const norm = (x: number, lo: number, hi: number) => (hi - lo < 1e-5 ? 0 : Math.max(0, Math.min(1, (x - lo) / (hi - lo))));
  const q = [0, 0, 0, 0];
  for (let c = 0; c < nc; c++) {
    const s0 = c * CHUNK,
      s1 = Math.min(n, s0 + CHUNK);
    const lo = new Array(9).fill(Infinity),
      hi = new Array(9).fill(-Infinity);
    const val = (i: number, k: number) =>
      k < 3 ? g.means[3 * i + k] : k < 6 ? clampLog(g.logScales[3 * i + k - 3]) : 0.5 + SH_C0 * g.sh[i * SH_STRIDE + k - 6];
    for (let s = s0; s < s1; s++)
      for (let k = 0; k < 9; k++) {
        const v = val(order[s], k);
        if (v < lo[k]) lo[k] = v;
        if (v > hi[k]) hi[k] = v;
      }
    const vals = [
      lo[0],
      lo[1],
      lo[2],
      hi[0],
      hi[1],
      hi[2],
      lo[3],
      lo[4],
      lo[5],
      hi[3],
      hi[4],
      hi[5],
      lo[6],
      lo[7],
      lo[8],
      hi[6],
      hi[7],
      hi[8],
    ];
    vals.forEach((v, k) => dv.setFloat32(chunkOff + c * 72 + 4 * k, v, true));
    for (let s = s0; s < s1; s++) {
      const i = order[s];
      const nv = (k: number) => norm(val(i, k), lo[k], hi[k]);
      const P = (pack(nv(0), 11) << 21) | (pack(nv(1), 10) << 11) | pack(nv(2), 11);
      const S = (pack(nv(3), 11) << 21) | (pack(nv(4), 10) << 11) | pack(nv(5), 11);
      const C = (pack(nv(6), 8) << 24) | (pack(nv(7), 8) << 16) | (pack(nv(8), 8) << 8) | pack(1 / (1 + Math.exp(-g.opacityLogits[i])), 8);
      const r = g.rotations;
      const l = Math.hypot(r[4 * i], r[4 * i + 1], r[4 * i + 2], r[4 * i + 3]) || 1;
      for (let j = 0; j < 4; j++) q[j] = r[4 * i + j] / l;
      let largest = 0;
      for (let j = 1; j < 4; j++) if (Math.abs(q[j]) > Math.abs(q[largest])) largest = j;
      const sign = q[largest] < 0 ? -1 : 1;
      let R = largest;
      for (let j = 0; j < 4; j++) if (j !== largest) R = (R << 10) | pack(q[j] * sign * Math.SQRT1_2 + 0.5, 10);
      const vo = vOff + s * 16;
      dv.setUint32(vo, P >>> 0, true);
      dv.setUint32(vo + 4, R >>> 0, true);
      dv.setUint32(vo + 8, S >>> 0, true);
      dv.setUint32(vo + 12, C >>> 0, true);
      for (let j = 0; j < 3 * K; j++) {
        const ch = Math.floor(j / K),
          k = 1 + (j % K);
        const v = g.sh[i * SH_STRIDE + 3 * k + ch] / 8 + 0.5;
        out[shOff + s * 3 * K + j] = Math.max(0, Math.min(255, Math.trunc(v * 256)));
      }
    }
  }
  return out;
}

const clampLog = (v: number) => Math.max(-20, Math.min(20, v));

/** Indices sorted by the Morton code of the positions (10 bits per axis within the bounds). */
function mortonOrder(g: Gaussians): Uint32Array {
  const n = g.count;
  const lo = [Infinity, Infinity, Infinity],
    hi = [-Infinity, -Infinity, -Infinity];
  for (let i = 0; i < n; i++)
    for (let a = 0; a < 3; a++) {
      lo[a] = Math.min(lo[a], g.means[3 * i + a]);
      hi[a] = Math.max(hi[a], g.means[3 * i + a]);
    }
  const spread = (v: number) => {
    let x = v & 1023;
    x = (x | (x << 16)) & 0x030000ff;
    x = (x | (x << 8)) & 0x0300f00f;
    x = (x | (x << 4)) & 0x030c30c3;
    x = (x | (x << 2)) & 0x09249249;
    return x;
  };
  const code = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    let m = 0;
    for (let a = 0; a < 3; a++) {
      const t = hi[a] > lo[a] ? (g.means[3 * i + a] - lo[a]) / (hi[a] - lo[a]) : 0;
      m |= spread(Math.min(1023, Math.floor(t * 1024))) << a;
    }
    code[i] = m >>> 0;
  }
  const idx = Uint32Array.from({ length: n }, (_, i) => i);
  idx.sort((a, b) => code[a] - code[b] || a - b);
  return idx;
}
