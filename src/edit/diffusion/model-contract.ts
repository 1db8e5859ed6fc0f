/**
 * The InstructPix2Pix model folder contract (the Hugging Face Optimum ONNX export layout; docs/instructpix2pix.md) and its checker: files present,
 * each ONNX graph's input/output names, ranks, fixed dims and dtypes, the accepted variants (timestep scalar or
 * [B], float or int; `latent_parameters` or older `latent_sample`; fp32 or fp16), external data files, tokenizer
 * and scheduler config. Reports every problem with the file it is in; used before the first run and by
 * `instruct-scene models check`.
 */
import { insidePathProblem, joinPath } from '../../core/paths';
import { UserError } from '../../core/errors';
import { parseJson, type FileSource } from '../../io/files/files';
import { ProtoError } from './onnx/proto';
import { formatSpec, readModelInfo, type ModelInfo, type ValueSpec } from './onnx/signature';

export const COMPONENTS = ['text_encoder', 'unet', 'vae_encoder', 'vae_decoder'] as const;
export type Component = (typeof COMPONENTS)[number];

export const FLOAT_TYPES = ['float32', 'float16'];
const INT_TYPES = ['int64', 'int32'];

interface Port {
  names: string[];
  dtypes: string[];
  ranks: number[];
  /** axis → required size (when the model fixes that axis) */
  fixed?: Record<number, number>;
  optional?: boolean;
  what: string;
}

const CONTRACT: Record<Component, { inputs: Port[]; outputs: Port[] }> = {
  text_encoder: {
    inputs: [{ names: ['input_ids'], dtypes: INT_TYPES, ranks: [2], fixed: { 1: 77 }, what: 'token ids [B,77]' }],
    outputs: [
      { names: ['last_hidden_state'], dtypes: FLOAT_TYPES, ranks: [3], fixed: { 1: 77 }, what: 'text states [B,77,768]' },
      { names: ['pooler_output'], dtypes: FLOAT_TYPES, ranks: [2], optional: true, what: 'pooled [B,768]' },
    ],
  },
  unet: {
    inputs: [
      { names: ['sample'], dtypes: FLOAT_TYPES, ranks: [4], fixed: { 1: 8 }, what: 'noisy + image latents [B,8,h,w]' },
      { names: ['timestep'], dtypes: [...FLOAT_TYPES, ...INT_TYPES], ranks: [0, 1], what: 'timestep (scalar or [B])' },
      { names: ['encoder_hidden_states'], dtypes: FLOAT_TYPES, ranks: [3], what: 'text states [B,77,768]' },
    ],
    outputs: [{ names: ['out_sample'], dtypes: FLOAT_TYPES, ranks: [4], fixed: { 1: 4 }, what: 'noise prediction [B,4,h,w]' }],
  },
  vae_encoder: {
    inputs: [{ names: ['sample'], dtypes: FLOAT_TYPES, ranks: [4], fixed: { 1: 3 }, what: 'image [B,3,H,W] in [-1,1]' }],
    outputs: [{ names: ['latent_parameters', 'latent_sample'], dtypes: FLOAT_TYPES, ranks: [4], what: 'latent mean+logvar [B,8,h,w]' }],
  },
  vae_decoder: {
    inputs: [{ names: ['latent_sample'], dtypes: FLOAT_TYPES, ranks: [4], fixed: { 1: 4 }, what: 'latents [B,4,h,w]' }],
    outputs: [{ names: ['sample'], dtypes: FLOAT_TYPES, ranks: [4], fixed: { 1: 3 }, what: 'image [B,3,H,W]' }],
  },
};

/** How this folder's models are to be fed (the variants found). */
export interface ModelVariant {
  /** element type of each input/output by component and name */
  dtypes: Record<Component, Record<string, string>>;
  timestepRank: 0 | 1;
  timestepDtype: string;
  idsDtype: string;
  /** the VAE encoder's output name, and its channels: 8 = mean+logvar, 4 = a latent sample (older exports) */
  vaeOutput: string;
  vaeOutputChannels: number;
  hiddenSize: number;
  /** UNet batch fixed by the export (1 → the three guidance branches run one by one); null when dynamic */
  unetBatch: number | null;
  /** latent size fixed by the UNet export, or null */
  latentSize: [number, number] | null;
  /** true when the UNet takes float16 */
  fp16: boolean;
}

export interface ComponentFile {
  path: string;
  info: ModelInfo;
  bytes: Uint8Array;
  externalData: { path: string; data?: Uint8Array }[];
}

export interface ModelCheck {
  /** the model folder, or the inference server's URL */
  dir: string;
  /** where tokenizer/, scheduler/, model_index.json and builtin.json are read from (the folder itself, or a server's pipeline_config bundle) */
  filesDir: string;
  source: 'folder' | 'server';
  problems: string[];
  notes: string[];
  components: Partial<Record<Component, ComponentFile>>;
  variant: ModelVariant | null;
  builtin: BuiltinInfo | null;
  schedulerConfig: Record<string, unknown> | null;
  modelIndex: Record<string, unknown> | null;
}

/** `builtin.json` of the project's stand-in model: what it understands. */
export interface BuiltinInfo {
  name: string;
  description: string;
  /** words that change the image, grouped for the help message */
  edits: Record<string, string[]>;
  /** words that are understood and change nothing ("make", "it", …) */
  fillers: string[];
  /** modifiers ("slightly", "very") */
  modifiers: string[];
}

const TWO_GB = 2 ** 31;

function portMatches(spec: ValueSpec, port: Port, file: string, problems: string[]): void {
  if (!port.dtypes.includes(spec.dtype))
    problems.push(`${file}: '${spec.name}' is ${spec.dtype}, expected ${port.dtypes.join(' or ')} (${port.what})`);
  if (!spec.shape) return; // unknown rank: nothing more to check
  if (!port.ranks.includes(spec.shape.length)) {
    problems.push(
      `${file}: '${spec.name}' has rank ${spec.shape.length} (${formatSpec(spec)}), expected rank ${port.ranks.join(' or ')} (${port.what})`,
    );
    return;
  }
  for (const [axis, size] of Object.entries(port.fixed ?? {})) {
    const d = spec.shape[Number(axis)];
    if (typeof d === 'number' && d !== size) {
      const hint =
        port.what.startsWith('noisy + image') && d === 4
          ? ' — a text-to-image Stable Diffusion UNet takes 4 channels; InstructPix2Pix takes 8 (noisy latents + image latents)'
          : '';
      problems.push(`${file}: '${spec.name}' has size ${d} on axis ${axis}, expected ${size} (${port.what})${hint}`);
    }
  }
}

function checkSignature(comp: Component, info: ModelInfo, file: string, problems: string[]): Record<string, ValueSpec> {
  const found: Record<string, ValueSpec> = {};
  const c = CONTRACT[comp];
  const inNames = info.inputs.map((i) => i.name);
  for (const port of c.inputs) {
    const spec = info.inputs.find((i) => port.names.includes(i.name));
    if (!spec) {
      problems.push(
        `${file}: missing input '${port.names[0]}' (${port.what}); the model's inputs are ${info.inputs.map(formatSpec).join(', ') || 'none'}`,
      );
      continue;
    }
    found[port.names[0]] = spec;
    portMatches(spec, port, file, problems);
  }
  const known = new Set(c.inputs.flatMap((p) => p.names));
  for (const n of inNames)
    if (!known.has(n))
      problems.push(
        `${file}: unexpected input '${n}' (an InstructPix2Pix ${comp} takes ${c.inputs.map((p) => p.names[0]).join(', ')}); is this a different kind of model?`,
      );
  for (const port of c.outputs) {
    const spec = info.outputs.find((o) => port.names.includes(o.name));
    if (!spec) {
      if (!port.optional)
        problems.push(
          `${file}: missing output '${port.names.join("' or '")}' (${port.what}); the model's outputs are ${info.outputs.map(formatSpec).join(', ') || 'none'}`,
        );
      continue;
    }
    found[port.names[0]] = spec;
    portMatches(spec, port, file, problems);
  }
  return found;
}

function dirOf(p: string): string {
  const i = p.lastIndexOf('/');
  return i < 0 ? '.' : p.slice(0, i);
}

/**
 * Checks a model folder. Never throws for problems in the folder (they are listed); throws UserError only
 * when `dir` itself cannot be read at all.
 * @param opts.readExternal also read external data files (needed to create sessions from bytes, e.g. in a browser)
 */
export async function checkModelFolder(dir: string, files: FileSource, opts: { readExternal?: boolean } = {}): Promise<ModelCheck> {
  const problems: string[] = [],
    notes: string[] = [];
  const components: Partial<Record<Component, ComponentFile>> = {};
  let anyFile = false;
  for (const comp of COMPONENTS) {
    const path = joinPath(dir, comp, 'model.onnx');
    if (!(await files.exists(path))) {
      let hint = '';
      const torchDir = comp.startsWith('vae') ? 'vae' : comp;
      for (const w of ['diffusion_pytorch_model.safetensors', 'diffusion_pytorch_model.bin', 'model.safetensors', 'pytorch_model.bin']) {
        if (await files.exists(joinPath(dir, torchDir, w))) {
          hint = ` — this looks like a PyTorch (diffusers) folder; export it to ONNX with optimum-cli (README "Getting the InstructPix2Pix model")`;
          break;
        }
      }
      problems.push(`${path}: missing (expected the ${comp} ONNX export here)${hint}`);
      continue;
    }
    anyFile = true;
    const size = files.size ? await files.size(path) : null;
    if (size !== null && size > TWO_GB)
      notes.push(
        `${path}: ${(size / 2 ** 30).toFixed(2)} GB in one protobuf; browsers cannot load files over 2 GB — export with external data (see README)`,
      );
    const bytes = await files.read(path);
    let info: ModelInfo;
    try {
      info = readModelInfo(bytes);
    } catch (e) {
      if (e instanceof ProtoError) {
        problems.push(`${path}: not an ONNX model (${e.message})`);
        continue;
      }
      throw e;
    }
    const externalData: ComponentFile['externalData'] = [];
    for (const loc of info.externalData) {
      const p = joinPath(dirOf(path), loc);
      if (insidePathProblem(loc)) {
        problems.push(`${path}: external data location '${loc}' leaves the model's folder`);
        continue;
      }
      if (!(await files.exists(p))) problems.push(`${p}: missing (external data of ${path})`);
      else externalData.push({ path: loc, data: opts.readExternal ? await files.read(p) : undefined });
    }
    components[comp] = { path, info, bytes, externalData };
  }
  if (!anyFile && !(await files.exists(joinPath(dir, 'model_index.json'))) && !(await files.exists(joinPath(dir, 'unet')))) {
    throw new UserError(
      `not an InstructPix2Pix model folder (no text_encoder/, unet/, vae_encoder/, vae_decoder/ with model.onnx); see README "Getting the InstructPix2Pix model"`,
      dir,
    );
  }
  return checkModelParts({ dir, filesDir: dir, files, components, problems, notes });
}

/**
 * The contract checks on the four models' signatures (however they were obtained: ONNX files, or an inference
 * server's metadata), their consistency, the variant to feed, and the tokenizer / scheduler / model_index.json /
 * builtin.json read from `files` under `filesDir`. `problems` and `notes` may already hold what the caller found
 * (missing models); the caller's components have paths that name where each model is.
 */
export async function checkModelParts(p: {
  dir: string;
  filesDir: string;
  files: FileSource;
  components: Partial<Record<Component, ComponentFile>>;
  problems: string[];
  notes: string[];
  source?: 'folder' | 'server';
}): Promise<ModelCheck> {
  const { dir, filesDir, files, components, problems, notes } = p;
  const found: Partial<Record<Component, Record<string, ValueSpec>>> = {};
  for (const comp of COMPONENTS) {
    const c = components[comp];
    if (c) found[comp] = checkSignature(comp, c.info, c.path, problems);
  }

  // Cross-component consistency and the variant to feed.
  let variant: ModelVariant | null = null;
  const te = found.text_encoder,
    un = found.unet,
    ve = found.vae_encoder,
    vd = found.vae_decoder;
  if (te && un && ve && vd && problems.length === 0) {
    const hid = te.last_hidden_state?.shape?.[2],
      ehs = un.encoder_hidden_states?.shape?.[2];
    if (typeof hid === 'number' && typeof ehs === 'number' && hid !== ehs)
      problems.push(
        `${components.unet!.path}: encoder_hidden_states width ${ehs} differs from the text encoder's last_hidden_state width ${hid}`,
      );
    const vaeOut = ve.latent_parameters;
    const vch = vaeOut.shape?.[1];
    const vaeChannels = typeof vch === 'number' ? vch : vaeOut.name === 'latent_parameters' ? 8 : 4;
    if (vaeChannels !== 8 && vaeChannels !== 4)
      problems.push(
        `${components.vae_encoder!.path}: '${vaeOut.name}' has ${vaeChannels} channels, expected 8 (mean and log-variance) or 4`,
      );
    if (vaeOut.name === 'latent_sample')
      notes.push(
        `${components.vae_encoder!.path}: older export with output 'latent_sample'${vaeChannels === 4 ? ' (4 channels: a latent sample, used as the mean)' : ''}`,
      );
    const ts = un.timestep;
    const b = un.sample.shape?.[0];
    const hh = un.sample.shape?.[2],
      ww = un.sample.shape?.[3];
    const dt = (c: Component) => Object.fromEntries(Object.values(found[c]!).map((v) => [v.name, v.dtype]));
    if (typeof b === 'number' && b !== 1 && b !== 3)
      problems.push(
        `${components.unet!.path}: batch fixed to ${b}; the pipeline needs a batch of 3 (or 1) — re-export with a dynamic batch axis`,
      );
    variant = {
      dtypes: { text_encoder: dt('text_encoder'), unet: dt('unet'), vae_encoder: dt('vae_encoder'), vae_decoder: dt('vae_decoder') },
      timestepRank: (ts.shape?.length ?? 1) === 0 ? 0 : 1,
      timestepDtype: ts.dtype,
      idsDtype: te.input_ids.dtype,
      vaeOutput: vaeOut.name,
      vaeOutputChannels: vaeChannels,
      hiddenSize: typeof hid === 'number' ? hid : typeof ehs === 'number' ? ehs : 768,
      unetBatch: typeof b === 'number' ? b : null,
      latentSize: typeof hh === 'number' && typeof ww === 'number' ? [hh, ww] : null,
      fp16: un.sample.dtype === 'float16',
    };
    if (variant.fp16) notes.push('fp16 model: inputs are fed as float16');
    if (variant.unetBatch === 1)
      notes.push(`${components.unet!.path}: batch fixed to 1; the three guidance branches run one after another`);
    if (variant.latentSize)
      notes.push(
        `${components.unet!.path}: latent size fixed to ${variant.latentSize.join('×')}; images are resized to ${variant.latentSize[1] * 8}×${variant.latentSize[0] * 8}`,
      );
  }

  // Tokenizer and scheduler.
  const tokDir = joinPath(filesDir, 'tokenizer');
  const hasTok =
    (await files.exists(joinPath(tokDir, 'tokenizer.json'))) ||
    ((await files.exists(joinPath(tokDir, 'vocab.json'))) && (await files.exists(joinPath(tokDir, 'merges.txt'))));
  if (!hasTok) problems.push(`${tokDir}: missing tokenizer files (vocab.json + merges.txt, or tokenizer.json)`);
  else {
    try {
      const { loadTokenizer } = await import('./tokenizer/tokenizer');
      const tok = await loadTokenizer(tokDir, files);
      if (tok.maxLength !== 77) problems.push(`${tokDir}: model_max_length is ${tok.maxLength}, the text encoder takes 77`);
    } catch (e) {
      if (e instanceof UserError) problems.push(e.message);
      else throw e;
    }
  }
  let schedulerConfig: Record<string, unknown> | null = null;
  const sp = joinPath(filesDir, 'scheduler', 'scheduler_config.json');
  if (!(await files.exists(sp))) problems.push(`${sp}: missing (the scheduler of the export; copy it from the HF repository)`);
  else {
    try {
      schedulerConfig = parseJson(await files.read(sp), sp);
      if (!schedulerConfig || typeof schedulerConfig !== 'object') throw new UserError('expected a JSON object', sp);
      const { createScheduler } = await import('./schedulers/schedulers');
      createScheduler(schedulerConfig, sp);
    } catch (e) {
      if (e instanceof UserError) problems.push(e.message);
      else throw e;
    }
  }
  let modelIndex: Record<string, unknown> | null = null;
  const mi = joinPath(filesDir, 'model_index.json');
  if (await files.exists(mi)) {
    try {
      modelIndex = parseJson(await files.read(mi), mi);
    } catch (e) {
      if (e instanceof UserError) problems.push(e.message);
      else throw e;
    }
  }
  let builtin: BuiltinInfo | null = null;
  const bp = joinPath(filesDir, 'builtin.json');
  if (await files.exists(bp)) {
    try {
      builtin = parseJson(await files.read(bp), bp) as BuiltinInfo;
      if (!builtin || typeof builtin.edits !== 'object' || !Array.isArray(builtin.fillers))
        throw new UserError('expected {name, edits, fillers, modifiers}', bp);
    } catch (e) {
      if (e instanceof UserError) problems.push(e.message);
      else throw e;
    }
  }
  return { dir, filesDir, source: p.source ?? 'folder', problems, notes, components, variant, builtin, schedulerConfig, modelIndex };
}
