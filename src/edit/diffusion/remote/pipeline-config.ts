/**
 * `pipeline_config`: the small files of a model folder that are not ONNX models (tokenizer, scheduler config,
 * model_index.json, builtin.json) served as a fifth model beside the four, so that a client needs nothing but the
 * server's URL. It is an ONNX graph with one constant output — a zip of those files — so every Open Inference
 * Protocol server that runs ONNX models serves it, Triton included (`models triton-repo` writes it), and the client
 * reads it with an ordinary inference call. Input `version` (INT32 [1]) is the bundle format the client reads; the
 * graph ignores it, so later formats can add models without breaking older clients.
 */
import { zipSync } from 'fflate';
import { UserError } from '../../../core/errors';
import { joinPath } from '../../../core/paths';
import type { FileSource } from '../../../io/files/files';
import { GraphBuilder } from '../onnx/builder';
import { readZip } from '../../../io/formats/zip';

export const PIPELINE_CONFIG = 'pipeline_config';
export const PIPELINE_CONFIG_INPUT = 'version';
export const PIPELINE_CONFIG_OUTPUT = 'files';
export const PIPELINE_CONFIG_VERSION = 1;

/** The files bundled, relative to the model folder (those present). */
export const PIPELINE_FILES = [
  'model_index.json',
  'builtin.json',
  'scheduler/scheduler_config.json',
  'tokenizer/tokenizer.json',
  'tokenizer/vocab.json',
  'tokenizer/merges.txt',
  'tokenizer/tokenizer_config.json',
  'tokenizer/special_tokens_map.json',
];

const MAX_FILE = 64 << 20;

/** Zips the folder's pipeline files (fixed timestamps: the same folder gives the same bytes). */
export async function pipelineBundle(dir: string, files: FileSource): Promise<Uint8Array> {
  const entries: Record<string, [Uint8Array, { mtime: Date }]> = {};
  for (const f of PIPELINE_FILES) {
    const p = joinPath(dir, f);
    if (await files.exists(p)) entries[f] = [await files.read(p), { mtime: new Date(Date.UTC(2000, 0, 1)) }];
  }
  return zipSync(entries, { level: 9 });
}

/** The `pipeline_config` ONNX model: `version` INT32 [1] → `files` UINT8 [N] = the bundle. */
export function pipelineConfigModel(bundle: Uint8Array): Uint8Array {
  const g = new GraphBuilder(PIPELINE_CONFIG);
  g.input(PIPELINE_CONFIG_INPUT, 'int32', [1]);
  const blob = g.initializer({ dtype: 'uint8', dims: [bundle.length], data: bundle }, 'bundle');
  g.op('Identity', [blob], {}, PIPELINE_CONFIG_OUTPUT);
  g.output(PIPELINE_CONFIG_OUTPUT, 'uint8', [bundle.length]);
  return g.toModel({
    docString: 'instruct-scene pipeline files (tokenizer, scheduler config, model_index.json) as a zip; see docs/remote-inference.md',
  });
}

/** The files of a bundle as a FileSource rooted at `root` (paths `root/tokenizer/vocab.json`, …). */
export function bundleFiles(zip: Uint8Array, root: string, what: string): FileSource {
  // entry counts and sizes checked before anything is inflated (src/io/formats/zip.ts)
  const entries = readZip(zip, what, `${PIPELINE_CONFIG} (the pipeline files)`, (f) => PIPELINE_FILES.includes(f.name), MAX_FILE);
  const byPath = new Map(Object.entries(entries).map(([k, v]) => [joinPath(root, k), v]));
  const dirs = new Set<string>();
  for (const k of byPath.keys())
    for (let d = k; d.includes('/'); d = d.slice(0, d.lastIndexOf('/'))) dirs.add(d.slice(0, d.lastIndexOf('/')));
  return {
    async read(p) {
      const b = byPath.get(joinPath(p));
      if (!b) throw new UserError(`no such file in the server's ${PIPELINE_CONFIG}`, p);
      return b;
    },
    async exists(p) {
      const n = joinPath(p);
      return byPath.has(n) || dirs.has(n);
    },
    async size(p) {
      return byPath.get(joinPath(p))?.byteLength ?? null;
    },
  };
}
