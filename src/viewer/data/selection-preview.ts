import { logit, sigmoid } from '../../core/math';
import { SH_C0 } from '../../nerf/common/sh';
import { cloneGaussians, setColor, SH_STRIDE, type Gaussians } from '../../nerf/gaussian/gaussians';
import { cloneGrid, colorDims, type VoxelGrid } from '../../nerf/voxel/voxel-grid';
import { boxRegion } from '../../edit/regions/regions';
import { selectGaussianObject } from '../../edit/regions/select-gaussians';
import { selectVoxelObject } from '../../edit/regions/select-voxels';

/** What an object selection is made over: the scene's Gaussians or voxel grid. */
export type SelectionSource = { kind: 'gaussians'; gaussians: Gaussians } | { kind: 'voxel'; grid: VoxelGrid };

export interface SelectionPreview {
  /** The scene recoloured: what an edit in the box may change tinted, the rest dimmed (the region render mode's colours). */
  source: SelectionSource;
  /** Elements selected, and elements considered (occupied voxels / visible Gaussians in the box). */
  selected: number;
  candidates: number;
}

/** The region render mode's colours: inside c·0.5 + (0.5, 0.4, 0), outside c·0.35 (src/shaders/splat_project.wgsl). */
const tint = (c: number[], inside: boolean): number[] =>
  inside ? [c[0] * 0.5 + 0.5, c[1] * 0.5 + 0.4, c[2] * 0.5] : [c[0] * 0.35, c[1] * 0.35, c[2] * 0.35];

/**
 * The object an edit in the box `min..max` would change (`--select object`, the edit's default; docs/editing.md,
 * "Object selection"), shown by recolouring a copy of the scene: selected elements tinted, everything else dimmed,
 * view-dependent colour dropped. An empty selection, or one covering the whole scene, throws the edit's own
 * UserError. Runs in the scene worker.
 */
export function selectionPreview(src: SelectionSource, min: [number, number, number], max: [number, number, number]): SelectionPreview {
  const region = boxRegion(min, max);
  if (src.kind === 'gaussians') {
    const s = selectGaussianObject(src.gaussians, region);
    const g = cloneGaussians(src.gaussians);
    for (let i = 0; i < g.count; i++) {
      const base = [0, 1, 2].map((c) => Math.min(1, Math.max(0, 0.5 + SH_C0 * g.sh[i * SH_STRIDE + c])));
      g.sh.fill(0, i * SH_STRIDE, (i + 1) * SH_STRIDE);
      const [r, gr, b] = tint(base, s.gate[i] === 1);
      setColor(g, i, r, gr, b);
    }
    return { source: { kind: 'gaussians', gaussians: g }, selected: s.selection.selected, candidates: s.selection.candidates };
  }
  const s = selectVoxelObject(src.grid, region);
  const grid = cloneGrid(src.grid);
  const K = colorDims(grid.shDegree);
  const n = grid.density.length;
  for (let v = 0; v < n; v++) {
    const base = [0, 1, 2].map((c) => sigmoid(grid.color[v * K + c]));
    const t = tint(base, s.gate[v] === 1);
    for (let k = 0; k < K; k++) grid.color[v * K + k] = k < 3 ? logit(Math.min(0.999, Math.max(0.001, t[k]))) : 0;
  }
  return { source: { kind: 'voxel', grid }, selected: s.selection.selected, candidates: s.selection.candidates };
}
