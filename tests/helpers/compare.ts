/** Comparisons of images and arrays for the parity and fitting tests. */

/** Largest |aᵢ|. */
export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

/** Largest |aᵢ − bᵢ|; arrays of different lengths are an error. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`maxAbsDiff: lengths differ (${a.length} vs ${b.length})`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** ‖a − b‖ / ‖b‖ (b the reference; 0/0 counts as 0). */
export function relL2(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0,
    den = 0;
  for (let i = 0; i < b.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num / Math.max(den, 1e-30));
}

/**
 * PSNR = 10·log10(1 / MSE) between two arrays of values in [0, 1] (`a` clamped to [0, 1] first when `clampA`, as a
 * render before it is saved); MSE is floored at 1e-20 so identical arrays give a finite number. For `Image`s with
 * masks use `psnr` in src/edit/eval/metrics.ts.
 */
export function arrayPsnr(a: ArrayLike<number>, b: ArrayLike<number>, clampA = false): number {
  if (a.length !== b.length) throw new Error(`arrayPsnr: lengths differ (${a.length} vs ${b.length})`);
  let se = 0;
  for (let i = 0; i < a.length; i++) {
    const x = clampA ? Math.min(1, Math.max(0, a[i])) : a[i];
    se += (x - b[i]) ** 2;
  }
  return 10 * Math.log10(1 / Math.max(se / a.length, 1e-20));
}
