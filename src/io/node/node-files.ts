import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { UserError } from '../../core/errors';
import type { FileSink, FileSource } from '../files/files';

/** Reads files from the local disk; a missing or unreadable file becomes a UserError naming it. */
export const nodeFiles: FileSource & FileSink = {
  async read(p: string): Promise<Uint8Array> {
    try {
      const b = await fs.readFile(p);
      return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw new UserError('no such file', p);
      if (code === 'EISDIR') throw new UserError('is a folder, expected a file', p);
      if (code === 'EACCES') throw new UserError('permission denied', p);
      throw new UserError(`cannot read (${(e as Error).message})`, p);
    }
  },
  async exists(p: string): Promise<boolean> {
    try {
      await fs.access(p);
      return true;
    } catch {
      return false;
    }
  },
  async size(p: string): Promise<number | null> {
    try {
      return (await fs.stat(p)).size;
    } catch {
      return null;
    }
  },
  async readRange(p: string, offset: number, length: number): Promise<Uint8Array> {
    let fh: fs.FileHandle | undefined;
    try {
      fh = await fs.open(p, 'r');
      const size = (await fh.stat()).size;
      const n = Math.max(0, Math.min(length, size - offset));
      const buf = new Uint8Array(n);
      let got = 0;
      while (got < n) {
        const { bytesRead } = await fh.read(buf, got, n - got, offset + got);
        if (!bytesRead) break;
        got += bytesRead;
      }
      return buf.subarray(0, got);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new UserError('no such file', p);
      throw new UserError(`cannot read (${(e as Error).message})`, p);
    } finally {
      await fh?.close();
    }
  },
  async write(p: string, data: Uint8Array | string): Promise<void> {
    await writeFileAtomic(p, data);
  },
  async mkdir(p: string): Promise<void> {
    await fs.mkdir(p, { recursive: true });
  },
};

/** Writes a file atomically: a temp file beside it, then rename. Never leaves a half-written file. */
export async function writeFileAtomic(p: string, data: Uint8Array | string): Promise<void> {
  await fs.mkdir(path.dirname(p), { recursive: true });
  const tmp = `${p}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await fs.writeFile(tmp, data);
    await fs.rename(tmp, p);
  } catch (e) {
    await fs.rm(tmp, { force: true });
    throw new UserError(`cannot write (${(e as Error).message})`, p);
  }
}

export async function isDirectory(p: string): Promise<boolean> {
  try {
    return (await fs.stat(p)).isDirectory();
  } catch {
    return false;
  }
}
