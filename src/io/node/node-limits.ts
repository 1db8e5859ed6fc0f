import { UserError } from '../../core/errors';
import { LIMIT_ENV, setLimitRaiseHint, setLimits, type Limits } from '../../core/limits';

/** The Node way to raise limit k: its environment variable. */
export const nodeLimitHint = (k: keyof Limits): string => `raise it with ${LIMIT_ENV[k]}=N`;

/**
 * Applies the `INSTRUCT_SCENE_MAX_…` environment variables (docs/limits.md) to the reader limits, and makes
 * over-limit messages name them.
 */
export function applyEnvLimits(env: NodeJS.ProcessEnv = process.env): void {
  setLimitRaiseHint(nodeLimitHint);
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
