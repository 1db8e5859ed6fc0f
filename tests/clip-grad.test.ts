import { describe, expect, it } from 'vitest';
import { Rng } from '../src/core/rng';
import { ACTIVATIONS } from '../src/edit/clip/clip-config';
import { LAYER_FIELDS, type LayerWeights } from '../src/edit/clip/clip-weights';
import { clipAttention, clipAttentionBackward, type AttentionShape } from '../src/edit/clip/cpu/clip-attention';
import { clipCol2im, clipIm2col } from '../src/edit/clip/cpu/clip-embed';
import { visionBackwardCpu, visionForwardCpu } from '../src/edit/clip/cpu/clip-encoder-cpu';
import { activation, activationDerivative, ACT_CODE, clipGeluBackward } from '../src/edit/clip/cpu/clip-gelu';
import { clipLayernorm, clipLayernormBackward, clipLayernormBackwardParams } from '../src/edit/clip/cpu/clip-layernorm';
import { clipMatmul } from '../src/edit/clip/cpu/clip-matmul';
import { randomClipTensors, tinyClipConfig, weightsFromTensors } from '../models/build/clip-graphs';

/**
 * Gradients of the CPU twin against finite differences (central, in float64 where the op allows it): each
 * kernel's backward, then the whole vision tower's gradient with respect to its input pixels and to the weights
 * of one layer.
 */

const rand = (n: number, rng: Rng, s = 1) => Float32Array.from({ length: n }, () => s * rng.normal());
const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
};

/**
 * Relative error of an analytic directional derivative against central differences of f (floored at `floor`:
 * float32 rounding of f makes the difference quotient noisy at about 1e-5 here).
 */
function fdCheck(f: (t: number) => number, analytic: number, eps: number, floor = 1e-3): number {
  const fd = (f(eps) - f(-eps)) / (2 * eps);
  return Math.abs(fd - analytic) / Math.max(Math.abs(fd), Math.abs(analytic), floor);
}

describe('CLIP kernels: CPU twins', () => {
  it('matmul: all three layouts equal the naive triple loop (bias and add included)', () => {
    const rng = new Rng(1);
    const M = 7,
      N = 9,
      K = 13;
    const a = rand(M * K, rng),
      bT = rand(N * K, rng),
      bias = rand(N, rng),
      add = rand(M * N, rng);
    const naive = (A: (m: number, k: number) => number, B: (k: number, n: number) => number) => {
      const o = new Float32Array(M * N);
      for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) o[m * N + n] += A(m, k) * B(k, n);
      return o;
    };
    const ref = naive(
      (m, k) => a[m * K + k],
      (k, n) => bT[n * K + k],
    );
    const got = clipMatmul(new Float32Array(M * N), a, bT, M, N, K, { transB: true, bias, add });
    got.forEach((v, i) => expect(v).toBeCloseTo(ref[i] + bias[i % N] + add[i], 5));
    // B stored [K, N]
    const b = new Float32Array(K * N);
    for (let k = 0; k < K; k++) for (let n = 0; n < N; n++) b[k * N + n] = bT[n * K + k];
    clipMatmul(got, a, b, M, N, K).forEach((v, i) => expect(v).toBeCloseTo(ref[i], 5));
    // A stored [K, M]
    const aT = new Float32Array(K * M);
    for (let m = 0; m < M; m++) for (let k = 0; k < K; k++) aT[k * M + m] = a[m * K + k];
    clipMatmul(got, aT, b, M, N, K, { transA: true }).forEach((v, i) => expect(v).toBeCloseTo(ref[i], 5));
  });

  it('layernorm backward (input, weight, bias) matches finite differences', () => {
    const rng = new Rng(2);
    const rows = 3,
      D = 16,
      eps = 1e-5;
    const x = rand(rows * D, rng, 2),
      w = rand(D, rng),
      b = rand(D, rng),
      r = rand(rows * D, rng),
      dres = rand(rows * D, rng);
    const loss = (xx: Float32Array, ww: Float32Array, bb: Float32Array) => {
      const y = new Float32Array(rows * D);
      clipLayernorm(y, xx, ww, bb, rows, D, eps);
      return dot(y, r);
    };
    const mean = new Float32Array(rows),
      rstd = new Float32Array(rows);
    clipLayernorm(new Float32Array(rows * D), x, w, b, rows, D, eps, mean, rstd);
    const dx = new Float32Array(rows * D),
      dw = new Float32Array(D),
      db = new Float32Array(D);
    clipLayernormBackward(dx, r, x, w, mean, rstd, rows, D, dres);
    clipLayernormBackwardParams(dw, db, r, x, mean, rstd, rows, D);
    const dir = rand(rows * D, rng),
      dirD = rand(D, rng);
    const shift = (v: Float32Array, d: Float32Array, t: number) => v.map((e, i) => e + t * d[i]);
    // dx includes the residual gradient dres, which the loss does not see
    expect(fdCheck((t) => loss(shift(x, dir, t), w, b), dot(dx, dir) - dot(dres, dir), 1e-2)).toBeLessThan(2e-3);
    expect(fdCheck((t) => loss(x, shift(w, dirD, t), b), dot(dw, dirD), 1e-2)).toBeLessThan(2e-3);
    expect(fdCheck((t) => loss(x, w, shift(b, dirD, t)), dot(db, dirD), 1e-2)).toBeLessThan(2e-3);
  });

  it.each([false, true])('attention backward (causal %s) matches finite differences', (causal) => {
    const rng = new Rng(3);
    const sh: AttentionShape = { batch: 2, seq: 5, heads: 2, headDim: 4, causal };
    const T = sh.batch * sh.seq,
      D = sh.heads * sh.headDim;
    const q = rand(T * D, rng),
      k = rand(T * D, rng),
      v = rand(T * D, rng),
      r = rand(T * D, rng);
    const probs = new Float32Array(sh.batch * sh.heads * sh.seq * sh.seq);
    const fwd = (qq: Float32Array, kk: Float32Array, vv: Float32Array) => {
      const o = new Float32Array(T * D);
      clipAttention(o, probs, qq, kk, vv, sh);
      return o;
    };
    const out = fwd(q, k, v);
    if (causal) for (let i = 0; i < sh.seq; i++) for (let j = i + 1; j < sh.seq; j++) expect(probs[i * sh.seq + j]).toBe(0);
    const ds = new Float32Array(probs.length),
      dq = new Float32Array(T * D),
      dk = new Float32Array(T * D),
      dv = new Float32Array(T * D);
    clipAttentionBackward(dq, dk, dv, ds, r, out, probs, q, k, v, sh);
    const dir = rand(T * D, rng);
    const shift = (a: Float32Array, t: number) => a.map((e, i) => e + t * dir[i]);
    expect(fdCheck((t) => dot(fwd(shift(q, t), k, v), r), dot(dq, dir), 1e-2)).toBeLessThan(2e-3);
    expect(fdCheck((t) => dot(fwd(q, shift(k, t), v), r), dot(dk, dir), 1e-2)).toBeLessThan(2e-3);
    expect(fdCheck((t) => dot(fwd(q, k, shift(v, t)), r), dot(dv, dir), 1e-2)).toBeLessThan(2e-3);
  });

  it.each(ACTIVATIONS)('%s: derivative matches finite differences; values match the definitions', (act) => {
    const c = ACT_CODE[act];
    for (const x of [-6, -2.5, -1, -0.3, 0, 0.2, 0.9, 1.7, 4, 9]) {
      const fd = (activation(x + 1e-5, c) - activation(x - 1e-5, c)) / 2e-5;
      expect(activationDerivative(x, c)).toBeCloseTo(fd, 5);
    }
    // reference values: x·σ(1.702x) and Φ-based GELU at x = 1 (erf(1/√2) = 0.6826894921)
    if (act === 'quick_gelu') expect(activation(1, c)).toBeCloseTo(1 / (1 + Math.exp(-1.702)), 7);
    if (act === 'gelu') expect(activation(1, c)).toBeCloseTo(0.5 * (1 + 0.6826894921), 6);
    const dy = Float32Array.of(2),
      dx = new Float32Array(1);
    clipGeluBackward(dx, dy, Float32Array.of(0.7), act);
    expect(dx[0]).toBeCloseTo(2 * activationDerivative(0.7, c), 6);
  });

  it('im2col and col2im are adjoint', () => {
    const rng = new Rng(4);
    const s = { batch: 2, channels: 3, size: 10, patch: 3 }; // 10 is not a multiple of 3: the last row/column is unused
    const px = rand(2 * 3 * 100, rng),
      cols = new Float32Array(2 * 9 * 27);
    clipIm2col(cols, px, s);
    const y = rand(cols.length, rng),
      back = new Float32Array(px.length);
    clipCol2im(back, y, s);
    expect(dot(cols, y)).toBeCloseTo(dot(px, back), 3);
    expect(back[9]).toBe(0); // column 9 lies outside the 3×3 grid of 3-pixel patches
  });
});

describe('CLIP vision tower (CPU twin): gradients', () => {
  it('with respect to the pixels and to one layer’s weights match finite differences', async () => {
    const c = tinyClipConfig({ act: 'quick_gelu' });
    const w = (await weightsFromTensors(c, randomClipTensors(c, 11), ['vision'])).vision!;
    const rng = new Rng(5);
    const B = 2,
      S = c.vision.imageSize,
      E = c.projectionDim;
    const px = rand(B * 3 * S * S, rng);
    const r = rand(B * E, rng);
    const loss = (p: Float32Array) => dot(visionForwardCpu(w, c.vision, E, p, B).embeds, r);
    const { tape } = visionForwardCpu(w, c.vision, E, px, B, true);
    const layer = 1;
    const { dPixels, layerGrads } = visionBackwardCpu(w, c.vision, E, tape!, r, layer);
    // directional derivatives along random directions
    for (let trial = 0; trial < 3; trial++) {
      const dir = rand(px.length, rng);
      const err = fdCheck((t) => loss(px.map((v, i) => v + t * dir[i])), dot(dPixels, dir), 1e-2);
      expect(err).toBeLessThan(5e-3);
    }
    // single pixels, in the middle of a patch and on a patch border
    for (const i of [0, 7, 8, 3 * S * S + 5 * S + 17]) {
      const e = new Float32Array(px.length);
      e[i] = 1;
      const fd = (loss(px.map((v, j) => v + 1e-2 * e[j])) - loss(px.map((v, j) => v - 1e-2 * e[j]))) / 2e-2;
      expect(Math.abs(fd - dPixels[i])).toBeLessThan(2e-3 * Math.max(1, Math.abs(fd)) + 1e-4);
    }
    // every weight of layer 1, each along a random direction (the key bias's gradient is exactly 0: softmax
    // ignores a score offset shared by a row; the floor 1e-2 keeps that case to an absolute check)
    for (const k of Object.keys(LAYER_FIELDS) as (keyof LayerWeights)[]) {
      const orig = w.layers[layer][k];
      const dir = rand(orig.length, rng);
      const f = (t: number) => {
        w.layers[layer][k] = orig.map((v, i) => v + t * dir[i]);
        const v = loss(px);
        w.layers[layer][k] = orig;
        return v;
      };
      const err = fdCheck(f, dot(layerGrads![k], dir), 1e-2, 1e-2);
      expect(err, k).toBeLessThan(5e-3);
    }
    expect(Math.max(...layerGrads!.kB.map(Math.abs))).toBeLessThan(1e-5);
    expect(Math.max(...layerGrads!.qB.map(Math.abs))).toBeGreaterThan(1e-3);
  });
});
