import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, lstatSync, rmSync, symlinkSync, writeFileSync, readlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { UserError } from '../../../src/core/errors';
import { Rng } from '../../../src/core/rng';
import { FS_MUTATIONS, mutateBytes, type FsMutation } from './mutate';
import type { FuzzReader, FuzzSeed } from './readers';

/**
 * One fuzz case, in-process: the seed's files are written to a fresh folder, the target is mutated (bytes,
 * or — rarely — replaced by a named pipe, /dev/zero, a folder, an empty file, a dangling or escaping
 * symlink), the reader runs, and the outcome is classified:
 *   accepted  the reader returned and its check found nothing wrong
 *   clean     a UserError (the one-line refusal the CLI prints)
 *   internal  any other exception (the CLI's "internal error, this is a bug", exit 70)
 *   garbage   accepted, but the check found NaN, sizes that disagree, output we would refuse …
 * plus `modified` (a file of the case folder changed, appeared or vanished) and `multiline` (a refusal whose
 * message holds a line break or other control character before the CLI's one-line formatting).
 */
export type Outcome = 'accepted' | 'clean' | 'internal' | 'garbage';

export interface CaseResult {
  reader: string;
  index: number;
  outcome: Outcome;
  message?: string;
  modified: boolean;
  multiline: boolean;
  mutation: string;
  ms: number;
}

/** The seed of case `index` of a campaign seeded `seed` for `reader` (stable across runs and machines). */
export function caseSeed(seed: number, reader: string, index: number): number {
  const h = createHash('sha256').update(`${seed}:${reader}:${index}`).digest();
  return h.readUInt32LE(0);
}

function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string, pre: string) => {
    for (const e of readdirSync(d)) {
      const p = join(d, e);
      const st = lstatSync(p);
      if (st.isSymbolicLink()) out.set(pre + e, 'link:' + readlinkSync(p));
      else if (st.isDirectory()) {
        out.set(pre + e, 'dir');
        walk(p, `${pre}${e}/`);
      } else if (st.isFile()) out.set(pre + e, createHash('sha256').update(readFileSync(p)).digest('hex') + ':' + st.mtimeMs);
      else out.set(pre + e, 'special');
    }
  };
  walk(dir, '');
  return out;
}

function applyFsMutation(p: string, m: FsMutation): void {
  rmSync(p, { force: true, recursive: true });
  if (m === 'fifo') execFileSync('mkfifo', [p]);
  else if (m === 'dev-zero') symlinkSync('/dev/zero', p);
  else if (m === 'folder') mkdirSync(p);
  else if (m === 'empty') writeFileSync(p, '');
  else if (m === 'dangling') symlinkSync(join(dirname(p), 'does-not-exist'), p);
  else symlinkSync('/etc/passwd', p);
}

/** Writes the case's input into `dir` (emptied first) and returns a description of the mutation. */
export function prepareCase(seeds: FuzzSeed[], rng: Rng, dir: string, fsRate = 0.03): string {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const seed = seeds[rng.int(seeds.length)];
  for (const [rel, bytes] of Object.entries(seed.files)) {
    mkdirSync(dirname(join(dir, rel)), { recursive: true });
    writeFileSync(join(dir, rel), bytes);
  }
  const target = join(dir, seed.target);
  if (rng.next() < fsRate) {
    const m = FS_MUTATIONS[rng.int(FS_MUTATIONS.length)];
    applyFsMutation(target, m);
    return `${seed.target}: ${m}`;
  }
  writeFileSync(target, mutateBytes(seed.files[seed.target], seed.kind, rng));
  return `${seed.target}: bytes`;
}

export async function runCase(reader: FuzzReader, seeds: FuzzSeed[], seed: number, index: number, dir: string): Promise<CaseResult> {
  const rng = new Rng(caseSeed(seed, reader.name, index));
  const mutation = prepareCase(seeds, rng, dir);
  const before = snapshot(dir);
  const t0 = performance.now();
  let outcome: Outcome;
  let message: string | undefined;
  let multiline = false;
  try {
    const v = await reader.read(dir);
    const problem = await reader.check(v);
    outcome = problem ? 'garbage' : 'accepted';
    message = problem ?? undefined;
  } catch (e) {
    message = (e as Error)?.message ?? String(e);
    if (e instanceof UserError) {
      outcome = 'clean';
      multiline = [...message].some((c) => c.charCodeAt(0) < 0x20);
    } else outcome = 'internal';
  }
  const ms = performance.now() - t0;
  const after = snapshot(dir);
  const modified = before.size !== after.size || [...before].some(([k, v]) => after.get(k) !== v);
  return { reader: reader.name, index, outcome, message, modified, multiline, mutation, ms };
}
