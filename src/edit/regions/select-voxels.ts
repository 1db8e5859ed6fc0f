import { UserError } from '../../core/errors';
import type { VoxelGrid } from '../../nerf/voxel/voxel-grid';
import { colorDims, sigmoid, worldToGrid } from '../../nerf/voxel/voxel-grid';
import { vertexWorld } from '../scenes/voxel-editable';
import { MaxFlowGraph } from './max-flow';
import type { Region } from './regions';
import { POINT_IN, POINT_NONE, POINT_OUT, type PointClass, type Selection } from './selection';

/**
 * Object selection in a voxel grid (docs/editing.md; Vox-E's graph-cut refinement, Sella et al. ICCV 2023, with
 * seeds instead of attention maps): the occupied vertices inside the region are the graph's nodes, 6-neighbours
 * are joined with Vox-E's smoothness weight w_pq = exp(−‖c_p − c_q‖²/2σ²) on their colours, and seeds fix the
 * two sides — vertices on the region's faces where the surface continues outside it (the ground running out of
 * the box) are background, vertices around the region's core are foreground. The minimum cut (max-flow,
 * `max-flow.ts`) selects the object.
 */
export interface VoxelSelectOptions {
  /** A vertex is occupied when one voxel step through it has at least this opacity. */
  occupiedAlpha: number;
  /** σ of the colour term (colours in [0, 1]). */
  sigma: number;
  /** Foreground seeds: this fraction of the nodes, the nearest to the region's centre (see `coreSeeds`). */
  core: number;
  /** Edits may change empty vertices within this many voxels of the selected ones (geometry can grow). */
  gateDilate: number;
}

export const VOXEL_SELECT_DEFAULTS: VoxelSelectOptions = { occupiedAlpha: 0.3, sigma: 0.1, core: 0.15, gateDilate: 2 };

export interface VoxelSelection {
  selection: Selection;
  /** Selected (occupied, foreground) vertices. */
  selected: Uint8Array;
  /** Vertices the edit may change: the selected ones and empty vertices of the region near them. */
  gate: Uint8Array;
}

/** Distance from the centre of the region's bounds, in units of its half extents (1 on the box's face centres). */
export function centreDistance(region: Region, x: number, y: number, z: number): number {
  const b = region.bounds;
  let d = 0;
  const p = [x, y, z];
  for (let a = 0; a < 3; a++) d += ((p[a] - (b.min[a] + b.max[a]) / 2) / Math.max(1e-12, (b.max[a] - b.min[a]) / 2)) ** 2;
  return Math.sqrt(d);
}

/**
 * Foreground seeds: the fraction `core` of the nodes nearest to the region's centre (by `centreDistance`), among
 * those that are not background seeds. A fraction rather than a fixed inner box, because fitted objects are
 * shells (3DGS surfaces, pruned voxel grids): the middle of a region around a vase can be empty.
 */
export function coreSeeds(dist: ArrayLike<number>, isBackground: ArrayLike<number>, core: number): Uint8Array {
  const order = Array.from({ length: dist.length }, (_, i) => i).filter((i) => !isBackground[i]);
  order.sort((a, b) => dist[a] - dist[b]);
  const seeds = new Uint8Array(dist.length);
  const n = Math.max(1, Math.ceil(order.length * core));
  for (let q = 0; q < Math.min(n, order.length); q++) seeds[order[q]] = 1;
  return seeds;
}

export function selectVoxelObject(grid: VoxelGrid, region: Region, opts: Partial<VoxelSelectOptions> = {}): VoxelSelection {
  const o = { ...VOXEL_SELECT_DEFAULTS, ...opts };
  const [nx, ny, nz] = grid.res;
  const n = nx * ny * nz;
  const K = colorDims(grid.shDegree);
  const p = [0, 0, 0];
  // occupancy (one voxel step's opacity) and region membership per vertex
  const occupied = new Uint8Array(n),
    inRegion = new Uint8Array(n);
  const occRaw = Math.log(Math.expm1(-Math.log(1 - o.occupiedAlpha))) - grid.densityShift;
  for (let k = 0, v = 0; k < nz; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++, v++) {
        if (grid.density[v] >= occRaw) occupied[v] = 1;
        vertexWorld(grid, i, j, k, p);
        if (region.inside(p[0], p[1], p[2])) inRegion[v] = 1;
      }
  // nodes: occupied vertices in the region
  const node = new Int32Array(n).fill(-1);
  const nodes: number[] = [];
  for (let v = 0; v < n; v++) if (occupied[v] && inRegion[v]) node[v] = nodes.push(v) - 1;
  if (!nodes.length)
    throw new UserError(`--region '${region.text}': nothing occupied inside it to select; check its coordinates, or use --select region`);
  const g = new MaxFlowGraph(nodes.length, nodes.length * 3);
  const HARD = 1e9;
  const col = (v: number, c: number) => sigmoid(grid.color[v * K + c]);
  const steps = [1, nx, nx * ny];
  // background seeds: a 6-neighbour outside the region continues the surface
  const isBg = new Uint8Array(nodes.length),
    dist = new Float64Array(nodes.length);
  for (let q = 0; q < nodes.length; q++) {
    const v = nodes[q];
    const ijk = [v % nx, Math.floor(v / nx) % ny, Math.floor(v / (nx * ny))],
      dims = [nx, ny, nz];
    for (let a = 0; a < 3 && !isBg[q]; a++)
      for (const s of [-1, 1]) {
        if (ijk[a] + s < 0 || ijk[a] + s >= dims[a]) continue;
        const u = v + s * steps[a];
        if (!inRegion[u] && occupied[u]) {
          isBg[q] = 1;
          break;
        }
      }
    vertexWorld(grid, ijk[0], ijk[1], ijk[2], p);
    dist[q] = centreDistance(region, p[0], p[1], p[2]);
  }
  const isFg = coreSeeds(dist, isBg, o.core);
  let fg = 0,
    bg = 0;
  for (let q = 0; q < nodes.length; q++) {
    const v = nodes[q];
    fg += isFg[q];
    bg += isBg[q];
    if (isFg[q] || isBg[q]) g.addTerminal(q, isFg[q] ? HARD : 0, isBg[q] ? HARD : 0);
    // smoothness to the +x, +y, +z neighbours that are nodes
    const ijk = [v % nx, Math.floor(v / nx) % ny, Math.floor(v / (nx * ny))],
      dims = [nx, ny, nz];
    for (let a = 0; a < 3; a++) {
      if (ijk[a] + 1 >= dims[a]) continue;
      const r = node[v + steps[a]];
      if (r < 0) continue;
      let d2 = 0;
      for (let c = 0; c < 3; c++) d2 += (col(v, c) - col(v + steps[a], c)) ** 2;
      const w = Math.exp(-d2 / (2 * o.sigma * o.sigma));
      g.addEdge(q, r, w, w);
    }
  }
  if (!fg)
    throw new UserError(
      `--region '${region.text}': every occupied vertex in it continues outside; draw the region around one object, or use --select region`,
    );
  g.maxflow();
  const selected = new Uint8Array(n);
  let count = 0;
  for (let q = 0; q < nodes.length; q++)
    if (g.inSourceSet(q)) {
      selected[nodes[q]] = 1;
      count++;
    }
  let occupiedTotal = 0;
  for (let v = 0; v < n; v++) occupiedTotal += occupied[v];
  if (count === occupiedTotal)
    throw new UserError(`--region '${region.text}': the selection covers the whole scene; draw the region around one object`);
  // the gate: selected vertices, and empty region vertices within gateDilate voxels of them
  let gate = selected.slice();
  for (let it = 0; it < o.gateDilate; it++) {
    const next = gate.slice();
    for (let k = 0, v = 0; k < nz; k++)
      for (let j = 0; j < ny; j++)
        for (let i = 0; i < nx; i++, v++) {
          if (gate[v] || occupied[v] || !inRegion[v]) continue;
          if (
            (i > 0 && gate[v - 1]) ||
            (i < nx - 1 && gate[v + 1]) ||
            (j > 0 && gate[v - nx]) ||
            (j < ny - 1 && gate[v + nx]) ||
            (k > 0 && gate[v - nx * ny]) ||
            (k < nz - 1 && gate[v + nx * ny])
          )
            next[v] = 1;
        }
    gate = next;
  }
  const gpt = new Float64Array(3);
  const classify = (x: number, y: number, z: number): PointClass => {
    // the cell's corners decide, not the region's faces: a surface on the region's face (a lid flush with the
    // box) may be found a fraction of a voxel outside it
    if (!worldToGrid(grid, x, y, z, gpt)) return POINT_OUT;
    // the cell's corners: IN when one is selected, OUT when one is an unselected occupied vertex
    const i0 = Math.min(nx - 2, Math.floor(gpt[0])),
      j0 = Math.min(ny - 2, Math.floor(gpt[1])),
      k0 = Math.min(nz - 2, Math.floor(gpt[2]));
    let out = false;
    for (let c = 0; c < 8; c++) {
      const v = i0 + (c & 1) + nx * (j0 + ((c >> 1) & 1) + ny * (k0 + ((c >> 2) & 1)));
      if (selected[v]) return POINT_IN;
      if (occupied[v]) out = true;
    }
    return out || !region.inside(x, y, z) ? POINT_OUT : POINT_NONE;
  };
  const selection: Selection = {
    kind: 'object',
    region,
    classify,
    selected: count,
    candidates: nodes.length,
    describe: () => ({
      mode: 'object',
      region: region.text,
      selectedVertices: count,
      occupiedVertices: nodes.length,
      foregroundSeeds: fg,
      backgroundSeeds: bg,
      ...o,
    }),
  };
  return { selection, selected, gate };
}
