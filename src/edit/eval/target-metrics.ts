import type { Camera } from '../../core/camera';
import type { Image } from '../../core/image';
import { pixelRay, rayBox } from '../../core/rays';
import type { Bounds } from '../regions/regions';

/**
 * Precision of an object edit, measured against ground-truth instance labels (docs/editing.md, "Measuring
 * precise edits"): how much the edit changed what it should not have, near the target and anywhere, and how
 * close the target came to the editor's own 2D edit of the view.
 *
 * For one view, with A the original render, B the edited render and `labels` the instance label of each
 * pixel's centre ray:
 *  - boundary pixels (any 8-neighbour with another label) are left out of every set (their colour mixes two
 *    surfaces, so neither set owns them), and so are pixels labelled UNKNOWN_LABEL (no ground truth there);
 *  - near: non-target pixels whose centre ray passes through the target's box grown by `grow` (10 %) about its
 *    centre — ground beside the object, background seen past it, neighbours in front of it;
 *  - off-target: every non-target pixel;
 *  - target: the target's pixels, compared against `ideal` (the 2D edit) when one is given.
 * PSNR = 10·log10(1/MSE) over the set's pixels and the three channels, MSE floored at 1e-10 (100 dB).
 */
export interface TargetViewMetrics {
  near: { sse: number; n: number };
  offTarget: { sse: number; n: number };
  target: { sse: number; n: number };
}

export const TARGET_BOX_GROWTH = 0.1;

/** A label for pixels without ground truth (a surface that only partly covers the pixel): in no set. */
export const UNKNOWN_LABEL = 255;

/** The box grown by `fraction` of its size about its centre (10 % larger along each axis by default). */
export function growBox(b: Bounds, fraction = TARGET_BOX_GROWTH): Bounds {
  const min = [0, 1, 2].map((a) => b.min[a] - ((b.max[a] - b.min[a]) * fraction) / 2) as Bounds['min'];
  const max = [0, 1, 2].map((a) => b.max[a] + ((b.max[a] - b.min[a]) * fraction) / 2) as Bounds['max'];
  return { min, max };
}

/** 1 where a pixel or one of its 8 neighbours has another label. */
export function labelBoundary(labels: Uint8Array, width: number, height: number): Uint8Array {
  const out = new Uint8Array(labels.length);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const l = labels[y * width + x];
      search: for (let dy = -1; dy <= 1; dy++)
        for (let dx = -1; dx <= 1; dx++) {
          const xx = x + dx,
            yy = y + dy;
          if (xx < 0 || yy < 0 || xx >= width || yy >= height) continue;
          if (labels[yy * width + xx] !== l) {
            out[y * width + x] = 1;
            break search;
          }
        }
    }
  return out;
}

function sse(a: Image, b: Image, p: number): number {
  let e = 0;
  for (let c = 0; c < 3; c++) e += (a.data[p * a.channels + c] - b.data[p * b.channels + c]) ** 2;
  return e;
}

export function targetViewMetrics(
  a: Image,
  b: Image,
  labels: Uint8Array,
  target: number,
  camera: Camera,
  targetBox: Bounds,
  ideal?: Image,
): TargetViewMetrics {
  const { width: w, height: h } = camera;
  if (labels.length !== w * h || a.width !== w || b.width !== w || a.height !== h || b.height !== h)
    throw new Error('targetViewMetrics: renders, labels and camera differ in size');
  const edge = labelBoundary(labels, w, h);
  const box = growBox(targetBox);
  const o = new Float32Array(3),
    d = new Float32Array(3);
  const m: TargetViewMetrics = { near: { sse: 0, n: 0 }, offTarget: { sse: 0, n: 0 }, target: { sse: 0, n: 0 } };
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const p = y * w + x;
      if (edge[p] || labels[p] === UNKNOWN_LABEL) continue;
      if (labels[p] === target) {
        if (ideal) {
          m.target.sse += sse(b, ideal, p);
          m.target.n++;
        }
        continue;
      }
      const e = sse(a, b, p);
      m.offTarget.sse += e;
      m.offTarget.n++;
      pixelRay(camera, x, y, o, d, 0);
      const [t0, t1] = rayBox(o, d, 0, box.min, box.max);
      if (t1 >= t0 && t1 > 0) {
        m.near.sse += e;
        m.near.n++;
      }
    }
  return m;
}

const psnrOf = (s: { sse: number; n: number }) => (s.n ? 10 * Math.log10(1 / Math.max(s.sse / (3 * s.n), 1e-10)) : null);

export interface TargetMetrics {
  near_psnr: number | null;
  off_target_psnr: number | null;
  target_psnr_vs_ideal: number | null;
  views: { file: string; near_psnr: number | null; off_target_psnr: number | null; target_psnr_vs_ideal: number | null }[];
}

/** Means over views of the per-view PSNRs (views where a set is empty are left out of its mean). */
export function aggregateTargetMetrics(views: { file: string; m: TargetViewMetrics }[]): TargetMetrics {
  const per = views.map((v) => ({
    file: v.file,
    near_psnr: psnrOf(v.m.near),
    off_target_psnr: psnrOf(v.m.offTarget),
    target_psnr_vs_ideal: psnrOf(v.m.target),
  }));
  const mean = (k: 'near_psnr' | 'off_target_psnr' | 'target_psnr_vs_ideal') => {
    const v = per.map((x) => x[k]).filter((x): x is number => x !== null);
    return v.length ? v.reduce((s, x) => s + x, 0) / v.length : null;
  };
  return {
    near_psnr: mean('near_psnr'),
    off_target_psnr: mean('off_target_psnr'),
    target_psnr_vs_ideal: mean('target_psnr_vs_ideal'),
    views: per,
  };
}
