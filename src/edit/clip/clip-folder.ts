/**
 * A CLIP model folder in Hugging Face's layout (`openai/clip-vit-base-patch32` and other CLIPModel
 * checkpoints): `config.json`, `model.safetensors` (or shards listed by `model.safetensors.index.json`),
 * `vocab.json` + `merges.txt` (or `tokenizer.json`). The checker reads only the safetensors headers (sizes
 * checked against the files before anything large is read) and names every problem; the loader reads the
 * tensors of the towers it needs.
 */
import { UserError } from '../../core/errors';
import { joinPath, resolveInside } from '../../core/paths';
import { parseJson, type FileSource } from '../../io/files/files';
import { ClipTokenizer, loadTokenizer } from '../diffusion/tokenizer/tokenizer';
import { parseClipConfig, type ClipConfig } from './clip-config';
import { checkTensors, loadClipWeights, type ClipWeights, type Tower } from './clip-weights';
import {
  headerLength,
  parseSafetensorsHeader,
  readSafetensors,
  tensorAsF32,
  type SafetensorsEntry,
  type SafetensorsFile,
} from './safetensors';

export interface ClipFolderCheck {
  dir: string;
  problems: string[];
  notes: string[];
  config: ClipConfig | null;
  /** the safetensors files read, with their tensor counts and dtypes */
  weights: { file: string; tensors: number; dtypes: string[] }[];
  tokenizer: { vocabSize: number; eosId: number } | null;
}

/** True when the folder looks like a CLIP checkpoint (config.json with model_type clip or text/vision configs). */
export async function isClipFolder(dir: string, files: FileSource): Promise<boolean> {
  const p = joinPath(dir, 'config.json');
  if (!(await files.exists(p))) return false;
  try {
    const j = parseJson(await files.read(p), p);
    return !!j && typeof j === 'object' && (j.model_type === 'clip' || (!!j.text_config && !!j.vision_config));
  } catch {
    return false;
  }
}

/** The safetensors files of the checkpoint (one, or the shards of an index). */
async function weightFiles(dir: string, files: FileSource): Promise<string[]> {
  const single = joinPath(dir, 'model.safetensors');
  if (await files.exists(single)) return [single];
  const index = joinPath(dir, 'model.safetensors.index.json');
  if (await files.exists(index)) {
    const j = parseJson(await files.read(index), index);
    const map = j?.weight_map;
    if (!map || typeof map !== 'object') throw new UserError('no "weight_map" object', index);
    const shards = [...new Set(Object.values(map as Record<string, unknown>))];
    if (!shards.length) throw new UserError('"weight_map" names no shard', index);
    // shard names stay inside the model folder (docs/limits.md)
    return shards.map((s) => resolveInside(dir, s, 'weight_map shard', index));
  }
  const bin = joinPath(dir, 'pytorch_model.bin');
  if (await files.exists(bin))
    throw new UserError(
      'no model.safetensors, only pytorch_model.bin (pickled PyTorch weights are not read); download the safetensors weights of the same checkpoint',
      dir,
    );
  throw new UserError('no model.safetensors (nor model.safetensors.index.json)', dir);
}

/** Reads just a safetensors file's header (8 + N bytes) when the source can read ranges, else the whole file. */
async function readHeader(path: string, files: FileSource): Promise<Map<string, SafetensorsEntry>> {
  const size = files.size ? await files.size(path) : null;
  if (files.readRange && size !== null) {
    const prefix = await files.readRange(path, 0, 8);
    const n = headerLength(prefix, size, path);
    return parseSafetensorsHeader(await files.readRange(path, 0, 8 + n), size, path).entries;
  }
  const bytes = await files.read(path);
  return parseSafetensorsHeader(bytes, bytes.byteLength, path).entries;
}

export async function readClipConfig(dir: string, files: FileSource): Promise<ClipConfig> {
  const p = joinPath(dir, 'config.json');
  if (!(await files.exists(p))) throw new UserError('no config.json (expected a Hugging Face CLIPModel folder)', dir);
  return parseClipConfig(parseJson(await files.read(p), p), p);
}

/** Checks a CLIP folder without loading its weights: every problem is one line naming the file and the tensor or key. */
export async function checkClipFolder(dir: string, files: FileSource): Promise<ClipFolderCheck> {
  const res: ClipFolderCheck = { dir, problems: [], notes: [], config: null, weights: [], tokenizer: null };
  const fail = (e: unknown) => {
    if (e instanceof UserError) res.problems.push(e.message);
    else throw e;
  };
  try {
    res.config = await readClipConfig(dir, files);
  } catch (e) {
    fail(e);
  }
  try {
    const all = new Map<string, SafetensorsEntry>();
    const fileOf = new Map<string, string>();
    for (const f of await weightFiles(dir, files)) {
      const entries = await readHeader(f, files);
      res.weights.push({ file: f, tensors: entries.size, dtypes: [...new Set([...entries.values()].map((e) => e.dtype))] });
      for (const [k, v] of entries) {
        all.set(k, v);
        fileOf.set(k, f);
      }
    }
    if (res.config) {
      const { problems, unexpected } = checkTensors(all, res.config);
      const where = (msg: string) => {
        const name = /tensor '([^']+)'/.exec(msg)?.[1];
        return `${(name && fileOf.get(name)) ?? res.weights[0]?.file ?? dir}: ${msg}`;
      };
      res.problems.push(...problems.map(where));
      if (!all.has('logit_scale')) res.notes.push('no logit_scale tensor: contrastive logits use logit_scale_init_value');
      if (unexpected.length)
        res.notes.push(`${unexpected.length} tensor${unexpected.length > 1 ? 's' : ''} not used by CLIPModel (e.g. '${unexpected[0]}')`);
    }
  } catch (e) {
    fail(e);
  }
  try {
    const tok = await loadTokenizer(dir, files);
    res.tokenizer = { vocabSize: tok.vocabSize, eosId: tok.eosId };
    if (res.config && tok.vocabSize > res.config.text.vocabSize)
      res.problems.push(`${dir}: the tokenizer has ${tok.vocabSize} tokens but text_config.vocab_size is ${res.config.text.vocabSize}`);
    if (res.config && tok.maxLength > res.config.text.maxPositions)
      res.notes.push(
        `the tokenizer's model_max_length ${tok.maxLength} exceeds max_position_embeddings ${res.config.text.maxPositions}; texts are cut to ${res.config.text.maxPositions} tokens`,
      );
  } catch (e) {
    fail(e);
  }
  return res;
}

export interface LoadedClipFolder {
  config: ClipConfig;
  weights: ClipWeights;
  tokenizer: ClipTokenizer;
}

/**
 * Loads config, tokenizer and the weights of the given towers (every tensor checked first; the first problem
 * throws). Sources that read byte ranges read only the tensors needed (the text tower's weights stay on disk
 * when only images are encoded); others read each file whole, once.
 */
export async function loadClipFolder(
  dir: string,
  files: FileSource,
  towers: readonly Tower[] = ['vision', 'text'],
): Promise<LoadedClipFolder> {
  const config = await readClipConfig(dir, files);
  const tokenizer = await loadTokenizer(dir, files);
  if (tokenizer.vocabSize > config.text.vocabSize)
    throw new UserError(`the tokenizer has ${tokenizer.vocabSize} tokens but text_config.vocab_size is ${config.text.vocabSize}`, dir);
  const all = new Map<string, SafetensorsEntry>();
  const read = new Map<string, () => Promise<Float32Array>>();
  const paths = await weightFiles(dir, files);
  for (const f of paths) {
    if (files.readRange && files.size) {
      const entries = await readHeader(f, files);
      for (const [k, e] of entries) {
        all.set(k, e);
        read.set(k, async () => {
          const bytes = await files.readRange!(f, e.begin, e.end - e.begin);
          if (bytes.byteLength !== e.end - e.begin) throw new UserError(`tensor '${k}': the file ended early`, f);
          const st: SafetensorsFile = { file: f, bytes, entries: new Map(), metadata: {}, dataStart: 0 };
          return tensorAsF32(st, { ...e, begin: 0, end: e.end - e.begin });
        });
      }
    } else {
      const st = readSafetensors(await files.read(f), f);
      for (const [k, e] of st.entries) {
        all.set(k, e);
        read.set(k, async () => tensorAsF32(st, e));
      }
    }
  }
  const weights = await loadClipWeights(all, config, towers, paths[0], (name) => read.get(name)!());
  return { config, weights, tokenizer };
}
