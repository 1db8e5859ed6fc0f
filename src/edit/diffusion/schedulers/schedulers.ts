/**
 * Diffusion schedulers built from a diffusers `scheduler_config.json`: Euler-ancestral (the released
 * InstructPix2Pix scheduler), Euler and DDIM, with diffusers' defaults for keys a config leaves out
 * (docs/instructpix2pix.md § Schedulers).
 */
import { UserError } from '../../../core/errors';
import { parseJson, type FileSource } from '../../../io/files/files';
import { ConfigReader, type Scheduler } from './scheduler-common';
import { DdimScheduler } from './scheduler-ddim';
import { EulerScheduler } from './scheduler-euler';

export type { Scheduler, SchedulerConfig } from './scheduler-common';
export { DdimScheduler } from './scheduler-ddim';
export { EulerScheduler } from './scheduler-euler';

export const SUPPORTED_SCHEDULERS = ['EulerAncestralDiscreteScheduler', 'EulerDiscreteScheduler', 'DDIMScheduler'] as const;
export type SchedulerClass = (typeof SUPPORTED_SCHEDULERS)[number];

/**
 * Creates the scheduler a config names (`_class_name`). `overrides` are merged over the config first, e.g.
 * `{ _class_name: 'DDIMScheduler' }` to run a model's schedule with DDIM (as Instruct-NeRF2NeRF does), or
 * `{ eta: 1 }` for stochastic DDIM. Keys the config leaves out take the class's diffusers defaults.
 */
export function createScheduler(config: object, file = 'scheduler_config.json', overrides: Record<string, unknown> = {}): Scheduler {
  if (!config || typeof config !== 'object' || Array.isArray(config)) throw new UserError('expected a JSON object', file);
  const raw = { ...(config as Record<string, unknown>), ...overrides };
  const name = raw._class_name;
  if (typeof name !== 'string' || !(SUPPORTED_SCHEDULERS as readonly string[]).includes(name)) {
    throw new UserError(
      `${name === undefined ? 'no "_class_name"' : `scheduler ${JSON.stringify(name)} is not supported`}; supported: ${SUPPORTED_SCHEDULERS.join(', ')}`,
      file,
    );
  }
  const r = new ConfigReader(raw, file);
  if (name === 'DDIMScheduler') return DdimScheduler.fromConfig(r, name);
  return EulerScheduler.fromConfig(r, name, name === 'EulerAncestralDiscreteScheduler');
}

/** Reads `scheduler_config.json` and creates its scheduler. */
export async function loadScheduler(path: string, files: FileSource, overrides: Record<string, unknown> = {}): Promise<Scheduler> {
  return createScheduler(parseJson(await files.read(path), path), path, overrides);
}
