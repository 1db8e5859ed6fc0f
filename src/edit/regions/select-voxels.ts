import { UserError } from '../../core/errors';
import type { VoxelGrid } from '../../nerf/voxel/voxel-grid';
import { colorDims, worldToGrid } from '../../nerf/voxel/voxel-grid';
import { sigmoid } from '../../core/math';
import { vertexWorld } from '../../nerf/voxel/voxel-grid-ops';
import {
  centreDistance,
  colourAffinity,
  cutObject,
  grownBounds,
  objectSelection,
  SELECT_TUNING,
  zoneOf,
  type SelectTuning,
} from './graph-select';
import type { Region } from './regions';
import { POINT_IN, POINT_NONE, POINT_OUT, type PointClass, type Selection } from './selection';

/**
 * Object selection in a voxel grid (docs/editing.md): the graph cut of graph-select.ts over the occupied
 * vertices (one voxel step through them has opacity ≥ `occupiedAlpha`), joined to their 6-neighbours.
 */
export interface VoxelSelectOptions extends SelectTuning {
  occupiedAlpha: number;
  /** Edits may change empty vertices within this many voxels of the selected ones (geometry can grow). */
  gateDilate: number;
}

export const VOXEL_SELECT_DEFAULTS: VoxelSelectOptions = { ...SELECT_TUNING, occupiedAlpha: 0.3, gateDilate: 2 };

export interface VoxelSelection {
  selection: Selection;
  /** Selected (occupied, foreground) vertices. */
  selected: Uint8Array;
  /** Vertices the edit may change: the selected ones and empty vertices of the region near them. */
  gate: Uint8Array;
}

export function selectVoxelObject(grid: VoxelGrid, region: Region, opts: Partial<VoxelSelectOptions> = {}): VoxelSelection {
  const o = { ...VOXEL_SELECT_DEFAULTS, ...opts };
  const [nx, ny, nz] = grid.res;
  const n = nx * ny * nz;
  const K = colorDims(grid.shDegree);
  const p = [0, 0, 0];
  const occRaw = Math.log(Math.expm1(-Math.log(1 - o.occupiedAlpha))) - grid.densityShift;
  const occupied = new Uint8Array(n),
    zone = new Uint8Array(n).fill(3);
  let occupiedTotal = 0;
  for (let k = 0, v = 0; k < nz; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++, v++) {
        if (grid.density[v] >= occRaw) {
          occupied[v] = 1;
          occupiedTotal++;
        }
      }
  // zones of the vertices inside the outer shell's bounds (the rest stay 3)
  const outer = grownBounds(region, o.shellOuter);
  const lo = [0, 0, 0],
    hi = [nx - 1, ny - 1, nz - 1];
  if (grid.bgLen === 0)
    for (let a = 0; a < 3; a++) {
      const size = (grid.box.max[a] - grid.box.min[a]) / (grid.res[a] - 1);
      lo[a] = Math.max(0, Math.floor((outer.min[a] - grid.box.min[a]) / size));
      hi[a] = Math.min(grid.res[a] - 1, Math.ceil((outer.max[a] - grid.box.min[a]) / size));
    }
  for (let k = lo[2]; k <= hi[2]; k++)
    for (let j = lo[1]; j <= hi[1]; j++)
      for (let i = lo[0]; i <= hi[0]; i++) {
        vertexWorld(grid, i, j, k, p);
        zone[i + nx * (j + ny * k)] = zoneOf(region, o, p[0], p[1], p[2]);
      }
  const node = new Int32Array(n).fill(-1);
  const nodes: number[] = [];
  let inRegion = 0;
  for (let v = 0; v < n; v++)
    if (occupied[v] && zone[v] <= 2) {
      node[v] = nodes.push(v) - 1;
      if (zone[v] === 0) inRegion++;
    }
  if (!inRegion)
    throw new UserError(`--region '${region.text}': nothing occupied inside it to select; check its coordinates, or use --select region`);
  const nodeZone = Uint8Array.from(nodes, (v) => zone[v]);
  const dist = Float64Array.from(nodes, (v) => {
    vertexWorld(grid, v % nx, Math.floor(v / nx) % ny, Math.floor(v / (nx * ny)), p);
    return centreDistance(region, p[0], p[1], p[2]);
  });
  const colour = (v: number) => [sigmoid(grid.color[v * K]), sigmoid(grid.color[v * K + 1]), sigmoid(grid.color[v * K + 2])];
  const steps = [1, nx, nx * ny],
    dims = [nx, ny, nz];
  const cut = cutObject(
    {
      zone: nodeZone,
      dist,
      colour: (q) => colour(nodes[q]),
      edges(add) {
        nodes.forEach((v, q) => {
          const ijk = [v % nx, Math.floor(v / nx) % ny, Math.floor(v / (nx * ny))];
          const cv = colour(v);
          for (let a = 0; a < 3; a++) {
            if (ijk[a] + 1 >= dims[a]) continue;
            const r = node[v + steps[a]];
            if (r >= 0) add(q, r, colourAffinity(cv, colour(v + steps[a]), o));
          }
        });
      },
    },
    o,
  );
  if (cut.count === occupiedTotal)
    throw new UserError(`--region '${region.text}': the selection covers the whole scene; draw the region around one object`);
  const selected = new Uint8Array(n);
  nodes.forEach((v, q) => (selected[v] = cut.selected[q]));
  // the gate: selected vertices, the object's inside, and empty vertices of the region and its inner shell near them
  let gate = selected.slice();
  fillInside(gate, selected, zone, grid.res);
  for (let it = 0; it < o.gateDilate; it++) {
    const next = gate.slice();
    for (let k = 0, v = 0; k < nz; k++)
      for (let j = 0; j < ny; j++)
        for (let i = 0; i < nx; i++, v++) {
          if (gate[v] || occupied[v] || zone[v] > 1) continue;
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
  const selection = objectSelection(region, o, classify, cut, inRegion, ['selectedVertices', 'occupiedVerticesInRegion']);
  return { selection, selected, gate };
}

/**
 * Adds the object's inside to `gate`: vertices of the region and its inner shell with a selected vertex on both
 * sides along at least two of the three axes. A fitted object is rarely an opaque shell: where its surface is
 * faint, rays see into the haze of its inside, and unless that haze may change too the pixel keeps the old colour
 * (the depth-aware mask counts it as the object's only when most of its opacity may change; docs/editing.md).
 * Empty space beside the object (between it and the ground, or past its silhouette) has the object on one side
 * only and stays out.
 */
function fillInside(gate: Uint8Array, selected: Uint8Array, zone: Uint8Array, res: [number, number, number]): void {
  const [nx, ny, nz] = res;
  const axes = new Uint8Array(gate.length);
  const dims = [nx, ny, nz],
    steps = [1, nx, nx * ny];
  for (let a = 0; a < 3; a++) {
    const [b, c] = [0, 1, 2].filter((x) => x !== a);
    const len = dims[a],
      step = steps[a];
    const before = new Uint8Array(len);
    for (let u = 0; u < dims[b]; u++)
      for (let w = 0; w < dims[c]; w++) {
        const start = u * steps[b] + w * steps[c];
        let seen = 0;
        for (let t = 0; t < len; t++) {
          before[t] = seen;
          if (selected[start + t * step]) seen = 1;
        }
        seen = 0;
        for (let t = len - 1; t >= 0; t--) {
          const v = start + t * step;
          if (seen && before[t] && zone[v] <= 1 && !selected[v]) axes[v]++;
          if (selected[v]) seen = 1;
        }
      }
  }
  for (let v = 0; v < gate.length; v++) if (axes[v] >= 2) gate[v] = 1;
}
