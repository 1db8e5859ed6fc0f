import { constants, promises as fs, type Stats } from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { UserError } from '../../core/errors';
import { limits, limitHint } from '../../core/limits';
import type { FileSink, FileSource, FileTransaction } from '../files/files';

/**
 * Local files for the platform-neutral loaders. Every read treats the file as hostile: only regular files
 * are read (named pipes, devices such as /dev/zero, sockets and folders are refused with one line, also
 * behind symlinks), the size is taken before opening and capped (limits.fileBytes, or the caller's cap),
 * the file is opened non-blocking and checked to be the same file, and reading stops at the size it had,
 * so a file that grows while we read cannot hang us or make us allocate without bound.
 */

/** What a non-regular file is, for the message. */
function kindOf(st: Stats): string {
  if (st.isDirectory()) return 'a folder';
  if (st.isFIFO()) return 'a named pipe (FIFO)';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/** One line for a failed stat / open, naming the path. */
export function fsError(e: unknown, p: string, doing = 'read'): UserError {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') {
    if (p.includes('\ufffd'))
      return new UserError(
        'no such file; its name is not valid UTF-8 as given (shown with \ufffd), and this program handles UTF-8 file names only: rename the file',
        p,
      );
    return new UserError('no such file', p);
  }
  if (code === 'ENOTDIR') return new UserError('no such file (a part of the path is a file, not a folder)', p);
  if (code === 'EACCES' || code === 'EPERM') return new UserError(`permission denied (cannot ${doing} it)`, p);
  if (code === 'ELOOP') return new UserError('too many levels of symbolic links (a symlink loop?)', p);
  if (code === 'ENAMETOOLONG') return new UserError('the path is too long', p);
  if (code === 'EISDIR') return new UserError('is a folder, expected a file', p);
  if (code === 'ENOSPC') return new UserError('the disk is full', p);
  if (code === 'EROFS') return new UserError(`the file system is read-only (cannot ${doing} it)`, p);
  return new UserError(`cannot ${doing} it (${code ?? (e as Error).message})`, p);
}

/** stat() that turns failures into one-line UserErrors and refuses anything but a regular file. */
export async function statRegularFile(p: string): Promise<Stats> {
  let st: Stats;
  try {
    st = await fs.stat(p);
  } catch (e) {
    throw fsError(e, p);
  }
  if (st.isDirectory()) throw new UserError('is a folder, expected a file', p);
  if (!st.isFile()) throw new UserError(`is ${kindOf(st)}, not a regular file; only regular files are read`, p);
  return st;
}

/**
 * Reads a whole regular file, at most `maxBytes` (default limits.fileBytes). See the module comment.
 */
export async function readRegularFile(p: string, maxBytes = limits.fileBytes): Promise<Uint8Array> {
  const st = await statRegularFile(p);
  if (st.size > maxBytes)
    throw new UserError(
      `is ${st.size.toLocaleString('en-US')} bytes, more than this reader takes (${maxBytes === limits.fileBytes ? limitHint('fileBytes') : `at most ${maxBytes.toLocaleString('en-US')} bytes`})`,
      p,
    );
  let fh: fs.FileHandle;
  try {
    fh = await fs.open(p, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (e) {
    throw fsError(e, p);
  }
  try {
    const st2 = await fh.stat();
    if (!st2.isFile() || st2.ino !== st.ino || st2.dev !== st.dev) throw new UserError('changed while it was being opened; try again', p);
    const size = st2.size;
    if (size > maxBytes) throw new UserError('grew past the size limit while it was being opened', p);
    const buf = new Uint8Array(size);
    let off = 0;
    while (off < size) {
      const { bytesRead } = await fh.read(buf, off, size - off, off);
      if (bytesRead === 0) break;
      off += bytesRead;
    }
    if (off < size) throw new UserError(`shrank while it was being read (${off} of ${size} bytes); try again`, p);
    const probe = new Uint8Array(1);
    if ((await fh.read(probe, 0, 1, size)).bytesRead !== 0)
      throw new UserError('grew while it was being read (is something still writing it?); try again when it is complete', p);
    return buf;
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw fsError(e, p);
  } finally {
    await fh.close();
  }
}

/** Temporary files this program writes: NAME.<12 hex>.tmp (atomic writes) and .NAME.partial-<12 hex> folders (staged exports). */
export const TMP_FILE = /\.[0-9a-f]{12}\.tmp$/;
export const PARTIAL_DIR = /^\..+\.partial-[0-9a-f]{12}$/;

/** Reads files from the local disk; a missing or unreadable file becomes a UserError naming it. */
export const nodeFiles: FileSource & FileSink = {
  async read(p: string, maxBytes?: number): Promise<Uint8Array> {
    return readRegularFile(p, maxBytes);
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
    // as readRegularFile: regular files only (a FIFO would block the open), opened non-blocking, the same file
    const st = await statRegularFile(p);
    let fh: fs.FileHandle | undefined;
    try {
      fh = await fs.open(p, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
      const st2 = await fh.stat();
      if (!st2.isFile() || st2.ino !== st.ino || st2.dev !== st.dev) throw new UserError('changed while it was being opened; try again', p);
      const size = st2.size;
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
      if (e instanceof UserError) throw e;
      throw fsError(e, p);
    } finally {
      await fh?.close();
    }
  },
  async write(p: string, data: Uint8Array | string): Promise<void> {
    await writeFileAtomic(p, data);
  },
  async mkdir(p: string): Promise<void> {
    try {
      await fs.mkdir(p, { recursive: true });
    } catch (e) {
      throw fsError(e, p, 'create the folder');
    }
  },
  transaction: (dir: string) => stageFolder(dir),
};

/** Writes a file atomically: a temp file beside it, then rename. Never leaves a half-written file. */
export async function writeFileAtomic(p: string, data: Uint8Array | string): Promise<void> {
  try {
    await fs.mkdir(path.dirname(p), { recursive: true });
  } catch (e) {
    throw fsError(e, path.dirname(p), 'create the folder');
  }
  const tmp = `${p}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await fs.writeFile(tmp, data);
    await fs.rename(tmp, p);
  } catch (e) {
    await fs.rm(tmp, { force: true });
    throw fsError(e, p, 'write');
  }
}

/**
 * A staged folder: files are written under a hidden `.NAME.partial-XXXX` folder inside `dir` (same file
 * system, so renames cannot run out of space), then `commit` renames each into place, `transforms.json` /
 * manifests last as the caller orders them. A failed or killed run leaves only the hidden folder, which the
 * next run's `prepareOutput` removes.
 */
export async function stageFolder(dir: string): Promise<FileTransaction> {
  try {
    await fs.mkdir(dir, { recursive: true });
  } catch (e) {
    throw fsError(e, dir, 'create the folder');
  }
  const root = path.join(dir, `.${path.basename(path.resolve(dir))}.partial-${randomBytes(6).toString('hex')}`);
  try {
    await fs.mkdir(root);
  } catch (e) {
    throw fsError(e, dir, 'write into the folder');
  }
  const written: string[] = [];
  return {
    async write(rel: string, data: Uint8Array | string) {
      const p = path.join(root, rel);
      try {
        await fs.mkdir(path.dirname(p), { recursive: true });
        await fs.writeFile(p, data);
      } catch (e) {
        throw fsError(e, path.join(dir, rel), 'write');
      }
      written.push(rel);
    },
    async commit(last: string[] = []) {
      const order = [...written.filter((r) => !last.includes(r)), ...last.filter((r) => written.includes(r))];
      try {
        for (const rel of order) {
          const to = path.join(dir, rel);
          await fs.mkdir(path.dirname(to), { recursive: true });
          await fs.rename(path.join(root, rel), to);
        }
      } catch (e) {
        throw fsError(e, dir, 'move the finished files into');
      } finally {
        await fs.rm(root, { recursive: true, force: true });
      }
    },
    async abort() {
      await fs.rm(root, { recursive: true, force: true });
    },
  };
}

export async function isDirectory(p: string): Promise<boolean> {
  try {
    return (await fs.stat(p)).isDirectory();
  } catch {
    return false;
  }
}
