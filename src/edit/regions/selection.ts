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
 * The depth-aware 2D mask of a view (docs/editing.md): a pixel is editable when the surface the source render
 * shows there (the point at its expected depth, where its opacity is at least SURFACE_ALPHA) is IN the
 * selection. The mask is then dilated by `dilate` pixels (edges whose depth mixes two surfaces, the silhouette's
 * antialiasing), but never into a pixel whose surface is OUT: pixels that see past the region onto the ground
 * or another object keep their original colour. Returns a grey mask (1 = editable) of the view's size.
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
  const m = createImage(w, h, 1);
  const r = Math.max(0, Math.round(dilate));
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const p = y * w + x;
      if (cls[p] === POINT_IN) {
        m.data[p] = 1;
        continue;
      }
      if (cls[p] === POINT_OUT || !r) continue;
      // within r pixels (a disc) of an IN pixel
      search: for (let dy = -r; dy <= r; dy++) {
        const yy = y + dy;
        if (yy < 0 || yy >= h) continue;
        for (let dx = -r; dx <= r; dx++) {
          const xx = x + dx;
          if (xx < 0 || xx >= w || dx * dx + dy * dy > r * r) continue;
          if (cls[yy * w + xx] === POINT_IN) {
            m.data[p] = 1;
            break search;
          }
        }
      }
    }
  return m;
}

/** `reach` of an object selection whose elements lie within `bounds` (the region grown by its inner shell). */
export function boundsReach(bounds: {
  min: [number, number, number];
  max: [number, number, number];
}): (cam: Camera, dilate: number) => Image {
  const box = boxRegion(bounds.min, bounds.max);
  return (cam, dilate) => regionMask(box, cam, dilate);
}
