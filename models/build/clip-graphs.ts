/**
 * Random-weight CLIP models for tests and benchmarks, in the two forms a real checkpoint comes in: the Hugging
 * Face folder (config.json, model.safetensors with CLIPModel's tensor names and shapes, vocab.json + merges.txt)
 * and an ONNX graph of the same weights (the optimum export's inputs and outputs: input_ids, pixel_values →
 * logits_per_image, logits_per_text, text_embeds, image_embeds), written with the project's ONNX builder from
 * the operators of the PyTorch model (Conv, LayerNormalization, MatMul, Softmax, Erf/Sigmoid, Gather, ArgMax,
 * GatherND). ONNX Runtime's forward on the graph is the independent reference for the project's own encoders.
 */
import { Rng } from '../../src/core/rng';
import { joinPath } from '../../src/core/paths';
import type { FileSink, FileSource } from '../../src/io/files/files';
import { GraphBuilder } from '../../src/edit/diffusion/onnx/builder';
import { clipConfigJson, visionTokens, type Activation, type ClipConfig, type TowerConfig } from '../../src/edit/clip/clip-config';
import { expectedTensors, LAYER_FIELDS, loadClipWeights, type ClipWeights, type Tower } from '../../src/edit/clip/clip-weights';
import { writeSafetensors } from '../../src/edit/clip/safetensors';

export interface NamedTensor {
  name: string;
  shape: number[];
  data: Float32Array;
}

/** A small CLIP for tests: the built-in tokenizer's 840-token vocabulary, 32-pixel images in 8-pixel patches. */
export function tinyClipConfig(over: { act?: Activation; imageSize?: number; patchSize?: number } = {}): ClipConfig {
  const tower = (D: number, I: number, H: number, L: number): TowerConfig => ({
    hiddenSize: D,
    intermediateSize: I,
    numHeads: H,
    numLayers: L,
    layerNormEps: 1e-5,
    hiddenAct: over.act ?? 'quick_gelu',
  });
  return {
    text: { ...tower(32, 64, 4, 2), vocabSize: 840, maxPositions: 77, eosTokenId: 2 },
    vision: { ...tower(48, 96, 4, 2), imageSize: over.imageSize ?? 32, patchSize: over.patchSize ?? 8, numChannels: 3 },
    projectionDim: 24,
    logitScaleInit: 2.6592,
  };
}

/** openai/clip-vit-base-patch32's exact sizes (random weights). */
export function vitB32Config(): ClipConfig {
  const tower = (D: number, H: number): TowerConfig => ({
    hiddenSize: D,
    intermediateSize: 4 * D,
    numHeads: H,
    numLayers: 12,
    layerNormEps: 1e-5,
    hiddenAct: 'quick_gelu',
  });
  return {
    text: { ...tower(512, 8), vocabSize: 49408, maxPositions: 77, eosTokenId: 2 },
    vision: { ...tower(768, 12), imageSize: 224, patchSize: 32, numChannels: 3 },
    projectionDim: 512,
    logitScaleInit: 2.6592,
  };
}

/**
 * Random weights with CLIPModel's names and shapes. Scales follow CLIP's initialisation (projections and
 * attention ~ width^−½, embeddings 0.02), and biases and layer-norm parameters are random too (not 0 and 1) so
 * every term of the graph shows in the outputs.
 */
export function randomClipTensors(c: ClipConfig, seed = 1, towers: readonly Tower[] = ['vision', 'text']): NamedTensor[] {
  const rng = new Rng(seed);
  return expectedTensors(c)
    .filter((s) => s.tower === 'model' || towers.includes(s.tower))
    .map((s) => {
      const n = s.shape.reduce((a, b) => a * b, 1);
      const data = new Float32Array(n);
      const name = s.name;
      const width = s.shape.length === 2 ? s.shape[1] : s.shape.length === 4 ? s.shape[1] * s.shape[2] * s.shape[3] : 1;
      if (name === 'logit_scale') data[0] = c.logitScaleInit;
      else if (/norm[12]?\.weight$|layrnorm\.weight$|layernorm\.weight$|final_layer_norm\.weight$/.test(name))
        for (let i = 0; i < n; i++) data[i] = 1 + 0.1 * rng.normal();
      else if (name.endsWith('.bias')) for (let i = 0; i < n; i++) data[i] = 0.05 * rng.normal();
      else if (/embedding\.weight$/.test(name) && s.shape.length === 2) for (let i = 0; i < n; i++) data[i] = 0.02 * rng.normal() * 10;
      else {
        const std = 1 / Math.sqrt(width);
        for (let i = 0; i < n; i++) data[i] = std * rng.normal();
      }
      return { name, shape: s.shape, data };
    });
}

/** ClipWeights over in-memory tensors (the checks of a real load included). */
export async function weightsFromTensors(
  c: ClipConfig,
  tensors: NamedTensor[],
  towers: readonly Tower[] = ['vision', 'text'],
): Promise<ClipWeights> {
  const byName = new Map(tensors.map((t) => [t.name, t]));
  const entries = new Map(
    tensors.map((t) => [t.name, { name: t.name, dtype: 'F32' as const, shape: t.shape, begin: 0, end: t.data.byteLength }]),
  );
  return loadClipWeights(entries, c, towers, 'memory', async (n) => byName.get(n)!.data);
}

const TOKENIZER_FILES = ['vocab.json', 'merges.txt', 'special_tokens_map.json', 'tokenizer_config.json'];

/**
 * Writes a Hugging Face CLIP folder: config.json, model.safetensors (dtype F32, F16 or BF16), and the tokenizer
 * files copied from `tokenizerDir` (default: the built-in model's tokenizer, matching tinyClipConfig's vocabulary).
 */
export async function writeClipFolder(
  dir: string,
  c: ClipConfig,
  tensors: NamedTensor[],
  io: FileSource & FileSink,
  opts: { dtype?: 'F32' | 'F16' | 'BF16'; tokenizerDir?: string } = {},
): Promise<void> {
  await io.mkdir(dir);
  await io.write(joinPath(dir, 'config.json'), JSON.stringify(clipConfigJson(c), null, 2));
  await io.write(joinPath(dir, 'model.safetensors'), writeSafetensors(tensors.map((t) => ({ ...t, dtype: opts.dtype ?? 'F32' }))));
  const tokDir = opts.tokenizerDir ?? decodeURIComponent(new URL('../builtin/tokenizer/', import.meta.url).pathname);
  for (const f of TOKENIZER_FILES) {
    const p = joinPath(tokDir, f);
    if (await io.exists(p)) await io.write(joinPath(dir, f), await io.read(p));
  }
}

/** The ONNX graph of CLIPModel over the same weights (float32), inputs padded to max_position_embeddings. */
export function buildClipOnnx(c: ClipConfig, tensors: NamedTensor[]): Uint8Array {
  const g = new GraphBuilder('clip');
  const byName = new Map(tensors.map((t) => [t.name, t]));
  const inits = new Set<string>();
  const W = (name: string) => {
    const t = byName.get(name);
    if (!t) throw new Error(`no tensor ${name}`);
    if (!inits.has(name)) {
      g.f32(t.data, t.shape, name);
      inits.add(name);
    }
    return name;
  };
  const scalar = (v: number) => g.f32([v], []);
  const linear = (x: string, w: string, b?: string) => {
    const y = g.op('MatMul', [x, g.op('Transpose', [W(w)], { perm: [1, 0] })]);
    return b ? g.op('Add', [y, W(b)]) : y;
  };
  const layerNorm = (x: string, prefix: string, eps: number) =>
    g.op('LayerNormalization', [x, W(`${prefix}.weight`), W(`${prefix}.bias`)], { axis: -1, epsilon: { f: eps } });
  const act = (x: string, a: Activation) => {
    if (a === 'quick_gelu') return g.op('Mul', [x, g.op('Sigmoid', [g.op('Mul', [x, scalar(1.702)])])]);
    if (a === 'gelu')
      return g.op('Mul', [g.op('Mul', [x, scalar(0.5)]), g.op('Add', [scalar(1), g.op('Erf', [g.op('Mul', [x, scalar(Math.SQRT1_2)])])])]);
    const inner = g.op('Mul', [
      g.op('Add', [x, g.op('Mul', [g.op('Mul', [g.op('Mul', [x, x]), x]), scalar(0.044715)])]),
      scalar(Math.sqrt(2 / Math.PI)),
    ]);
    return g.op('Mul', [g.op('Mul', [x, scalar(0.5)]), g.op('Add', [scalar(1), g.op('Tanh', [inner])])]);
  };
  const tower = (x: string, prefix: string, t: TowerConfig, seq: number, causal: boolean) => {
    const H = t.numHeads,
      hd = t.hiddenSize / H;
    const mask = causal
      ? g.f32(
          Array.from({ length: seq * seq }, (_, i) => (i % seq > Math.floor(i / seq) ? -3.4028234663852886e38 : 0)),
          [seq, seq],
        )
      : null;
    const heads = (v: string) => g.op('Transpose', [g.op('Reshape', [v, g.i64([0, 0, H, hd])])], { perm: [0, 2, 1, 3] });
    for (let l = 0; l < t.numLayers; l++) {
      const p = `${prefix}.encoder.layers.${l}.`;
      const f = (k: keyof typeof LAYER_FIELDS) => p + LAYER_FIELDS[k];
      const h1 = layerNorm(x, `${p}layer_norm1`, t.layerNormEps);
      const q = heads(g.op('Mul', [linear(h1, f('qW'), f('qB')), scalar(1 / Math.sqrt(hd))]));
      const k = heads(linear(h1, f('kW'), f('kB')));
      const v = heads(linear(h1, f('vW'), f('vB')));
      let scores = g.op('MatMul', [q, g.op('Transpose', [k], { perm: [0, 1, 3, 2] })]);
      if (mask) scores = g.op('Add', [scores, mask]);
      const probs = g.op('Softmax', [scores], { axis: -1 });
      const o = g.op('Reshape', [g.op('Transpose', [g.op('MatMul', [probs, v])], { perm: [0, 2, 1, 3] }), g.i64([0, 0, t.hiddenSize])]);
      x = g.op('Add', [x, linear(o, f('oW'), f('oB'))]);
      const h2 = layerNorm(x, `${p}layer_norm2`, t.layerNormEps);
      x = g.op('Add', [x, linear(act(linear(h2, f('fc1W'), f('fc1B')), t.hiddenAct), f('fc2W'), f('fc2B'))]);
    }
    return x;
  };
  const normalize = (x: string) => g.op('Div', [x, g.op('ReduceL2', [x], { axes: [-1], keepdims: 1 })]);

  // vision
  const v = c.vision,
    S = v.imageSize,
    P = v.patchSize,
    Dv = v.hiddenSize;
  const pixels = g.input('pixel_values', 'float32', ['image_batch', 3, S, S]);
  const conv = g.op('Conv', [pixels, W('vision_model.embeddings.patch_embedding.weight')], { kernel_shape: [P, P], strides: [P, P] });
  const patches = g.op('Transpose', [g.op('Reshape', [conv, g.i64([0, Dv, -1])])], { perm: [0, 2, 1] });
  const batch = g.op('Shape', [pixels], { start: 0, end: 1 });
  const cls = g.op('Expand', [
    g.op('Reshape', [W('vision_model.embeddings.class_embedding'), g.i64([1, 1, Dv])]),
    g.op('Concat', [batch, g.i64([1, Dv])], { axis: 0 }),
  ]);
  let xv = g.op('Add', [g.op('Concat', [cls, patches], { axis: 1 }), W('vision_model.embeddings.position_embedding.weight')]);
  xv = layerNorm(xv, 'vision_model.pre_layrnorm', v.layerNormEps);
  xv = tower(xv, 'vision_model', v, visionTokens(v), false);
  const pooledV = layerNorm(g.op('Gather', [xv, g.i64([0], [])], { axis: 1 }), 'vision_model.post_layernorm', v.layerNormEps);
  const imageEmbeds = g.op('Identity', [normalize(linear(pooledV, 'visual_projection.weight'))], {}, 'image_embeds');

  // text
  const t = c.text,
    L = t.maxPositions;
  const ids = g.input('input_ids', 'int64', ['text_batch', L]);
  let xt = g.op('Add', [
    g.op('Gather', [W('text_model.embeddings.token_embedding.weight'), ids], { axis: 0 }),
    W('text_model.embeddings.position_embedding.weight'),
  ]);
  xt = tower(xt, 'text_model', t, L, true);
  xt = layerNorm(xt, 'text_model.final_layer_norm', t.layerNormEps);
  // pooled at the first end-of-text token: the largest id of the vocabulary, so ArgMax (first maximum) finds it
  const eos = g.op('Unsqueeze', [g.op('ArgMax', [ids], { axis: -1, keepdims: 0 }), g.i64([-1])]);
  const pooledT = g.op('GatherND', [xt, eos], { batch_dims: 1 });
  const textEmbeds = g.op('Identity', [normalize(linear(pooledT, 'text_projection.weight'))], {}, 'text_embeds');

  const scale = g.op('Exp', [W('logit_scale')]);
  const logits = g.op(
    'Mul',
    [g.op('MatMul', [imageEmbeds, g.op('Transpose', [textEmbeds], { perm: [1, 0] })]), scale],
    {},
    'logits_per_image',
  );
  g.op('Transpose', [logits], { perm: [1, 0] }, 'logits_per_text');
  g.output('logits_per_image', 'float32', ['image_batch', 'text_batch']);
  g.output('logits_per_text', 'float32', ['text_batch', 'image_batch']);
  g.output('text_embeds', 'float32', ['text_batch', c.projectionDim]);
  g.output('image_embeds', 'float32', ['image_batch', c.projectionDim]);
  return g.toModel({ docString: 'random-weight CLIPModel (instruct-scene test model)' });
}
