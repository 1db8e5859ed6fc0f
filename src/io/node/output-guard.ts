import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { UserError } from '../../core/errors';
import { PARTIAL_DIR, TMP_FILE } from './node-files';

/**
 * Checks an output path before any work starts (every command that writes calls this first):
 * - it is not an input and not inside an input folder, comparing real paths (symlinks resolved), so
 *   `render SCENE --dataset D --out D`, `fit D --out D` or `convert IN LINK/IN` never touch an input;
 * - it can be written: the output folder (or the nearest folder that exists above it) takes a probe file,
 *   so a read-only or missing location is one line now, not an EACCES after the work is done;
 * - leftovers of a killed run are removed: `*.XXXXXXXXXXXX.tmp` files of atomic writes and hidden
 *   `.NAME.partial-XXXXXXXXXXXX` staging folders (only names of exactly those shapes).
 */
export interface OutputSpec {
  /** The path the command writes. */
  out: string;
  /** 'dir': a folder the command fills; 'file': one file. */
  kind: 'dir' | 'file';
  /** Paths the command reads (files or folders; missing ones are ignored here: their readers report them). */
  inputs: (string | undefined)[];
  /** Flag that named the output, for messages (default `--out`). */
  flag?: string;
}

/** The real path of `p`, resolving symlinks of the part that exists (the rest is appended as written). */
export async function realPathOf(p: string): Promise<string> {
  const abs = path.resolve(p);
  const rest: string[] = [];
  let cur = abs;
  for (;;) {
    try {
      const real = await fs.realpath(cur);
      return rest.length ? path.join(real, ...rest.reverse()) : real;
    } catch {
      const parent = path.dirname(cur);
      if (parent === cur) return abs;
      rest.push(path.basename(cur));
      cur = parent;
    }
  }
}

function inside(child: string, parent: string): boolean {
  const rel = path.relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

async function statOrNull(p: string) {
  try {
    return await fs.stat(p);
  } catch {
    return null;
  }
}

export async function prepareOutput(spec: OutputSpec): Promise<void> {
  const flag = spec.flag ?? '--out';
  const out = spec.out;
  const realOut = await realPathOf(out);
  for (const input of spec.inputs) {
    if (!input) continue;
    const st = await statOrNull(input);
    if (!st) continue;
    const realIn = await realPathOf(input);
    if (realOut === realIn)
      throw new UserError(`${flag} is an input (${input}); choose another ${flag} (inputs are never overwritten)`, out);
    if (st.isDirectory() && inside(realOut, realIn))
      throw new UserError(`${flag} lies inside the input folder ${input}; choose a ${flag} outside it (inputs are never modified)`, out);
    if (!st.isDirectory() && spec.kind === 'dir' && inside(realIn, realOut) && path.dirname(realIn) === realOut)
      throw new UserError(`${flag} is the folder holding the input ${input}; choose another ${flag} (inputs are never modified)`, out);
  }
  const st = await statOrNull(out);
  if (st) {
    if (spec.kind === 'dir' && !st.isDirectory()) throw new UserError(`${flag} exists and is not a folder`, out);
    if (spec.kind === 'file' && !st.isFile()) throw new UserError(`${flag} exists and is not a regular file`, out);
  }
  // the folder that will receive the files: the output folder, or the nearest existing one above it
  let probeDir = spec.kind === 'dir' ? path.resolve(out) : path.dirname(path.resolve(out));
  for (;;) {
    const s = await statOrNull(probeDir);
    if (s) {
      if (!s.isDirectory()) throw new UserError(`cannot create ${flag}: ${probeDir} is a file, not a folder`, out);
      break;
    }
    const parent = path.dirname(probeDir);
    if (parent === probeDir) break;
    probeDir = parent;
  }
  const probe = path.join(probeDir, `.instruct-scene-probe-${randomBytes(6).toString('hex')}`);
  try {
    await fs.writeFile(probe, '');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why =
      code === 'EROFS'
        ? 'the file system is read-only'
        : code === 'EACCES' || code === 'EPERM'
          ? 'permission denied'
          : code === 'ENOSPC'
            ? 'the disk is full'
            : `${code ?? (e as Error).message}`;
    throw new UserError(`cannot write here (${why} in ${probeDir}); choose another ${flag}`, out);
  } finally {
    await fs.rm(probe, { force: true });
  }
  await removeLeftovers(spec);
}

/**
 * Removes this program's temporary files from an earlier, killed run (see prepareOutput): in the output folder
 * and the sub-folders this program writes (`images/`, `edited/`, `views/`), files named `NAME.<12 hex>.tmp`, and the
 * output's own staging folders `.OUT.partial-<12 hex>`; for a file output, `OUT.<12 hex>.tmp` beside it.
 * Nothing else is touched, so pointing --out at a folder with other things in it is safe.
 */
export async function removeLeftovers(spec: Pick<OutputSpec, 'out' | 'kind'>): Promise<number> {
  let removed = 0;
  const sweep = async (dir: string, keep: (name: string) => boolean, partialPrefix?: string) => {
    let entries;
    try {
      entries = await fs.readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(dir, e.name);
      if (e.isFile() && TMP_FILE.test(e.name) && keep(e.name)) {
        await fs.rm(p, { force: true });
        removed++;
      } else if (e.isDirectory() && partialPrefix && e.name.startsWith(partialPrefix) && PARTIAL_DIR.test(e.name)) {
        await fs.rm(p, { recursive: true, force: true });
        removed++;
      }
    }
  };
  if (spec.kind === 'dir') {
    const out = path.resolve(spec.out);
    await sweep(out, () => true, `.${path.basename(out)}.partial-`);
    for (const sub of ['images', 'edited', 'views']) await sweep(path.join(out, sub), () => true);
  } else {
    const base = path.basename(spec.out);
    await sweep(path.dirname(path.resolve(spec.out)), (n) => n.startsWith(base + '.') && n.length === base.length + 17);
  }
  return removed;
}

/** The folder a dataset argument stands for (a `.json` file's folder, or the folder itself). */
export function datasetRoot(p: string | undefined): string | undefined {
  if (p === undefined) return undefined;
  return /\.json$/i.test(p) ? path.dirname(p) : p;
}
