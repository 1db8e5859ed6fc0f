import { UserError } from '../../core/errors';
import { limits, limitHint } from '../../core/limits';

/**
 * The file access that platform-neutral loaders need. Node implements it over `fs` (`node-files.ts`);
 * the browser over a dropped folder, OPFS or URLs.
 */
export interface FileSource {
  /**
   * Reads a whole file; rejects with a UserError naming the path when missing, not a regular file, or larger
   * than `maxBytes` (default: limits.fileBytes).
   */
  read(path: string, maxBytes?: number): Promise<Uint8Array>;
  exists(path: string): Promise<boolean>;
  /** Size in bytes, or null when missing. */
  size?(path: string): Promise<number | null>;
  /** Reads `length` bytes from byte `offset` (fewer at the end of the file); lets readers check a header before reading a large file. */
  readRange?(path: string, offset: number, length: number): Promise<Uint8Array>;
}

export interface FileSink {
  /** Writes a whole file atomically (temp file, then rename), creating folders as needed. */
  write(path: string, data: Uint8Array | string): Promise<void>;
  mkdir(path: string): Promise<void>;
  /** A staged folder whose files appear together on commit (Node: a hidden folder, then renames). */
  transaction?(dir: string): Promise<FileTransaction>;
}

/** Files written into a folder that appear all at once on `commit` (or not at all). */
export interface FileTransaction {
  /** Stages `dir/rel`. */
  write(rel: string, data: Uint8Array | string): Promise<void>;
  /** Moves every staged file into place; the files named in `last` last (manifests, transforms.json). */
  commit(last?: string[]): Promise<void>;
  /** Drops everything staged. */
  abort(): Promise<void>;
}

/** A transaction on `dir`: the sink's own, or plain atomic writes (each file on its own) where it has none. */
export async function openTransaction(files: FileSink, dir: string): Promise<FileTransaction> {
  if (files.transaction) return files.transaction(dir);
  await files.mkdir(dir);
  const staged: [string, Uint8Array | string][] = [];
  return {
    async write(rel, data) {
      staged.push([rel, data]);
    },
    async commit(last = []) {
      const order = [...staged.filter(([r]) => !last.includes(r)), ...staged.filter(([r]) => last.includes(r))];
      for (const [rel, data] of order) await files.write(`${dir.replace(/\/+$/, '')}/${rel}`, data);
    },
    async abort() {
      staged.length = 0;
    },
  };
}

/** Reads a JSON file (at most limits.jsonBytes) and parses it; every problem is one UserError naming it. */
export async function readJson(files: FileSource, path: string): Promise<any> {
  return parseJson(await files.read(path, limits.jsonBytes), path);
}

/** Deepest nesting any of our JSON files may have (real files nest a few levels; 10,000 overflows parsers' stacks). */
export const MAX_JSON_DEPTH = 256;

/** The deepest nesting of arrays / objects in JSON text (strings skipped); stops counting past MAX_JSON_DEPTH. */
export function jsonDepth(text: string): number {
  let depth = 0,
    max = 0,
    inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max && (max = depth) > MAX_JSON_DEPTH) return max;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return max;
}

/**
 * Parses JSON text; invalid UTF-8 and syntax errors are one UserError naming the file (the parser's message
 * with the quoted source snippet cut, so it stays one short line).
 */
export function parseJson(bytes: Uint8Array | string, file: string): any {
  const size = typeof bytes === 'string' ? bytes.length : bytes.length;
  if (size > limits.jsonBytes)
    throw new UserError(`JSON file of ${size.toLocaleString('en-US')} bytes is too large (${limitHint('jsonBytes')})`, file);
  let text: string;
  try {
    text = typeof bytes === 'string' ? bytes : new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new UserError('broken JSON (the file is not valid UTF-8 text)', file);
  }
  const depth = jsonDepth(text);
  if (depth > MAX_JSON_DEPTH) throw new UserError(`broken JSON (nested more than ${MAX_JSON_DEPTH} levels deep)`, file);
  try {
    return JSON.parse(text);
  } catch (e) {
    const msg = (e as Error).message
      .replace(/^JSON\.parse: /, '')
      .replace(/,? "[\s\S]*$/, '')
      .replace(/\s+/g, ' ')
      .trim();
    throw new UserError(`broken JSON (${msg || 'syntax error'})`, file);
  }
}
