/**
 * Small math vocabulary shared by every representation: a 3-vector type and the scalar activations the
 * scenes store their parameters through (see docs/voxels.md and docs/gaussians.md).
 */

export type Vec3 = [number, number, number];

/** Logistic function 1 / (1 + e^−x). */
export function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/** Inverse of `sigmoid`, with p clamped to [1e-7, 1 − 1e-7] so 0 and 1 stay finite. */
export function logit(p: number): number {
  const q = Math.min(Math.max(p, 1e-7), 1 - 1e-7);
  return Math.log(q / (1 - q));
}

/** softplus(x) = log(1 + eˣ), returned as x for x > 20 (where the two agree to double precision). */
export function softplus(x: number): number {
  return x > 20 ? x : Math.log1p(Math.exp(x));
}

/** Inverse of `softplus` (y > 0). */
export function softplusInverse(y: number): number {
  return y > 20 ? y : Math.log(Math.expm1(y));
}
