import { cloneGrid, colorDims, worldToGrid, type VoxelGrid } from './voxel-grid';

/**
 * Operations on a grid's vertices through a vertex mask (1 = selected): where a vertex lies in the world, the
 * vertices inside a 3D region, Vox-E's masked merge of an edited grid into the original, and the occupancy the
 * masked part needs. A region is anything with an inside test (`src/edit/regions` makes boxes, spheres and
 * visual hulls).
 */
export interface InsideTest {
  inside(x: number, y: number, z: number): boolean;
}

/** World position of grid vertex (i, j, k), inverting the ∞-norm contraction for unbounded grids. */
export function vertexWorld(grid: Pick<VoxelGrid, 'res' | 'box' | 'bgLen'>, i: number, j: number, k: number, out: number[]): void {
  const E = 1 + grid.bgLen;
  const u = [i, j, k].map((g, a) => (g / (grid.res[a] - 1)) * 2 * E - E);
  const n = Math.max(Math.abs(u[0]), Math.abs(u[1]), Math.abs(u[2]));
  if (grid.bgLen > 0 && n > 1) {
    // contracted norm n = (1 + b) − b / m  ⇒  m = b / (1 + b − n); far shell (n → 1 + b) maps to ∞
    const m = n >= E - 1e-6 ? 1e6 : grid.bgLen / (E - n);
    for (let a = 0; a < 3; a++) u[a] *= m / n;
  }
  for (let a = 0; a < 3; a++) out[a] = (grid.box.min[a] + grid.box.max[a]) / 2 + (u[a] * (grid.box.max[a] - grid.box.min[a])) / 2;
}

/** Grows a vertex mask by one vertex along ±x, ±y, ±z, `steps` times. */
export function dilateVertexMask(res: readonly number[], mask: Uint8Array, steps: number): Uint8Array {
  const [nx, ny, nz] = res;
  let cur = mask;
  for (let d = 0; d < steps; d++) {
    const nxt = cur.slice();
    for (let k = 0, v = 0; k < nz; k++)
      for (let j = 0; j < ny; j++)
        for (let i = 0; i < nx; i++, v++) {
          if (cur[v]) continue;
          if (
            (i > 0 && cur[v - 1]) ||
            (i < nx - 1 && cur[v + 1]) ||
            (j > 0 && cur[v - nx]) ||
            (j < ny - 1 && cur[v + nx]) ||
            (k > 0 && cur[v - nx * ny]) ||
            (k < nz - 1 && cur[v + nx * ny])
          )
            nxt[v] = 1;
        }
    cur = nxt;
  }
  return cur;
}

/** Per-vertex region mask M (1 inside), dilated by `dilate` vertices so edited surfaces on the region's boundary are kept. */
export function vertexRegionMask(grid: Pick<VoxelGrid, 'res' | 'box' | 'bgLen'>, region: InsideTest, dilate = 1): Uint8Array {
  const [nx, ny, nz] = grid.res;
  const m = new Uint8Array(nx * ny * nz);
  const p = [0, 0, 0];
  for (let k = 0, v = 0; k < nz; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++, v++) {
        vertexWorld(grid, i, j, k, p);
        if (region.inside(p[0], p[1], p[2])) m[v] = 1;
      }
  return dilateVertexMask(grid.res, m, dilate);
}

/** Vox-E merge: G = M·G_edit + (1−M)·G_orig on raw density and colour (same resolution). */
export function mergeGrids(edit: VoxelGrid, orig: VoxelGrid, mask: Uint8Array): VoxelGrid {
  const out = cloneGrid(orig);
  const K = colorDims(orig.shDegree);
  for (let v = 0; v < mask.length; v++) {
    if (!mask[v]) continue;
    out.density[v] = edit.density[v];
    for (let c = 0; c < K; c++) out.color[v * K + c] = edit.color[v * K + c];
  }
  // occupancy: the original's, plus every cell touching the region (it may have gained density)
  markRegionCells(out, mask);
  return out;
}

/** Sets occupancy to 1 for every cell with a masked vertex (so the region can gain or change density). */
export function markRegionCells(grid: VoxelGrid, mask: Uint8Array): void {
  const [nx, ny, nz] = grid.res;
  const cx = nx - 1,
    cy = ny - 1,
    cz = nz - 1;
  for (let k = 0; k < cz; k++)
    for (let j = 0; j < cy; j++)
      for (let i = 0; i < cx; i++) {
        const v = i + nx * (j + ny * k);
        if (
          mask[v] ||
          mask[v + 1] ||
          mask[v + nx] ||
          mask[v + nx + 1] ||
          mask[v + nx * ny] ||
          mask[v + nx * ny + 1] ||
          mask[v + nx * ny + nx] ||
          mask[v + nx * ny + nx + 1]
        )
          grid.occupancy[i + cx * (j + cy * k)] = 1;
      }
}

/** Occupancy for a coarser grid over the same box: a coarse cell is occupied when any fine cell it covers is. */
export function coarseOccupancy(fine: VoxelGrid, coarse: Pick<VoxelGrid, 'res'>): Uint8Array {
  const [nx, ny, nz] = coarse.res;
  const occ = new Uint8Array((nx - 1) * (ny - 1) * (nz - 1));
  const [fx, fy, fz] = fine.res;
  for (let k = 0; k < fz - 1; k++)
    for (let j = 0; j < fy - 1; j++)
      for (let i = 0; i < fx - 1; i++) {
        if (!fine.occupancy[i + (fx - 1) * (j + (fy - 1) * k)]) continue;
        const ci = Math.min(nx - 2, Math.floor(((i + 0.5) / (fx - 1)) * (nx - 1)));
        const cj = Math.min(ny - 2, Math.floor(((j + 0.5) / (fy - 1)) * (ny - 1)));
        const ck = Math.min(nz - 2, Math.floor(((k + 0.5) / (fz - 1)) * (nz - 1)));
        occ[ci + (nx - 1) * (cj + (ny - 1) * ck)] = 1;
      }
  return occ;
}

/**
 * A vertex mask of `grid` as an inside test on world points: a point is inside when its nearest vertex is
 * masked. Masks made at one resolution (an object selection) are resampled to another this way (vertexRegionMask
 * at a coarser level of dynamic scaling).
 */
export function maskInsideTest(grid: VoxelGrid, mask: Uint8Array): InsideTest {
  const g = new Float64Array(3);
  const [nx, ny] = grid.res;
  return {
    inside(x: number, y: number, z: number) {
      if (!worldToGrid(grid, x, y, z, g)) return false;
      return mask[Math.round(g[0]) + nx * (Math.round(g[1]) + ny * Math.round(g[2]))] === 1;
    },
  };
}
