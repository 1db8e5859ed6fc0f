import { UserError } from '../../core/errors';
import { basename, dirname, extname, resolveInside } from '../../core/paths';
import type { Gaussians } from '../../nerf/gaussian/gaussians';
import type { FileSource } from '../files/files';
import { isCompressedPlyHeader, readCompressedPly, writeCompressedPly } from './compressed-ply';
import { checkCount, firstBytes, type GaussianReadOptions } from './gaussian-limits';
import { parsePlyHeader, readGaussianPly, writeGaussianPly } from './ply';
import { isZip, parseSogMeta, readSog, readSogBundle } from './sog';
import { isSpz, loadZstdCompressor, readSpz, writeSpz } from './spz';
import { readSplat, writeSplat } from './splat';

/**
 * The Gaussian file formats and their detection by content. The kind comes from the bytes (PLY header,
 * SPZ magic or gzip, zip, JSON), the name only decides between what bytes cannot tell apart (.splat has no
 * header); errors name the kind that was detected.
 */
export type GaussianFormat = 'ply' | 'compressed-ply' | 'spz' | 'sog' | 'sog-meta' | 'splat';

export const FORMAT_NAMES: Record<GaussianFormat, string> = {
  ply: '3DGS PLY',
  'compressed-ply': 'compressed PLY',
  spz: 'SPZ',
  sog: 'SOG bundle',
  'sog-meta': 'SOG meta.json',
  splat: '.splat',
};

/** File names the readers take (for pickers and messages). */
export const GAUSSIAN_EXTENSIONS = ['.ply', '.compressed.ply', '.spz', '.sog', '.splat', 'meta.json'];

/** What a name suggests (null: nothing). */
export function formatFromName(path: string): GaussianFormat | null {
  const p = path.toLowerCase();
  if (p.endsWith('.compressed.ply')) return 'compressed-ply';
  if (p.endsWith('.ply')) return 'ply';
  if (p.endsWith('.spz')) return 'spz';
  if (p.endsWith('.sog')) return 'sog';
  if (p.endsWith('.splat')) return 'splat';
  if (basename(p) === 'meta.json') return 'sog-meta';
  return null;
}

/** True when a path names a file one of the Gaussian readers takes. */
export function isGaussianFileName(path: string): boolean {
  return formatFromName(path) !== null;
}

/** The format of a file's bytes (name used only for headerless .splat). */
export function detectGaussianFormat(bytes: Uint8Array, path: string): GaussianFormat {
  if (bytes.length >= 4 && bytes[0] === 0x70 && bytes[1] === 0x6c && bytes[2] === 0x79 && (bytes[3] === 0x0a || bytes[3] === 0x0d))
    return isCompressedPlyHeader(parsePlyHeader(bytes, path, formatFromName(path) === 'compressed-ply' ? 'compressed PLY' : 'PLY'))
      ? 'compressed-ply'
      : 'ply';
  if (isSpz(bytes)) return 'spz';
  if (isZip(bytes)) return 'sog';
  let i = 0;
  while (
    i < bytes.length &&
    i < 64 &&
    (bytes[i] === 0x20 ||
      bytes[i] === 0x0a ||
      bytes[i] === 0x0d ||
      bytes[i] === 0x09 ||
      bytes[i] === 0xef ||
      bytes[i] === 0xbb ||
      bytes[i] === 0xbf)
  )
    i++;
  if (bytes[i] === 0x7b) return 'sog-meta';
  if (formatFromName(path) === 'splat') return 'splat';
  throw new UserError(
    `not a Gaussian file this program reads (PLY, compressed PLY, SPZ, SOG .sog or meta.json, .splat); it starts with bytes ${firstBytes(bytes) || '(empty file)'}`,
    path,
  );
}

/** Reads a Gaussian file of any supported format; `files` supplies a SOG meta.json's images. */
export async function readGaussians(
  bytes: Uint8Array,
  path: string,
  files: FileSource | null,
  opts?: GaussianReadOptions,
): Promise<{ gaussians: Gaussians; format: GaussianFormat }> {
  const format = detectGaussianFormat(bytes, path);
  const named = formatFromName(path);
  try {
    let g: Gaussians;
    switch (format) {
      case 'ply': {
        const vertex = parsePlyHeader(bytes, path).elements.find((e) => e.name === 'vertex');
        if (vertex) checkCount(vertex.count, path, 'this PLY file', opts);
        opts?.onProgress?.(0);
        g = readGaussianPly(bytes, path);
        opts?.onProgress?.(1);
        break;
      }
      case 'compressed-ply':
        g = readCompressedPly(bytes, path, opts);
        break;
      case 'spz':
        g = readSpz(bytes, path, opts);
        break;
      case 'sog':
        g = await readSogBundle(bytes, path, opts);
        break;
      case 'sog-meta': {
        const meta = parseSogMeta(bytes, path);
        const dir = dirname(path);
        g = await readSog(
          meta,
          async (name) => {
            const p = resolveInside(dir, name, 'SOG image', path);
            if (!files || !(await files.exists(p))) throw new UserError(`SOG image '${name}' (named in meta.json) is missing`, path);
            return files.read(p);
          },
          path,
          opts,
        );
        break;
      }
      case 'splat':
        checkCount(Math.floor(bytes.length / 32), path, 'this .splat file', opts);
        opts?.onProgress?.(0);
        g = readSplat(bytes, path);
        opts?.onProgress?.(1);
        break;
    }
    // an empty scene renders nothing and cannot be written as .splat (an empty .splat is no file at all)
    if (g.count === 0) throw new UserError(`this ${FORMAT_NAMES[format]} file holds no Gaussians (nothing to render or edit)`, path);
    return { gaussians: g, format };
  } catch (e) {
    if (e instanceof UserError && named && named !== format && !(format === 'compressed-ply' && named === 'ply'))
      throw new UserError(`${e.message} (the content is ${FORMAT_NAMES[format]}, although the name suggests ${FORMAT_NAMES[named]})`);
    throw e;
  }
}

export interface EncodeOptions {
  /** SPZ version for .spz outputs (3 default, or 4). */
  spzVersion?: 3 | 4;
}

/** Output formats by name: .ply, .compressed.ply, .spz, .splat. */
export async function encodeGaussians(g: Gaussians, path: string, opts: EncodeOptions = {}): Promise<Uint8Array> {
  const f = formatFromName(path);
  if (f === 'compressed-ply') return writeCompressedPly(g);
  if (f === 'ply') return writeGaussianPly(g);
  if (f === 'splat') return writeSplat(g);
  if (f === 'spz') {
    const version = opts.spzVersion ?? 3;
    return writeSpz(g, { version, zstd: version === 4 ? await loadZstdCompressor() : undefined });
  }
  throw new UserError(`output must end in .ply, .compressed.ply, .spz or .splat (got '${extname(path) || basename(path)}')`, path);
}
