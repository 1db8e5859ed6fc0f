import { UserError } from '../../core/errors';
import { SH_STRIDE } from '../../nerf/gaussian/gaussians';

/**
 * Options every Gaussian reader takes: a bound on the count (checked against the header BEFORE anything is
 * allocated, so a browser gets a message instead of an out-of-memory crash) and a progress callback.
 */
export interface GaussianReadOptions {
  /** Refuse files holding more Gaussians than this (default: no bound beyond what the file's size allows). */
  maxCount?: number;
  /** What `maxCount` is for, shown in the message (e.g. "the viewer can hold"). */
  limitReason?: string;
  /** Called with the fraction done (0..1) while decoding. */
  onProgress?: (fraction: number) => void;
}

/** Bytes one Gaussian takes in memory (`Gaussians` layout: 3 + 3 + 4 + 1 floats + 48 SH floats). */
export const BYTES_PER_GAUSSIAN = (3 + 3 + 4 + 1 + SH_STRIDE) * 4;

/** Throws a UserError naming the file when `count` exceeds the caller's bound. */
export function checkCount(count: number, file: string, what: string, opts: GaussianReadOptions | undefined): void {
  if (opts?.maxCount !== undefined && count > opts.maxCount) {
    const gb = (n: number) => ((n * BYTES_PER_GAUSSIAN) / 2 ** 30).toFixed(1);
    throw new UserError(
      `${what} holds ${count.toLocaleString('en-US')} Gaussians (${gb(count)} GB in memory); ${opts.limitReason ?? 'the limit is'} ` +
        `${opts.maxCount.toLocaleString('en-US')} (${gb(opts.maxCount)} GB): open a smaller file, or reduce it with splat-transform (--decimate)`,
      file,
    );
  }
}

/** Calls onProgress every ~1/50 of `n` steps (cheap enough for tight loops). */
export function progressTicker(n: number, opts: GaussianReadOptions | undefined, from = 0, to = 1): (i: number) => void {
  const cb = opts?.onProgress;
  if (!cb || n <= 0) return () => {};
  const every = Math.max(1, Math.floor(n / 50));
  return (i: number) => {
    if (i % every === 0) cb(from + ((to - from) * i) / n);
  };
}

/** Normalises (w, x, y, z) in place at index i; a zero quaternion becomes the identity. */
export function normaliseQuat(q: Float32Array, i: number): void {
  const o = 4 * i;
  const l = Math.hypot(q[o], q[o + 1], q[o + 2], q[o + 3]);
  if (!(l > 0)) {
    q[o] = 1;
    q[o + 1] = q[o + 2] = q[o + 3] = 0;
    return;
  }
  q[o] /= l;
  q[o + 1] /= l;
  q[o + 2] /= l;
  q[o + 3] /= l;
}

/** "4e 47 53 50" — a file's first bytes, for messages about unrecognised content. */
export function firstBytes(bytes: Uint8Array, n = 4): string {
  return Array.from(bytes.subarray(0, n), (b) => b.toString(16).padStart(2, '0')).join(' ');
}
