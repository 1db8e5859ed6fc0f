import type { Camera } from './camera';
import type { Image } from './image';
import { pixelRay, type Rays } from './rays';
import type { Rng } from './rng';

/** Rays with the colour (and optionally the opacity) each should render: a training batch. */
export interface RaySamples extends Rays {
  /** Target RGB, 3 floats per ray, in [0, 1]. */
  target: Float32Array;
  /** Target opacity α = 1 − T_final, 1 float per ray. */
  targetAlpha?: Float32Array;
}

/** Rays through the given pixels (indices y·width + x) of a camera, targets from whole-view images. */
export function pixelRays(cam: Camera, pixels: ArrayLike<number>, target: Image, targetAlpha?: ArrayLike<number>): RaySamples {
  const n = pixels.length;
  const origins = new Float32Array(n * 3),
    dirs = new Float32Array(n * 3),
    tgt = new Float32Array(n * 3);
  const tA = targetAlpha ? new Float32Array(n) : undefined;
  for (let r = 0; r < n; r++) {
    const p = pixels[r];
    const x = p % cam.width,
      y = (p - x) / cam.width;
    pixelRay(cam, x, y, origins, dirs, r);
    for (let c = 0; c < 3; c++) tgt[r * 3 + c] = target.data[p * target.channels + c];
    if (tA) tA[r] = targetAlpha![p];
  }
  return tA ? { origins, dirs, target: tgt, count: n, targetAlpha: tA } : { origins, dirs, target: tgt, count: n };
}

/**
 * Draws `count` rays across several views: for each ray a view uniformly among `views`, then a pixel uniformly
 * among `pick(view)`; its target colour from `target(view, index)`, its target opacity from `alpha(view)` when
 * given. Two draws from `rng` per ray (view, then pixel).
 */
export function sampleRays<V extends { camera: Camera }>(
  views: readonly V[],
  count: number,
  rng: Rng,
  pick: (v: V) => ArrayLike<number>,
  target: (v: V, index: number) => Image,
  alpha?: (v: V) => ArrayLike<number>,
): RaySamples {
  const origins = new Float32Array(count * 3),
    dirs = new Float32Array(count * 3),
    tgt = new Float32Array(count * 3);
  const tA = alpha ? new Float32Array(count) : undefined;
  for (let r = 0; r < count; r++) {
    const vi = rng.int(views.length);
    const v = views[vi];
    const px = pick(v);
    const p = px[rng.int(px.length)];
    const x = p % v.camera.width,
      y = (p - x) / v.camera.width;
    pixelRay(v.camera, x, y, origins, dirs, r);
    const img = target(v, vi);
    for (let c = 0; c < 3; c++) tgt[r * 3 + c] = img.data[p * img.channels + c];
    if (tA) tA[r] = alpha!(v)[p];
  }
  return tA ? { origins, dirs, target: tgt, count, targetAlpha: tA } : { origins, dirs, target: tgt, count };
}

/** A random subset (with replacement) of `n` entries of `px`; `px` itself when it has at most `n` (no draw then). */
export function subsamplePixels(px: Uint32Array, n: number, rng: Rng): Uint32Array {
  if (px.length <= n) return px;
  const sel = new Uint32Array(n);
  for (let r = 0; r < n; r++) sel[r] = px[rng.int(px.length)];
  return sel;
}
