import { UserError } from '../../core/errors';

/**
 * The file access that platform-neutral loaders need. Node implements it over `fs` (`node-files.ts`);
 * the browser over a dropped folder, OPFS or URLs.
 */
export interface FileSource {
  /** Reads a whole file; rejects with a UserError naming the path when missing. */
  read(path: string): Promise<Uint8Array>;
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
}

export function parseJson(bytes: Uint8Array | string, file: string): any {
  const text = typeof bytes === 'string' ? bytes : new TextDecoder().decode(bytes);
  try {
    return JSON.parse(text);
  } catch (e) {
    const msg = (e as Error).message.replace(/^JSON\.parse: /, '');
    throw new UserError(`broken JSON (${msg})`, file);
  }
}
