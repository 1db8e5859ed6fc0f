import { unzipSync } from 'fflate';
import { describeValue, UserError } from '../../core/errors';

/**
 * Zip reading (fflate) that trusts nothing the archive says: the central directory may name at most
 * `MAX_ZIP_ENTRIES` entries (a lying entry count would otherwise make the reader walk billions of records),
 * each entry's sizes are checked before anything is inflated — the compressed size within the file, the
 * uncompressed size within `maxEntryBytes` and within what deflate can expand (about 1032:1) — only stored and
 * deflated entries are read, and each entry must inflate to exactly the size it claims.
 */
export const MAX_ZIP_ENTRIES = 4096;

export interface ZipEntryInfo {
  name: string;
  /** compressed size */
  size: number;
  originalSize: number;
  compression: number;
}

/**
 * The entries of `bytes` that `want` selects (all entries are listed to `want`, in archive order), inflated.
 * `what` names the archive in messages ("SOG bundle").
 */
export function readZip(
  bytes: Uint8Array,
  file: string,
  what: string,
  want: (e: ZipEntryInfo) => boolean,
  maxEntryBytes: number,
): Record<string, Uint8Array> {
  let count = 0;
  const claimed = new Map<string, number>();
  let out: Record<string, Uint8Array>;
  try {
    out = unzipSync(bytes, {
      filter: (f) => {
        if (++count > MAX_ZIP_ENTRIES) throw new UserError(`${what} lists more than ${MAX_ZIP_ENTRIES} entries (corrupt zip?)`, file);
        const name = describeValue(f.name, 80);
        if (!(f.size >= 0 && f.size <= bytes.length && f.originalSize >= 0))
          throw new UserError(
            `${what} entry ${name} claims ${f.size} compressed bytes in a ${bytes.length}-byte file (corrupt zip?)`,
            file,
          );
        if (!want(f)) return false;
        if (f.compression !== 0 && f.compression !== 8)
          throw new UserError(
            `${what} entry ${name} uses compression method ${f.compression}; only stored and deflated entries are read`,
            file,
          );
        const most = f.compression === 0 ? f.size : f.size * 1100 + 1024;
        if (f.originalSize > most)
          throw new UserError(`${what} entry ${name} claims ${f.originalSize} bytes from ${f.size} compressed (corrupt zip?)`, file);
        if (f.originalSize > maxEntryBytes)
          throw new UserError(`${what} entry ${name} is ${f.originalSize} bytes, more than the ${maxEntryBytes} this reader takes`, file);
        claimed.set(f.name, f.originalSize);
        return true;
      },
    });
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError(`${what} is not a readable zip (${(e as Error)?.message ?? String(e)}; truncated file?)`, file);
  }
  for (const [name, b] of Object.entries(out))
    if (claimed.has(name) && b.length !== claimed.get(name))
      throw new UserError(
        `${what} entry ${describeValue(name, 80)} holds ${b.length} bytes, not the ${claimed.get(name)} it claims (corrupt zip?)`,
        file,
      );
  return out;
}
