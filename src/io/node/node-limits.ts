import { UserError } from '../../core/errors';
import { LIMIT_ENV, setLimits, type Limits } from '../../core/limits';

/** Applies the `INSTRUCT_SCENE_MAX_…` environment variables (docs/limits.md) to the reader limits. */
export function applyEnvLimits(env: NodeJS.ProcessEnv = process.env): void {
  const partial: Partial<Limits> = {};
  for (const [k, name] of Object.entries(LIMIT_ENV) as [keyof Limits, string][]) {
    const v = env[name];
    if (v === undefined || v === '') continue;
    const n = Number(v);
    if (!/^\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n <= 0)
      throw new UserError(`${name} must be a positive integer, got '${v.slice(0, 40)}'`);
    partial[k] = n;
  }
  setLimits(partial);
}
