/**
 * CPU twin of src/shaders/clip_attention.wgsl: multi-head scaled dot-product attention as CLIP computes it.
 * q, k, v and out are [batch·seq, heads·headDim] (the projections' outputs, heads side by side); the
 * probabilities P are kept [batch, heads, seq, seq] for the backward. Scores are s·q·k with s = headDim^−½;
 * with `causal`, key j > query i is masked out (−∞ before the softmax: its probability is exactly 0).
 */
export interface AttentionShape {
  batch: number;
  seq: number;
  heads: number;
  headDim: number;
  causal: boolean;
}

export function clipAttention(
  out: Float32Array,
  probs: Float32Array,
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  sh: AttentionShape,
): void {
  const { batch, seq, heads, headDim: hd, causal } = sh;
  const D = heads * hd,
    scale = 1 / Math.sqrt(hd);
  const row = new Float64Array(seq);
  for (let b = 0; b < batch; b++)
    for (let h = 0; h < heads; h++)
      for (let i = 0; i < seq; i++) {
        const qo = (b * seq + i) * D + h * hd;
        const last = causal ? i : seq - 1;
        let mx = -Infinity;
        for (let j = 0; j <= last; j++) {
          const ko = (b * seq + j) * D + h * hd;
          let s = 0;
          for (let d = 0; d < hd; d++) s += q[qo + d] * k[ko + d];
          row[j] = s * scale;
          if (row[j] > mx) mx = row[j];
        }
        let sum = 0;
        for (let j = 0; j <= last; j++) sum += row[j] = Math.exp(row[j] - mx);
        const po = ((b * heads + h) * seq + i) * seq;
        for (let j = 0; j < seq; j++) probs[po + j] = j <= last ? row[j] / sum : 0;
        for (let d = 0; d < hd; d++) {
          let s = 0;
          for (let j = 0; j <= last; j++) s += probs[po + j] * v[(b * seq + j) * D + h * hd + d];
          out[qo + d] = s;
        }
      }
}

/**
 * First half of the backward, per query row i: dP_ij = dO_i·V_j, dS_ij = P_ij·(dP_ij − dO_i·O_i) (kept in
 * `dscores`, laid out like P), dQ_i = s·Σ_j dS_ij·K_j.
 */
export function clipAttentionBackwardQ(
  dq: Float32Array,
  dscores: Float32Array,
  dout: Float32Array,
  out: Float32Array,
  probs: Float32Array,
  k: Float32Array,
  v: Float32Array,
  sh: AttentionShape,
): void {
  const { batch, seq, heads, headDim: hd, causal } = sh;
  const D = heads * hd,
    scale = 1 / Math.sqrt(hd);
  for (let b = 0; b < batch; b++)
    for (let h = 0; h < heads; h++)
      for (let i = 0; i < seq; i++) {
        const qo = (b * seq + i) * D + h * hd;
        const po = ((b * heads + h) * seq + i) * seq;
        const last = causal ? i : seq - 1;
        let di = 0;
        for (let d = 0; d < hd; d++) di += dout[qo + d] * out[qo + d];
        for (let j = 0; j < seq; j++) {
          if (j > last) {
            dscores[po + j] = 0;
            continue;
          }
          const vo = (b * seq + j) * D + h * hd;
          let dp = 0;
          for (let d = 0; d < hd; d++) dp += dout[qo + d] * v[vo + d];
          dscores[po + j] = probs[po + j] * (dp - di);
        }
        for (let d = 0; d < hd; d++) {
          let s = 0;
          for (let j = 0; j <= last; j++) s += dscores[po + j] * k[(b * seq + j) * D + h * hd + d];
          dq[qo + d] = s * scale;
        }
      }
}

/** Second half, per key row j: dK_j = s·Σ_i dS_ij·Q_i, dV_j = Σ_i P_ij·dO_i. */
export function clipAttentionBackwardKV(
  dk: Float32Array,
  dv: Float32Array,
  dscores: Float32Array,
  probs: Float32Array,
  q: Float32Array,
  dout: Float32Array,
  sh: AttentionShape,
): void {
  const { batch, seq, heads, headDim: hd, causal } = sh;
  const D = heads * hd,
    scale = 1 / Math.sqrt(hd);
  for (let b = 0; b < batch; b++)
    for (let h = 0; h < heads; h++)
      for (let j = 0; j < seq; j++) {
        const ko = (b * seq + j) * D + h * hd;
        const first = causal ? j : 0;
        for (let d = 0; d < hd; d++) {
          let sk = 0,
            sv = 0;
          for (let i = first; i < seq; i++) {
            const pij = ((b * heads + h) * seq + i) * seq + j;
            const qo = (b * seq + i) * D + h * hd;
            sk += dscores[pij] * q[qo + d];
            sv += probs[pij] * dout[qo + d];
          }
          dk[ko + d] = sk * scale;
          dv[ko + d] = sv;
        }
      }
}
