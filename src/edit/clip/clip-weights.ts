/**
 * CLIPModel's tensors by their Hugging Face names: the list a config implies (name → shape), the check of a
 * checkpoint's header against it (every missing tensor, shape or dtype mismatch named), and the typed weights
 * the encoders run on. See docs/clip.md.
 */
import { UserError } from '../../core/errors';
import type { ClipConfig, TowerConfig } from './clip-config';
import { visionTokens } from './clip-config';
import { FLOAT_DTYPES, type SafetensorsEntry } from './safetensors';

export interface LayerWeights {
  ln1W: Float32Array;
  ln1B: Float32Array;
  qW: Float32Array;
  qB: Float32Array;
  kW: Float32Array;
  kB: Float32Array;
  vW: Float32Array;
  vB: Float32Array;
  oW: Float32Array;
  oB: Float32Array;
  ln2W: Float32Array;
  ln2B: Float32Array;
  fc1W: Float32Array;
  fc1B: Float32Array;
  fc2W: Float32Array;
  fc2B: Float32Array;
}

/** The HF name suffix of each layer field. */
export const LAYER_FIELDS: Record<keyof LayerWeights, string> = {
  ln1W: 'layer_norm1.weight',
  ln1B: 'layer_norm1.bias',
  qW: 'self_attn.q_proj.weight',
  qB: 'self_attn.q_proj.bias',
  kW: 'self_attn.k_proj.weight',
  kB: 'self_attn.k_proj.bias',
  vW: 'self_attn.v_proj.weight',
  vB: 'self_attn.v_proj.bias',
  oW: 'self_attn.out_proj.weight',
  oB: 'self_attn.out_proj.bias',
  ln2W: 'layer_norm2.weight',
  ln2B: 'layer_norm2.bias',
  fc1W: 'mlp.fc1.weight',
  fc1B: 'mlp.fc1.bias',
  fc2W: 'mlp.fc2.weight',
  fc2B: 'mlp.fc2.bias',
};

export interface VisionWeights {
  /** [D, 3, P, P] */
  patch: Float32Array;
  /** [D] */
  cls: Float32Array;
  /** [tokens, D] */
  pos: Float32Array;
  preW: Float32Array;
  preB: Float32Array;
  layers: LayerWeights[];
  postW: Float32Array;
  postB: Float32Array;
  /** visual_projection [E, D] */
  proj: Float32Array;
}

export interface TextWeights {
  /** [vocab, D] */
  tok: Float32Array;
  /** [positions, D] */
  pos: Float32Array;
  layers: LayerWeights[];
  finalW: Float32Array;
  finalB: Float32Array;
  /** text_projection [E, D] */
  proj: Float32Array;
}

export interface ClipWeights {
  vision?: VisionWeights;
  text?: TextWeights;
  logitScale: number;
}

export type Tower = 'vision' | 'text';

export interface TensorSpec {
  name: string;
  shape: number[];
  tower: Tower | 'model';
  /** what sets the shape, for messages: e.g. "vision_config.hidden_size 768" */
  why: string;
}

function layerSpecs(prefix: string, t: TowerConfig, tower: Tower, cfgKey: string): TensorSpec[] {
  const D = t.hiddenSize,
    I = t.intermediateSize;
  const hs = `${cfgKey}.hidden_size ${D}`,
    is = `${cfgKey}.intermediate_size ${I}`;
  const out: TensorSpec[] = [];
  for (let l = 0; l < t.numLayers; l++) {
    const p = `${prefix}.encoder.layers.${l}.`;
    const add = (f: keyof LayerWeights, shape: number[], why: string) => out.push({ name: p + LAYER_FIELDS[f], shape, tower, why });
    add('ln1W', [D], hs);
    add('ln1B', [D], hs);
    for (const k of ['q', 'k', 'v', 'o'] as const) {
      add(`${k}W`, [D, D], hs);
      add(`${k}B`, [D], hs);
    }
    add('ln2W', [D], hs);
    add('ln2B', [D], hs);
    add('fc1W', [I, D], `${is}, ${hs}`);
    add('fc1B', [I], is);
    add('fc2W', [D, I], `${hs}, ${is}`);
    add('fc2B', [D], hs);
  }
  return out;
}

/** Every tensor a CLIPModel with this config has, with its shape (HF names; `position_ids` buffers are optional and not listed). */
export function expectedTensors(c: ClipConfig): TensorSpec[] {
  const v = c.vision,
    t = c.text,
    E = c.projectionDim;
  const vh = `vision_config.hidden_size ${v.hiddenSize}`,
    th = `text_config.hidden_size ${t.hiddenSize}`;
  const V = (name: string, shape: number[], why = vh): TensorSpec => ({ name, shape, tower: 'vision', why });
  const T = (name: string, shape: number[], why = th): TensorSpec => ({ name, shape, tower: 'text', why });
  const tokens = visionTokens(v);
  return [
    T('text_model.embeddings.token_embedding.weight', [t.vocabSize, t.hiddenSize], `text_config.vocab_size ${t.vocabSize}, ${th}`),
    T(
      'text_model.embeddings.position_embedding.weight',
      [t.maxPositions, t.hiddenSize],
      `text_config.max_position_embeddings ${t.maxPositions}, ${th}`,
    ),
    ...layerSpecs('text_model', t, 'text', 'text_config'),
    T('text_model.final_layer_norm.weight', [t.hiddenSize]),
    T('text_model.final_layer_norm.bias', [t.hiddenSize]),
    V('vision_model.embeddings.class_embedding', [v.hiddenSize]),
    V(
      'vision_model.embeddings.patch_embedding.weight',
      [v.hiddenSize, v.numChannels, v.patchSize, v.patchSize],
      `${vh}, vision_config.patch_size ${v.patchSize}`,
    ),
    V(
      'vision_model.embeddings.position_embedding.weight',
      [tokens, v.hiddenSize],
      `(image_size ${v.imageSize} / patch_size ${v.patchSize})² + 1 = ${tokens} tokens, ${vh}`,
    ),
    V('vision_model.pre_layrnorm.weight', [v.hiddenSize]),
    V('vision_model.pre_layrnorm.bias', [v.hiddenSize]),
    ...layerSpecs('vision_model', v, 'vision', 'vision_config'),
    V('vision_model.post_layernorm.weight', [v.hiddenSize]),
    V('vision_model.post_layernorm.bias', [v.hiddenSize]),
    V('visual_projection.weight', [E, v.hiddenSize], `projection_dim ${E}, ${vh}`),
    T('text_projection.weight', [E, t.hiddenSize], `projection_dim ${E}, ${th}`),
    { name: 'logit_scale', shape: [], tower: 'model', why: 'a scalar' },
  ];
}

const fmt = (s: number[]) => `[${s.join(', ')}]`;

/** Checks a checkpoint's tensors against the config; one message per problem, each naming the tensor. */
export function checkTensors(
  entries: Map<string, SafetensorsEntry>,
  c: ClipConfig,
  towers: readonly Tower[] = ['vision', 'text'],
): { problems: string[]; unexpected: string[] } {
  const problems: string[] = [];
  const specs = expectedTensors(c).filter((s) => s.tower === 'model' || towers.includes(s.tower));
  const known = new Set(expectedTensors(c).map((s) => s.name));
  for (const s of specs) {
    const e = entries.get(s.name);
    if (!e) {
      // older checkpoints may lack logit_scale (it only scales the contrastive logits)
      if (s.name !== 'logit_scale') problems.push(`tensor '${s.name}' is missing (expected shape ${fmt(s.shape)})`);
      continue;
    }
    const shapeOk = e.shape.length === s.shape.length && e.shape.every((d, i) => d === s.shape[i]);
    const scalarOk = s.shape.length === 0 && e.shape.reduce((a, b) => a * b, 1) === 1;
    if (!shapeOk && !scalarOk) problems.push(`tensor '${s.name}' has shape ${fmt(e.shape)}, expected ${fmt(s.shape)} (${s.why})`);
    if (!FLOAT_DTYPES.includes(e.dtype))
      problems.push(`tensor '${s.name}' has dtype ${e.dtype}, expected one of ${FLOAT_DTYPES.join(', ')}`);
  }
  const unexpected = [...entries.keys()].filter((n) => !known.has(n) && !/(^|\.)position_ids$/.test(n));
  return { problems, unexpected };
}

/** Reads one tensor as float32 by name. */
export type TensorReader = (name: string) => Promise<Float32Array>;

/** Loads the weights of the requested towers as float32, after checking every tensor (the first problem throws). */
export async function loadClipWeights(
  entries: Map<string, SafetensorsEntry>,
  c: ClipConfig,
  towers: readonly Tower[],
  file: string,
  read: TensorReader,
): Promise<ClipWeights> {
  const { problems } = checkTensors(entries, c, towers);
  if (problems.length)
    throw new UserError(
      `${problems[0]}${problems.length > 1 ? ` (and ${problems.length - 1} more problem${problems.length > 2 ? 's' : ''}; see models check)` : ''}`,
      file,
    );
  const layers = async (prefix: string, n: number): Promise<LayerWeights[]> => {
    const out: LayerWeights[] = [];
    for (let l = 0; l < n; l++) {
      const w = {} as LayerWeights;
      for (const [k, suffix] of Object.entries(LAYER_FIELDS))
        w[k as keyof LayerWeights] = await read(`${prefix}.encoder.layers.${l}.${suffix}`);
      out.push(w);
    }
    return out;
  };
  const logitScale = entries.has('logit_scale') ? (await read('logit_scale'))[0] : c.logitScaleInit;
  // logits are scaled by e^logit_scale (4.6 = ln 100 in trained models): far beyond, the scale is not a number
  if (!(Math.abs(logitScale) <= 100)) throw new UserError(`tensor 'logit_scale' is ${logitScale}, not a log scale (within ±100)`, file);
  const out: ClipWeights = { logitScale };
  if (towers.includes('vision'))
    out.vision = {
      patch: await read('vision_model.embeddings.patch_embedding.weight'),
      cls: await read('vision_model.embeddings.class_embedding'),
      pos: await read('vision_model.embeddings.position_embedding.weight'),
      preW: await read('vision_model.pre_layrnorm.weight'),
      preB: await read('vision_model.pre_layrnorm.bias'),
      layers: await layers('vision_model', c.vision.numLayers),
      postW: await read('vision_model.post_layernorm.weight'),
      postB: await read('vision_model.post_layernorm.bias'),
      proj: await read('visual_projection.weight'),
    };
  if (towers.includes('text'))
    out.text = {
      tok: await read('text_model.embeddings.token_embedding.weight'),
      pos: await read('text_model.embeddings.position_embedding.weight'),
      layers: await layers('text_model', c.text.numLayers),
      finalW: await read('text_model.final_layer_norm.weight'),
      finalB: await read('text_model.final_layer_norm.bias'),
      proj: await read('text_projection.weight'),
    };
  return out;
}
