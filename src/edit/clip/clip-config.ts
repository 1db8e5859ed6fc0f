/**
 * The configuration of a Hugging Face `CLIPModel` checkpoint (`config.json`: `text_config`, `vision_config`,
 * `projection_dim`), with the library's defaults for absent keys (the OpenAI ViT-B/32 sizes) and the legacy
 * `text_config_dict` / `vision_config_dict` overrides applied on top, as transformers does. See docs/clip.md.
 */
import { describeValue, UserError } from '../../core/errors';

/** Activations CLIP checkpoints use; `quick_gelu` x·σ(1.702x) is OpenAI's, `gelu` the exact erf form. */
export const ACTIVATIONS = ['quick_gelu', 'gelu', 'gelu_new', 'gelu_pytorch_tanh'] as const;
export type Activation = (typeof ACTIVATIONS)[number];

/** The end-of-text token of the CLIP vocabulary: text embeddings are pooled at its first occurrence. */
export const CLIP_EOS_ID = 49407;

export interface TowerConfig {
  hiddenSize: number;
  intermediateSize: number;
  numHeads: number;
  numLayers: number;
  layerNormEps: number;
  hiddenAct: Activation;
}

export interface TextConfig extends TowerConfig {
  vocabSize: number;
  maxPositions: number;
  /** the config's eos_token_id (2 in OpenAI's legacy configs; pooling does not trust it, see docs/clip.md) */
  eosTokenId: number;
}

export interface VisionConfig extends TowerConfig {
  imageSize: number;
  patchSize: number;
  numChannels: number;
}

export interface ClipConfig {
  text: TextConfig;
  vision: VisionConfig;
  projectionDim: number;
  logitScaleInit: number;
}

const TEXT_DEFAULTS = {
  vocab_size: 49408,
  hidden_size: 512,
  intermediate_size: 2048,
  num_hidden_layers: 12,
  num_attention_heads: 8,
  max_position_embeddings: 77,
  hidden_act: 'quick_gelu',
  layer_norm_eps: 1e-5,
  eos_token_id: 49407,
};
const VISION_DEFAULTS = {
  hidden_size: 768,
  intermediate_size: 3072,
  num_hidden_layers: 12,
  num_attention_heads: 12,
  num_channels: 3,
  image_size: 224,
  patch_size: 32,
  hidden_act: 'quick_gelu',
  layer_norm_eps: 1e-5,
};

/**
 * Upper bounds on sizes, far above any published CLIP (ViT-bigG: width 1664, 48 layers, 8192 MLP): a config
 * that names more is damaged, and its tensor list alone would take minutes and gigabytes to build.
 */
const MAX_SIZE: Record<string, number> = {
  hidden_size: 65_536,
  intermediate_size: 262_144,
  num_attention_heads: 1024,
  num_hidden_layers: 1024,
  vocab_size: 4_194_304,
  max_position_embeddings: 65_536,
  image_size: 16_384,
  patch_size: 16_384,
  num_channels: 16,
};

function intKey(o: Record<string, unknown>, key: string, where: string, file: string, min = 1): number {
  const v = o[key];
  const max = MAX_SIZE[key] ?? Number.MAX_SAFE_INTEGER;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
    throw new UserError(`${where}.${key} must be an integer in [${min}, ${max}], got ${describeValue(v, 40)}`, file);
  return v;
}

function tower(raw: Record<string, unknown>, where: string, file: string): TowerConfig {
  const act = raw.hidden_act;
  if (typeof act !== 'string' || !(ACTIVATIONS as readonly string[]).includes(act))
    throw new UserError(`${where}.hidden_act ${describeValue(act, 40)} is not supported (expected one of ${ACTIVATIONS.join(', ')})`, file);
  const eps = raw.layer_norm_eps;
  if (typeof eps !== 'number' || !(eps > 0) || eps > 1)
    throw new UserError(`${where}.layer_norm_eps must be a small positive number, got ${describeValue(eps, 40)}`, file);
  const hiddenSize = intKey(raw, 'hidden_size', where, file);
  const numHeads = intKey(raw, 'num_attention_heads', where, file);
  if (hiddenSize % numHeads)
    throw new UserError(`${where}.hidden_size ${hiddenSize} is not divisible by num_attention_heads ${numHeads}`, file);
  return {
    hiddenSize,
    intermediateSize: intKey(raw, 'intermediate_size', where, file),
    numHeads,
    numLayers: intKey(raw, 'num_hidden_layers', where, file, 0),
    layerNormEps: eps,
    hiddenAct: act as Activation,
  };
}

function section(json: Record<string, any>, key: string, defaults: Record<string, unknown>, file: string): Record<string, unknown> {
  const base = json[key] ?? {};
  const legacy = json[`${key}_dict`] ?? {};
  for (const [k, v] of [
    [key, base],
    [`${key}_dict`, legacy],
  ] as const)
    if (typeof v !== 'object' || Array.isArray(v)) throw new UserError(`${k} must be an object`, file);
  return { ...defaults, ...base, ...legacy };
}

/** Parses a CLIPModel config.json object. Throws a UserError naming the key for anything unusable. */
export function parseClipConfig(json: unknown, file = 'config.json'): ClipConfig {
  if (!json || typeof json !== 'object' || Array.isArray(json)) throw new UserError('expected a JSON object', file);
  const j = json as Record<string, any>;
  if (j.model_type !== undefined && j.model_type !== 'clip')
    throw new UserError(`model_type is '${j.model_type}', expected 'clip' (a Hugging Face CLIPModel checkpoint)`, file);
  if (!j.text_config && !j.vision_config && !j.text_config_dict)
    throw new UserError('no text_config / vision_config (is this the config.json of a CLIPModel?)', file);
  const t = section(j, 'text_config', TEXT_DEFAULTS, file);
  const v = section(j, 'vision_config', VISION_DEFAULTS, file);
  const text: TextConfig = {
    ...tower(t, 'text_config', file),
    vocabSize: intKey(t, 'vocab_size', 'text_config', file),
    maxPositions: intKey(t, 'max_position_embeddings', 'text_config', file, 2),
    eosTokenId: typeof t.eos_token_id === 'number' ? t.eos_token_id : CLIP_EOS_ID,
  };
  const vision: VisionConfig = {
    ...tower(v, 'vision_config', file),
    imageSize: intKey(v, 'image_size', 'vision_config', file),
    patchSize: intKey(v, 'patch_size', 'vision_config', file),
    numChannels: intKey(v, 'num_channels', 'vision_config', file),
  };
  if (vision.numChannels !== 3)
    throw new UserError(`vision_config.num_channels is ${vision.numChannels}; only RGB (3) images are supported`, file);
  if (vision.patchSize > vision.imageSize)
    throw new UserError(`vision_config.patch_size ${vision.patchSize} is larger than image_size ${vision.imageSize}`, file);
  const projectionDim = j.projection_dim ?? 512;
  if (!Number.isInteger(projectionDim) || projectionDim < 1 || projectionDim > MAX_SIZE.hidden_size)
    throw new UserError(`projection_dim must be an integer in [1, ${MAX_SIZE.hidden_size}], got ${describeValue(projectionDim, 40)}`, file);
  const ls = j.logit_scale_init_value ?? 2.6592;
  // logits are scaled by e^logit_scale: beyond ±100 (JSON's 1e400 is ∞) the scale is not a number
  if (typeof ls !== 'number' || !(Math.abs(ls) <= 100))
    throw new UserError(`logit_scale_init_value must be a number within ±100, got ${describeValue(ls, 40)}`, file);
  return { text, vision, projectionDim, logitScaleInit: ls };
}

/** Tokens of the vision tower: one per patch plus the class token. */
export function visionTokens(v: VisionConfig): number {
  const g = Math.floor(v.imageSize / v.patchSize);
  return g * g + 1;
}

/** A config.json object for the given sizes (used by the random-model builder). */
export function clipConfigJson(c: ClipConfig): Record<string, unknown> {
  const tower = (t: TowerConfig) => ({
    hidden_size: t.hiddenSize,
    intermediate_size: t.intermediateSize,
    num_attention_heads: t.numHeads,
    num_hidden_layers: t.numLayers,
    hidden_act: t.hiddenAct,
    layer_norm_eps: t.layerNormEps,
    projection_dim: c.projectionDim,
  });
  return {
    architectures: ['CLIPModel'],
    model_type: 'clip',
    projection_dim: c.projectionDim,
    logit_scale_init_value: c.logitScaleInit,
    initializer_factor: 1.0,
    text_config: {
      ...tower(c.text),
      model_type: 'clip_text_model',
      vocab_size: c.text.vocabSize,
      max_position_embeddings: c.text.maxPositions,
      bos_token_id: 0,
      eos_token_id: c.text.eosTokenId,
      pad_token_id: 1,
    },
    vision_config: {
      ...tower(c.vision),
      model_type: 'clip_vision_model',
      image_size: c.vision.imageSize,
      patch_size: c.vision.patchSize,
      num_channels: c.vision.numChannels,
    },
  };
}
