import { fileURLToPath } from 'node:url';
import * as path from 'node:path';
import { UserError } from '../core/errors';
import { InstructPix2Pix } from '../edit/diffusion/pipeline';
import { isDirectory, nodeFiles } from '../io/node/node-files';
import { nodeRuntime } from '../io/node/node-ort';

/** The package's built-in stand-in model folder. */
export const BUILTIN_MODEL_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../models/builtin');

/** `builtin` → the package's models/builtin; anything else is a folder path. */
export async function resolveModelDir(model: string): Promise<string> {
  if (model === 'builtin') return BUILTIN_MODEL_DIR;
  if (!(await isDirectory(model))) {
    if (await nodeFiles.exists(model))
      throw new UserError(
        `expected a model folder (text_encoder/, unet/, vae_encoder/, vae_decoder/, tokenizer/, scheduler/), got a file`,
        model,
      );
    throw new UserError(
      `no such model folder; use --model builtin, or export InstructPix2Pix (README "Getting the InstructPix2Pix model")`,
      model,
    );
  }
  return model;
}

/** Loads the pipeline for --model (Node runtime). */
export async function loadPipelineFor(model: string, onProgress?: (msg: string) => void): Promise<InstructPix2Pix> {
  return InstructPix2Pix.load(await resolveModelDir(model), nodeFiles, nodeRuntime(), { onProgress });
}
