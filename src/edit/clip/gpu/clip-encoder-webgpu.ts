/**
 * CLIP's towers on WebGPU (kernels in src/shaders/clip_*.wgsl through gpu/clip-kernels.ts): the same graph,
 * step by step, as the CPU twin (cpu/clip-encoder-cpu.ts), with the backward of the vision tower with respect to
 * its pixels and, for tests, one layer's weights. Weights are uploaded per tower on first use; the text tower's
 * token embedding table stays on the CPU (the few rows a text needs are gathered there and uploaded).
 */
import { getGpuDevice } from '../../../gpu/device';
import { runnerFor } from '../../../gpu/runner';
import type { ClipConfig, TowerConfig } from '../clip-config';
import type { ClipEncoder, ImageGradPass } from '../clip-encoder';
import { LAYER_FIELDS, type ClipWeights, type LayerWeights } from '../clip-weights';
import type { AttentionShape } from '../cpu/clip-attention';
import { gridOf, type PatchShape } from '../cpu/clip-embed';
import { ClipKernels } from './clip-kernels';

type GpuLayer = Record<keyof LayerWeights, GPUBuffer>;

interface GpuVision {
  patch: GPUBuffer;
  cls: GPUBuffer;
  pos: GPUBuffer;
  preW: GPUBuffer;
  preB: GPUBuffer;
  layers: GpuLayer[];
  postW: GPUBuffer;
  postB: GPUBuffer;
  proj: GPUBuffer;
}

interface GpuText {
  layers: GpuLayer[];
  finalW: GPUBuffer;
  finalB: GPUBuffer;
  proj: GPUBuffer;
}

/** What one layer's forward keeps for its backward. */
interface LayerTape {
  x: GPUBuffer;
  stats1: GPUBuffer;
  q: GPUBuffer;
  k: GPUBuffer;
  v: GPUBuffer;
  probs: GPUBuffer;
  attn: GPUBuffer;
  x2: GPUBuffer;
  stats2: GPUBuffer;
  h: GPUBuffer;
}

/** Buffers to free together. */
class Arena {
  private bufs: GPUBuffer[] = [];
  constructor(private readonly k: ClipKernels) {}
  f32(n: number, label?: string): GPUBuffer {
    const b = this.k.f32(n, label);
    this.bufs.push(b);
    return b;
  }
  data(d: Float32Array | Int32Array, label?: string): GPUBuffer {
    const b = this.k.runner.buffer(d, label);
    this.bufs.push(b);
    return b;
  }
  free(): void {
    for (const b of this.bufs) b.destroy();
    this.bufs = [];
  }
}

function layerForward(
  k: ClipKernels,
  a: Arena,
  x: GPUBuffer,
  w: GpuLayer,
  c: TowerConfig,
  batch: number,
  seq: number,
  causal: boolean,
): { y: GPUBuffer; tape: LayerTape } {
  const T = batch * seq,
    D = c.hiddenSize,
    I = c.intermediateSize;
  const sh: AttentionShape = { batch, seq, heads: c.numHeads, headDim: D / c.numHeads, causal };
  const ln = a.f32(T * D),
    stats1 = a.f32(2 * T);
  k.layernorm(ln, stats1, x, w.ln1W, w.ln1B, T, D, c.layerNormEps);
  const q = a.f32(T * D),
    kk = a.f32(T * D),
    v = a.f32(T * D);
  k.matmul(q, ln, w.qW, T, D, D, { transB: true, bias: w.qB });
  k.matmul(kk, ln, w.kW, T, D, D, { transB: true, bias: w.kB });
  k.matmul(v, ln, w.vW, T, D, D, { transB: true, bias: w.vB });
  const probs = a.f32(batch * c.numHeads * seq * seq),
    attn = a.f32(T * D);
  k.attention(attn, probs, q, kk, v, sh);
  const x2 = a.f32(T * D);
  k.matmul(x2, attn, w.oW, T, D, D, { transB: true, bias: w.oB, add: x });
  const ln2 = a.f32(T * D),
    stats2 = a.f32(2 * T);
  k.layernorm(ln2, stats2, x2, w.ln2W, w.ln2B, T, D, c.layerNormEps);
  const h = a.f32(T * I),
    g = a.f32(T * I);
  k.matmul(h, ln2, w.fc1W, T, I, D, { transB: true, bias: w.fc1B });
  k.gelu(g, h, c.hiddenAct, T * I);
  const y = a.f32(T * D);
  k.matmul(y, g, w.fc2W, T, D, I, { transB: true, bias: w.fc2B, add: x2 });
  return { y, tape: { x, stats1, q, k: kk, v, probs, attn, x2, stats2, h } };
}

/** Records one layer's backward; with `grads` also its weights' gradients (buffers shaped like the weights; LN ones [2·D]). */
function layerBackward(
  k: ClipKernels,
  a: Arena,
  dy: GPUBuffer,
  t: LayerTape,
  w: GpuLayer,
  c: TowerConfig,
  batch: number,
  seq: number,
  causal: boolean,
  grads?: Partial<Record<keyof LayerWeights | 'ln1' | 'ln2', GPUBuffer>>,
  dxArena: Arena = a,
): GPUBuffer {
  const T = batch * seq,
    D = c.hiddenSize,
    I = c.intermediateSize;
  const sh: AttentionShape = { batch, seq, heads: c.numHeads, headDim: D / c.numHeads, causal };
  const dg = a.f32(T * I),
    dh = a.f32(T * I),
    dln2 = a.f32(T * D),
    dx2 = a.f32(T * D);
  k.matmul(dg, dy, w.fc2W, T, I, D);
  k.geluBackward(dh, dg, t.h, c.hiddenAct, T * I);
  k.matmul(dln2, dh, w.fc1W, T, D, I);
  k.layernormBackward(dx2, dln2, t.x2, w.ln2W, t.stats2, T, D, dy);
  const dattn = a.f32(T * D),
    dscores = a.f32(batch * c.numHeads * seq * seq),
    dq = a.f32(T * D),
    dk = a.f32(T * D),
    dv = a.f32(T * D);
  k.matmul(dattn, dx2, w.oW, T, D, D);
  k.attentionBackward(dq, dk, dv, dscores, dattn, t.attn, t.probs, t.q, t.k, t.v, sh);
  const d1 = a.f32(T * D),
    d2 = a.f32(T * D),
    dln1 = a.f32(T * D),
    dx = dxArena.f32(T * D);
  k.matmul(d1, dq, w.qW, T, D, D);
  k.matmul(d2, dk, w.kW, T, D, D, { add: d1 });
  k.matmul(dln1, dv, w.vW, T, D, D, { add: d2 });
  k.layernormBackward(dx, dln1, t.x, w.ln1W, t.stats1, T, D, dx2);
  if (grads) {
    const ln1 = a.f32(T * D),
      ln2 = a.f32(T * D),
      g = a.f32(T * I),
      scratch = a.f32(2 * T);
    k.layernorm(ln1, scratch, t.x, w.ln1W, w.ln1B, T, D, c.layerNormEps);
    k.layernorm(ln2, a.f32(2 * T), t.x2, w.ln2W, w.ln2B, T, D, c.layerNormEps);
    k.gelu(g, t.h, c.hiddenAct, T * I);
    const lin = (wk: keyof LayerWeights, bk: keyof LayerWeights, dOut: GPUBuffer, input: GPUBuffer, N: number, Kin: number) => {
      k.matmul(grads[wk]!, dOut, input, N, Kin, T, { transA: true });
      k.columnSum(grads[bk]!, dOut, T, N);
    };
    lin('qW', 'qB', dq, ln1, D, D);
    lin('kW', 'kB', dk, ln1, D, D);
    lin('vW', 'vB', dv, ln1, D, D);
    lin('oW', 'oB', dx2, t.attn, D, D);
    lin('fc1W', 'fc1B', dh, ln2, I, D);
    lin('fc2W', 'fc2B', dy, g, D, I);
    k.layernormBackwardParams(grads.ln1!, dln1, t.x, t.stats1, T, D);
    k.layernormBackwardParams(grads.ln2!, dln2, t.x2, t.stats2, T, D);
  }
  return dx;
}

const IMAGE_CHUNK = 8;

/**
 * With `releaseHostWeights`, a tower's float32 arrays are dropped once uploaded (when the caller owns the
 * weights, as ClipModel.load does): the host then keeps only the text tower's embedding tables.
 */
export async function createWebGpuClipEncoder(
  config: ClipConfig,
  weights: ClipWeights,
  opts: { releaseHostWeights?: boolean } = {},
): Promise<ClipEncoder> {
  // a missing adapter is a GpuUnavailableError, itself a one-line UserError
  const device = await getGpuDevice();
  const runner = runnerFor(device);
  const k = await ClipKernels.create(runner, [config.vision.hiddenAct, config.text.hiddenAct]);
  const E = config.projectionDim;
  const owned: Record<'vision' | 'text', GPUBuffer[]> = { vision: [], text: [] };
  const upTo = (tower: 'vision' | 'text') => (d: Float32Array, label: string) => {
    const b = runner.buffer(d, label);
    owned[tower].push(b);
    return b;
  };
  const upLayers = (ls: LayerWeights[], tower: 'vision' | 'text') =>
    ls.map((l, i) => {
      const g = {} as GpuLayer;
      for (const key of Object.keys(LAYER_FIELDS) as (keyof LayerWeights)[]) g[key] = upTo(tower)(l[key], `clip ${tower} ${i} ${key}`);
      return g;
    });
  let vision: GpuVision | null = null;
  let text: GpuText | null = null;
  // the size of each layer weight (for weight-gradient buffers), known without the host arrays
  const layerSizes = {} as Record<keyof LayerWeights, number>;
  if (weights.vision)
    for (const key of Object.keys(LAYER_FIELDS) as (keyof LayerWeights)[]) layerSizes[key] = weights.vision.layers[0]?.[key].length ?? 0;
  const gpuVision = (): GpuVision => {
    if (vision) return vision;
    const w = weights.vision;
    if (!w) throw new Error('the vision tower was not loaded');
    if (opts.releaseHostWeights) weights.vision = undefined;
    const up = upTo('vision');
    return (vision = {
      patch: up(w.patch, 'clip patch'),
      cls: up(w.cls, 'clip cls'),
      pos: up(w.pos, 'clip vision pos'),
      preW: up(w.preW, 'clip pre ln w'),
      preB: up(w.preB, 'clip pre ln b'),
      layers: upLayers(w.layers, 'vision'),
      postW: up(w.postW, 'clip post ln w'),
      postB: up(w.postB, 'clip post ln b'),
      proj: up(w.proj, 'clip visual projection'),
    });
  };
  const gpuText = (): GpuText => {
    if (text) return text;
    const w = weights.text;
    if (!w) throw new Error('the text tower was not loaded');
    if (opts.releaseHostWeights) weights.text = { ...w, layers: [] };
    const up = upTo('text');
    return (text = {
      layers: upLayers(w.layers, 'text'),
      finalW: up(w.finalW, 'clip final ln w'),
      finalB: up(w.finalB, 'clip final ln b'),
      proj: up(w.proj, 'clip text projection'),
    });
  };

  const vc = config.vision;
  const D = vc.hiddenSize,
    KC = vc.numChannels * vc.patchSize * vc.patchSize;

  interface VisionRun {
    a: Arena;
    batch: number;
    ps: PatchShape;
    emb: GPUBuffer;
    statsPre: GPUBuffer;
    tapes: LayerTape[];
    pooled: GPUBuffer;
    statsPost: GPUBuffer;
    embeds: GPUBuffer;
  }

  const visionForward = (pixels: Float32Array, batch: number): VisionRun => {
    const w = gpuVision();
    const a = new Arena(k);
    const ps: PatchShape = { batch, channels: vc.numChannels, size: vc.imageSize, patch: vc.patchSize };
    const G = gridOf(ps),
      NP = G * G,
      S = NP + 1;
    const px = a.data(pixels, 'clip pixels');
    const cols = a.f32(batch * NP * KC),
      patches = a.f32(batch * NP * D),
      emb = a.f32(batch * S * D),
      statsPre = a.f32(2 * batch * S),
      x0 = a.f32(batch * S * D);
    k.im2col(cols, px, ps);
    k.matmul(patches, cols, w.patch, batch * NP, D, KC, { transB: true });
    k.visionTokens(emb, patches, w.cls, w.pos, batch, G, D);
    k.layernorm(x0, statsPre, emb, w.preW, w.preB, batch * S, D, vc.layerNormEps);
    let x = x0;
    const tapes: LayerTape[] = [];
    for (const lw of w.layers) {
      const r = layerForward(k, a, x, lw, vc, batch, S, false);
      tapes.push(r.tape);
      x = r.y;
    }
    const rows = a.data(Int32Array.from({ length: batch }, (_, b) => b * S));
    const pooled = a.f32(batch * D),
      pooledLn = a.f32(batch * D),
      statsPost = a.f32(2 * batch),
      embeds = a.f32(batch * E);
    k.gatherRows(pooled, x, rows, batch, D);
    k.layernorm(pooledLn, statsPost, pooled, w.postW, w.postB, batch, D, vc.layerNormEps);
    k.matmul(embeds, pooledLn, w.proj, batch, E, D, { transB: true });
    return { a, batch, ps, emb, statsPre, tapes, pooled, statsPost, embeds };
  };

  const visionBackward = async (
    run: VisionRun,
    dEmbeds: Float32Array,
    weightGradLayer?: number,
  ): Promise<{ dPixels: Float32Array; layerGrads?: LayerWeights }> => {
    const w = gpuVision();
    const { a, batch, ps } = run;
    const G = gridOf(ps),
      NP = G * G,
      S = NP + 1,
      T = batch * S;
    const dE = a.data(dEmbeds);
    const dPooledLn = a.f32(batch * D),
      dPooled = a.f32(batch * D),
      inv = new Int32Array(T).fill(-1);
    for (let b = 0; b < batch; b++) inv[b * S] = b;
    let dx = a.f32(T * D);
    k.matmul(dPooledLn, dE, w.proj, batch, D, E);
    k.layernormBackward(dPooled, dPooledLn, run.pooled, w.postW, run.statsPost, batch, D);
    k.scatterRows(dx, dPooled, a.data(inv), T, D);
    await k.flush();
    let grads: Partial<Record<keyof LayerWeights | 'ln1' | 'ln2', GPUBuffer>> | undefined;
    let layerGrads: LayerWeights | undefined;
    for (let l = w.layers.length - 1; l >= 0; l--) {
      // one submit per layer: its temporaries are freed before the next
      const la = new Arena(k);
      if (l === weightGradLayer) {
        grads = {};
        for (const key of Object.keys(LAYER_FIELDS) as (keyof LayerWeights)[])
          if (!key.startsWith('ln')) grads[key] = la.f32(layerSizes[key]);
        grads.ln1 = la.f32(2 * D);
        grads.ln2 = la.f32(2 * D);
      }
      // the layer's input gradient lives in the run's arena; its other temporaries go after the submit
      dx = layerBackward(k, la, dx, run.tapes[l], w.layers[l], vc, batch, S, false, l === weightGradLayer ? grads : undefined, a);
      await k.flush();
      if (l === weightGradLayer && grads) layerGrads = await readLayerGrads(grads, D);
      la.free();
    }
    const demb = a.f32(T * D),
      dpatches = a.f32(batch * NP * D),
      dcols = a.f32(batch * NP * KC),
      dpx = a.f32(batch * 3 * vc.imageSize * vc.imageSize);
    k.layernormBackward(demb, dx, run.emb, w.preW, run.statsPre, T, D);
    k.visionTokensBackward(dpatches, demb, batch, G, D);
    k.matmul(dcols, dpatches, w.patch, batch * NP, KC, D);
    k.col2im(dpx, dcols, ps);
    await k.flush();
    const dPixels = await runner.readF32(dpx);
    return { dPixels, layerGrads };
  };

  const readLayerGrads = async (g: Partial<Record<keyof LayerWeights | 'ln1' | 'ln2', GPUBuffer>>, D: number): Promise<LayerWeights> => {
    const out = {} as LayerWeights;
    for (const key of Object.keys(LAYER_FIELDS) as (keyof LayerWeights)[]) {
      if (key.startsWith('ln')) continue;
      out[key] = await runner.readF32(g[key]!, 0, layerSizes[key]);
    }
    const ln1 = await runner.readF32(g.ln1!),
      ln2 = await runner.readF32(g.ln2!);
    out.ln1W = ln1.slice(0, D);
    out.ln1B = ln1.slice(D, 2 * D);
    out.ln2W = ln2.slice(0, D);
    out.ln2B = ln2.slice(D, 2 * D);
    return out;
  };

  return {
    backend: 'webgpu',
    config,
    async encodeImages(pixels, batch) {
      const out = new Float32Array(batch * E),
        per = 3 * vc.imageSize * vc.imageSize;
      for (let b = 0; b < batch; b += IMAGE_CHUNK) {
        const n = Math.min(IMAGE_CHUNK, batch - b);
        const run = visionForward(pixels.subarray(b * per, (b + n) * per), n);
        try {
          await k.flush();
          out.set(await runner.readF32(run.embeds, 0, n * E), b * E);
        } finally {
          run.a.free();
        }
      }
      return out;
    },
    async encodeImagesForGrad(pixels, batch): Promise<ImageGradPass> {
      let run: VisionRun | null = visionForward(pixels, batch);
      let embeds: Float32Array;
      try {
        await k.flush();
        embeds = await runner.readF32(run.embeds, 0, batch * E);
      } catch (e) {
        run.a.free();
        throw e;
      }
      return {
        embeds,
        async backward(dEmbeds, opts = {}) {
          if (!run) throw new Error('backward called twice');
          const r = run;
          run = null;
          try {
            return await visionBackward(r, dEmbeds, opts.weightGradLayer);
          } finally {
            r.a.free();
          }
        },
        release() {
          run?.a.free();
          run = null;
        },
      };
    },
    async encodeText(ids) {
      const w = weights.text;
      if (!w) throw new Error('the text tower was not loaded');
      const g = gpuText();
      const tc = config.text,
        Dt = tc.hiddenSize,
        S = ids.length;
      const x0 = new Float32Array(S * Dt);
      for (let t = 0; t < S; t++) for (let i = 0; i < Dt; i++) x0[t * Dt + i] = w.tok[ids[t] * Dt + i] + w.pos[t * Dt + i];
      const a = new Arena(k);
      try {
        let x = a.data(x0, 'clip text tokens');
        for (const lw of g.layers) x = layerForward(k, a, x, lw, tc, 1, S, true).y;
        const pooled = a.f32(Dt),
          ln = a.f32(Dt),
          emb = a.f32(E);
        k.gatherRows(pooled, x, a.data(Int32Array.of(S - 1)), 1, Dt);
        k.layernorm(ln, a.f32(2), pooled, g.finalW, g.finalB, 1, Dt, tc.layerNormEps);
        k.matmul(emb, ln, g.proj, 1, E, Dt, { transB: true });
        await k.flush();
        return await runner.readF32(emb, 0, E);
      } finally {
        a.free();
      }
    },
    releaseText() {
      for (const b of owned.text) b.destroy();
      owned.text.length = 0;
      text = null;
      weights.text = undefined;
    },
    dispose() {
      for (const b of [...owned.vision, ...owned.text]) b.destroy();
      owned.vision.length = owned.text.length = 0;
      vision = null;
      text = null;
      k.dispose();
    },
  };
}
