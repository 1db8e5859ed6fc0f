import { MaxFlowGraph } from './max-flow';
import type { Region } from './regions';
import { boundsReach, type PointClass, type Selection } from './selection';

/**
 * The graph cut shared by object selection over voxels (select-voxels.ts) and Gaussians
 * (select-gaussians.ts); docs/editing.md, "Object selection".
 *
 * Nodes are the scene's visible elements in the region grown by `shellOuter` (a fraction of its size): the
 * region itself, an inner shell up to `shellInner` where the object's own surface may stick out a little (a
 * fitted vase is never exactly inside its box), and an outer shell. Elements in the outer shell are background
 * seeds — the surfaces that continue past the region (the ground running out of the box) — and the fraction
 * `core` of the region's elements nearest to its centre are foreground seeds. Neighbours are joined with
 * Vox-E's smoothness weight exp(−d²/2σ²) (Sella et al., ICCV 2023) where d compares colours by chromaticity
 * (σ_c) and, weakly, by log luminance (σ_l): captured scenes have their lighting baked in, and a shadow across
 * one material changes its luminance, not its chromaticity. Each unseeded element also leans toward the side
 * whose seeds hold a colour like its own (GrabCut's colour models, Rother et al., SIGGRAPH 2004, here the nearest
 * seed colour on each side in the same σ units, weighted by `colourWeight`): a dim patch of the object near the
 * ground, joined to the rest of the object only by weak edges, still goes with the object's colours rather than
 * with the ground's. The minimum cut (`max-flow.ts`) selects the object: the foreground elements in the region
 * and its inner shell.
 */
export interface SelectTuning {
  sigmaChroma: number;
  sigmaLuma: number;
  core: number;
  shellInner: number;
  shellOuter: number;
  /** Weight of the colour-model terms against the smoothness edges (0: seeds alone decide). */
  colourWeight: number;
}

export const SELECT_TUNING: SelectTuning = {
  sigmaChroma: 0.03,
  sigmaLuma: 1,
  core: 0.15,
  shellInner: 0.1,
  shellOuter: 0.3,
  colourWeight: 0.5,
};

/** 0 inside the region, 1 inside it grown by `shellInner` (about its centre), 2 grown by `shellOuter`, 3 beyond. */
export function zoneOf(region: Region, t: SelectTuning, x: number, y: number, z: number): 0 | 1 | 2 | 3 {
  if (region.inside(x, y, z)) return 0;
  const b = region.bounds;
  const c = [0, 1, 2].map((a) => (b.min[a] + b.max[a]) / 2);
  const grown = (g: number) => region.inside(c[0] + (x - c[0]) / (1 + g), c[1] + (y - c[1]) / (1 + g), c[2] + (z - c[2]) / (1 + g));
  return grown(t.shellInner) ? 1 : grown(t.shellOuter) ? 2 : 3;
}

/** The region's bounds grown by `g` about their centre. */
export function grownBounds(region: Region, g: number): { min: [number, number, number]; max: [number, number, number] } {
  const b = region.bounds;
  const min = [0, 1, 2].map((a) => b.min[a] - ((b.max[a] - b.min[a]) * g) / 2) as [number, number, number];
  const max = [0, 1, 2].map((a) => b.max[a] + ((b.max[a] - b.min[a]) * g) / 2) as [number, number, number];
  return { min, max };
}

/** Distance from the centre of the region's bounds, in units of its half extents (1 on the box's face centres). */
export function centreDistance(region: Region, x: number, y: number, z: number): number {
  const b = region.bounds;
  const p = [x, y, z];
  let d = 0;
  for (let a = 0; a < 3; a++) d += ((p[a] - (b.min[a] + b.max[a]) / 2) / Math.max(1e-12, (b.max[a] - b.min[a]) / 2)) ** 2;
  return Math.sqrt(d);
}

/** Squared colour distance in σ units: chromaticity over σ_c, log luminance over σ_l (see the header). */
export function colourDistance2(a: ArrayLike<number>, b: ArrayLike<number>, t: SelectTuning): number {
  const sa = a[0] + a[1] + a[2] + 1e-3,
    sb = b[0] + b[1] + b[2] + 1e-3;
  let dc = 0;
  for (let c = 0; c < 3; c++) dc += (a[c] / sa - b[c] / sb) ** 2;
  const dl = Math.log(sa / sb) ** 2;
  return dc / t.sigmaChroma ** 2 + dl / t.sigmaLuma ** 2;
}

/** Vox-E's pairwise weight on two RGB colours in [0, 1]: exp(−d²/2) with d from colourDistance2. */
export function colourAffinity(a: ArrayLike<number>, b: ArrayLike<number>, t: SelectTuning): number {
  return Math.exp(-colourDistance2(a, b, t) / 2);
}

/** The colour-model terms' distances are clipped here (3σ): an odd colour is no strong evidence either way. */
const COLOUR_CLIP2 = 9;

/** The squared distance from `c` to the nearest colour of `seeds` (clipped at COLOUR_CLIP2). */
function nearestSeed2(c: number[], seeds: number[][], t: SelectTuning): number {
  let best = COLOUR_CLIP2;
  for (const s of seeds) {
    const d = colourDistance2(c, s, t);
    if (d < best) best = d;
  }
  return best;
}

export interface CutInput {
  /** Zone of each node (0 region, 1 inner shell, 2 outer shell). */
  zone: Uint8Array;
  /** centreDistance of each node. */
  dist: Float64Array;
  /** RGB colour of each node, in [0, 1]. */
  colour(i: number): number[];
  /** Adds the smoothness edges through the given callback (each undirected edge once). */
  edges(add: (p: number, q: number, w: number) => void): void;
}

export interface CutResult {
  /** 1 for selected nodes (foreground, in the region or its inner shell). */
  selected: Uint8Array;
  count: number;
  foregroundSeeds: number;
  backgroundSeeds: number;
}

/** Seeds, max-flow and the foreground; throws a plain Error naming the problem when a side has no seed. */
export function cutObject(inp: CutInput, t: SelectTuning): CutResult {
  const n = inp.zone.length;
  const g = new MaxFlowGraph(n, n * 3);
  inp.edges((p, q, w) => g.addEdge(p, q, w, w));
  const inner = Array.from({ length: n }, (_, i) => i).filter((i) => inp.zone[i] === 0);
  inner.sort((a, b) => inp.dist[a] - inp.dist[b]);
  const isFg = new Uint8Array(n);
  for (let q = 0; q < Math.max(1, Math.ceil(inner.length * t.core)) && q < inner.length; q++) isFg[inner[q]] = 1;
  const HARD = 1e9;
  let fg = 0,
    bg = 0;
  for (let i = 0; i < n; i++) {
    const isBg = inp.zone[i] === 2 ? 1 : 0;
    fg += isFg[i];
    bg += isBg;
    if (isFg[i] || isBg) g.addTerminal(i, isFg[i] ? HARD : 0, isBg ? HARD : 0);
  }
  if (t.colourWeight > 0) {
    // colour models: each seed side's distinct colours (quantised to 1/64 so that a large flat surface costs little)
    const models: number[][][] = [[], []];
    const seen = [new Set<number>(), new Set<number>()];
    for (let i = 0; i < n; i++) {
      const side = isFg[i] ? 0 : inp.zone[i] === 2 ? 1 : -1;
      if (side < 0) continue;
      const c = inp.colour(i);
      const key = (Math.round(c[0] * 63) * 64 + Math.round(c[1] * 63)) * 64 + Math.round(c[2] * 63);
      if (seen[side].has(key)) continue;
      seen[side].add(key);
      models[side].push(c);
    }
    for (let i = 0; i < n; i++) {
      if (isFg[i] || inp.zone[i] === 2) continue;
      const c = inp.colour(i);
      // source capacity = the cost of calling i background, sink capacity = the cost of calling it foreground
      const lean = (t.colourWeight * (nearestSeed2(c, models[1], t) - nearestSeed2(c, models[0], t))) / 2;
      if (lean > 0) g.addTerminal(i, lean, 0);
      else if (lean < 0) g.addTerminal(i, 0, -lean);
    }
  }
  g.maxflow();
  const selected = new Uint8Array(n);
  let count = 0;
  for (let i = 0; i < n; i++)
    if (inp.zone[i] <= 1 && g.inSourceSet(i)) {
      selected[i] = 1;
      count++;
    }
  return { selected, count, foregroundSeeds: fg, backgroundSeeds: bg };
}

/**
 * The `Selection` of a cut (what the masks, the log and the viewer see): `classify` from the scene kind, the reach
 * of the region and its inner shell, and the log's description, whose counts are named by the kind (`counts`:
 * the key of the selected elements, then of the candidates in the region), followed by `extra` and the tuning.
 */
export function objectSelection(
  region: Region,
  tuning: SelectTuning,
  classify: (x: number, y: number, z: number) => PointClass,
  cut: CutResult,
  candidates: number,
  counts: [string, string],
  extra: Record<string, unknown> = {},
): Selection {
  return {
    kind: 'object',
    region,
    classify,
    reach: boundsReach(grownBounds(region, tuning.shellInner)),
    selected: cut.count,
    candidates,
    describe: () => ({
      mode: 'object',
      region: region.text,
      [counts[0]]: cut.count,
      [counts[1]]: candidates,
      foregroundSeeds: cut.foregroundSeeds,
      backgroundSeeds: cut.backgroundSeeds,
      ...extra,
      ...tuning,
    }),
  };
}
