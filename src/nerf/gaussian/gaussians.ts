import { logit } from '../../core/math';
import { SH_C0 } from '../common/sh';
import { UserError } from '../../core/errors';
import { Rng } from '../../core/rng';

/**
 * A set of 3D Gaussians (3DGS), stored as struct-of-arrays Float32Arrays. This is THE data layout the
 * CPU rasteriser (`gaussian-*-cpu.ts`), the WGSL rasteriser and the .ply/.splat writers share.
 *
 * For Gaussian i (0 ≤ i < count):
 * - `means[3i..3i+2]`          world position (x, y, z)
 * - `logScales[3i..3i+2]`      log of the standard deviations along the Gaussian's local axes (scale = exp)
 * - `rotations[4i..4i+3]`      quaternion (w, x, y, z), NOT necessarily unit: renderers normalise it
 * - `opacityLogits[i]`         logit of the opacity (opacity = sigmoid)
 * - `sh[48i + 3k + c]`         spherical-harmonic coefficient k (0..15) of colour channel c (0..2);
 *                              k = 0 is the DC term; colour = max(0, 0.5 + Σ_k Y_k(dir)·sh_k) with
 *                              dir = normalise(mean − camera centre) (the 3DGS convention, same as the INRIA .ply
 *                              `f_dc` / `f_rest` coefficients).
 * - `shDegree`                 active degree 0..3: coefficients above (shDegree+1)² are ignored (but kept).
 *
 * Arrays may be longer than needed (capacity); only the first `count` entries are meaningful.
 */
export interface Gaussians {
  count: number;
  means: Float32Array;
  logScales: Float32Array;
  rotations: Float32Array;
  opacityLogits: Float32Array;
  sh: Float32Array;
  shDegree: number;
}

/** SH coefficients stored per colour channel per Gaussian (degree 3). */
export const SH_COEFFS = 16;
/** Floats of SH per Gaussian (16 coefficients × RGB). */
export const SH_STRIDE = SH_COEFFS * 3;

/** Allocates `count` Gaussians (all zeros except identity rotations). */
export function createGaussians(count: number, shDegree = 0): Gaussians {
  if (!Number.isInteger(count) || count < 0) throw new UserError(`Gaussian count must be a non-negative integer, got ${count}`);
  const g: Gaussians = {
    count,
    means: new Float32Array(count * 3),
    logScales: new Float32Array(count * 3),
    rotations: new Float32Array(count * 4),
    opacityLogits: new Float32Array(count),
    sh: new Float32Array(count * SH_STRIDE),
    shDegree,
  };
  for (let i = 0; i < count; i++) g.rotations[i * 4] = 1;
  return g;
}

/** A copy holding exactly `count` entries (trims any extra capacity). */
export function cloneGaussians(g: Gaussians): Gaussians {
  const n = g.count;
  return {
    count: n,
    means: g.means.slice(0, n * 3),
    logScales: g.logScales.slice(0, n * 3),
    rotations: g.rotations.slice(0, n * 4),
    opacityLogits: g.opacityLogits.slice(0, n),
    sh: g.sh.slice(0, n * SH_STRIDE),
    shDegree: g.shDegree,
  };
}

/** The Gaussians at `indices` (in that order), as a new set. */
export function selectGaussians(g: Gaussians, indices: ArrayLike<number>): Gaussians {
  const out = createGaussians(indices.length, g.shDegree);
  for (let j = 0; j < indices.length; j++) {
    const i = indices[j];
    out.means.set(g.means.subarray(i * 3, i * 3 + 3), j * 3);
    out.logScales.set(g.logScales.subarray(i * 3, i * 3 + 3), j * 3);
    out.rotations.set(g.rotations.subarray(i * 4, i * 4 + 4), j * 4);
    out.opacityLogits[j] = g.opacityLogits[i];
    out.sh.set(g.sh.subarray(i * SH_STRIDE, (i + 1) * SH_STRIDE), j * SH_STRIDE);
  }
  return out;
}

/** Concatenates two sets (the result's active SH degree is the larger). */
export function concatGaussians(a: Gaussians, b: Gaussians): Gaussians {
  const out = createGaussians(a.count + b.count, Math.max(a.shDegree, b.shDegree));
  out.means.set(a.means.subarray(0, a.count * 3));
  out.means.set(b.means.subarray(0, b.count * 3), a.count * 3);
  out.logScales.set(a.logScales.subarray(0, a.count * 3));
  out.logScales.set(b.logScales.subarray(0, b.count * 3), a.count * 3);
  out.rotations.set(a.rotations.subarray(0, a.count * 4));
  out.rotations.set(b.rotations.subarray(0, b.count * 4), a.count * 4);
  out.opacityLogits.set(a.opacityLogits.subarray(0, a.count));
  out.opacityLogits.set(b.opacityLogits.subarray(0, b.count), a.count);
  out.sh.set(a.sh.subarray(0, a.count * SH_STRIDE));
  out.sh.set(b.sh.subarray(0, b.count * SH_STRIDE), a.count * SH_STRIDE);
  return out;
}

/** Sets the DC coefficient so that the degree-0 colour is `rgb` (values in [0,1]). */
export function setColor(g: Gaussians, i: number, r: number, gr: number, b: number): void {
  g.sh[i * SH_STRIDE] = (r - 0.5) / SH_C0;
  g.sh[i * SH_STRIDE + 1] = (gr - 0.5) / SH_C0;
  g.sh[i * SH_STRIDE + 2] = (b - 0.5) / SH_C0;
}

/**
 * The range a Gaussian's parameters must lie in to be read from a file (docs/limits.md). Values beyond these
 * are not scenes but corruption, and would poison what follows: a log-scale of ±1e30 becomes a scale of
 * Infinity or 0 (a .splat the project then rejects), colour coefficients of 1e38 render as −695 dB,
 * positions of 1e30 lose every digit of precision.
 */
export const GAUSSIAN_RANGES = {
  /** |x|, |y|, |z| */
  position: 1e8,
  /** log standard deviation: scales from e^−30 ≈ 1e−13 to e^20 ≈ 5e8 */
  logScale: [-30, 20] as const,
  /** |SH coefficient| (DC and higher bands) */
  sh: 1e4,
};

/**
 * Throws a UserError naming the first parameter that is non-finite or outside GAUSSIAN_RANGES, or a zero
 * rotation quaternion.
 */
export function checkGaussiansFinite(g: Gaussians, file?: string): void {
  const fields: [string, Float32Array, number][] = [
    ['position', g.means, 3],
    ['scale', g.logScales, 3],
    ['rotation', g.rotations, 4],
    ['opacity', g.opacityLogits, 1],
    ['SH colour', g.sh, SH_STRIDE],
  ];
  for (const [name, arr, k] of fields) {
    const n = g.count * k;
    for (let j = 0; j < n; j++)
      if (!Number.isFinite(arr[j])) throw new UserError(`Gaussian ${Math.floor(j / k)} has a non-finite ${name} (${arr[j]})`, file);
  }
  const R = GAUSSIAN_RANGES;
  for (let j = 0; j < g.count * 3; j++)
    if (Math.abs(g.means[j]) > R.position)
      throw new UserError(`Gaussian ${Math.floor(j / 3)} has position ${g.means[j]}, beyond ±${R.position} (corrupt?)`, file);
  for (let j = 0; j < g.count * 3; j++) {
    const v = g.logScales[j];
    if (v < R.logScale[0] || v > R.logScale[1])
      throw new UserError(
        `Gaussian ${Math.floor(j / 3)} has log-scale ${v} (scale ${Math.exp(v)}), outside [${R.logScale[0]}, ${R.logScale[1]}] (corrupt?)`,
        file,
      );
  }
  for (let j = 0; j < g.count * SH_STRIDE; j++)
    if (Math.abs(g.sh[j]) > R.sh)
      throw new UserError(`Gaussian ${Math.floor(j / SH_STRIDE)} has colour coefficient ${g.sh[j]}, beyond ±${R.sh} (corrupt?)`, file);
  for (let i = 0; i < g.count; i++) {
    const q = g.rotations;
    if (q[4 * i] === 0 && q[4 * i + 1] === 0 && q[4 * i + 2] === 0 && q[4 * i + 3] === 0)
      throw new UserError(`Gaussian ${i} has a zero rotation quaternion`, file);
  }
}

/** Axis-aligned bounds of the means. */
export function gaussianBounds(g: Gaussians): { min: [number, number, number]; max: [number, number, number] } {
  const min: [number, number, number] = [Infinity, Infinity, Infinity];
  const max: [number, number, number] = [-Infinity, -Infinity, -Infinity];
  for (let i = 0; i < g.count; i++)
    for (let a = 0; a < 3; a++) {
      const v = g.means[i * 3 + a];
      if (v < min[a]) min[a] = v;
      if (v > max[a]) max[a] = v;
    }
  return { min, max };
}

/**
 * Initial Gaussians from points (positions xyz, colours rgb in [0,1]) as 3DGS does: isotropic scale = the
 * mean distance to the 3 nearest neighbours (via a uniform grid), identity rotation, opacity 0.1, DC colour.
 */
export function gaussiansFromPoints(
  xyz: Float32Array,
  rgb: Float32Array | null,
  opts: { opacity?: number; maxPoints?: number; rng?: Rng } = {},
): Gaussians {
  let n = xyz.length / 3;
  let idx: Int32Array | null = null;
  if (opts.maxPoints !== undefined && n > opts.maxPoints) {
    // keep an evenly spread random subset
    const rng = opts.rng ?? new Rng(0);
    const all = new Int32Array(n).map((_, i) => i);
    for (let i = 0; i < opts.maxPoints; i++) {
      const j = i + rng.int(n - i);
      const t = all[i];
      all[i] = all[j];
      all[j] = t;
    }
    idx = all.slice(0, opts.maxPoints);
    n = opts.maxPoints;
  }
  const g = createGaussians(n, 0);
  for (let j = 0; j < n; j++) {
    const i = idx ? idx[j] : j;
    g.means[j * 3] = xyz[i * 3];
    g.means[j * 3 + 1] = xyz[i * 3 + 1];
    g.means[j * 3 + 2] = xyz[i * 3 + 2];
    if (rgb) setColor(g, j, rgb[i * 3], rgb[i * 3 + 1], rgb[i * 3 + 2]);
    else setColor(g, j, 0.5, 0.5, 0.5);
  }
  const d = knnMeanDistance(g.means, n, 3);
  const op = logit(opts.opacity ?? 0.1);
  for (let j = 0; j < n; j++) {
    const s = Math.log(Math.max(d[j], 1e-7));
    g.logScales[j * 3] = s;
    g.logScales[j * 3 + 1] = s;
    g.logScales[j * 3 + 2] = s;
    g.opacityLogits[j] = op;
  }
  return g;
}

/** Random Gaussians uniformly inside a box, random colours (3DGS's init when there are no sparse points). */
export function randomGaussians(count: number, box: { min: readonly number[]; max: readonly number[] }, rng: Rng): Gaussians {
  const xyz = new Float32Array(count * 3);
  const rgb = new Float32Array(count * 3);
  for (let i = 0; i < count; i++) {
    for (let a = 0; a < 3; a++) xyz[i * 3 + a] = box.min[a] + rng.next() * (box.max[a] - box.min[a]);
    for (let c = 0; c < 3; c++) rgb[i * 3 + c] = rng.next();
  }
  return gaussiansFromPoints(xyz, rgb);
}

/**
 * Root of the mean squared distance to the k nearest neighbours of each point, via a uniform hash grid
 * (expected O(n)). Isolated points fall back to the grid cell size.
 */
export function knnMeanDistance(xyz: Float32Array, n: number, k: number): Float32Array {
  const out = new Float32Array(n);
  if (n <= 1) {
    out.fill(0.01);
    return out;
  }
  const min = [Infinity, Infinity, Infinity],
    max = [-Infinity, -Infinity, -Infinity];
  for (let i = 0; i < n; i++)
    for (let a = 0; a < 3; a++) {
      const v = xyz[i * 3 + a];
      if (v < min[a]) min[a] = v;
      if (v > max[a]) max[a] = v;
    }
  const ext = Math.max(max[0] - min[0], max[1] - min[1], max[2] - min[2], 1e-6);
  // ~2 points per cell on average
  const cells = Math.max(1, Math.min(256, Math.round(Math.cbrt(n / 2))));
  const cell = ext / cells;
  const dim = [0, 1, 2].map((a) => Math.max(1, Math.ceil((max[a] - min[a]) / cell) + 1));
  const cellOf = (i: number, a: number) => Math.min(dim[a] - 1, Math.floor((xyz[i * 3 + a] - min[a]) / cell));
  const ncell = dim[0] * dim[1] * dim[2];
  const start = new Int32Array(ncell + 1);
  const key = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    key[i] = (cellOf(i, 2) * dim[1] + cellOf(i, 1)) * dim[0] + cellOf(i, 0);
    start[key[i] + 1]++;
  }
  for (let c = 0; c < ncell; c++) start[c + 1] += start[c];
  const fill = start.slice(0, ncell);
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[fill[key[i]]++] = i;
  const best = new Float64Array(k);
  for (let i = 0; i < n; i++) {
    best.fill(Infinity);
    const cx = cellOf(i, 0),
      cy = cellOf(i, 1),
      cz = cellOf(i, 2);
    for (let r = 1; r <= 3; r++) {
      best.fill(Infinity);
      for (let z = Math.max(0, cz - r); z <= Math.min(dim[2] - 1, cz + r); z++)
        for (let y = Math.max(0, cy - r); y <= Math.min(dim[1] - 1, cy + r); y++)
          for (let x = Math.max(0, cx - r); x <= Math.min(dim[0] - 1, cx + r); x++) {
            const c = (z * dim[1] + y) * dim[0] + x;
            for (let p = start[c]; p < start[c + 1]; p++) {
              const j = order[p];
              if (j === i) continue;
              const dx = xyz[j * 3] - xyz[i * 3],
                dy = xyz[j * 3 + 1] - xyz[i * 3 + 1],
                dz = xyz[j * 3 + 2] - xyz[i * 3 + 2];
              const d2 = dx * dx + dy * dy + dz * dz;
              if (d2 < best[k - 1]) {
                let m = k - 1;
                while (m > 0 && best[m - 1] > d2) {
                  best[m] = best[m - 1];
                  m--;
                }
                best[m] = d2;
              }
            }
          }
      // neighbours found within r cells are exact when the k-th is closer than r·cell
      if (best[k - 1] <= (r * cell) ** 2) break;
    }
    let s = 0,
      m = 0;
    for (let j = 0; j < k; j++)
      if (Number.isFinite(best[j])) {
        s += best[j];
        m++;
      }
    out[i] = m ? Math.sqrt(s / m) : cell;
  }
  return out;
}
