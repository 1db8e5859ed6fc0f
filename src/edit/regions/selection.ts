import type { Camera } from '../../core/camera';
import type { Image } from '../../core/image';
import { createImage } from '../../core/image';
import { pixelRay } from '../../core/rays';
import type { Region } from './regions';
import { boxRegion, regionMask } from './regions';

/**
 * What an edit may change, as the loops see it: a region (`--select region`: everything inside the user's box,
 * sphere or hull) or an object selected inside it (`--select object`, docs/editing.md: Vox-E's graph-cut
 * refinement without attention maps). A selection classifies world points — the surface points the source
 * render shows — so 2D masks only cover pixels whose surface is part of the edit.
 */
export const POINT_NONE = 0,
  POINT_IN = 1,
  POINT_OUT = 2;
export type PointClass = typeof POINT_NONE | typeof POINT_IN | typeof POINT_OUT;

export interface Selection {
  kind: 'region' | 'object';
  region: Region;
  /**
   * IN: the point belongs to the edit; OUT: it belongs to something the edit must keep (outside the region,
   * or a surface in it that was not selected); NONE: neither (empty space inside the region).
   */
  classify(x: number, y: number, z: number): PointClass;
  /** Elements selected and elements considered (occupied voxels / Gaussians in the region); region mode: 0, 0. */
  selected: number;
  candidates: number;
  /**
   * The pixels whose rays pass through anything the edit may change, dilated by `dilate` pixels (1 inside): a
   * render of only these pixels over the source render is exact. A superset of the edit mask.
   */
  reach(cam: Camera, dilate: number): Image;
  /** JSON for edit logs. */
  describe(): Record<string, unknown>;
}

/**
 * `--select region`: a point is IN when it is inside the region, or inside it once moved `tolerance` (a fraction)
 * of the way to the centre of its bounds — a surface flush with the region's face is found a little outside it —
 * and OUT otherwise.
 */
export function regionSelection(region: Region, tolerance = 0.03): Selection {
  const b = region.bounds;
  const c = [0, 1, 2].map((a) => (b.min[a] + b.max[a]) / 2);
  const s = 1 - tolerance;
  return {
    kind: 'region',
    region,
    classify: (x, y, z) =>
      region.inside(x, y, z) || region.inside(c[0] + (x - c[0]) * s, c[1] + (y - c[1]) * s, c[2] + (z - c[2]) * s) ? POINT_IN : POINT_OUT,
    selected: 0,
    candidates: 0,
    reach: (cam, dilate) => regionMask(region, cam, dilate),
    describe: () => ({ mode: 'region', region: region.text }),
  };
}

/** Opacity above which a pixel shows a surface (its depth is then a surface point). */
export const SURFACE_ALPHA = 0.5;

/**
 * The depth-aware 2D mask of a view (docs/editing.md) from per-pixel classes: IN pixels are editable; the mask is
 * then dilated by `dilate` pixels (edges whose colour mixes two surfaces, the silhouette's antialiasing) but never
 * onto an OUT pixel: pixels that see past the region onto the ground or another object keep their original
 * colour. Returns a grey mask (1 = editable).
 */
export function dilateClasses(width: number, height: number, cls: Uint8Array, dilate: number): Image {
  const m = createImage(width, height, 1);
  const r = Math.max(0, Math.round(dilate));
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const p = y * width + x;
      if (cls[p] === POINT_IN) {
        m.data[p] = 1;
        continue;
      }
      if (cls[p] === POINT_OUT || !r) continue;
      search: for (let dy = -r; dy <= r; dy++) {
        const yy = y + dy;
        if (yy < 0 || yy >= height) continue;
        for (let dx = -r; dx <= r; dx++) {
          const xx = x + dx;
          if (xx < 0 || xx >= width || dx * dx + dy * dy > r * r) continue;
          if (cls[yy * width + xx] === POINT_IN) {
            m.data[p] = 1;
            break search;
          }
        }
      }
    }
  return m;
}

/**
 * The mask from the render of the gate (`SourceRender.gated`): where a pixel shows a surface (opacity ≥
 * SURFACE_ALPHA), it is IN when at least half of that surface's opacity comes from elements the edit may change,
 * OUT otherwise; pixels showing no surface are neither. Exact for blended pixels (edges, semi-transparent
 * surfaces), unlike a classification of one surface point.
 */
export function gatedMask(cam: Camera, alpha: Float32Array, gated: Float32Array, dilate: number): Image {
  const cls = new Uint8Array(cam.width * cam.height);
  for (let p = 0; p < cls.length; p++) {
    if (!(alpha[p] >= SURFACE_ALPHA)) continue;
    cls[p] = gated[p] >= 0.5 * alpha[p] ? POINT_IN : POINT_OUT;
  }
  return dilateClasses(cam.width, cam.height, cls, dilate);
}

/**
 * The mask from the selection's classification of the surface point each pixel shows (the point at its expected
 * depth, where its opacity is at least SURFACE_ALPHA): for scenes that cannot render their gate.
 */
export function surfaceMask(cam: Camera, depth: Float32Array, alpha: Float32Array, sel: Selection, dilate: number): Image {
  const { width: w, height: h } = cam;
  const cls = new Uint8Array(w * h);
  const o = new Float32Array(3),
    d = new Float32Array(3);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const p = y * w + x;
      if (!(alpha[p] >= SURFACE_ALPHA) || !(depth[p] > 0)) continue;
      pixelRay(cam, x, y, o, d, 0);
      const t = depth[p];
      cls[p] = sel.classify(o[0] + t * d[0], o[1] + t * d[1], o[2] + t * d[2]);
    }
  return dilateClasses(w, h, cls, dilate);
}

/** `reach` of an object selection whose elements lie within `bounds` (the region grown by its inner shell). */
export function boundsReach(bounds: {
  min: [number, number, number];
  max: [number, number, number];
}): (cam: Camera, dilate: number) => Image {
  const box = boxRegion(bounds.min, bounds.max);
  return (cam, dilate) => regionMask(box, cam, dilate);
}
