import { Gunzip } from 'fflate';
import { UserError } from '../../core/errors';

/**
 * Gunzips `bytes` without trusting any size the stream claims: the first `headBytes` decompressed bytes are
 * handed to `sizeFromHead`, which returns the total size the content says it has (or throws); the output is
 * allocated once at that size, and decoding stops with a one-line error as soon as the stream produces more.
 * This bounds memory by what the (checked) header promises, never by the gzip trailer or a decompression bomb.
 */
export function gunzipBounded(
  bytes: Uint8Array,
  file: string,
  what: string,
  headBytes: number,
  sizeFromHead: (head: Uint8Array) => number,
): Uint8Array {
  let head = new Uint8Array(headBytes);
  let headFill = 0;
  let out: Uint8Array | null = null;
  let fill = 0;
  const over = new Error('over');
  const g = new Gunzip((chunk) => {
    let c = chunk;
    if (!out) {
      const take = Math.min(c.length, headBytes - headFill);
      head.set(c.subarray(0, take), headFill);
      headFill += take;
      c = c.subarray(take);
      if (headFill < headBytes) return;
      const total = sizeFromHead(head);
      if (!Number.isSafeInteger(total) || total < headBytes) throw new UserError(`${what}: bad header sizes`, file);
      out = new Uint8Array(total);
      out.set(head);
      fill = headBytes;
      head = new Uint8Array(0);
    }
    if (fill + c.length > out.length) throw over;
    out.set(c, fill);
    fill += c.length;
  });
  try {
    g.push(bytes, true);
  } catch (e) {
    if (e === over) throw new UserError(`${what}: the compressed data holds more bytes than its header says (corrupt file?)`, file);
    if (e instanceof UserError) throw e;
    throw new UserError(`${what}: the gzip stream is corrupt or truncated (${(e as Error).message})`, file);
  }
  if (!out) throw new UserError(`${what}: the file ends before its ${headBytes}-byte header (truncated file?)`, file);
  const o: Uint8Array = out;
  if (fill < o.length)
    throw new UserError(`${what}: the data ends after ${fill} of the ${o.length} bytes its header promises (truncated file?)`, file);
  return o;
}
