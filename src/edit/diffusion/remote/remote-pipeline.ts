/**
 * The InstructPix2Pix pipeline on an inference server: the server's metadata of the four models is checked against
 * the model contract (the same checks and messages as `models check` on a folder), the tokenizer and scheduler
 * config come from its `pipeline_config` model, and the sessions run remotely (./remote-runtime.ts).
 */
import type { FileSource } from '../../../io/files/files';
import type { ModelInfo, ValueSpec } from '../onnx/signature';
import { checkModelParts, COMPONENTS, type Component, type ComponentFile, type ModelCheck } from '../model-contract';
import { InstructPix2Pix } from '../pipeline';
import type { TensorMetadata } from './oip-client';
import { ortTypeOf, isOipDatatype } from './oip-tensors';
import { bundleFiles, PIPELINE_CONFIG, PIPELINE_CONFIG_INPUT, PIPELINE_CONFIG_OUTPUT, PIPELINE_CONFIG_VERSION } from './pipeline-config';
import { RemoteRuntime, type RemoteRuntimeOptions } from './remote-runtime';
import { serverModelName } from './model-server-url';

export interface RemoteLoadOptions extends RemoteRuntimeOptions {
  onProgress?: (msg: string) => void;
  /** aborts the checks and downloads of loading */
  signal?: AbortSignal;
}

const NO_FILES: FileSource = {
  read: async (p) => {
    throw new Error(`${p}: not available`);
  },
  exists: async () => false,
};

/** A tensor of the server's metadata as the contract sees it: ONNX element type names, −1 → unknown size. */
function valueSpec(t: TensorMetadata): ValueSpec {
  const dtype = isOipDatatype(t.datatype) ? (t.datatype === 'FP64' ? 'double' : ortTypeOf(t.datatype)) : `unknown(${t.datatype})`;
  return { name: t.name, dtype, shape: t.shape.map((d) => (d < 0 ? null : d)) };
}

/** Triton declares a scalar timestep as [1] and a [batch] one as [batch, 1] (see remote-runtime.ts): the model's ranks. */
function modelFacing(comp: Component, spec: ValueSpec): ValueSpec {
  if (comp !== 'unet' || spec.name !== 'timestep' || !spec.shape) return spec;
  const s = spec.shape;
  if (s.length === 1 && s[0] === 1) return { ...spec, shape: [] };
  if (s.length === 2 && s[1] === 1) return { ...spec, shape: [s[0]] };
  return spec;
}

export interface ServerCheck {
  check: ModelCheck;
  /** the pipeline files (tokenizer, scheduler config …) read from the server's pipeline_config */
  files: FileSource;
  runtime: RemoteRuntime;
}

/**
 * Checks the models a server offers against the contract; never throws for what is wrong with them (listed in
 * `check.problems`), throws a RemoteError when the server cannot be reached or does not speak the protocol.
 */
export async function checkModelServer(runtime: RemoteRuntime, opts: RemoteLoadOptions = {}): Promise<ServerCheck> {
  const { client, server } = runtime;
  const problems: string[] = [],
    notes: string[] = [];
  const components: Partial<Record<Component, ComponentFile>> = {};
  const prefixHint = server.prefix
    ? ` (the URL's last path segment '${server.prefix}' is taken for a model-name prefix; end the URL with '/' for none)`
    : ' (for a server that prefixes its model names, add the prefix to the URL: http://HOST:PORT/PREFIX)';
  opts.onProgress?.(`checking the models on ${server.base}`);
  for (const comp of COMPONENTS) {
    const name = serverModelName(server.prefix, comp);
    const url = runtime.modelUrl(name);
    const meta = await client.modelMetadata(name, opts.signal);
    if (!meta) {
      problems.push(`${url}: missing (the server has no model '${name}')${prefixHint}`);
      continue;
    }
    if (!(await client.modelReady(name, opts.signal))) problems.push(`${url}: not ready (the server has the model but has not loaded it)`);
    const info: ModelInfo = {
      irVersion: 0,
      opset: 0,
      producer: meta.platform ?? '',
      docString: '',
      inputs: meta.inputs.map((t) => modelFacing(comp, valueSpec(t))),
      outputs: meta.outputs.map((t) => valueSpec(t)),
      externalData: [],
    };
    components[comp] = { path: runtime.register(name, meta), info, bytes: new Uint8Array(), externalData: [] };
  }
  const pcName = serverModelName(server.prefix, PIPELINE_CONFIG);
  let files = NO_FILES;
  const pcMeta = await client.modelMetadata(pcName, opts.signal);
  if (!pcMeta)
    problems.push(
      `${runtime.modelUrl(pcName)}: missing (the tokenizer and scheduler config of the pipeline); 'instruct-scene serve' serves it, and 'instruct-scene models triton-repo' writes it into a Triton repository`,
    );
  else {
    opts.onProgress?.(`reading the tokenizer and scheduler config (${pcName})`);
    const out = await client.infer(
      pcName,
      [{ name: PIPELINE_CONFIG_INPUT, datatype: 'INT32', shape: [1], data: new Int32Array([PIPELINE_CONFIG_VERSION]) }],
      { outputs: [PIPELINE_CONFIG_OUTPUT], signal: opts.signal },
    );
    const zip = out[PIPELINE_CONFIG_OUTPUT];
    if (!zip || zip.datatype !== 'UINT8') problems.push(`${runtime.modelUrl(pcName)}: expected a UINT8 output '${PIPELINE_CONFIG_OUTPUT}'`);
    else files = bundleFiles(zip.data as Uint8Array, pcName, runtime.modelUrl(pcName));
  }
  const check = await checkModelParts({ dir: server.url, filesDir: pcName, files, components, problems, notes, source: 'server' });
  // the pipeline files' problems name their path inside pipeline_config: say which server
  const inFiles = `${pcName}/`;
  check.problems = check.problems
    .filter((p) => files !== NO_FILES || !p.startsWith(inFiles))
    .map((p) => (p.startsWith(inFiles) ? `${server.base}: ${p}` : p));
  return { check, files, runtime };
}

/**
 * Loads the pipeline from a server: `url` is `http(s)://HOST:PORT[/PREFIX]` (or a RemoteRuntime to keep, e.g.
 * to `abortAll` when an edit is cancelled). Throws one UserError listing the problems when the server's models do
 * not fit the contract.
 */
export async function loadRemotePipeline(url: string | RemoteRuntime, opts: RemoteLoadOptions = {}): Promise<InstructPix2Pix> {
  const runtime = typeof url === 'string' ? new RemoteRuntime(url, opts) : url;
  const { check, files } = await checkModelServer(runtime, opts);
  return InstructPix2Pix.open(check, files, runtime, opts);
}
