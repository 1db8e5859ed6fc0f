/**
 * Generates models/builtin/ — the built-in stand-in model (see models/build/builtin-graphs.ts):
 *   node bin/run-ts.mjs models/build-builtin.ts [--out models/builtin]
 * Deterministic: running it again gives the same bytes.
 */
import { joinPath } from '../src/core/paths';
import { nodeFiles } from '../src/io/node/node-files';
import { bytesToUnicode, ClipTokenizer } from '../src/edit/diffusion/tokenizer/tokenizer';
import {
  EDITS,
  FILLERS,
  MODIFIERS,
  buildTextEncoder,
  buildUnet,
  buildVaeDecoder,
  buildVaeEncoder,
  tokenTable,
  type GraphVariant,
} from './build/builtin-graphs';

export const SCHEDULER_CONFIG = {
  _class_name: 'EulerAncestralDiscreteScheduler',
  _diffusers_version: '0.15.0',
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  beta_start: 0.00085,
  num_train_timesteps: 1000,
  prediction_type: 'epsilon',
  steps_offset: 1,
  trained_betas: null,
};

const PUNCTUATION = ['.', ',', '!', '?', ';', ':', "'", '"', '-', '&'];

/** ᾱ_t of the scaled-linear schedule, accumulated in double precision. */
export function alphasCumprod(cfg = SCHEDULER_CONFIG): Float32Array {
  const T = cfg.num_train_timesteps,
    a = Math.sqrt(cfg.beta_start),
    b = Math.sqrt(cfg.beta_end);
  const out = new Float32Array(T);
  let p = 1;
  for (let i = 0; i < T; i++) {
    const s = a + ((b - a) * i) / (T - 1);
    p *= 1 - s * s;
    out[i] = p;
  }
  return out;
}

/** Trains byte-level BPE merges on the model's own words until each word is one token (ties broken alphabetically). */
export function trainMerges(words: string[]): [string, string][] {
  const table = bytesToUnicode();
  const enc = new TextEncoder();
  const seqs = words.map((w) => {
    const s = [...enc.encode(w)].map((b) => table[b]);
    s[s.length - 1] += '</w>';
    return s;
  });
  const merges: [string, string][] = [];
  for (;;) {
    const counts = new Map<string, number>();
    for (const s of seqs)
      for (let i = 0; i < s.length - 1; i++) counts.set(s[i] + '\n' + s[i + 1], (counts.get(s[i] + '\n' + s[i + 1]) ?? 0) + 1);
    if (counts.size === 0) break;
    let best = '',
      bc = -1;
    for (const [k, c] of counts) if (c > bc || (c === bc && k < best)) [best, bc] = [k, c];
    const [a, b] = best.split('\n');
    merges.push([a, b]);
    for (const s of seqs) {
      for (let i = 0; i < s.length - 1; i++) if (s[i] === a && s[i + 1] === b) s.splice(i, 2, a + b);
    }
  }
  return merges;
}

export function builtinVocabulary(): { vocab: Map<string, number>; merges: [string, string][]; words: string[] } {
  const editWords = Object.values(EDITS).flatMap((g) => Object.keys(g));
  const words = [...new Set([...editWords, ...FILLERS, ...Object.keys(MODIFIERS)])].sort();
  const merges = trainMerges(words);
  const table = bytesToUnicode();
  const printable: string[] = [],
    other: string[] = [];
  for (let b = 0; b < 256; b++) (table[b].charCodeAt(0) === b ? printable : other).push(table[b]);
  const bytes = [...printable, ...other];
  const tokens = [...bytes, ...bytes.map((c) => c + '</w>'), ...merges.map(([a, b]) => a + b), '<|startoftext|>', '<|endoftext|>'];
  const vocab = new Map<string, number>();
  for (const t of tokens) if (!vocab.has(t)) vocab.set(t, vocab.size);
  return { vocab, merges, words };
}

/** Writes the model folder to `out` (a variant with other I/O dtypes/names when asked: the tests' fp16 and older-export folders). */
export async function buildBuiltin(out: string, variant: GraphVariant = {}): Promise<{ files: Record<string, number> }> {
  const { vocab, merges, words } = builtinVocabulary();
  // Every word must come out as exactly one token of the real tokenizer.
  const tok = new ClipTokenizer(vocab, merges);
  for (const w of words) {
    const t = tok.tokenize(w);
    if (t.length !== 1 || t[0] !== w + '</w>') throw new Error(`builtin vocabulary: '${w}' tokenizes as ${JSON.stringify(t)}`);
  }
  const files: Record<string, Uint8Array | string> = {};
  const ac = alphasCumprod();
  files['text_encoder/model.onnx'] = buildTextEncoder(tokenTable(vocab, new Set(PUNCTUATION)), variant);
  files['unet/model.onnx'] = buildUnet(ac, variant);
  files['vae_encoder/model.onnx'] = buildVaeEncoder(variant);
  files['vae_decoder/model.onnx'] = buildVaeDecoder(variant);
  files['tokenizer/vocab.json'] = JSON.stringify(Object.fromEntries(vocab));
  files['tokenizer/merges.txt'] = '#version: 0.2\n' + merges.map(([a, b]) => `${a} ${b}`).join('\n') + '\n';
  const special = { bos_token: '<|startoftext|>', eos_token: '<|endoftext|>', pad_token: '<|endoftext|>', unk_token: '<|endoftext|>' };
  files['tokenizer/special_tokens_map.json'] = JSON.stringify(special, null, 2) + '\n';
  files['tokenizer/tokenizer_config.json'] =
    JSON.stringify(
      {
        ...special,
        add_prefix_space: false,
        do_lower_case: true,
        errors: 'replace',
        model_max_length: 77,
        tokenizer_class: 'CLIPTokenizer',
      },
      null,
      2,
    ) + '\n';
  files['scheduler/scheduler_config.json'] = JSON.stringify(SCHEDULER_CONFIG, null, 2) + '\n';
  files['model_index.json'] =
    JSON.stringify(
      {
        _class_name: 'StableDiffusionInstructPix2PixPipeline',
        _diffusers_version: '0.15.0',
        _name_or_path: 'instruct-scene/builtin-stand-in',
        scheduler: ['diffusers', 'EulerAncestralDiscreteScheduler'],
        text_encoder: ['optimum', 'ORTModelTextEncoder'],
        tokenizer: ['transformers', 'CLIPTokenizer'],
        unet: ['optimum', 'ORTModelUnet'],
        vae_decoder: ['optimum', 'ORTModelVaeDecoder'],
        vae_encoder: ['optimum', 'ORTModelVaeEncoder'],
      },
      null,
      2,
    ) + '\n';
  files['builtin.json'] =
    JSON.stringify(
      {
        name: 'instruct-scene built-in stand-in (analytic colour/tone editor, not a learned model)',
        description:
          'Same files, names, shapes and dtypes as an optimum export of InstructPix2Pix, so it runs through the same pipeline. Its VAE is 8×8 pooling, its text encoder maps known words to colour maps, its UNet predicts the exact noise of the colour-mapped condition image. Generated by models/build-builtin.ts.',
        edits: Object.fromEntries(Object.entries(EDITS).map(([g, m]) => [g, Object.keys(m)])),
        fillers: FILLERS,
        modifiers: Object.keys(MODIFIERS),
      },
      null,
      2,
    ) + '\n';
  const sizes: Record<string, number> = {};
  for (const [p, d] of Object.entries(files)) {
    await nodeFiles.write(joinPath(out, p), d);
    sizes[p] = typeof d === 'string' ? new TextEncoder().encode(d).length : d.length;
  }
  return { files: sizes };
}

if (process.argv[1] && /build-builtin\.ts$/.test(process.argv[1])) {
  const i = process.argv.indexOf('--out');
  const out = i > 0 ? process.argv[i + 1] : 'models/builtin';
  const { files } = await buildBuiltin(out);
  const total = Object.values(files).reduce((a, b) => a + b, 0);
  for (const [p, n] of Object.entries(files)) console.log(`${String(n).padStart(9)}  ${out}/${p}`);
  console.log(`${String(total).padStart(9)}  total bytes`);
}
