import { SH_STRIDE, type Gaussians } from '../../nerf/gaussian/gaussians';
import { sigmoid } from '../../core/math';
import { SH_C0 } from '../../nerf/common/sh';

/**
 * Gaussians packed for drawing: everything the vertex stage needs, four floats per record.
 * - `center[4i..]`  = (x, y, z, opacity)
 * - `covA[4i..]`    = (Σxx, Σxy, Σxz, Σyy), `covB[4i..]` = (Σyz, Σzz, 0, 0): the world covariance R S Sᵀ Rᵀ
 * - `color[4i..]`   = (r, g, b, 0): the degree-0 colour 0.5 + SH_C0·f_dc (view-dependent bands are added in
 *   the shader from `sh` when `shDegree` > 0)
 * - `sh`            = the higher SH bands, 45 floats per Gaussian (15 coefficients × RGB), only when shDegree > 0
 * Pure data: made in workers, transferred to the main thread.
 */
export interface SplatBuffers {
  count: number;
  center: Float32Array;
  covA: Float32Array;
  covB: Float32Array;
  color: Float32Array;
  shDegree: number;
  sh: Float32Array | null;
  bounds: { min: [number, number, number]; max: [number, number, number] };
}

export function packSplats(g: Gaussians): SplatBuffers {
  const n = g.count;
  const center = new Float32Array(n * 4),
    covA = new Float32Array(n * 4),
    covB = new Float32Array(n * 4),
    color = new Float32Array(n * 4);
  const shDegree = Math.min(3, g.shDegree);
  const sh = shDegree > 0 ? new Float32Array(n * 45) : null;
  const min: [number, number, number] = [Infinity, Infinity, Infinity],
    max: [number, number, number] = [-Infinity, -Infinity, -Infinity];
  for (let i = 0; i < n; i++) {
    const x = g.means[3 * i],
      y = g.means[3 * i + 1],
      z = g.means[3 * i + 2];
    center[4 * i] = x;
    center[4 * i + 1] = y;
    center[4 * i + 2] = z;
    center[4 * i + 3] = sigmoid(g.opacityLogits[i]);
    const p = [x, y, z];
    for (let a = 0; a < 3; a++) {
      if (p[a] < min[a]) min[a] = p[a];
      if (p[a] > max[a]) max[a] = p[a];
    }
    let qw = g.rotations[4 * i],
      qx = g.rotations[4 * i + 1],
      qy = g.rotations[4 * i + 2],
      qz = g.rotations[4 * i + 3];
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
    const s0 = Math.exp(g.logScales[3 * i]),
      s1 = Math.exp(g.logScales[3 * i + 1]),
      s2 = Math.exp(g.logScales[3 * i + 2]);
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
    covA[4 * i] = m00 * m00 + m01 * m01 + m02 * m02;
    covA[4 * i + 1] = m00 * m10 + m01 * m11 + m02 * m12;
    covA[4 * i + 2] = m00 * m20 + m01 * m21 + m02 * m22;
    covA[4 * i + 3] = m10 * m10 + m11 * m11 + m12 * m12;
    covB[4 * i] = m10 * m20 + m11 * m21 + m12 * m22;
    covB[4 * i + 1] = m20 * m20 + m21 * m21 + m22 * m22;
    const o = i * SH_STRIDE;
    for (let c = 0; c < 3; c++) color[4 * i + c] = 0.5 + SH_C0 * g.sh[o + c];
    if (sh) for (let k = 0; k < 45; k++) sh[45 * i + k] = g.sh[o + 3 + k];
  }
  if (n === 0) {
    min.fill(0);
    max.fill(0);
  }
  return { count: n, center, covA, covB, color, shDegree, sh, bounds: { min, max } };
}

/** The transferable buffers of a SplatBuffers (for postMessage). */
export function splatTransferables(s: SplatBuffers): ArrayBuffer[] {
  const list = [s.center.buffer, s.covA.buffer, s.covB.buffer, s.color.buffer] as ArrayBuffer[];
  if (s.sh) list.push(s.sh.buffer as ArrayBuffer);
  return list;
}
