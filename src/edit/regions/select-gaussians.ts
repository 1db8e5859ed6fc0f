import { UserError } from '../../core/errors';
import type { Gaussians } from '../../nerf/gaussian/gaussians';
import { SH_STRIDE } from '../../nerf/gaussian/gaussians';
import { SH_C0 } from '../../nerf/common/sh';
import { sigmoid } from '../../core/math';
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
import { PointGrid } from './point-grid';
import type { Region } from './regions';
import { POINT_IN, POINT_NONE, POINT_OUT, type PointClass, type Selection } from './selection';

/**
 * Object selection among Gaussians (docs/editing.md): the graph cut of graph-select.ts over the visible
 * Gaussians (opacity ≥ `minOpacity`) on a k-nearest-neighbour graph, colours from their base (degree-0) SH.
 */
export interface GaussianSelectOptions extends SelectTuning {
  minOpacity: number;
  neighbours: number;
}

/**
 * No colour-model terms for Gaussians: a Gaussian's base colour is one noisy sample of its surface (the SH bands
 * and its neighbours carry the rest), and on the demo's vase the terms cut the dim base away (vase vs ideal
 * 26.2 → 24.1 dB, bench/precise-edits.ts); the kNN graph's smoothness alone keeps it whole.
 */
export const GAUSSIAN_SELECT_DEFAULTS: GaussianSelectOptions = { ...SELECT_TUNING, colourWeight: 0, minOpacity: 0.1, neighbours: 10 };

export interface GaussianSelection {
  selection: Selection;
  /** 1 for the Gaussians the edit may change (selected, and the faint ones nearest to them). */
  gate: Uint8Array;
  /** The neighbourhood scale (median distance to the k-th neighbour). */
  scale: number;
}

export function selectGaussianObject(g: Gaussians, region: Region, opts: Partial<GaussianSelectOptions> = {}): GaussianSelection {
  const o = { ...GAUSSIAN_SELECT_DEFAULTS, ...opts };
  const m = g.means;
  const outer = grownBounds(region, o.shellOuter);
  const nodes: number[] = [],
    faint: number[] = [],
    zones: number[] = [];
  let visibleTotal = 0,
    inRegion = 0;
  for (let i = 0; i < g.count; i++) {
    const visible = sigmoid(g.opacityLogits[i]) >= o.minOpacity;
    visibleTotal += visible ? 1 : 0;
    const x = m[3 * i],
      y = m[3 * i + 1],
      z = m[3 * i + 2];
    if (x < outer.min[0] || y < outer.min[1] || z < outer.min[2] || x > outer.max[0] || y > outer.max[1] || z > outer.max[2]) continue;
    const zone = zoneOf(region, o, x, y, z);
    if (zone > 2) continue;
    if (!visible) {
      if (zone <= 1) faint.push(i);
      continue;
    }
    nodes.push(i);
    zones.push(zone);
    if (zone === 0) inRegion++;
  }
  if (!inRegion)
    throw new UserError(
      `--region '${region.text}': no visible Gaussian inside it to select; check its coordinates, or use --select region`,
    );
  const b = region.bounds;
  const diag = Math.hypot(b.max[0] - b.min[0], b.max[1] - b.min[1], b.max[2] - b.min[2]);
  const grid = new PointGrid(m, nodes, diag / Math.max(4, Math.cbrt(nodes.length / 4)));
  const k = Math.min(o.neighbours, nodes.length - 1);
  const index = new Map<number, number>();
  nodes.forEach((id, q) => index.set(id, q));
  const knn = nodes.map((id) => grid.nearest(m[3 * id], m[3 * id + 1], m[3 * id + 2], k, 2 * diag, id));
  const kth = knn.map((r) => (r.d2.length ? Math.sqrt(r.d2[r.d2.length - 1]) : 0)).sort((p, q) => p - q);
  const scale = Math.max(1e-6, kth[Math.floor(kth.length / 2)]);
  const colour = (i: number) => [0, 1, 2].map((c) => Math.min(1, Math.max(0, 0.5 + SH_C0 * g.sh[i * SH_STRIDE + c])));
  const cut = cutObject(
    {
      zone: Uint8Array.from(zones),
      dist: Float64Array.from(nodes, (id) => centreDistance(region, m[3 * id], m[3 * id + 1], m[3 * id + 2])),
      colour: (q) => colour(nodes[q]),
      edges(add) {
        nodes.forEach((id, q) => {
          const c = colour(id);
          for (const nb of knn[q].ids) {
            const r = index.get(nb)!;
            if (r < q && knn[r].ids.includes(id)) continue; // mutual neighbours: one edge
            add(q, r, colourAffinity(c, colour(nb), o));
          }
        });
      },
    },
    o,
  );
  if (cut.count === visibleTotal)
    throw new UserError(`--region '${region.text}': the selection covers the whole scene; draw the region around one object`);
  const gate = new Uint8Array(g.count);
  nodes.forEach((id, q) => (gate[id] = cut.selected[q]));
  // faint Gaussians follow their nearest visible neighbour
  for (const id of faint) {
    const r = grid.nearest(m[3 * id], m[3 * id + 1], m[3 * id + 2], 1, 2 * scale);
    if (r.ids.length && gate[r.ids[0]]) gate[id] = 1;
  }
  const classify = (x: number, y: number, z: number): PointClass => {
    // the nearest visible Gaussian decides (a surface flush with the region's face may be found just outside
    // it); far from all of them, outside the region is OUT and inside it empty space
    const r = grid.nearest(x, y, z, 1, 2 * scale);
    if (r.ids.length && gate[r.ids[0]]) return POINT_IN;
    if (r.ids.length || !region.inside(x, y, z)) return POINT_OUT;
    return POINT_NONE;
  };
  return {
    gate,
    scale,
    selection: objectSelection(region, o, classify, cut, inRegion, ['selectedGaussians', 'visibleGaussiansInRegion'], { scale }),
  };
}
