import type { Camera } from '../../core/camera';
import { projectPoint } from '../../core/camera';
import { UserError } from '../../core/errors';
import type { Image } from '../../core/image';
import type { Vec3 } from '../../core/math';
import { createImage } from '../../core/image';
import { pixelRay, rayBox } from '../../core/rays';

/**
 * 3D edit regions (`--region`): an axis-aligned box, a sphere, or a visual hull carved from two or more
 * binary masks drawn over dataset images (NeRF-Insert). A region answers three questions:
 *  - is a world point inside? (`inside`, used for voxel merge masks and Gaussian gating)
 *  - does a camera ray pass through it? (`rayHits`, used to project the region to per-view 2D masks)
 *  - what axis-aligned box bounds it? (`bounds`, used for validation against the scene box)
 */
export interface Bounds {
  min: Vec3;
  max: Vec3;
}

export type RegionSpec =
  { kind: 'box'; min: Vec3; max: Vec3 } | { kind: 'sphere'; center: Vec3; radius: number } | { kind: 'hull'; dir: string };

export interface Region {
  /** The spec as written by the user (for logs), e.g. `box:-0.3,0,-0.3,0.3,0.6,0.3`. */
  text: string;
  kind: RegionSpec['kind'];
  bounds: Bounds;
  inside(x: number, y: number, z: number): boolean;
  /** Whether the ray o + t·d (t > 0, d unit) passes through the region. */
  rayHits(ox: number, oy: number, oz: number, dx: number, dy: number, dz: number): boolean;
  /** JSON description for edit logs and checkpoints. */
  describe(): Record<string, unknown>;
}

function numbers(s: string, n: number, text: string): number[] {
  const parts = s.split(',').map((p) => p.trim());
  if (parts.length !== n) throw new UserError(`--region '${text}': expected ${n} comma-separated numbers, got ${parts.length}`);
  return parts.map((p) => {
    const v = Number(p);
    if (p === '' || !Number.isFinite(v)) throw new UserError(`--region '${text}': '${p}' is not a number`);
    return v;
  });
}

/** Parses `box:x0,y0,z0,x1,y1,z1`, `sphere:cx,cy,cz,r` or `hull:MASK_DIR`. Empty boxes and spheres are errors. */
export function parseRegionSpec(text: string): RegionSpec {
  const m = /^([a-z]+):(.*)$/i.exec(text.trim());
  if (!m) throw new UserError(`--region '${text}': expected box:x0,y0,z0,x1,y1,z1, sphere:cx,cy,cz,r or hull:MASK_DIR`);
  const kind = m[1].toLowerCase();
  if (kind === 'box') {
    const v = numbers(m[2], 6, text);
    const min: Vec3 = [Math.min(v[0], v[3]), Math.min(v[1], v[4]), Math.min(v[2], v[5])];
    const max: Vec3 = [Math.max(v[0], v[3]), Math.max(v[1], v[4]), Math.max(v[2], v[5])];
    for (let a = 0; a < 3; a++)
      if (!(max[a] > min[a])) throw new UserError(`--region '${text}': the box is empty (its ${'xyz'[a]} extent is zero)`);
    return { kind: 'box', min, max };
  }
  if (kind === 'sphere') {
    const v = numbers(m[2], 4, text);
    if (!(v[3] > 0)) throw new UserError(`--region '${text}': the sphere's radius must be positive`);
    return { kind: 'sphere', center: [v[0], v[1], v[2]], radius: v[3] };
  }
  if (kind === 'hull') {
    if (!m[2].trim()) throw new UserError(`--region '${text}': hull needs a folder of masks (hull:MASK_DIR)`);
    return { kind: 'hull', dir: m[2].trim() };
  }
  throw new UserError(`--region '${text}': unknown region kind '${m[1]}' (use box, sphere or hull)`);
}

export function boxRegion(min: Vec3, max: Vec3, text = `box:${[...min, ...max].join(',')}`): Region {
  return {
    text,
    kind: 'box',
    bounds: { min: [...min], max: [...max] },
    inside: (x, y, z) => x >= min[0] && x <= max[0] && y >= min[1] && y <= max[1] && z >= min[2] && z <= max[2],
    rayHits(ox, oy, oz, dx, dy, dz) {
      const [t0, t1] = rayBox([ox, oy, oz], [dx, dy, dz], 0, min, max);
      return t1 >= t0 && t1 > 0;
    },
    describe: () => ({ kind: 'box', min, max }),
  };
}

export function sphereRegion(c: Vec3, r: number, text = `sphere:${[...c, r].join(',')}`): Region {
  return {
    text,
    kind: 'sphere',
    bounds: { min: [c[0] - r, c[1] - r, c[2] - r], max: [c[0] + r, c[1] + r, c[2] + r] },
    inside: (x, y, z) => (x - c[0]) ** 2 + (y - c[1]) ** 2 + (z - c[2]) ** 2 <= r * r,
    rayHits(ox, oy, oz, dx, dy, dz) {
      const px = ox - c[0],
        py = oy - c[1],
        pz = oz - c[2];
      const b = px * dx + py * dy + pz * dz;
      const cc = px * px + py * py + pz * pz - r * r;
      const disc = b * b - cc;
      if (disc < 0) return false;
      return -b + Math.sqrt(disc) > 0;
    },
    describe: () => ({ kind: 'sphere', center: c, radius: r }),
  };
}

/** A binary occupancy grid over a box (the visual hull). */
export interface OccupancyGrid {
  bounds: Bounds;
  res: [number, number, number];
  /** 1 = inside, x fastest. */
  occ: Uint8Array;
}

export function gridRegion(grid: OccupancyGrid, text: string, extra: Record<string, unknown> = {}): Region {
  const { bounds, res, occ } = grid;
  const size = [0, 1, 2].map((a) => (bounds.max[a] - bounds.min[a]) / res[a]);
  // tight bounds of the occupied cells
  const lo: Vec3 = [Infinity, Infinity, Infinity],
    hi: Vec3 = [-Infinity, -Infinity, -Infinity];
  let count = 0;
  for (let k = 0; k < res[2]; k++)
    for (let j = 0; j < res[1]; j++)
      for (let i = 0; i < res[0]; i++) {
        if (!occ[(k * res[1] + j) * res[0] + i]) continue;
        count++;
        const ijk = [i, j, k];
        for (let a = 0; a < 3; a++) {
          lo[a] = Math.min(lo[a], bounds.min[a] + ijk[a] * size[a]);
          hi[a] = Math.max(hi[a], bounds.min[a] + (ijk[a] + 1) * size[a]);
        }
      }
  if (!count)
    throw new UserError(`--region '${text}': the visual hull is empty (the masks have no common volume; check they show the same object)`);
  const inside = (x: number, y: number, z: number) => {
    const i = Math.floor((x - bounds.min[0]) / size[0]),
      j = Math.floor((y - bounds.min[1]) / size[1]),
      k = Math.floor((z - bounds.min[2]) / size[2]);
    if (i < 0 || j < 0 || k < 0 || i >= res[0] || j >= res[1] || k >= res[2]) return false;
    return occ[(k * res[1] + j) * res[0] + i] === 1;
  };
  const step = 0.5 * Math.min(size[0], size[1], size[2]);
  return {
    text,
    kind: 'hull',
    bounds: { min: lo, max: hi },
    inside,
    rayHits(ox, oy, oz, dx, dy, dz) {
      const [t0, t1] = rayBox([ox, oy, oz], [dx, dy, dz], 0, lo, hi);
      if (t1 < t0 || t1 <= 0) return false;
      for (let t = Math.max(t0, 0) + step * 0.5; t <= t1; t += step) if (inside(ox + t * dx, oy + t * dy, oz + t * dz)) return true;
      return false;
    },
    describe: () => ({ kind: 'hull', res, occupied: count, bounds: { min: lo, max: hi }, ...extra }),
  };
}

/**
 * Carves a visual hull: a cell is inside when its centre projects inside the mask in every masked view
 * (a projection outside a view's image, or behind its camera, carves the cell away).
 */
export function carveVisualHull(views: { camera: Camera; mask: Image }[], bounds: Bounds, res = 64): OccupancyGrid {
  const ext = [0, 1, 2].map((a) => bounds.max[a] - bounds.min[a]);
  const maxExt = Math.max(...ext);
  const r: [number, number, number] = [0, 1, 2].map((a) => Math.max(4, Math.round((res * ext[a]) / maxExt))) as [number, number, number];
  const occ = new Uint8Array(r[0] * r[1] * r[2]).fill(1);
  const p = [0, 0, 0];
  for (let k = 0, n = 0; k < r[2]; k++)
    for (let j = 0; j < r[1]; j++)
      for (let i = 0; i < r[0]; i++, n++) {
        p[0] = bounds.min[0] + ((i + 0.5) * ext[0]) / r[0];
        p[1] = bounds.min[1] + ((j + 0.5) * ext[1]) / r[1];
        p[2] = bounds.min[2] + ((k + 0.5) * ext[2]) / r[2];
        for (const v of views) {
          const uv = projectPoint(v.camera, p);
          if (!uv) {
            occ[n] = 0;
            break;
          }
          const x = Math.floor(uv[0]),
            y = Math.floor(uv[1]);
          if (x < 0 || y < 0 || x >= v.mask.width || y >= v.mask.height || v.mask.data[(y * v.mask.width + x) * v.mask.channels] < 0.5) {
            occ[n] = 0;
            break;
          }
        }
      }
  return { bounds, res: r, occ };
}

/** Whether two boxes overlap with positive volume. */
export function boxesOverlap(a: Bounds, b: Bounds): boolean {
  for (let i = 0; i < 3; i++) if (!(a.min[i] < b.max[i] && b.min[i] < a.max[i])) return false;
  return true;
}

/** Rejects a region that lies outside the scene box (one clear line naming both boxes). */
export function validateRegion(region: Region, sceneBox: Bounds | undefined): void {
  if (!sceneBox) return;
  if (!boxesOverlap(region.bounds, sceneBox)) {
    const f = (v: number[]) => `(${v.map((x) => +x.toFixed(3)).join(', ')})`;
    throw new UserError(
      `--region '${region.text}' lies outside the scene box ${f(sceneBox.min)}–${f(sceneBox.max)} (region bounds ${f(region.bounds.min)}–${f(region.bounds.max)}); give coordinates inside the scene`,
    );
  }
}

/**
 * The region's silhouette in a camera: 1 where the pixel's ray passes through the region, dilated by
 * `dilate` pixels (a square structuring element), as a one-channel image.
 */
export function regionMask(region: Region, cam: Camera, dilate = 0): Image {
  const { width: W, height: H } = cam;
  const m = createImage(W, H, 1);
  const o = new Float32Array(3),
    d = new Float32Array(3);
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) {
      pixelRay(cam, x, y, o, d, 0);
      if (region.rayHits(o[0], o[1], o[2], d[0], d[1], d[2])) m.data[y * W + x] = 1;
    }
  return dilate > 0 ? dilateMask(m, dilate) : m;
}

/** Binary dilation by a (2r+1)² square, separable (max over rows, then columns). */
export function dilateMask(m: Image, r: number): Image {
  const { width: W, height: H } = m;
  const tmp = new Float32Array(W * H),
    out = createImage(W, H, 1);
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) {
      let v = 0;
      for (let dx = Math.max(0, x - r); dx <= Math.min(W - 1, x + r) && v < 1; dx++) v = Math.max(v, m.data[y * W + dx]);
      tmp[y * W + x] = v;
    }
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) {
      let v = 0;
      for (let dy = Math.max(0, y - r); dy <= Math.min(H - 1, y + r) && v < 1; dy++) v = Math.max(v, tmp[dy * W + x]);
      out.data[y * W + x] = v;
    }
  return out;
}

/** Fraction of mask pixels set (≥ 0.5). */
export function maskCoverage(m: Image): number {
  let n = 0;
  for (let i = 0; i < m.width * m.height; i++) if (m.data[i * m.channels] >= 0.5) n++;
  return n / (m.width * m.height);
}

/** NeRF-Insert skips views whose mask covers less than 0.5% of the image. */
export const ALMOST_EMPTY = 0.005;
export function almostEmpty(m: Image, threshold = ALMOST_EMPTY): boolean {
  return maskCoverage(m) < threshold;
}

/** The default dilation for edit masks: 2% of the image's smaller side, at least 1 pixel. */
export function defaultDilation(cam: Camera): number {
  return Math.max(1, Math.round(0.02 * Math.min(cam.width, cam.height)));
}

/** Composites `edited` over `base` inside the mask (soft masks blend). Both RGB of the same size. */
export function compositeInMask(base: Image, edited: Image, mask: Image): Image {
  const out = createImage(base.width, base.height, 3);
  const n = base.width * base.height;
  for (let i = 0; i < n; i++) {
    const a = mask.data[i * mask.channels];
    for (let c = 0; c < 3; c++) out.data[i * 3 + c] = a * edited.data[i * 3 + c] + (1 - a) * base.data[i * 3 + c];
  }
  return out;
}
