import { packHalf2, packSnorm2, unpackHalf, unpackSnorm } from '../../core/half';

/**
 * One packed splat record: 8 u32 words (32 bytes), the layout the projection kernel
 * (src/shaders/splat_project.wgsl) and its CPU twin (splat-project.ts) read. See SplatBuffers (splat-data.ts).
 *
 *   w0..w2  centre x, y, z                         f32
 *   w3      σx | σy                                 2 × f16 (pack2x16float)
 *   w4      σz | r                                  2 × f16
 *   w5      g | b                                   2 × f16
 *   w6      ρxy | ρxz                               2 × snorm16 (pack2x16snorm)
 *   w7      ρyz (snorm16) | opacity (unorm16)
 */
export const SPLAT_WORDS = 8;

/** SH coefficients above degree 0 for `degree` (3, 8, 15). */
export function shRestCoeffs(degree: number): number {
  return (degree + 1) * (degree + 1) - 1;
}

/** Writes record i from its centre, world covariance (xx, xy, xz, yy, yz, zz), degree-0 colour and opacity. */
export function writeSplatRecord(
  data: Uint32Array,
  f32: Float32Array,
  i: number,
  x: number,
  y: number,
  z: number,
  cov: ArrayLike<number>,
  r: number,
  g: number,
  b: number,
  opacity: number,
): void {
  const o = i * SPLAT_WORDS;
  f32[o] = x;
  f32[o + 1] = y;
  f32[o + 2] = z;
  const sx = Math.sqrt(Math.max(cov[0], 0)),
    sy = Math.sqrt(Math.max(cov[3], 0)),
    sz = Math.sqrt(Math.max(cov[5], 0));
  data[o + 3] = packHalf2(sx, sy);
  data[o + 4] = packHalf2(sz, r);
  data[o + 5] = packHalf2(g, b);
  data[o + 6] = packSnorm2(rho(cov[1], sx, sy), rho(cov[2], sx, sz));
  data[o + 7] = ((packSnorm2(rho(cov[4], sy, sz), 0) & 0xffff) | (Math.round(Math.max(0, Math.min(1, opacity)) * 65535) << 16)) >>> 0;
}

/** Correlation Σab/(σa·σb) (0 for a degenerate axis). */
function rho(c: number, sa: number, sb: number): number {
  return sa > 0 && sb > 0 ? c / (sa * sb) : 0;
}

/** The decoded values of node i (what the shader sees). `cov` = (xx, xy, xz, yy, yz, zz). */
export interface DecodedSplat {
  x: number;
  y: number;
  z: number;
  cov: Float64Array;
  r: number;
  g: number;
  b: number;
  opacity: number;
}

const _f = new Float32Array(1);
const _u = new Uint32Array(_f.buffer);
/** f32 from its bits (`bitcast<f32>`). */
export function bitsToF32(w: number): number {
  _u[0] = w;
  return _f[0];
}
/** The bits of the f32 nearest to v (`bitcast<u32>`). */
export function f32ToBits(v: number): number {
  _f[0] = v;
  return _u[0];
}

export function decodeSplat(data: Uint32Array, i: number, out?: DecodedSplat): DecodedSplat {
  const o = i * SPLAT_WORDS;
  const d = out ?? { x: 0, y: 0, z: 0, cov: new Float64Array(6), r: 0, g: 0, b: 0, opacity: 0 };
  d.x = bitsToF32(data[o]);
  d.y = bitsToF32(data[o + 1]);
  d.z = bitsToF32(data[o + 2]);
  const sx = unpackHalf(data[o + 3], 0),
    sy = unpackHalf(data[o + 3], 1),
    sz = unpackHalf(data[o + 4], 0);
  d.r = unpackHalf(data[o + 4], 1);
  d.g = unpackHalf(data[o + 5], 0);
  d.b = unpackHalf(data[o + 5], 1);
  const rxy = unpackSnorm(data[o + 6], 0),
    rxz = unpackSnorm(data[o + 6], 1),
    ryz = unpackSnorm(data[o + 7], 0);
  d.opacity = (data[o + 7] >>> 16) / 65535;
  const c = d.cov;
  c[0] = sx * sx;
  c[1] = rxy * sx * sy;
  c[2] = rxz * sx * sz;
  c[3] = sy * sy;
  c[4] = ryz * sy * sz;
  c[5] = sz * sz;
  return d;
}

/** World covariance R(q) diag(s²) R(q)ᵀ as (xx, xy, xz, yy, yz, zz); q = (w, x, y, z), normalised here. */
export function covarianceOf(
  qw: number,
  qx: number,
  qy: number,
  qz: number,
  s0: number,
  s1: number,
  s2: number,
  out: Float64Array,
): Float64Array {
  const ql = Math.hypot(qw, qx, qy, qz) || 1;
  qw /= ql;
  qx /= ql;
  qy /= ql;
  qz /= ql;
  const r00 = 1 - 2 * (qy * qy + qz * qz),
    r01 = 2 * (qx * qy - qw * qz),
    r02 = 2 * (qx * qz + qw * qy);
  const r10 = 2 * (qx * qy + qw * qz),
    r11 = 1 - 2 * (qx * qx + qz * qz),
    r12 = 2 * (qy * qz - qw * qx);
  const r20 = 2 * (qx * qz - qw * qy),
    r21 = 2 * (qy * qz + qw * qx),
    r22 = 1 - 2 * (qx * qx + qy * qy);
  // M = R S; Σ = M Mᵀ
  const m00 = r00 * s0,
    m01 = r01 * s1,
    m02 = r02 * s2;
  const m10 = r10 * s0,
    m11 = r11 * s1,
    m12 = r12 * s2;
  const m20 = r20 * s0,
    m21 = r21 * s1,
    m22 = r22 * s2;
  out[0] = m00 * m00 + m01 * m01 + m02 * m02;
  out[1] = m00 * m10 + m01 * m11 + m02 * m12;
  out[2] = m00 * m20 + m01 * m21 + m02 * m22;
  out[3] = m10 * m10 + m11 * m11 + m12 * m12;
  out[4] = m10 * m20 + m11 * m21 + m12 * m22;
  out[5] = m20 * m20 + m21 * m21 + m22 * m22;
  return out;
}
