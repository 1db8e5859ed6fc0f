/**
 * The built-in stand-in model: an analytic "InstructPix2Pix" with the exact files, names, shapes and
 * dtypes of an optimum export, but no learned weights. It makes colour and tone edits only.
 *
 * VAE: encoder = 8×8 average pooling of the [−1,1] image into latent channels 0..2 (×5, so scaled latents
 * have roughly the real model's range), channel 3 = 0, log-variance channels = −20. Decoder = the inverse
 * linear map and a bilinear ×8 upsampling.
 *
 * Text encoder: each token's embedding carries, in its first dims, the change its word makes to a 4×4
 * affine colour map in latent space (ΔM, Δb), a keyword count, an unknown-token count, and an intensity;
 * "black and white" is recognised as a pair. The UNet sums them over the sequence.
 *
 * UNet: each branch predicts the exact noise of a target, ε = (x − √ᾱ_t·target)/√(1−ᾱ_t), with ᾱ_t
 * interpolated from a 1000-entry σ table (float timesteps of Euler schedulers work too).
 * With c = the image-condition latents (unscaled) and A = I + g·ΔA the instruction's colour map:
 *   uncond (empty text, zero image) → target 0 (no information: the data mean)
 *   image  (empty text, image c)    → target c (reconstruct the input)
 *   text   (instruction, image c)   → target c + (A c − 1.5 c)/7.5 … written for the default scales:
 * dual guidance ε_u + 7.5(ε_t − ε_i) + 1.5(ε_i − ε_u) is the exact noise of 0.18215·A c, so sampling with the
 * default scales lands on the edited latents. Larger text scales overshoot (stronger, more saturated edits),
 * like a real model.
 */
import { GraphBuilder } from '../../src/edit/diffusion/onnx/builder';

export const HIDDEN = 768;
export const FEAT = 32; // the used dims of each token's embedding
export const D_DM = 0,
  D_DB = 16,
  D_KW = 20,
  D_UNK = 21,
  D_BLACK = 22,
  D_WHITE = 23,
  D_INTENSITY = 24;
export const VAE_GAIN = 5; // latent = 5·rgb (rgb in [−1,1]) → scaled latents within ±0.91
export const DEFAULT_TEXT_SCALE = 7.5,
  DEFAULT_IMAGE_SCALE = 1.5;

/** An affine colour map on RGB in [0,1]: c' = M c + b (M row-major 3×3). */
export interface ColourMap {
  M: number[];
  b: number[];
}

const LUMA = [0.299, 0.587, 0.114];
const I3 = [1, 0, 0, 0, 1, 0, 0, 0, 1];

function affine(M: number[], b: number[] = [0, 0, 0]): ColourMap {
  return { M, b };
}
function scale(k: number, lift = 0): ColourMap {
  return affine(
    I3.map((v) => v * k),
    [lift, lift, lift],
  );
}
/** (1−α)·c + α·(lo + hi·L(c))·colour: keeps the image's shading, moves its colour. */
function tint(colour: number[], alpha: number, lo = 0.2, hi = 1.0): ColourMap {
  const M: number[] = [];
  for (let r = 0; r < 3; r++) for (let k = 0; k < 3; k++) M.push((1 - alpha) * I3[r * 3 + k] + alpha * hi * colour[r] * LUMA[k]);
  return affine(
    M,
    colour.map((c) => alpha * lo * c),
  );
}
/** saturation s: 1 = unchanged, 0 = grey, > 1 more vivid */
function saturate(s: number): ColourMap {
  const M: number[] = [];
  for (let r = 0; r < 3; r++) for (let k = 0; k < 3; k++) M.push(s * I3[r * 3 + k] + (1 - s) * LUMA[k]);
  return affine(M);
}
function compose(a: ColourMap, b: ColourMap): ColourMap {
  // a ∘ b: c → a.M (b.M c + b.b) + a.b
  const M: number[] = [];
  for (let r = 0; r < 3; r++)
    for (let k = 0; k < 3; k++) M.push(a.M[r * 3] * b.M[k] + a.M[r * 3 + 1] * b.M[3 + k] + a.M[r * 3 + 2] * b.M[6 + k]);
  const v = [0, 1, 2].map((r) => a.M[r * 3] * b.b[0] + a.M[r * 3 + 1] * b.b[1] + a.M[r * 3 + 2] * b.b[2] + a.b[r]);
  return { M, b: v };
}

const GREY = saturate(0);
const SEPIA = affine([0.393, 0.769, 0.189, 0.349, 0.686, 0.168, 0.272, 0.534, 0.131]);

/** The edits, by group (the groups appear in the help message). */
export const EDITS: Record<string, Record<string, ColourMap>> = {
  colour: {
    red: tint([1.0, 0.12, 0.1], 0.85),
    green: tint([0.15, 0.85, 0.2], 0.85),
    blue: tint([0.12, 0.3, 1.0], 0.85),
    yellow: tint([1.0, 0.92, 0.15], 0.85),
    orange: tint([1.0, 0.5, 0.1], 0.85),
    purple: tint([0.6, 0.15, 0.85], 0.85),
    pink: tint([1.0, 0.55, 0.72], 0.8, 0.3),
    brown: tint([0.55, 0.33, 0.15], 0.8, 0.1),
  },
  material: {
    gold: tint([1.0, 0.78, 0.3], 0.85, 0.15, 1.15),
    golden: tint([1.0, 0.78, 0.3], 0.85, 0.15, 1.15),
    silver: tint([0.9, 0.93, 0.97], 0.85, 0.22, 0.85),
    bronze: tint([0.8, 0.5, 0.25], 0.85, 0.1, 1.0),
    copper: tint([0.85, 0.45, 0.3], 0.85, 0.1, 1.0),
  },
  tone: {
    darker: scale(0.55),
    dark: scale(0.55),
    brighter: scale(0.7, 0.3),
    bright: scale(0.7, 0.3),
    lighter: scale(0.7, 0.3),
    night: compose(
      affine(
        I3.map((v) => v * 0.35),
        [0.0, 0.01, 0.04],
      ),
      tint([0.55, 0.7, 1.25], 0.6, 0, 1),
    ),
    sepia: SEPIA,
    vintage: compose(scale(0.75, 0.12), SEPIA),
    grayscale: GREY,
    greyscale: GREY,
    monochrome: GREY,
    gray: GREY,
    grey: GREY,
    black: tint([1, 1, 1], 0.92, 0.02, 0.12),
    white: tint([1, 1, 1], 0.85, 0.72, 0.25),
    warmer: affine([1.1, 0, 0, 0, 1.0, 0, 0, 0, 0.85], [0.03, 0.01, 0]),
    cooler: affine([0.88, 0, 0, 0, 1.0, 0, 0, 0, 1.12], [0, 0.01, 0.03]),
    sunset: affine([1.15, 0, 0, 0, 0.85, 0, 0, 0, 0.65], [0.06, 0.02, 0]),
    winter: compose(scale(0.75, 0.25), tint([0.95, 1.0, 1.08], 0.5, 0, 1)),
    autumn: tint([1.0, 0.55, 0.2], 0.5),
    vivid: saturate(1.6),
    saturated: saturate(1.6),
    colorful: saturate(1.6),
    faded: saturate(0.45),
    pale: compose(scale(0.8, 0.2), saturate(0.5)),
    inverted: affine(
      I3.map((v) => -v),
      [1, 1, 1],
    ),
    negative: affine(
      I3.map((v) => -v),
      [1, 1, 1],
    ),
  },
};

/** "black and white" = grayscale (the text encoder recognises the pair). */
export const PAIR_BLACK_AND_WHITE = GREY;

export const FILLERS = (
  'make it the a an turn into to look looks like as if was were is are be change changed color colour colors colours of in with ' +
  'paint painted give them him her his its this that these those scene everything all object objects photo image picture please and so ' +
  'by at on made render style tone toned version whole entire some add apply filter effect convert become time lighting light shade ' +
  'tint tinted me us you i can could would do what how now then there here up more'
).split(' ');

export const MODIFIERS: Record<string, number> = {
  slightly: -0.5,
  bit: -0.5,
  little: -0.5,
  somewhat: -0.3,
  very: 0.5,
  much: 0.5,
  really: 0.5,
  extremely: 1.0,
  super: 0.8,
};

/** The colour map in latent space: ℓ = G(2c − 1) (channels 0..2, G = VAE_GAIN) → ℓ' = M ℓ + (G·M·1 + 2G·b − G). Returns ΔM (4×4) and Δb (4). */
export function latentDelta(m: ColourMap): { dM: number[]; db: number[] } {
  const dM = new Array(16).fill(0),
    db = new Array(4).fill(0);
  for (let r = 0; r < 3; r++) {
    let rowSum = 0;
    for (let k = 0; k < 3; k++) {
      dM[r * 4 + k] = m.M[r * 3 + k] - (r === k ? 1 : 0);
      rowSum += m.M[r * 3 + k];
    }
    db[r] = VAE_GAIN * rowSum + 2 * VAE_GAIN * m.b[r] - VAE_GAIN;
  }
  return { dM, db };
}

/** One embedding row per token id: [vocabSize × FEAT]. */
export function tokenTable(vocab: Map<string, number>, punctuation: Set<string>): Float32Array {
  let n = 0;
  for (const id of vocab.values()) n = Math.max(n, id + 1);
  const table = new Float32Array(n * FEAT);
  const edits = new Map<string, ColourMap>();
  for (const g of Object.values(EDITS)) for (const [w, m] of Object.entries(g)) edits.set(w, m);
  for (const [tok, id] of vocab) {
    const row = table.subarray(id * FEAT, (id + 1) * FEAT);
    if (tok === '<|startoftext|>' || tok === '<|endoftext|>') continue;
    if (!tok.endsWith('</w>')) {
      row[D_UNK] = 1; // a piece of a word the model does not know
      continue;
    }
    const w = tok.slice(0, -4);
    const m = edits.get(w);
    if (m) {
      const { dM, db } = latentDelta(m);
      row.set(dM, D_DM);
      row.set(db, D_DB);
      row[D_KW] = 1;
      if (w === 'black') row[D_BLACK] = 1;
      if (w === 'white') row[D_WHITE] = 1;
    } else if (w in MODIFIERS) row[D_INTENSITY] = MODIFIERS[w];
    else if (FILLERS.includes(w) || punctuation.has(w)) continue;
    else row[D_UNK] = 1;
  }
  return table;
}

/** The row added at a "black" followed (two tokens later) by "white": turns black + white into grayscale. */
function pairCorrection(): Float32Array {
  const row = new Float32Array(FEAT);
  const g = latentDelta(PAIR_BLACK_AND_WHITE),
    b = latentDelta(EDITS.tone.black),
    w = latentDelta(EDITS.tone.white);
  for (let i = 0; i < 16; i++) row[D_DM + i] = g.dM[i] - b.dM[i] - w.dM[i];
  for (let i = 0; i < 4; i++) row[D_DB + i] = g.db[i] - b.db[i] - w.db[i];
  row[D_KW] = -1; // two keywords, one edit
  return row;
}

/** Variants of the I/O (the tests build fp16 / int64-timestep / older-VAE variants of the same graphs). */
export interface GraphVariant {
  /** float16 inputs and outputs (computation stays float32 inside) */
  fp16?: boolean;
  /** UNet timestep input: dtype and rank (0 = scalar, 1 = [steps]); default float32 [steps] */
  timestep?: { dtype: 'float32' | 'float16' | 'int64'; rank: 0 | 1 };
  /** VAE encoder output name (older exports: latent_sample) */
  vaeOutput?: 'latent_parameters' | 'latent_sample';
}

function floatIn(g: GraphBuilder, name: string, shape: (number | string)[], v: GraphVariant): string {
  if (!v.fp16) return g.input(name, 'float32', shape);
  return g.op('Cast', [g.input(name, 'float16', shape)], { to: 1 });
}

/** Declares a float output computed as `value`; returns nothing (the output is named `name`). */
function floatOut(
  g: GraphBuilder,
  opType: string,
  inputs: string[],
  attrs: Record<string, any>,
  name: string,
  shape: (number | string)[],
  v: GraphVariant,
): void {
  if (!v.fp16) {
    g.op(opType, inputs, attrs, name);
    g.output(name, 'float32', shape);
    return;
  }
  g.op('Cast', [g.op(opType, inputs, attrs)], { to: 10 }, name);
  g.output(name, 'float16', shape);
}

const DOC =
  'instruct-scene built-in stand-in: an analytic colour/tone editor with the InstructPix2Pix ONNX interface. Not a learned model.';

export function buildTextEncoder(table: Float32Array, v: GraphVariant = {}): Uint8Array {
  const V = table.length / FEAT;
  const g = new GraphBuilder('text_encoder');
  const ids = g.input('input_ids', 'int64', ['batch_size', 'sequence_length']);
  const emb = g.op('Gather', [g.f32(table, [V, FEAT], 'token_table'), ids], { axis: 0 }); // [B,77,F]
  const ax2 = g.i64([2]),
    ax1 = g.i64([1]);
  const fb = g.op('Slice', [emb, g.i64([D_BLACK]), g.i64([D_BLACK + 1]), ax2]);
  const fw = g.op('Slice', [emb, g.i64([D_WHITE]), g.i64([D_WHITE + 1]), ax2]);
  const fw2 = g.op('Slice', [fw, g.i64([2]), g.i64([1 << 30]), ax1]); // white two tokens later
  const fw2p = g.op('Pad', [fw2, g.i64([0, 0, 0, 0, 2, 0])]);
  const pair = g.op('Mul', [fb, fw2p]); // [B,77,1]
  const corr = g.op('MatMul', [pair, g.f32(pairCorrection(), [1, FEAT])]);
  const e2 = g.op('Add', [emb, corr]);
  const hs = g.op('Pad', [e2, g.i64([0, 0, 0, 0, 0, HIDDEN - FEAT])]);
  floatOut(g, 'Identity', [hs], {}, 'last_hidden_state', ['batch_size', 'sequence_length', HIDDEN], v);
  floatOut(g, 'ReduceSum', [hs, ax1], { keepdims: 0 }, 'pooler_output', ['batch_size', HIDDEN], v);
  return g.toModel({ docString: DOC });
}

/** σ_t = √((1−ᾱ_t)/ᾱ_t) for the 1000 training timesteps. */
export function sigmaTable(alphasCumprod: Float32Array): Float32Array {
  return Float32Array.from(alphasCumprod, (a) => Math.sqrt((1 - a) / a));
}

export function buildUnet(
  alphasCumprod: Float32Array,
  v: GraphVariant = {},
  scales = { text: DEFAULT_TEXT_SCALE, image: DEFAULT_IMAGE_SCALE },
): Uint8Array {
  const T = alphasCumprod.length;
  const g = new GraphBuilder('unet');
  const sample = floatIn(g, 'sample', ['batch_size', 8, 'height', 'width'], v);
  const tv = v.timestep ?? { dtype: 'float32', rank: 1 };
  const tsIn = g.input('timestep', tv.dtype, tv.rank === 0 ? [] : ['steps']);
  const ts = tv.dtype === 'float32' ? tsIn : g.op('Cast', [tsIn], { to: 1 });
  const ehs = floatIn(g, 'encoder_hidden_states', ['batch_size', 'sequence_length', HIDDEN], v);
  const ax1 = g.i64([1]);
  const x = g.op('Slice', [sample, g.i64([0]), g.i64([4]), ax1]);
  const c = g.op('Slice', [sample, g.i64([4]), g.i64([8]), ax1]);
  const feat = g.op('ReduceSum', [ehs, ax1], { keepdims: 0 }); // [B,768]
  const sl = (a: number, b: number) => g.op('Slice', [feat, g.i64([a]), g.i64([b]), ax1]);
  const dM = g.op('Reshape', [sl(D_DM, D_DM + 16), g.i64([-1, 4, 4])]);
  const db = g.op('Reshape', [sl(D_DB, D_DB + 4), g.i64([-1, 4, 1])]);
  const zero = g.f32([0], []),
    one = g.f32([1], []);
  const instructed = g.op('Reshape', [g.op('Clip', [sl(D_KW, D_KW + 1), zero, one]), g.i64([-1, 1, 1])]);
  const gain = g.op('Reshape', [
    g.op('Clip', [g.op('Add', [sl(D_INTENSITY, D_INTENSITY + 1), one]), zero, g.f32([3], [])]),
    g.i64([-1, 1, 1]),
  ]);
  const cflat = g.op('Reshape', [c, g.i64([0, 4, -1])]); // [B,4,hw]
  const dAc = g.op('Mul', [g.op('Add', [g.op('MatMul', [dM, cflat]), db]), gain]); // g·ΔA c
  // text branch: c + (g·ΔA c − (s_I − 1)·c)/s_T; image/uncond branches (not instructed): c
  const shrink = g.op('Mul', [instructed, g.f32([scales.image - 1], [])]);
  const delta = g.op('Div', [g.op('Sub', [dAc, g.op('Mul', [shrink, cflat])]), g.f32([scales.text], [])]);
  const target = g.op('Reshape', [g.op('Add', [cflat, delta]), g.op('Shape', [c])]);
  const targetS = g.op('Mul', [target, g.f32([0.18215], [])]);
  // σ(t) by linear interpolation in the table, then √ᾱ = 1/√(1+σ²), √(1−ᾱ) = σ/√(1+σ²)
  const tf = g.op('Clip', [g.op('Reshape', [ts, g.i64([-1])]), zero, g.f32([T - 1], [])]);
  const t0 = g.op('Floor', [tf]);
  const w = g.op('Sub', [tf, t0]);
  const t1 = g.op('Min', [g.op('Add', [t0, one]), g.f32([T - 1], [])]);
  const table = g.f32(sigmaTable(alphasCumprod), [T], 'sigma_table');
  const s0 = g.op('Gather', [table, g.op('Cast', [t0], { to: 7 })], { axis: 0 });
  const s1 = g.op('Gather', [table, g.op('Cast', [t1], { to: 7 })], { axis: 0 });
  const sigma = g.op('Add', [s0, g.op('Mul', [w, g.op('Sub', [s1, s0])])]);
  const norm = g.op('Sqrt', [g.op('Add', [g.op('Mul', [sigma, sigma]), one])]);
  const sqrtAb = g.op('Reshape', [g.op('Div', [one, norm]), g.i64([-1, 1, 1, 1])]);
  const sqrt1mAb = g.op('Reshape', [g.op('Div', [sigma, norm]), g.i64([-1, 1, 1, 1])]);
  floatOut(
    g,
    'Div',
    [g.op('Sub', [x, g.op('Mul', [sqrtAb, targetS])]), sqrt1mAb],
    {},
    'out_sample',
    ['batch_size', 4, 'height', 'width'],
    v,
  );
  return g.toModel({ docString: DOC });
}

export function buildVaeEncoder(v: GraphVariant = {}): Uint8Array {
  const g = new GraphBuilder('vae_encoder');
  const s = floatIn(g, 'sample', ['batch_size', 3, 'height', 'width'], v);
  const pooled = g.op('AveragePool', [s], { kernel_shape: [8, 8], strides: [8, 8] });
  const W = new Float32Array(8 * 3),
    B = new Float32Array(8);
  for (let k = 0; k < 3; k++) W[k * 3 + k] = VAE_GAIN;
  for (let k = 4; k < 8; k++) B[k] = -20; // log-variance: (almost) deterministic
  floatOut(
    g,
    'Conv',
    [pooled, g.f32(W, [8, 3, 1, 1]), g.f32(B, [8])],
    { kernel_shape: [1, 1] },
    v.vaeOutput ?? 'latent_parameters',
    ['batch_size', 8, 'height_latent', 'width_latent'],
    v,
  );
  return g.toModel({ docString: DOC });
}

export function buildVaeDecoder(v: GraphVariant = {}): Uint8Array {
  const g = new GraphBuilder('vae_decoder');
  const z = floatIn(g, 'latent_sample', ['batch_size', 4, 'height_latent', 'width_latent'], v);
  const W = new Float32Array(3 * 4);
  for (let k = 0; k < 3; k++) W[k * 4 + k] = 1 / VAE_GAIN;
  const rgb = g.op('Conv', [z, g.f32(W, [3, 4, 1, 1])], { kernel_shape: [1, 1] });
  floatOut(
    g,
    'Resize',
    [rgb, '', g.f32([1, 1, 8, 8], [4])],
    { mode: 'linear', coordinate_transformation_mode: 'half_pixel' },
    'sample',
    ['batch_size', 3, 'height', 'width'],
    v,
  );
  return g.toModel({ docString: DOC });
}
