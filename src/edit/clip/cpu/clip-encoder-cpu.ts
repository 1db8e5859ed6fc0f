/**
 * CLIP's two towers on the CPU twins of the kernels (clip-matmul, clip-layernorm, clip-attention, clip-gelu,
 * clip-embed), with the backward of the vision tower with respect to its input pixels and, for tests, the
 * weights of one transformer layer. The same graph as the WebGPU encoder (clip-encoder-webgpu.ts) and as
 * Hugging Face's CLIPModel (docs/clip.md).
 */
import type { TextConfig, TowerConfig, VisionConfig } from '../clip-config';
import type { LayerWeights, TextWeights, VisionWeights } from '../clip-weights';
import { clipAttention, clipAttentionBackward, type AttentionShape } from './clip-attention';
import {
  clipCol2im,
  clipGatherRows,
  clipIm2col,
  clipScatterRows,
  clipVisionTokens,
  clipVisionTokensBackward,
  gridOf,
  type PatchShape,
} from './clip-embed';
import { clipGelu, clipGeluBackward } from './clip-gelu';
import { clipLayernorm, clipLayernormBackward, clipLayernormBackwardParams } from './clip-layernorm';
import { clipMatmul } from './clip-matmul';

/** What one layer keeps for its backward. */
interface LayerTape {
  x: Float32Array;
  mean1: Float32Array;
  rstd1: Float32Array;
  q: Float32Array;
  k: Float32Array;
  v: Float32Array;
  probs: Float32Array;
  attn: Float32Array;
  x2: Float32Array;
  mean2: Float32Array;
  rstd2: Float32Array;
  h: Float32Array;
}

export interface TransformerShape {
  batch: number;
  seq: number;
  causal: boolean;
}

const f32 = (n: number) => new Float32Array(n);

/** One pre-LN encoder layer: x + Attn(LN1(x)), then + MLP(LN2(·)). Returns the output and, with `keep`, the tape. */
export function layerForwardCpu(
  x: Float32Array,
  w: LayerWeights,
  c: TowerConfig,
  s: TransformerShape,
  keep: boolean,
): { y: Float32Array; tape?: LayerTape } {
  const T = s.batch * s.seq,
    D = c.hiddenSize,
    I = c.intermediateSize;
  const att: AttentionShape = { batch: s.batch, seq: s.seq, heads: c.numHeads, headDim: D / c.numHeads, causal: s.causal };
  const ln = f32(T * D),
    mean1 = f32(T),
    rstd1 = f32(T);
  clipLayernorm(ln, x, w.ln1W, w.ln1B, T, D, c.layerNormEps, mean1, rstd1);
  const q = clipMatmul(f32(T * D), ln, w.qW, T, D, D, { transB: true, bias: w.qB });
  const k = clipMatmul(f32(T * D), ln, w.kW, T, D, D, { transB: true, bias: w.kB });
  const v = clipMatmul(f32(T * D), ln, w.vW, T, D, D, { transB: true, bias: w.vB });
  const probs = f32(s.batch * c.numHeads * s.seq * s.seq),
    attn = f32(T * D);
  clipAttention(attn, probs, q, k, v, att);
  const x2 = clipMatmul(f32(T * D), attn, w.oW, T, D, D, { transB: true, bias: w.oB, add: x });
  const mean2 = f32(T),
    rstd2 = f32(T);
  clipLayernorm(ln, x2, w.ln2W, w.ln2B, T, D, c.layerNormEps, mean2, rstd2);
  const h = clipMatmul(f32(T * I), ln, w.fc1W, T, I, D, { transB: true, bias: w.fc1B });
  const g = f32(T * I);
  clipGelu(g, h, c.hiddenAct);
  const y = clipMatmul(f32(T * D), g, w.fc2W, T, D, I, { transB: true, bias: w.fc2B, add: x2 });
  return { y, tape: keep ? { x, mean1, rstd1, q, k, v, probs, attn, x2, mean2, rstd2, h } : undefined };
}

/** The gradient of a layer's input from the gradient of its output; with `grads`, also its weights' gradients. */
export function layerBackwardCpu(
  dy: Float32Array,
  t: LayerTape,
  w: LayerWeights,
  c: TowerConfig,
  s: TransformerShape,
  grads?: LayerWeights,
): Float32Array {
  const T = s.batch * s.seq,
    D = c.hiddenSize,
    I = c.intermediateSize;
  const att: AttentionShape = { batch: s.batch, seq: s.seq, heads: c.numHeads, headDim: D / c.numHeads, causal: s.causal };
  // MLP: y = x2 + fc2(act(fc1(LN2(x2))))
  const dg = clipMatmul(f32(T * I), dy, w.fc2W, T, I, D);
  const dh = f32(T * I);
  clipGeluBackward(dh, dg, t.h, c.hiddenAct);
  const dln2 = clipMatmul(f32(T * D), dh, w.fc1W, T, D, I);
  const dx2 = f32(T * D);
  clipLayernormBackward(dx2, dln2, t.x2, w.ln2W, t.mean2, t.rstd2, T, D, dy);
  // attention: x2 = x + out_proj(Attn(LN1(x)))
  const dattn = clipMatmul(f32(T * D), dx2, w.oW, T, D, D);
  const dscores = f32(t.probs.length),
    dq = f32(T * D),
    dk = f32(T * D),
    dv = f32(T * D);
  clipAttentionBackward(dq, dk, dv, dscores, dattn, t.attn, t.probs, t.q, t.k, t.v, att);
  let dln1 = clipMatmul(f32(T * D), dq, w.qW, T, D, D);
  dln1 = clipMatmul(f32(T * D), dk, w.kW, T, D, D, { add: dln1 });
  dln1 = clipMatmul(f32(T * D), dv, w.vW, T, D, D, { add: dln1 });
  const dx = f32(T * D);
  clipLayernormBackward(dx, dln1, t.x, w.ln1W, t.mean1, t.rstd1, T, D, dx2);
  if (grads) {
    const ln1 = f32(T * D),
      ln2 = f32(T * D),
      g = f32(T * I);
    clipLayernorm(ln1, t.x, w.ln1W, w.ln1B, T, D, c.layerNormEps);
    clipLayernorm(ln2, t.x2, w.ln2W, w.ln2B, T, D, c.layerNormEps);
    clipGelu(g, t.h, c.hiddenAct);
    const lin = (dW: Float32Array, dB: Float32Array, dOut: Float32Array, input: Float32Array, N: number, K: number) => {
      clipMatmul(dW, dOut, input, N, K, T, { transA: true });
      columnSums(dB, dOut, T, N);
    };
    lin(grads.qW, grads.qB, dq, ln1, D, D);
    lin(grads.kW, grads.kB, dk, ln1, D, D);
    lin(grads.vW, grads.vB, dv, ln1, D, D);
    lin(grads.oW, grads.oB, dx2, t.attn, D, D);
    lin(grads.fc1W, grads.fc1B, dh, ln2, I, D);
    lin(grads.fc2W, grads.fc2B, dy, g, D, I);
    clipLayernormBackwardParams(grads.ln1W, grads.ln1B, dln1, t.x, t.mean1, t.rstd1, T, D);
    clipLayernormBackwardParams(grads.ln2W, grads.ln2B, dln2, t.x2, t.mean2, t.rstd2, T, D);
  }
  return dx;
}

/** Σ over rows of a [rows, N] matrix (bias gradients); twin of the `column_sum` kernel. */
export function columnSums(out: Float32Array, x: Float32Array, rows: number, N: number): void {
  for (let n = 0; n < N; n++) {
    let s = 0;
    for (let r = 0; r < rows; r++) s += x[r * N + n];
    out[n] = s;
  }
}

/** Zeroed gradient arrays shaped like a layer's weights. */
export function zeroLayerGrads(w: LayerWeights): LayerWeights {
  const g = {} as LayerWeights;
  for (const k of Object.keys(w) as (keyof LayerWeights)[]) g[k] = new Float32Array(w[k].length);
  return g;
}

export interface VisionTape {
  batch: number;
  cols: Float32Array;
  emb: Float32Array;
  meanPre: Float32Array;
  rstdPre: Float32Array;
  layers: LayerTape[];
  pooled: Float32Array;
  meanPost: Float32Array;
  rstdPost: Float32Array;
}

/**
 * The vision tower on normalised pixels [batch, 3, S, S]: projected (not yet L2-normalised) embeddings
 * [batch, projection_dim]; with `keep`, the tape for visionBackwardCpu.
 */
export function visionForwardCpu(
  w: VisionWeights,
  c: VisionConfig,
  E: number,
  pixels: Float32Array,
  batch: number,
  keep = false,
): { embeds: Float32Array; tape?: VisionTape } {
  const ps: PatchShape = { batch, channels: c.numChannels, size: c.imageSize, patch: c.patchSize };
  const G = gridOf(ps),
    NP = G * G,
    S = NP + 1,
    D = c.hiddenSize,
    KC = c.numChannels * c.patchSize * c.patchSize;
  const cols = f32(batch * NP * KC);
  clipIm2col(cols, pixels, ps);
  const patches = clipMatmul(f32(batch * NP * D), cols, w.patch, batch * NP, D, KC, { transB: true });
  const emb = f32(batch * S * D);
  clipVisionTokens(emb, patches, w.cls, w.pos, batch, NP, D);
  const meanPre = f32(batch * S),
    rstdPre = f32(batch * S);
  let x: Float32Array = f32(batch * S * D);
  clipLayernorm(x, emb, w.preW, w.preB, batch * S, D, c.layerNormEps, meanPre, rstdPre);
  const sh: TransformerShape = { batch, seq: S, causal: false };
  const layers: LayerTape[] = [];
  for (const lw of w.layers) {
    const r = layerForwardCpu(x, lw, c, sh, keep);
    if (r.tape) layers.push(r.tape);
    x = r.y;
  }
  const rows = Array.from({ length: batch }, (_, b) => b * S);
  const pooled = f32(batch * D);
  clipGatherRows(pooled, x, rows, D);
  const meanPost = f32(batch),
    rstdPost = f32(batch),
    pooledLn = f32(batch * D);
  clipLayernorm(pooledLn, pooled, w.postW, w.postB, batch, D, c.layerNormEps, meanPost, rstdPost);
  const embeds = clipMatmul(f32(batch * E), pooledLn, w.proj, batch, E, D, { transB: true });
  return { embeds, tape: keep ? { batch, cols, emb, meanPre, rstdPre, layers, pooled, meanPost, rstdPost } : undefined };
}

/**
 * The gradient of the pixels [batch, 3, S, S] from the gradient of the projected embeddings; with
 * `weightGradLayer`, also the gradients of that transformer layer's weights.
 */
export function visionBackwardCpu(
  w: VisionWeights,
  c: VisionConfig,
  E: number,
  t: VisionTape,
  dEmbeds: Float32Array,
  weightGradLayer?: number,
): { dPixels: Float32Array; layerGrads?: LayerWeights } {
  const batch = t.batch;
  const ps: PatchShape = { batch, channels: c.numChannels, size: c.imageSize, patch: c.patchSize };
  const G = gridOf(ps),
    NP = G * G,
    S = NP + 1,
    D = c.hiddenSize,
    KC = c.numChannels * c.patchSize * c.patchSize;
  const dPooledLn = clipMatmul(f32(batch * D), dEmbeds, w.proj, batch, D, E);
  const dPooled = f32(batch * D);
  clipLayernormBackward(dPooled, dPooledLn, t.pooled, w.postW, t.meanPost, t.rstdPost, batch, D);
  let dx: Float32Array = f32(batch * S * D);
  clipScatterRows(
    dx,
    dPooled,
    Array.from({ length: batch }, (_, b) => b * S),
    D,
  );
  const sh: TransformerShape = { batch, seq: S, causal: false };
  let layerGrads: LayerWeights | undefined;
  for (let l = w.layers.length - 1; l >= 0; l--) {
    const grads = l === weightGradLayer ? zeroLayerGrads(w.layers[l]) : undefined;
    dx = layerBackwardCpu(dx, t.layers[l], w.layers[l], c, sh, grads);
    if (grads) layerGrads = grads;
  }
  const demb = f32(batch * S * D);
  clipLayernormBackward(demb, dx, t.emb, w.preW, t.meanPre, t.rstdPre, batch * S, D);
  const dpatches = f32(batch * NP * D);
  clipVisionTokensBackward(dpatches, demb, batch, NP, D);
  const dcols = clipMatmul(f32(batch * NP * KC), dpatches, w.patch, batch * NP, KC, D);
  const dPixels = f32(batch * c.numChannels * c.imageSize * c.imageSize);
  clipCol2im(dPixels, dcols, ps);
  return { dPixels, layerGrads };
}

/**
 * The text tower on one token sequence that ends at its pooled token (the first end-of-text): with the causal
 * mask, the pooled state depends only on the tokens up to it, so the padding after it is not computed (the
 * result equals the full 77-token pass up to rounding). Returns the projected embedding [projection_dim].
 */
export function textForwardCpu(w: TextWeights, c: TextConfig, E: number, ids: ArrayLike<number>): Float32Array {
  const S = ids.length,
    D = c.hiddenSize;
  let x: Float32Array = f32(S * D);
  for (let t = 0; t < S; t++) for (let i = 0; i < D; i++) x[t * D + i] = w.tok[ids[t] * D + i] + w.pos[t * D + i];
  const sh: TransformerShape = { batch: 1, seq: S, causal: true };
  for (const lw of w.layers) x = layerForwardCpu(x, lw, c, sh, false).y;
  const pooled = x.subarray((S - 1) * D, S * D);
  const ln = f32(D);
  clipLayernorm(ln, pooled, w.finalW, w.finalB, 1, D, c.layerNormEps);
  return clipMatmul(f32(E), ln, w.proj, 1, E, D, { transB: true });
}
