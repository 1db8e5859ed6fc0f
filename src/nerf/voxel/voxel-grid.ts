import { softplusInverse, type Vec3 } from '../../core/math';

/**
 * The voxel radiance grid (DVGO / Vox-E style): a dense grid of raw density and raw colour values,
 * sampled by corner-aligned trilinear interpolation. The method and its papers: docs/voxels.md.
 *
 * ## Memory layout (the WGSL kernels in src/shaders/voxel_*.wgsl use exactly this)
 * - `res = [nx, ny, nz]` grid **vertices** per axis (each ≥ 2). Vertex (i, j, k) has the flat index
 *   `v = i + nx * (j + ny * k)` (x fastest, then y, then z).
 * - `density: Float32Array(nx*ny*nz)`: raw density at vertex v.
 * - `color: Float32Array(nx*ny*nz*K)`: raw colour features, interleaved per vertex:
 *   `color[v*K + b*3 + c]` is the coefficient of SH basis function b (0 ≤ b < K/3) for channel c (0 = R, 1 = G, 2 = B).
 *   K = 3 when `shDegree` is 0 (view-independent colour, the default, as Vox-E), K = 12 when `shDegree` is 1.
 * - `occupancy: Uint8Array((nx-1)*(ny-1)*(nz-1))`: one byte per **cell** (the cube between vertices
 *   (i..i+1, j..j+1, k..k+1)), index `c = i + (nx-1) * (j + (ny-1) * k)`; 0 = empty (samples in it are
 *   skipped: they add nothing and get no gradient), 1 = occupied. GPU code may pack it into u32 words.
 *
 * ## Where the grid lies (world → grid coordinates)
 * `box` is an axis-aligned world box with centre c = (min+max)/2 and half size h = (max−min)/2 (per axis).
 * `bgLen` selects bounded or unbounded:
 * - Normalise: u = (p − c) / h (per axis).
 * - `bgLen = 0` (bounded, e.g. the demo's `scene_box`): the grid covers u ∈ [−1, 1]³ (the box itself);
 *   samples outside it contribute nothing.
 * - `bgLen > 0` (unbounded real captures): contract like mip-NeRF 360 / DVGO v2 with the ∞-norm:
 *   n = max(|u.x|, |u.y|, |u.z|); if n > 1 then u ← u · ((1 + bgLen) − bgLen / n) / n.
 *   The inner box maps to itself; everything outside lands in a shell of thickness bgLen, so the grid covers
 *   u ∈ [−E, E]³ with E = 1 + bgLen, and every point in space has a value.
 * - Grid coordinates: g = (u + E) / (2E) · (res − 1), E = 1 + bgLen (per axis); vertex i sits at g = i.
 * - Trilinear (corner-aligned): a sample is inside when 0 ≤ g ≤ res − 1 on every axis; i0 = min(floor(g), res − 2),
 *   f = g − i0, weights (1−f) / f per axis, over the 8 vertices of cell i0.
 *
 * ## Activations
 * - Density: σ = softplus(density + densityShift) (softplus, as DVGO, rather than Vox-E's ReLU: it never stops
 *   passing gradient, so fitting from an empty grid works); softplus(x) = log(1 + eˣ) (x for x > 20).
 * - Opacity of a sample: α = 1 − exp(−σ · δ · densityScale), δ = the sample's step length measured in
 *   contracted space in world units (in the inner box that is the world step; see `voxel-render-cpu.ts`).
 *   `densityScale` is fixed when the grid is made (1 / the finest voxel size) and kept by up/downsampling,
 *   so a grid's appearance does not change when its resolution does.
 * - Colour: rgb = sigmoid(Σ_b color[b] · Y_b(d)) with Y_0 = 1 and, for shDegree 1, the real SH band 1 of the
 *   unit ray direction d: Y_1 = −C1·d.y, Y_2 = C1·d.z, Y_3 = −C1·d.x (C1 = SH_C1, src/nerf/common/sh.ts).
 */

export interface Box3 {
  min: Vec3;
  max: Vec3;
}

export interface VoxelGrid {
  res: Vec3;
  box: Box3;
  /** 0: bounded; > 0: unbounded with a contracted outer shell of this thickness (in units of the half box). */
  bgLen: number;
  densityShift: number;
  densityScale: number;
  shDegree: 0 | 1;
  density: Float32Array;
  color: Float32Array;
  occupancy: Uint8Array;
}

/** Colour features per vertex. */
export function colorDims(shDegree: 0 | 1): number {
  return shDegree === 0 ? 3 : 12;
}

export function vertexCount(res: Vec3): number {
  return res[0] * res[1] * res[2];
}

export function cellCount(res: Vec3): number {
  return (res[0] - 1) * (res[1] - 1) * (res[2] - 1);
}

export interface CreateGridOptions {
  res: Vec3;
  box: Box3;
  bgLen?: number;
  shDegree?: 0 | 1;
  /** Initial opacity of one finest-voxel step (DVGO's alpha_init); sets densityShift. Default 1e-4. */
  alphaInit?: number;
  /** Voxel size the density is measured against; default: this grid's. Pass the final resolution's when fitting coarse-to-fine. */
  densityScale?: number;
  /** Initial raw colour (0 → sigmoid 0.5 grey). */
  colorInit?: number;
}

/** The half extent E of the grid in normalised units (1 bounded, 1 + bgLen unbounded). */
export function gridExtent(grid: Pick<VoxelGrid, 'bgLen'>): number {
  return 1 + grid.bgLen;
}

/** World size of one voxel along each axis (of the contracted space for unbounded grids). */
export function voxelSize(grid: Pick<VoxelGrid, 'res' | 'box' | 'bgLen'>): Vec3 {
  const E = 1 + grid.bgLen;
  return [0, 1, 2].map((a) => ((grid.box.max[a] - grid.box.min[a]) * E) / (grid.res[a] - 1)) as Vec3;
}

/** A grid of the given resolution whose density is near empty (alphaInit) and colour grey. */
export function createVoxelGrid(o: CreateGridOptions): VoxelGrid {
  for (const r of o.res)
    if (!Number.isInteger(r) || r < 2) throw new Error(`voxel grid resolution must be integers ≥ 2, got ${o.res.join('×')}`);
  const bgLen = o.bgLen ?? 0;
  const shDegree = o.shDegree ?? 0;
  const vs = voxelSize({ res: o.res, box: o.box, bgLen });
  const densityScale = o.densityScale ?? 1 / Math.min(...vs);
  const alphaInit = o.alphaInit ?? 1e-4;
  // α for one voxel step (δ·densityScale = 1) equals alphaInit when density = 0.
  const densityShift = softplusInverse(-Math.log(1 - alphaInit));
  const n = vertexCount(o.res);
  const color = new Float32Array(n * colorDims(shDegree));
  if (o.colorInit) for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) color[i * colorDims(shDegree) + c] = o.colorInit;
  const occupancy = new Uint8Array(cellCount(o.res)).fill(1);
  return {
    res: [...o.res] as Vec3,
    box: { min: [...o.box.min] as Vec3, max: [...o.box.max] as Vec3 },
    bgLen,
    densityShift,
    densityScale,
    shDegree,
    density: new Float32Array(n),
    color,
    occupancy,
  };
}

/** Resolution with about `voxels` vertices in total, proportional to the box's shape (for the inner box; contracted grids are cubes). */
export function resolutionFor(box: Box3, voxels: number, bgLen = 0): Vec3 {
  const ext = [0, 1, 2].map((a) => box.max[a] - box.min[a]);
  if (bgLen > 0) {
    const r = Math.max(2, Math.round(Math.cbrt(voxels)));
    return [r, r, r];
  }
  const vol = ext[0] * ext[1] * ext[2];
  const s = Math.cbrt(voxels / vol);
  return ext.map((e) => Math.max(2, Math.round(e * s))) as Vec3;
}

/** Resolution whose largest axis has `n` vertices, the others proportional to the box. */
export function resolutionFromMax(box: Box3, n: number, bgLen = 0): Vec3 {
  const ext = [0, 1, 2].map((a) => box.max[a] - box.min[a]);
  const m = Math.max(...ext);
  if (bgLen > 0) return [n, n, n];
  return ext.map((e) => Math.max(2, Math.round((n * e) / m))) as Vec3;
}

/**
 * Maps a world point to grid coordinates (see the header comment). Writes g into `out` and returns true
 * when the point is inside the grid.
 */
export function worldToGrid(grid: VoxelGrid, px: number, py: number, pz: number, out: Float64Array | Float32Array | number[]): boolean {
  const { box, res, bgLen } = grid;
  let ux = (px - (box.min[0] + box.max[0]) * 0.5) / ((box.max[0] - box.min[0]) * 0.5);
  let uy = (py - (box.min[1] + box.max[1]) * 0.5) / ((box.max[1] - box.min[1]) * 0.5);
  let uz = (pz - (box.min[2] + box.max[2]) * 0.5) / ((box.max[2] - box.min[2]) * 0.5);
  if (bgLen > 0) {
    const n = Math.max(Math.abs(ux), Math.abs(uy), Math.abs(uz));
    if (n > 1) {
      const s = (1 + bgLen - bgLen / n) / n;
      ux *= s;
      uy *= s;
      uz *= s;
    }
  }
  const E = 1 + bgLen;
  const gx = ((ux + E) / (2 * E)) * (res[0] - 1);
  const gy = ((uy + E) / (2 * E)) * (res[1] - 1);
  const gz = ((uz + E) / (2 * E)) * (res[2] - 1);
  out[0] = gx;
  out[1] = gy;
  out[2] = gz;
  return gx >= 0 && gy >= 0 && gz >= 0 && gx <= res[0] - 1 && gy <= res[1] - 1 && gz <= res[2] - 1;
}

/** Trilinear sample of the raw density at grid coordinates (no bounds check beyond clamping). */
export function sampleDensity(grid: VoxelGrid, gx: number, gy: number, gz: number): number {
  const [nx, ny, nz] = grid.res;
  const i = Math.min(Math.floor(gx), nx - 2),
    j = Math.min(Math.floor(gy), ny - 2),
    k = Math.min(Math.floor(gz), nz - 2);
  const fx = gx - i,
    fy = gy - j,
    fz = gz - k;
  const d = grid.density,
    v = i + nx * (j + ny * k),
    sy = nx,
    sz = nx * ny;
  const c00 = d[v] * (1 - fx) + d[v + 1] * fx;
  const c10 = d[v + sy] * (1 - fx) + d[v + sy + 1] * fx;
  const c01 = d[v + sz] * (1 - fx) + d[v + sz + 1] * fx;
  const c11 = d[v + sy + sz] * (1 - fx) + d[v + sy + sz + 1] * fx;
  return (c00 * (1 - fy) + c10 * fy) * (1 - fz) + (c01 * (1 - fy) + c11 * fy) * fz;
}

/** Trilinear sample of all channels at grid coordinates into out[0..K): for raw (pre-activation) resampling. */
function sampleRaw(values: Float32Array, K: number, res: Vec3, gx: number, gy: number, gz: number, out: Float64Array): void {
  const [nx, ny, nz] = res;
  const i = Math.max(0, Math.min(Math.floor(gx), nx - 2)),
    j = Math.max(0, Math.min(Math.floor(gy), ny - 2)),
    k = Math.max(0, Math.min(Math.floor(gz), nz - 2));
  const fx = gx - i,
    fy = gy - j,
    fz = gz - k;
  out.fill(0, 0, K);
  for (let dz = 0; dz < 2; dz++)
    for (let dy = 0; dy < 2; dy++)
      for (let dx = 0; dx < 2; dx++) {
        const w = (dx ? fx : 1 - fx) * (dy ? fy : 1 - fy) * (dz ? fz : 1 - fz);
        if (w === 0) continue;
        const v = (i + dx + nx * (j + dy + ny * (k + dz))) * K;
        for (let c = 0; c < K; c++) out[c] += w * values[v + c];
      }
}

/**
 * Resamples a grid to a new resolution by trilinear interpolation of the raw values (coarse-to-fine
 * upsampling while fitting, and the downsampling of Instruct 3D-to-3D's dynamic scaling). The box,
 * contraction and density scale are kept, so the rendered scene stays (nearly) the same.
 * Occupancy is recomputed with `updateOccupancy` by the caller (all cells start occupied).
 */
export function resampleGrid(grid: VoxelGrid, res: Vec3): VoxelGrid {
  const K = colorDims(grid.shDegree);
  const out = createVoxelGrid({ res, box: grid.box, bgLen: grid.bgLen, shDegree: grid.shDegree, densityScale: grid.densityScale });
  out.densityShift = grid.densityShift;
  const tmp = new Float64Array(K);
  const [nx, ny, nz] = res;
  for (let k = 0, v = 0; k < nz; k++) {
    const gz = (k / (nz - 1)) * (grid.res[2] - 1);
    for (let j = 0; j < ny; j++) {
      const gy = (j / (ny - 1)) * (grid.res[1] - 1);
      for (let i = 0; i < nx; i++, v++) {
        const gx = (i / (nx - 1)) * (grid.res[0] - 1);
        sampleRaw(grid.density, 1, grid.res, gx, gy, gz, tmp);
        out.density[v] = tmp[0];
        sampleRaw(grid.color, K, grid.res, gx, gy, gz, tmp);
        for (let c = 0; c < K; c++) out.color[v * K + c] = tmp[c];
      }
    }
  }
  return out;
}

/** Upsampling to a finer grid (coarse-to-fine fitting). */
export function upsampleGrid(grid: VoxelGrid, res: Vec3): VoxelGrid {
  return resampleGrid(grid, res);
}

/** Downsampling by 2^level per axis (Instruct 3D-to-3D dynamic scaling: N → N / 2^l). */
export function downsampleGrid(grid: VoxelGrid, level = 1): VoxelGrid {
  const f = 2 ** level;
  return resampleGrid(grid, grid.res.map((r) => Math.max(2, Math.round((r - 1) / f) + 1)) as Vec3);
}

/**
 * Recomputes the occupancy grid: a cell is occupied when the largest single-voxel-step opacity of its
 * 8 vertices (or of the neighbouring cells' vertices, a one-cell dilation so thin surfaces are not lost)
 * is at least `threshold`. Returns the fraction of occupied cells.
 */
export function updateOccupancy(grid: VoxelGrid, threshold = 1e-3): number {
  const [nx, ny, nz] = grid.res;
  // σ threshold such that α(one finest voxel) = threshold: softplus(d + shift) ≥ −log(1 − thr)
  const rawThr = softplusInverse(-Math.log(1 - threshold)) - grid.densityShift;
  const cx = nx - 1,
    cy = ny - 1,
    cz = nz - 1;
  const hot = new Uint8Array(cx * cy * cz);
  const d = grid.density;
  for (let k = 0; k < cz; k++)
    for (let j = 0; j < cy; j++)
      for (let i = 0; i < cx; i++) {
        const v = i + nx * (j + ny * k);
        const sy = nx,
          sz = nx * ny;
        let m = d[v];
        if (d[v + 1] > m) m = d[v + 1];
        if (d[v + sy] > m) m = d[v + sy];
        if (d[v + sy + 1] > m) m = d[v + sy + 1];
        if (d[v + sz] > m) m = d[v + sz];
        if (d[v + sz + 1] > m) m = d[v + sz + 1];
        if (d[v + sy + sz] > m) m = d[v + sy + sz];
        if (d[v + sy + sz + 1] > m) m = d[v + sy + sz + 1];
        hot[i + cx * (j + cy * k)] = m >= rawThr ? 1 : 0;
      }
  // dilate by one cell
  const occ = grid.occupancy;
  let count = 0;
  for (let k = 0; k < cz; k++)
    for (let j = 0; j < cy; j++)
      for (let i = 0; i < cx; i++) {
        let o = 0;
        for (let dk = -1; dk <= 1 && !o; dk++) {
          const kk = k + dk;
          if (kk < 0 || kk >= cz) continue;
          for (let dj = -1; dj <= 1 && !o; dj++) {
            const jj = j + dj;
            if (jj < 0 || jj >= cy) continue;
            for (let di = -1; di <= 1; di++) {
              const ii = i + di;
              if (ii < 0 || ii >= cx) continue;
              if (hot[ii + cx * (jj + cy * kk)]) {
                o = 1;
                break;
              }
            }
          }
        }
        occ[i + cx * (j + cy * k)] = o;
        count += o;
      }
  return count / occ.length;
}

/** A deep copy (for frozen references and checkpoints). */
export function cloneGrid(g: VoxelGrid): VoxelGrid {
  return {
    ...g,
    res: [...g.res] as Vec3,
    box: { min: [...g.box.min] as Vec3, max: [...g.box.max] as Vec3 },
    density: g.density.slice(),
    color: g.color.slice(),
    occupancy: g.occupancy.slice(),
  };
}
