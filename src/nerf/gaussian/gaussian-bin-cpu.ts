import { radixSortU32 } from '../../gpu/radix-sort-cpu';
import { TILE, type Projected } from './gaussian-project-cpu';

/**
 * CPU twin of the depth sort and tile binning of 3DGS (Kerbl et al. 2023): the visible Gaussians in global
 * front-to-back order, then one (tile, Gaussian) entry per covered tile, sorted stably by tile so each tile's list
 * stays front to back. Method: docs/gaussians.md; projection conventions: gaussian-project-cpu.ts.
 *
 * | CPU function (this file) | WGSL kernel entry point / GPU step                                               |
 * | ------------------------ | -------------------------------------------------------------------------------- |
 * | `depthOrder`             | depth keys written by `project_gaussians`, sorted by `GpuRadixSort` (sort_radix.wgsl) |
 * | `gatherCounts`           | `gather_counts` (src/shaders/gs_bin.wgsl), then `GpuPrefixScan` (sort_scan.wgsl)  |
 * | `duplicate`              | `duplicate` (src/shaders/gs_bin.wgsl)                                             |
 * | (radixSortU32 by tile)   | `GpuRadixSort` on the tile ids                                                    |
 * | `tileRanges`             | `tile_ranges` (src/shaders/gs_bin.wgsl)                                           |
 * | `binGaussians`           | the host sequence of `WebGpuGaussianProjector` (gaussian-raster-webgpu.ts)        |
 *
 * CONVENTIONS
 * - Order: visible Gaussians (radius > 0) sorted by depth t.z ascending, ties by index (a stable sort of the f32
 *   depth bit patterns, which sort like the positive floats they encode). Culled Gaussians are left out here; the
 *   GPU sorts them last (key 0xffffffff).
 * - Each tile's list keeps the depth order (equivalent to sorting (tile, depth) keys); tiles are numbered
 *   row-major, t = ty·tilesX + tx, and a Gaussian's tiles are visited row-major inside its rectangle.
 * - Empty tiles get an empty range (start = end; the value of start is unspecified).
 */

/** Tile bins: Gaussians of tile t are ids[ranges[2t] .. ranges[2t+1]), front to back. */
export interface TileBins {
  tilesX: number;
  tilesY: number;
  ranges: Uint32Array;
  ids: Uint32Array;
}

/** Visible Gaussians (radius > 0) sorted front to back (stable). */
export function depthOrder(p: Projected): Uint32Array {
  let nv = 0;
  for (let i = 0; i < p.count; i++) if (p.radius[i] > 0) nv++;
  const keys = new Uint32Array(nv),
    order = new Uint32Array(nv);
  const f32 = new Float32Array(1),
    u32 = new Uint32Array(f32.buffer);
  nv = 0;
  for (let i = 0; i < p.count; i++)
    if (p.radius[i] > 0) {
      f32[0] = p.depth[i]; // positive floats sort like their bit patterns
      keys[nv] = u32[0];
      order[nv++] = i;
    }
  radixSortU32(keys, order, nv);
  return order;
}

/** Tiles covered by Gaussian i (the `touched` count of `project_gaussians`). */
function touched(p: Projected, i: number): number {
  const r = p.rect;
  return (r[4 * i + 2] - r[4 * i]) * (r[4 * i + 3] - r[4 * i + 1]);
}

/**
 * `gather_counts` and the exclusive scan after it: offsets[k] = first entry slot of the k-th nearest Gaussian
 * (`order[k]`), offsets[order.length] = the number of entries.
 */
export function gatherCounts(p: Projected, order: Uint32Array): Uint32Array {
  const offsets = new Uint32Array(order.length + 1);
  for (let k = 0; k < order.length; k++) offsets[k + 1] = offsets[k] + touched(p, order[k]);
  return offsets;
}

/** `duplicate`: one (tile id, Gaussian id) entry per tile covered by each Gaussian, at its slot, in depth order. */
export function duplicate(
  p: Projected,
  order: Uint32Array,
  offsets: Uint32Array,
  tilesX: number,
): { keys: Uint32Array; values: Uint32Array } {
  const n = offsets[order.length];
  const keys = new Uint32Array(n),
    values = new Uint32Array(n);
  const rect = p.rect;
  for (let k = 0; k < order.length; k++) {
    const i = order[k];
    let o = offsets[k];
    for (let ty = rect[4 * i + 1]; ty < rect[4 * i + 3]; ty++)
      for (let tx = rect[4 * i]; tx < rect[4 * i + 2]; tx++) {
        keys[o] = ty * tilesX + tx;
        values[o++] = i;
      }
  }
  return { keys, values };
}

/** `tile_ranges`: [start, end) of each tile's run in the tile-sorted keys (empty tiles: [0, 0)). */
export function tileRanges(keys: Uint32Array, tileCount: number): Uint32Array {
  const ranges = new Uint32Array(2 * tileCount);
  const n = keys.length;
  for (let k = 0; k < n; k++) {
    const tile = keys[k];
    if (k === 0 || keys[k - 1] !== tile) ranges[2 * tile] = k;
    if (k === n - 1 || keys[k + 1] !== tile) ranges[2 * tile + 1] = k + 1;
  }
  return ranges;
}

/** Bins visible Gaussians into tiles, each tile's list sorted front to back (the GPU's sequence of steps). */
export function binGaussians(p: Projected, width: number, height: number): TileBins {
  const tilesX = Math.ceil(width / TILE),
    tilesY = Math.ceil(height / TILE);
  const order = depthOrder(p);
  const offsets = gatherCounts(p, order);
  const { keys, values } = duplicate(p, order, offsets, tilesX);
  radixSortU32(keys, values, keys.length); // stable: each tile keeps the depth order
  return { tilesX, tilesY, ranges: tileRanges(keys, tilesX * tilesY), ids: values };
}
