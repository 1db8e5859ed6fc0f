import { UserError } from '../../core/errors';
import { checkLimit } from '../../core/limits';
import { checkGaussiansFinite, createGaussians, GAUSSIAN_RANGES, SH_STRIDE, type Gaussians } from '../../nerf/gaussian/gaussians';
import { logit } from '../../core/math';
import { SH_C0 } from '../../nerf/common/sh';
import { checkWritable, writableLogScale } from './ply';

/**
 * `.splat` (antimatter15 / SuperSplat / Spark): no header, 32 bytes per splat, little-endian:
 *   0  position  3 × float32
 *   12 scale     3 × float32 (already exponentiated)
 *   24 colour    4 × uint8: RGB = clamp(0.5 + SH_C0·f_dc)·255, A = sigmoid(opacity)·255
 *   28 rotation  4 × uint8: (w, x, y, z) of the unit quaternion, q·128 + 128 (clamped to 0..255)
 * Sorted by −exp(Σ log-scale)·alpha (largest, most opaque first), as viewers expect. No SH bands above 0.
 */

export const SPLAT_BYTES = 32;

/** Encodes Gaussians as `.splat` (SH bands above 0 are dropped; colours and alphas are quantised to 8 bits). */
export function writeSplat(g: Gaussians): Uint8Array {
  const n = g.count;
  checkWritable(g);
  const key = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const s = writableLogScale(g, 3 * i) + writableLogScale(g, 3 * i + 1) + writableLogScale(g, 3 * i + 2);
    key[i] = -Math.exp(s) / (1 + Math.exp(-g.opacityLogits[i]));
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => key[a] - key[b] || a - b);
  const out = new Uint8Array(n * SPLAT_BYTES);
  const dv = new DataView(out.buffer);
  const u8 = (v: number) => Math.max(0, Math.min(255, Math.round(v)));
  for (let j = 0; j < n; j++) {
    const i = order[j],
      o = j * SPLAT_BYTES;
    for (let a = 0; a < 3; a++) {
      dv.setFloat32(o + 4 * a, g.means[3 * i + a], true);
      dv.setFloat32(o + 12 + 4 * a, Math.exp(writableLogScale(g, 3 * i + a)), true);
    }
    for (let c = 0; c < 3; c++) out[o + 24 + c] = u8((0.5 + SH_C0 * g.sh[i * SH_STRIDE + c]) * 255);
    out[o + 27] = u8(255 / (1 + Math.exp(-g.opacityLogits[i])));
    const q = g.rotations;
    const l = Math.hypot(q[4 * i], q[4 * i + 1], q[4 * i + 2], q[4 * i + 3]) || 1;
    for (let a = 0; a < 4; a++) out[o + 28 + a] = u8((q[4 * i + a] / l) * 128 + 128);
  }
  return out;
}

/** Decodes a `.splat` file; malformed input (size, non-finite or non-positive values) is a UserError. */
export function readSplat(bytes: Uint8Array, file: string): Gaussians {
  if (bytes.length === 0) throw new UserError('empty .splat file', file);
  if (bytes.length % SPLAT_BYTES !== 0)
    throw new UserError(`.splat size ${bytes.length} bytes is not a multiple of 32 (truncated or not a .splat file)`, file);
  const n = bytes.length / SPLAT_BYTES;
  checkLimit('elements', n, 'splat count', file);
  const [lo, hi] = GAUSSIAN_RANGES.logScale;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const g = createGaussians(n, 0);
  for (let i = 0; i < n; i++) {
    const o = i * SPLAT_BYTES;
    for (let a = 0; a < 3; a++) {
      const p = dv.getFloat32(o + 4 * a, true);
      if (!Number.isFinite(p)) throw new UserError(`splat ${i}: position is ${p} (not a finite number)`, file);
      g.means[3 * i + a] = p;
      const s = dv.getFloat32(o + 12 + 4 * a, true);
      if (!Number.isFinite(s) || s <= 0) throw new UserError(`splat ${i}: scale is ${s} (must be a positive finite number)`, file);
      const ls = Math.log(s);
      // float32 rounding of e^±30 / e^20 (what writers clamp to) may land just outside: allow it
      if (ls < lo - 1e-4 || ls > hi + 1e-4) throw new UserError(`splat ${i}: scale ${s} is outside [e^${lo}, e^${hi}] (corrupt?)`, file);
      g.logScales[3 * i + a] = Math.min(hi, Math.max(lo, ls));
    }
    for (let c = 0; c < 3; c++) g.sh[i * SH_STRIDE + c] = (bytes[o + 24 + c] / 255 - 0.5) / SH_C0;
    g.opacityLogits[i] = logit(bytes[o + 27] / 255);
    let w = (bytes[o + 28] - 128) / 128,
      x = (bytes[o + 29] - 128) / 128,
      y = (bytes[o + 30] - 128) / 128,
      z = (bytes[o + 31] - 128) / 128;
    const l = Math.hypot(w, x, y, z);
    if (l === 0) {
      w = 1;
      x = y = z = 0;
    } else {
      w /= l;
      x /= l;
      y /= l;
      z /= l;
    }
    g.rotations[4 * i] = w;
    g.rotations[4 * i + 1] = x;
    g.rotations[4 * i + 2] = y;
    g.rotations[4 * i + 3] = z;
  }
  checkGaussiansFinite(g, file);
  return g;
}
