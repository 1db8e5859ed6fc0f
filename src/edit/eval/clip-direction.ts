/**
 * CLIP edit metrics as the instruction-editing papers report them (Haque et al. 2023, Instruct-NeRF2NeRF; also
 * Vox-E and GaussianEditor), on L2-normalised CLIP embeddings (Radford et al. 2021):
 * - direction similarity: cos(E_I(edit_v) − E_I(orig_v), E_T(edit text) − E_T(source text)), mean over views;
 * - direction consistency: cos(E_I(edit_v) − E_I(orig_v), E_I(edit_{v+1}) − E_I(orig_{v+1})) for consecutive
 *   views v, v + 1 in the order given (no wrap-around), mean over the pairs.
 * Cosines of a zero vector are 0 (norms floored at 1e-8, as torch.cosine_similarity does). See docs/clip.md.
 */

export interface ClipDirectionResult {
  clip_direction_similarity: number;
  /** null with fewer than two views */
  clip_direction_consistency: number | null;
  /** per view: the direction similarity, and the consistency with the next view (null for the last) */
  clip_views: { similarity: number; consistency_next: number | null }[];
}

function sub(a: Float32Array, b: Float32Array): Float64Array {
  return Float64Array.from(a, (v, i) => v - b[i]);
}

export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let ab = 0,
    aa = 0,
    bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return ab / (Math.max(Math.sqrt(aa), 1e-8) * Math.max(Math.sqrt(bb), 1e-8));
}

/** The metrics from per-view image embeddings of the original and edited renders and the two text embeddings. */
export function clipDirectionMetrics(
  orig: Float32Array[],
  edit: Float32Array[],
  sourceText: Float32Array,
  editText: Float32Array,
): ClipDirectionResult {
  if (orig.length !== edit.length || !orig.length)
    throw new Error('clip direction metrics: need the same number (≥ 1) of original and edited views');
  const dT = sub(editText, sourceText);
  const dI = orig.map((o, v) => sub(edit[v], o));
  const views = dI.map((d, v) => ({ similarity: cosine(d, dT), consistency_next: v + 1 < dI.length ? cosine(d, dI[v + 1]) : null }));
  const cons = views.filter((v) => v.consistency_next !== null).map((v) => v.consistency_next!);
  return {
    clip_direction_similarity: views.reduce((s, v) => s + v.similarity, 0) / views.length,
    clip_direction_consistency: cons.length ? cons.reduce((s, c) => s + c, 0) / cons.length : null,
    clip_views: views,
  };
}
