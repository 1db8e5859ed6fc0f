import { sigmoid } from '../../core/math';
import type { Rng } from '../../core/rng';
import { quatToMat } from './gaussian-project-cpu';
import { concatGaussians, selectGaussians, type Gaussians } from './gaussians';

/**
 * 3DGS adaptive density control, shared by fitting (`fit-gaussians.ts`) and editing
 * (`src/edit/scenes/gaussian-editable.ts`): a plan of which rows stay and which Gaussians are born, then its application.
 */

export interface DensifyOptions {
  gradThr: number;
  percentDense: number;
  extent: number;
  minOpacity: number;
  maxScreen: number;
  maxWorld: number;
  maxCount: number;
  rng: Rng;
  /** Only these Gaussians (1) may be cloned, split or pruned; the rest are kept as they are (edits in a region). */
  eligible?: Uint8Array | null;
}

/** What one round of adaptive density control does: rows kept (in order), then new Gaussians and their parents. */
export interface DensifyPlan {
  keep: number[];
  newOnes: Gaussians;
  /** Parent index (in the old Gaussians) of each new Gaussian. */
  parents: number[];
  cloned: number;
  split: number;
  pruned: number;
}

/**
 * 3DGS adaptive density control: Gaussians whose mean view-space gradient exceeds the threshold are
 * cloned (small: max scale ≤ percentDense·extent) or split in two (large: samples drawn from the Gaussian,
 * scale / 1.6); then transparent, screen-huge and world-huge Gaussians are pruned. The count never exceeds
 * `maxCount` (candidates with the largest gradients go first). The result is kept rows + new ones.
 */
/** `maxRadii`: each Gaussian's largest screen radius since the last round (null: no screen-size pruning). */
export function planDensify(
  g: Gaussians,
  gradAccum: Float32Array,
  denom: Float32Array,
  maxRadii: Float32Array | null,
  o: DensifyOptions,
): DensifyPlan {
  const n = g.count;
  const el = o.eligible ?? null;
  const cand: number[] = [];
  for (let i = 0; i < n; i++) if ((!el || el[i]) && denom[i] > 0 && gradAccum[i] / denom[i] >= o.gradThr) cand.push(i);
  cand.sort((a, b) => gradAccum[b] / denom[b] - gradAccum[a] / denom[a]);
  const maxScale = (i: number) => Math.exp(Math.max(g.logScales[3 * i], g.logScales[3 * i + 1], g.logScales[3 * i + 2]));
  const small = o.percentDense * o.extent;
  // room: a clone adds 1, a split adds 1 (2 new, the original removed)
  let room = o.maxCount - n;
  const cloneIdx: number[] = [],
    splitIdx: number[] = [];
  for (const i of cand) {
    if (room <= 0) break;
    if (maxScale(i) <= small) cloneIdx.push(i);
    else splitIdx.push(i);
    room--;
  }
  const splitSet = new Set(splitIdx);
  // new Gaussians from splits: two samples each
  const R = new Float64Array(9);
  const parents = [...cloneIdx, ...splitIdx, ...splitIdx];
  const newOnes = selectGaussians(g, parents);
  const nc = cloneIdx.length,
    ns = splitIdx.length;
  for (let j = 0; j < 2 * ns; j++) {
    const dst = nc + j,
      i = splitIdx[j % ns];
    const q = g.rotations;
    quatToMat(q[4 * i], q[4 * i + 1], q[4 * i + 2], q[4 * i + 3], R);
    const s = [0, 1, 2].map((a) => Math.exp(g.logScales[3 * i + a]));
    const z = [o.rng.normal() * s[0], o.rng.normal() * s[1], o.rng.normal() * s[2]];
    for (let a = 0; a < 3; a++) {
      newOnes.means[3 * dst + a] = g.means[3 * i + a] + R[a * 3] * z[0] + R[a * 3 + 1] * z[1] + R[a * 3 + 2] * z[2];
      newOnes.logScales[3 * dst + a] = g.logScales[3 * i + a] - Math.log(1.6);
    }
  }
  // keep: not split, not pruned
  const keep: number[] = [];
  let pruned = 0;
  for (let i = 0; i < n; i++) {
    if (splitSet.has(i)) continue;
    if (!el || el[i]) {
      const op = sigmoid(g.opacityLogits[i]);
      if (op < o.minOpacity || (maxRadii !== null && maxRadii[i] > o.maxScreen) || maxScale(i) > o.maxWorld) {
        pruned++;
        continue;
      }
    }
    keep.push(i);
  }
  return { keep, newOnes, parents, cloned: nc, split: ns, pruned };
}

/** Applies a plan to a set of Gaussians: kept rows, then the new ones. */
export function applyDensify(g: Gaussians, plan: DensifyPlan): Gaussians {
  const out = concatGaussians(selectGaussians(g, plan.keep), plan.newOnes);
  out.shDegree = g.shDegree;
  return out;
}
