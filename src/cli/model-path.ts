import { fileURLToPath } from 'node:url';
import * as path from 'node:path';
import { UserError } from '../core/errors';
import { InstructPix2Pix } from '../edit/diffusion/pipeline';
import { isModelUrl } from '../edit/diffusion/remote/model-server-url';
import type { RemoteRuntimeOptions } from '../edit/diffusion/remote/remote-runtime';
import { isDirectory, nodeFiles } from '../io/node/node-files';
import { nodeRuntime } from '../io/node/node-ort';

/** The package's built-in stand-in model folder. */
export const BUILTIN_MODEL_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../models/builtin');

export { isModelUrl };

/** `builtin` → the package's models/builtin; anything else is a folder path. */
export async function resolveModelDir(model: string): Promise<string> {
  if (model === 'builtin') return BUILTIN_MODEL_DIR;
  if (isModelUrl(model)) throw new UserError('is a model server; this command needs a model folder (or builtin)', model);
  if (!(await isDirectory(model))) {
    if (await nodeFiles.exists(model))
      throw new UserError(
        `expected a model folder (text_encoder/, unet/, vae_encoder/, vae_decoder/, tokenizer/, scheduler/), got a file`,
        model,
      );
    throw new UserError(
      `no such model folder; use --model builtin, a model server's URL (http://HOST:PORT), or export InstructPix2Pix (README "Getting the InstructPix2Pix model")`,
      model,
    );
  }
  return model;
}

function envNumber(name: string, lo: number, hi: number): number | undefined {
  const v = process.env[name];
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < lo || n > hi) throw new UserError(`${name} must be a number in [${lo}, ${hi}], got '${v}'`);
  return n;
}

/** Client options for model servers, from INSTRUCT_SCENE_REMOTE_TIMEOUT (seconds per call) and INSTRUCT_SCENE_REMOTE_RETRIES. */
export function remoteOptionsFromEnv(): RemoteRuntimeOptions {
  const timeout = envNumber('INSTRUCT_SCENE_REMOTE_TIMEOUT', 0.01, 86400);
  const retries = envNumber('INSTRUCT_SCENE_REMOTE_RETRIES', 0, 20);
  return {
    timeoutMs: timeout === undefined ? undefined : timeout * 1000,
    retries: retries === undefined ? undefined : Math.round(retries),
    timeoutHint: 'set INSTRUCT_SCENE_REMOTE_TIMEOUT=SECONDS',
  };
}

/** Loads the pipeline for --model: builtin, a folder (Node runtime) or a model server's URL. */
export async function loadPipelineFor(model: string, onProgress?: (msg: string) => void): Promise<InstructPix2Pix> {
  if (isModelUrl(model)) {
    const { loadRemotePipeline } = await import('../edit/diffusion/remote/remote-pipeline');
    return loadRemotePipeline(model, { ...remoteOptionsFromEnv(), onProgress });
  }
  return InstructPix2Pix.load(await resolveModelDir(model), nodeFiles, nodeRuntime(), { onProgress });
}
