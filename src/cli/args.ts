import { existsSync } from 'node:fs';
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
  for (const v of [...parsed.positionals, ...Object.values(parsed.values)])
    if (typeof v === 'string' && v.includes('\ufffd') && !existsSync(v))
      throw new UserError(
        `the argument '${v}' is not valid UTF-8 (shown with \ufffd); this program reads UTF-8 text and file names only: rename the file (e.g. with convmv) or pass another path`,
      );
  const [lo, hi] = opts.positionals ?? [0, 0];
  if (parsed.positionals.length < lo) throw new UserError(`missing argument\n${usage}`.split('\n').slice(0, 2).join(' — '));
  if (parsed.positionals.length > hi) throw new UserError(`unexpected argument '${parsed.positionals[hi]}'`);
  return parsed as { values: Record<string, string | boolean | undefined>; positionals: string[] };
}

/**
 * Upper bounds of integer flags (docs/limits.md). Beyond these a value is a typo or an attack, not a request:
 * `--iters 1e12` would run for centuries, `--batch 100000000` allocate gigabytes before the first step.
 */
export const FLAG_MAX: Record<string, number> = {
  iters: 1_000_000,
  batch: 65_536,
  rays: 65_536,
  res: 1024,
  'max-gaussians': 32 * 1024 * 1024,
  'max-images': 100_000,
  views: 10_000,
  orbit: 10_000,
  steps: 1000,
  seed: 2 ** 32 - 1,
  downscale: 1024,
  size: 8192,
  'edit-every': 1_000_000,
  'edit-count': 100_000,
  'checkpoint-every': 1_000_000,
  'densify-every': 1_000_000,
  'densify-until': 1_000_000,
  'sds-levels': 4,
  dilate: 10_000,
};

/** A decimal number as typed (`12`, `-0.5`, `1e3`); no hex, no blanks, no empty string. */
const NUMBER_TEXT = /^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i;

/** An integer flag in [min, max] (max defaults to FLAG_MAX[name]). */
export function intFlag(
  v: string | boolean | undefined,
  name: string,
  dflt: number,
  min = 1,
  max = FLAG_MAX[name] ?? Number.MAX_SAFE_INTEGER,
): number {
  if (v === undefined) return dflt;
  const n = typeof v === 'string' && NUMBER_TEXT.test(v.trim()) ? Number(v) : NaN;
  if (Number.isInteger(n) && n > max) throw new UserError(`--${name} must be at most ${max.toLocaleString('en-US')}, got '${v}'`);
  if (!Number.isSafeInteger(n) || n < min) throw new UserError(`--${name} must be an integer ≥ ${min}, got '${v}'`);
  return n;
}

export function floatFlag(v: string | boolean | undefined, name: string, dflt: number, min = -Infinity, max = Infinity): number {
  if (v === undefined) return dflt;
  const n = typeof v === 'string' && NUMBER_TEXT.test(v.trim()) ? Number(v) : NaN;
  if (!Number.isFinite(n) || n < min || n > max) throw new UserError(`--${name} must be a number in [${min}, ${max}], got '${v}'`);
  return n;
}

/**
 * Longest --instruction: the text encoder reads 77 tokens (a few hundred characters at most); a longer text
 * is a mistake (and onnxruntime-node crashes on command lines of about 30 KB, see src/io/node/node-ort.ts).
 */
export const MAX_INSTRUCTION = 1000;

/** The --instruction flag: required, not blank, at most MAX_INSTRUCTION characters. */
export function instructionFlag(v: string | boolean | undefined): string {
  const s = requireFlag(v, 'instruction');
  if (!s.trim()) throw new UserError('--instruction is empty');
  if (s.length > MAX_INSTRUCTION)
    throw new UserError(
      `--instruction is ${s.length.toLocaleString('en-US')} characters; at most ${MAX_INSTRUCTION} are accepted (the model reads only its first 77 tokens)`,
    );
  return s;
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
