/**
 * CPU twin of src/shaders/clip_attention.wgsl: multi-head scaled dot-product attention as CLIP computes it, in
 * the kernel's steps (one function per entry point). q, k, v and out are [batch·seq, heads·headDim] (the
 * projections' outputs, heads side by side); scores, probabilities P and score gradients dS are
 * [batch, heads, seq, seq]. Scores are s·q·k with s = headDim^−½; with `causal`, key j > query i is masked out
 * (−∞ before the softmax: its probability is exactly 0).
 */
export interface AttentionShape {
  batch: number;
  seq: number;
  heads: number;
  headDim: number;
  causal: boolean;
}

/** Offset of token t's slice for head h in a [batch·seq, heads·headDim] array. */
const tok = (sh: AttentionShape, b: number, h: number, t: number) => (b * sh.seq + t) * sh.heads * sh.headDim + h * sh.headDim;

/** attention_scores: P_ij ← s·q_i·k_j (−∞ above the diagonal when causal). */
export function clipAttentionScores(probs: Float32Array, q: Float32Array, k: Float32Array, sh: AttentionShape): void {
  const { batch, seq, heads, headDim: hd, causal } = sh;
  const scale = 1 / Math.sqrt(hd);
  for (let b = 0; b < batch; b++)
    for (let h = 0; h < heads; h++)
      for (let i = 0; i < seq; i++)
        for (let j = 0; j < seq; j++) {
          const qo = tok(sh, b, h, i),
            ko = tok(sh, b, h, j);
          let s = 0;
          for (let d = 0; d < hd; d++) s += q[qo + d] * k[ko + d];
          probs[((b * heads + h) * seq + i) * seq + j] = causal && j > i ? -Infinity : s * scale;
        }
}

/** attention_softmax: each row of P in place. */
export function clipAttentionSoftmax(probs: Float32Array, sh: AttentionShape): void {
  const { seq } = sh;
  const rows = sh.batch * sh.heads * seq;
  for (let r = 0; r < rows; r++) {
    const o = r * seq;
    let mx = -Infinity;
    for (let j = 0; j < seq; j++) mx = Math.max(mx, probs[o + j]);
    let sum = 0;
    for (let j = 0; j < seq; j++) sum += Math.exp(probs[o + j] - mx);
    for (let j = 0; j < seq; j++) probs[o + j] = Math.exp(probs[o + j] - mx) / sum;
  }
}

/** attention_output: out_i = Σ_j P_ij v_j. */
export function clipAttentionOutput(out: Float32Array, probs: Float32Array, v: Float32Array, sh: AttentionShape): void {
  const { batch, seq, heads, headDim: hd } = sh;
  for (let b = 0; b < batch; b++)
    for (let h = 0; h < heads; h++)
      for (let i = 0; i < seq; i++) {
        const po = ((b * heads + h) * seq + i) * seq,
          oo = tok(sh, b, h, i);
        for (let d = 0; d < hd; d++) {
          let s = 0;
          for (let j = 0; j < seq; j++) s += probs[po + j] * v[tok(sh, b, h, j) + d];
          out[oo + d] = s;
        }
      }
}

/** The forward: scores, softmax, output. */
export function clipAttention(
  out: Float32Array,
  probs: Float32Array,
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  sh: AttentionShape,
): void {
  clipAttentionScores(probs, q, k, sh);
  clipAttentionSoftmax(probs, sh);
  clipAttentionOutput(out, probs, v, sh);
}

/** attention_backward_scores: dS_ij = P_ij·(dO_i·v_j − dO_i·O_i). */
export function clipAttentionBackwardScores(
  dscores: Float32Array,
  dout: Float32Array,
  out: Float32Array,
  probs: Float32Array,
  v: Float32Array,
  sh: AttentionShape,
): void {
  const { batch, seq, heads, headDim: hd } = sh;
  for (let b = 0; b < batch; b++)
    for (let h = 0; h < heads; h++)
      for (let i = 0; i < seq; i++) {
        const qo = tok(sh, b, h, i);
        let di = 0;
        for (let d = 0; d < hd; d++) di += dout[qo + d] * out[qo + d];
        for (let j = 0; j < seq; j++) {
          const pij = ((b * heads + h) * seq + i) * seq + j;
          const vo = tok(sh, b, h, j);
          let dp = 0;
          for (let d = 0; d < hd; d++) dp += dout[qo + d] * v[vo + d];
          dscores[pij] = probs[pij] * (dp - di);
        }
      }
}

/** attention_backward_q: dq_i = s·Σ_j dS_ij k_j. */
export function clipAttentionBackwardQ(dq: Float32Array, dscores: Float32Array, k: Float32Array, sh: AttentionShape): void {
  const { batch, seq, heads, headDim: hd } = sh;
  const scale = 1 / Math.sqrt(hd);
  for (let b = 0; b < batch; b++)
    for (let h = 0; h < heads; h++)
      for (let i = 0; i < seq; i++) {
        const po = ((b * heads + h) * seq + i) * seq,
          qo = tok(sh, b, h, i);
        for (let d = 0; d < hd; d++) {
          let s = 0;
          for (let j = 0; j < seq; j++) s += dscores[po + j] * k[tok(sh, b, h, j) + d];
          dq[qo + d] = s * scale;
        }
      }
}

/** attention_backward_kv: dk_j = s·Σ_i dS_ij q_i, dv_j = Σ_i P_ij dO_i. */
export function clipAttentionBackwardKV(
  dk: Float32Array,
  dv: Float32Array,
  dscores: Float32Array,
  probs: Float32Array,
  q: Float32Array,
  dout: Float32Array,
  sh: AttentionShape,
): void {
  const { batch, seq, heads, headDim: hd } = sh;
  const scale = 1 / Math.sqrt(hd);
  for (let b = 0; b < batch; b++)
    for (let h = 0; h < heads; h++)
      for (let j = 0; j < seq; j++) {
        const ko = tok(sh, b, h, j);
        for (let d = 0; d < hd; d++) {
          let sk = 0,
            sv = 0;
          for (let i = 0; i < seq; i++) {
            const pij = ((b * heads + h) * seq + i) * seq + j;
            const qo = tok(sh, b, h, i) + d;
            sk += dscores[pij] * q[qo];
            sv += probs[pij] * dout[qo];
          }
          dk[ko + d] = sk * scale;
          dv[ko + d] = sv;
        }
      }
}

/** The backward: dS, then dq, dk, dv (dscores is scratch laid out like P). */
export function clipAttentionBackward(
  dq: Float32Array,
  dk: Float32Array,
  dv: Float32Array,
  dscores: Float32Array,
  dout: Float32Array,
  out: Float32Array,
  probs: Float32Array,
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  sh: AttentionShape,
): void {
  clipAttentionBackwardScores(dscores, dout, out, probs, v, sh);
  clipAttentionBackwardQ(dq, dscores, k, sh);
  clipAttentionBackwardKV(dk, dv, dscores, probs, q, dout, sh);
}
