import { beforeAll, describe, expect, it, type TestContext } from 'vitest';
import { Rng } from '../src/core/rng';
import { gpuAvailable, gpuDescription, getGpuDevice } from '../src/gpu/device';
import { runnerFor, type GpuRunner } from '../src/gpu/runner';
import { installNodeWebGpu } from '../src/io/node/node-webgpu';
import { nodeFiles } from '../src/io/node/node-files';
import { ACTIVATIONS } from '../src/edit/clip/clip-config';
import { ClipModel } from '../src/edit/clip/clip-model';
import { createText2MeshLoss, loadText2MeshLoss } from '../src/edit/clip/text2mesh-loss';
import { createImage } from '../src/core/image';
import { LAYER_FIELDS, type LayerWeights } from '../src/edit/clip/clip-weights';
import { clipAttention, clipAttentionBackward, type AttentionShape } from '../src/edit/clip/cpu/clip-attention';
import {
  clipCol2im,
  clipGatherRows,
  clipIm2col,
  clipScatterRows,
  clipVisionTokens,
  clipVisionTokensBackward,
} from '../src/edit/clip/cpu/clip-embed';
import { columnSums } from '../src/edit/clip/cpu/clip-encoder-cpu';
import { clipGelu, clipGeluBackward } from '../src/edit/clip/cpu/clip-gelu';
import { clipLayernorm, clipLayernormBackward, clipLayernormBackwardParams } from '../src/edit/clip/cpu/clip-layernorm';
import { clipMatmul } from '../src/edit/clip/cpu/clip-matmul';
import { ClipKernels } from '../src/edit/clip/gpu/clip-kernels';
import { maxAbsDiff, ortEmbeddings, randomImages, tinyClipFolder, type TinyClip } from './helpers/clip-models';

/**
 * The WebGPU CLIP (src/shaders/clip_*.wgsl) against its CPU twin, kernel by kernel (forward and backward), then
 * the whole encoder: embeddings against ONNX Runtime (≤ 1e-4, as the CPU twin), and the gradients with respect
 * to the pixels and to one layer's weights against the CPU twin.
 * Tolerances: kernels max |Δ| ≤ 1e-5·(1 + max |ref|) (f32 sums in another order); gradients max |Δ| ≤
 * 1e-3·max |g_cpu| and cosine ≥ 0.99999.
 */

installNodeWebGpu();
let skip = '';
let runner: GpuRunner;
let k: ClipKernels;

beforeAll(async () => {
  if (!(await gpuAvailable())) {
    skip = 'no WebGPU adapter (Dawn / SwiftShader) on this machine';
    console.log(`skipping CLIP WebGPU tests: ${skip}`);
    return;
  }
  runner = runnerFor(await getGpuDevice());
  k = await ClipKernels.create(runner, ACTIVATIONS);
  console.log(`CLIP WebGPU parity on: ${gpuDescription()}`);
});

const need = (ctx: TestContext) => {
  if (skip) ctx.skip();
};

const rand = (n: number, rng: Rng, s = 1) => Float32Array.from({ length: n }, () => s * rng.normal());
const up = (a: Float32Array | Int32Array) => runner.buffer(a);
const read = (b: GPUBuffer, n: number) => runner.readF32(b, 0, n);

function close(got: Float32Array, ref: Float32Array, what: string, rel = 1e-5) {
  expect(got.length, what).toBe(ref.length);
  let m = 0,
    s = 0;
  for (let i = 0; i < ref.length; i++) {
    m = Math.max(m, Math.abs(got[i] - ref[i]));
    s = Math.max(s, Math.abs(ref[i]));
  }
  expect(m, `${what}: max |Δ| ${m} (max |ref| ${s})`).toBeLessThanOrEqual(rel * (1 + s));
}

describe('CLIP kernels: WebGPU = CPU twin', () => {
  it('matmul in its three layouts, with bias and addend; column_sum', async (ctx) => {
    need(ctx);
    const rng = new Rng(1);
    for (const [M, N, K] of [
      [70, 37, 50],
      [1, 24, 48],
      [130, 65, 17],
    ]) {
      const a = rand(M * K, rng),
        bT = rand(N * K, rng),
        b = rand(K * N, rng),
        aT = rand(K * M, rng),
        bias = rand(N, rng),
        add = rand(M * N, rng);
      const out = runner.buffer(M * N * 4);
      k.matmul(out, up(a), up(bT), M, N, K, { transB: true, bias: up(bias), add: up(add) });
      await k.flush();
      close(await read(out, M * N), clipMatmul(new Float32Array(M * N), a, bT, M, N, K, { transB: true, bias, add }), `ABt ${M}×${N}×${K}`);
      k.matmul(out, up(a), up(b), M, N, K);
      await k.flush();
      close(await read(out, M * N), clipMatmul(new Float32Array(M * N), a, b, M, N, K), `AB ${M}×${N}×${K}`);
      k.matmul(out, up(aT), up(b), M, N, K, { transA: true });
      await k.flush();
      close(await read(out, M * N), clipMatmul(new Float32Array(M * N), aT, b, M, N, K, { transA: true }), `AtB ${M}×${N}×${K}`);
      const cs = runner.buffer(N * 4);
      k.columnSum(cs, up(add), M, N);
      await k.flush();
      const ref = new Float32Array(N);
      columnSums(ref, add, M, N);
      close(await read(cs, N), ref, 'column_sum');
    }
  });

  it('layernorm forward, backward (with residual) and parameter gradients', async (ctx) => {
    need(ctx);
    const rng = new Rng(2);
    const rows = 9,
      D = 100,
      eps = 1e-5;
    const x = rand(rows * D, rng, 3),
      w = rand(D, rng),
      b = rand(D, rng),
      dy = rand(rows * D, rng),
      dres = rand(rows * D, rng);
    const out = runner.buffer(rows * D * 4),
      stats = runner.buffer(rows * 8);
    k.layernorm(out, stats, up(x), up(w), up(b), rows, D, eps);
    const dx = runner.buffer(rows * D * 4),
      dwb = runner.buffer(D * 8);
    k.layernormBackward(dx, up(dy), up(x), up(w), stats, rows, D, up(dres));
    k.layernormBackwardParams(dwb, up(dy), up(x), stats, rows, D);
    await k.flush();
    const ref = new Float32Array(rows * D),
      mean = new Float32Array(rows),
      rstd = new Float32Array(rows);
    clipLayernorm(ref, x, w, b, rows, D, eps, mean, rstd);
    close(await read(out, rows * D), ref, 'layernorm');
    const rdx = new Float32Array(rows * D),
      rdw = new Float32Array(D),
      rdb = new Float32Array(D);
    clipLayernormBackward(rdx, dy, x, w, mean, rstd, rows, D, dres);
    clipLayernormBackwardParams(rdw, rdb, dy, x, mean, rstd, rows, D);
    close(await read(dx, rows * D), rdx, 'layernorm_backward');
    const g = await read(dwb, 2 * D);
    close(g.slice(0, D), rdw, 'layernorm dw');
    close(g.slice(D), rdb, 'layernorm db');
  });

  it.for(ACTIVATIONS)('%s forward and backward', async (act, ctx) => {
    need(ctx);
    const rng = new Rng(3);
    const n = 1000;
    const x = rand(n, rng, 3),
      dy = rand(n, rng);
    const out = runner.buffer(n * 4),
      dx = runner.buffer(n * 4);
    k.gelu(out, up(x), act, n);
    k.geluBackward(dx, up(dy), up(x), act, n);
    await k.flush();
    const r1 = new Float32Array(n),
      r2 = new Float32Array(n);
    clipGelu(r1, x, act);
    clipGeluBackward(r2, dy, x, act);
    close(await read(out, n), r1, `${act}`);
    close(await read(dx, n), r2, `${act} backward`);
  });

  it.for([false, true])('attention forward and backward (causal %s)', async (causal, ctx) => {
    need(ctx);
    const rng = new Rng(4);
    const sh: AttentionShape = { batch: 2, seq: 77, heads: 3, headDim: 16, causal };
    const T = sh.batch * sh.seq,
      D = sh.heads * sh.headDim,
      P = sh.batch * sh.heads * sh.seq * sh.seq;
    const q = rand(T * D, rng),
      kk = rand(T * D, rng),
      v = rand(T * D, rng),
      dout = rand(T * D, rng);
    const [out, probs, dq, ds, dk, dv] = [T * D, P, T * D, P, T * D, T * D].map((n) => runner.buffer(n * 4));
    k.attention(out, probs, up(q), up(kk), up(v), sh);
    await k.flush();
    const rOut = new Float32Array(T * D),
      rP = new Float32Array(P);
    clipAttention(rOut, rP, q, kk, v, sh);
    close(await read(out, T * D), rOut, 'attention out');
    close(await read(probs, P), rP, 'attention probs');
    k.attentionBackward(dq, dk, dv, ds, up(dout), out, probs, up(q), up(kk), up(v), sh);
    await k.flush();
    const rdq = new Float32Array(T * D),
      rds = new Float32Array(P),
      rdk = new Float32Array(T * D),
      rdv = new Float32Array(T * D);
    clipAttentionBackward(rdq, rdk, rdv, rds, dout, rOut, rP, q, kk, v, sh);
    close(await read(ds, P), rds, 'dS');
    close(await read(dq, T * D), rdq, 'dq');
    close(await read(dk, T * D), rdk, 'dk');
    close(await read(dv, T * D), rdv, 'dv');
  });

  it('im2col, col2im, vision tokens and their backward, row gather and scatter', async (ctx) => {
    need(ctx);
    const rng = new Rng(5);
    const s = { batch: 2, channels: 3, size: 20, patch: 6 }; // 3×3 patches, 2 pixels unused on each axis
    const G = 3,
      NP = 9,
      KC = 3 * 36,
      D = 10;
    const px = rand(2 * 3 * 400, rng),
      dcols = rand(2 * NP * KC, rng);
    const cols = runner.buffer(dcols.length * 4),
      dpx = runner.buffer(px.length * 4);
    k.im2col(cols, up(px), s);
    k.col2im(dpx, up(dcols), s);
    await k.flush();
    const rc = new Float32Array(dcols.length),
      rp = new Float32Array(px.length);
    clipIm2col(rc, px, s);
    clipCol2im(rp, dcols, s);
    close(await read(cols, rc.length), rc, 'im2col');
    close(await read(dpx, rp.length), rp, 'col2im');
    const patches = rand(2 * NP * D, rng),
      cls = rand(D, rng),
      pos = rand((NP + 1) * D, rng),
      dx = rand(2 * (NP + 1) * D, rng);
    const x = runner.buffer(dx.length * 4),
      dp = runner.buffer(patches.length * 4);
    k.visionTokens(x, up(patches), up(cls), up(pos), 2, G, D);
    k.visionTokensBackward(dp, up(dx), 2, G, D);
    await k.flush();
    const rx = new Float32Array(dx.length),
      rdp = new Float32Array(patches.length);
    clipVisionTokens(rx, patches, cls, pos, 2, NP, D);
    clipVisionTokensBackward(rdp, dx, 2, NP, D);
    close(await read(x, rx.length), rx, 'vision_tokens');
    close(await read(dp, rdp.length), rdp, 'vision_tokens_backward');
    const rows = Int32Array.of(0, 10),
      inv = new Int32Array(20).fill(-1);
    inv[0] = 0;
    inv[10] = 1;
    const g = runner.buffer(2 * D * 4),
      sc = runner.buffer(dx.length * 4);
    k.gatherRows(g, up(dx), up(rows), 2, D);
    k.scatterRows(sc, up(patches.slice(0, 2 * D)), up(inv), 20, D);
    await k.flush();
    const rg = new Float32Array(2 * D),
      rs = new Float32Array(dx.length);
    clipGatherRows(rg, dx, rows, D);
    clipScatterRows(rs, patches.slice(0, 2 * D), rows, D);
    close(await read(g, rg.length), rg, 'gather_rows');
    close(await read(sc, rs.length), rs, 'scatter_rows');
  });
});

describe('CLIP encoder on WebGPU', () => {
  let m: TinyClip;
  let cpu: ClipModel, gpu: ClipModel;
  beforeAll(async () => {
    if (skip) return;
    m = await tinyClipFolder({ act: 'quick_gelu' });
    cpu = await ClipModel.load(m.dir, nodeFiles, { backend: 'cpu' });
    gpu = await ClipModel.load(m.dir, nodeFiles, { backend: 'webgpu' });
  });

  it('embeddings equal ONNX Runtime’s to 1e-4', async (ctx) => {
    need(ctx);
    const texts = ['a photo of a cat', 'make it gold', ''];
    const images = [...randomImages(3, 32, 21), randomImages(1, 45, 22)[0]];
    const ref = await ortEmbeddings(m, gpu, texts, images);
    const dt = maxAbsDiff(await gpu.embedTexts(texts), ref.text),
      di = maxAbsDiff(await gpu.embedImages(images), ref.image);
    console.log(`WebGPU vs ONNX Runtime: max |Δ| text ${dt.toExponential(2)}, image ${di.toExponential(2)}`);
    expect(dt).toBeLessThanOrEqual(1e-4);
    expect(di).toBeLessThanOrEqual(1e-4);
  });

  it('gradients with respect to the pixels and to one layer’s weights equal the CPU twin’s', async (ctx) => {
    need(ctx);
    const rng = new Rng(6);
    const S = m.config.vision.imageSize,
      E = m.config.projectionDim,
      B = 3;
    const px = rand(B * 3 * S * S, rng),
      dE = rand(B * E, rng);
    const a = await cpu.encoder.encodeImagesForGrad(px, B);
    const b = await gpu.encoder.encodeImagesForGrad(px, B);
    close(b.embeds, a.embeds, 'embeds', 1e-5);
    const ga = await a.backward(dE, { weightGradLayer: 0 });
    const gb = await b.backward(dE, { weightGradLayer: 0 });
    // the key bias's gradient is 0 up to rounding (softmax ignores a shared score offset): an absolute floor
    // relative to the layer's largest gradient covers it
    const floor = 1e-6 * Math.max(...Object.values(ga.layerGrads!).map((g) => Math.max(...g.map(Math.abs))));
    const check = (got: Float32Array, ref: Float32Array, what: string) => {
      let m = 0,
        g = 0,
        d = 0,
        na = 0,
        nb = 0;
      for (let i = 0; i < ref.length; i++) {
        m = Math.max(m, Math.abs(got[i] - ref[i]));
        g = Math.max(g, Math.abs(ref[i]));
        d += got[i] * ref[i];
        na += got[i] * got[i];
        nb += ref[i] * ref[i];
      }
      const cos = d / Math.sqrt(na * nb || 1);
      expect(m, `${what}: max |Δ| ${m}, max |g| ${g}`).toBeLessThanOrEqual(1e-3 * g + floor);
      if (g > 100 * floor) expect(cos, what).toBeGreaterThanOrEqual(0.99999);
    };
    check(gb.dPixels, ga.dPixels, 'dPixels');
    for (const key of Object.keys(LAYER_FIELDS) as (keyof LayerWeights)[]) check(gb.layerGrads![key], ga.layerGrads![key], key);
  });

  it('the Text2Mesh loss and its render gradients equal the CPU twin’s', async (ctx) => {
    need(ctx);
    const rng = new Rng(8);
    const views = [0, 1].map(() => {
      const img = createImage(40, 40, 3);
      img.data.forEach((_, i) => (img.data[i] = rng.next()));
      return img;
    });
    const lc = await createText2MeshLoss(cpu, 'a vase made of colorful crochet');
    const lg = await createText2MeshLoss(gpu, 'a vase made of colorful crochet');
    const a = await lc.evaluate(views, new Rng(1), 'color');
    const b = await lg.evaluate(views, new Rng(1), 'color');
    expect(Math.abs(a.loss - b.loss)).toBeLessThan(1e-5 * Math.max(1, a.loss));
    a.grads.forEach((g, i) => close(b.grads[i], g, `render ${i} gradient`, 1e-3 * Math.max(...g.map(Math.abs))));
  });

  it('loadText2MeshLoss on WebGPU: the text tower freed after the prompt, images still encoded', async (ctx) => {
    need(ctx);
    const l = await loadText2MeshLoss(m.dir, nodeFiles, 'a golden vase', { backend: 'webgpu' });
    const img = createImage(32, 32, 3, 0.4);
    const r = await l.evaluate([img, img], new Rng(3), 'geometry');
    expect(Number.isFinite(r.loss)).toBe(true);
    expect(Math.max(...r.grads[0].map(Math.abs))).toBeGreaterThan(0);
    l.dispose?.();
  });
});
