import { UserError } from '../../core/errors';
import type { Gaussians } from '../../nerf/gaussian/gaussians';
import { SH_C0, SH_STRIDE, sigmoid } from '../../nerf/gaussian/gaussians';
import { MaxFlowGraph } from './max-flow';
import { PointGrid } from './point-grid';
import type { Region } from './regions';
import { centreDistance, coreSeeds } from './select-voxels';
import { POINT_IN, POINT_NONE, POINT_OUT, type PointClass, type Selection } from './selection';

/**
 * Object selection among Gaussians (docs/editing.md): the same graph cut as for voxels (select-voxels.ts) on a
 * k-nearest-neighbour graph of the region's visible Gaussians (opacity ≥ `minOpacity`), with Vox-E's colour
 * weight on their base (degree-0) colours. Background seeds: Gaussians with a visible Gaussian outside the
 * region within the neighbourhood scale (the surface continues past the region's face); foreground seeds: the
 * Gaussians in the region's core.
 */
export interface GaussianSelectOptions {
  minOpacity: number;
  neighbours: number;
  sigma: number;
  core: number;
}

export const GAUSSIAN_SELECT_DEFAULTS: GaussianSelectOptions = { minOpacity: 0.1, neighbours: 10, sigma: 0.1, core: 0.15 };

export interface GaussianSelection {
  selection: Selection;
  /** 1 for the Gaussians the edit may change (selected, and the faint ones of the region nearest to them). */
  gate: Uint8Array;
  /** The neighbourhood scale (median distance to the k-th neighbour). */
  scale: number;
}

export function selectGaussianObject(g: Gaussians, region: Region, opts: Partial<GaussianSelectOptions> = {}): GaussianSelection {
  const o = { ...GAUSSIAN_SELECT_DEFAULTS, ...opts };
  const m = g.means;
  const inRegion = new Uint8Array(g.count);
  const cand: number[] = [],
    faint: number[] = [];
  for (let i = 0; i < g.count; i++) {
    if (!region.inside(m[3 * i], m[3 * i + 1], m[3 * i + 2])) continue;
    inRegion[i] = 1;
    (sigmoid(g.opacityLogits[i]) >= o.minOpacity ? cand : faint).push(i);
  }
  if (!cand.length)
    throw new UserError(
      `--region '${region.text}': no visible Gaussian inside it to select; check its coordinates, or use --select region`,
    );
  const b = region.bounds;
  const diag = Math.hypot(b.max[0] - b.min[0], b.max[1] - b.min[1], b.max[2] - b.min[2]);
  const grid = new PointGrid(m, cand, diag / Math.max(4, Math.cbrt(cand.length / 4)));
  const k = Math.min(o.neighbours, cand.length - 1);
  const node = new Map<number, number>();
  cand.forEach((id, q) => node.set(id, q));
  const knn = cand.map((id) => grid.nearest(m[3 * id], m[3 * id + 1], m[3 * id + 2], k, diag, id));
  const kth = knn.map((r) => (r.d2.length ? Math.sqrt(r.d2[r.d2.length - 1]) : 0)).sort((a, b2) => a - b2);
  const scale = Math.max(1e-6, kth[Math.floor(kth.length / 2)]);
  // visible Gaussians just outside the region
  const outside: number[] = [];
  for (let i = 0; i < g.count; i++) {
    if (inRegion[i] || sigmoid(g.opacityLogits[i]) < o.minOpacity) continue;
    const x = m[3 * i],
      y = m[3 * i + 1],
      z = m[3 * i + 2];
    if (
      x >= b.min[0] - scale &&
      x <= b.max[0] + scale &&
      y >= b.min[1] - scale &&
      y <= b.max[1] + scale &&
      z >= b.min[2] - scale &&
      z <= b.max[2] + scale
    )
      outside.push(i);
  }
  const outGrid = new PointGrid(m, outside, scale);
  const colour = (i: number, c: number) => 0.5 + SH_C0 * g.sh[i * SH_STRIDE + c];
  const graph = new MaxFlowGraph(cand.length, cand.length * k);
  const HARD = 1e9;
  const isBg = new Uint8Array(cand.length),
    dist = new Float64Array(cand.length);
  cand.forEach((id, q) => {
    const x = m[3 * id],
      y = m[3 * id + 1],
      z = m[3 * id + 2];
    if (outside.length)
      outGrid.within(x, y, z, scale, () => {
        isBg[q] = 1;
      });
    dist[q] = centreDistance(region, x, y, z);
  });
  const isFg = coreSeeds(dist, isBg, o.core);
  let fg = 0,
    bg = 0;
  cand.forEach((id, q) => {
    fg += isFg[q];
    bg += isBg[q];
    if (isFg[q] || isBg[q]) graph.addTerminal(q, isFg[q] ? HARD : 0, isBg[q] ? HARD : 0);
    for (const nb of knn[q].ids) {
      const r = node.get(nb)!;
      if (r < q && knn[r].ids.includes(id)) continue; // mutual neighbours: one edge
      let d2 = 0;
      for (let c = 0; c < 3; c++) d2 += (colour(id, c) - colour(nb, c)) ** 2;
      const w = Math.exp(-d2 / (2 * o.sigma * o.sigma));
      graph.addEdge(q, r, w, w);
    }
  });
  if (!fg)
    throw new UserError(
      `--region '${region.text}': every visible Gaussian in it continues outside; draw the region around one object, or use --select region`,
    );
  graph.maxflow();
  const gate = new Uint8Array(g.count);
  let count = 0;
  cand.forEach((id, q) => {
    if (graph.inSourceSet(q)) {
      gate[id] = 1;
      count++;
    }
  });
  let visibleTotal = 0;
  for (let i = 0; i < g.count; i++) if (sigmoid(g.opacityLogits[i]) >= o.minOpacity) visibleTotal++;
  if (count === visibleTotal)
    throw new UserError(`--region '${region.text}': the selection covers the whole scene; draw the region around one object`);
  // faint Gaussians follow their nearest visible neighbour
  for (const id of faint) {
    const r = grid.nearest(m[3 * id], m[3 * id + 1], m[3 * id + 2], 1, 2 * scale);
    if (r.ids.length && gate[r.ids[0]]) gate[id] = 1;
  }
  const classify = (x: number, y: number, z: number): PointClass => {
    // the nearest visible Gaussian of the region decides (a surface flush with the region's face may be
    // found just outside it); far from all of them, outside the region is OUT and inside it empty space
    const r = grid.nearest(x, y, z, 1, 2 * scale);
    if (r.ids.length && gate[r.ids[0]]) return POINT_IN;
    if (r.ids.length || !region.inside(x, y, z)) return POINT_OUT;
    return POINT_NONE;
  };
  return {
    gate,
    scale,
    selection: {
      kind: 'object',
      region,
      classify,
      selected: count,
      candidates: cand.length,
      describe: () => ({
        mode: 'object',
        region: region.text,
        selectedGaussians: count,
        visibleGaussians: cand.length,
        foregroundSeeds: fg,
        backgroundSeeds: bg,
        scale,
        ...o,
      }),
    },
  };
}
