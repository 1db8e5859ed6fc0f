import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UserError } from '../core/errors';

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * Parses a command's flags strictly (unknown flags are errors). Adds --help and --json.
 * Returns null when --help was given (the usage has been printed).
 */
export function parseCommand(args: string[], usage: string, options: Options, opts: { positionals?: [number, number] } = {}) {
  const parsed = parseArgs({
    args,
    options: { help: { type: 'boolean', short: 'h' }, json: { type: 'boolean' }, ...options },
    allowPositionals: true,
    strict: true,
  });
  if (parsed.values.help) {
    console.log(usage);
    return null;
  }
  const [lo, hi] = opts.positionals ?? [0, 0];
  if (parsed.positionals.length < lo) throw new UserError(`missing argument\n${usage}`.split('\n').slice(0, 2).join(' — '));
  if (parsed.positionals.length > hi) throw new UserError(`unexpected argument '${parsed.positionals[hi]}'`);
  return parsed as { values: Record<string, string | boolean | undefined>; positionals: string[] };
}

export function intFlag(v: string | boolean | undefined, name: string, dflt: number, min = 1): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (typeof v !== 'string' || !Number.isInteger(n) || n < min) throw new UserError(`--${name} must be an integer ≥ ${min}, got '${v}'`);
  return n;
}

export function floatFlag(v: string | boolean | undefined, name: string, dflt: number, min = -Infinity, max = Infinity): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (typeof v !== 'string' || !Number.isFinite(n) || n < min || n > max)
    throw new UserError(`--${name} must be a number in [${min}, ${max}], got '${v}'`);
  return n;
}

export function requireFlag(v: string | boolean | undefined, name: string): string {
  if (typeof v !== 'string' || !v) throw new UserError(`--${name} is required`);
  return v;
}

export function choiceFlag<T extends string>(v: string | boolean | undefined, name: string, choices: readonly T[], dflt: T): T {
  if (v === undefined) return dflt;
  if (typeof v !== 'string' || !choices.includes(v as T)) throw new UserError(`--${name} must be one of ${choices.join(', ')}, got '${v}'`);
  return v as T;
}
