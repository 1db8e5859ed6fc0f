import { describeValue, UserError } from '../../core/errors';
import { checkLimit, limits } from '../../core/limits';
import { insidePathProblem } from '../../core/paths';
import { parseJson } from '../files/files';
import { createGaussians, SH_STRIDE, type Gaussians } from '../../nerf/gaussian/gaussians';
import { logit } from '../../core/math';
import { checkCount, normaliseQuat, type GaussianReadOptions } from './gaussian-limits';
import { readWebpImage, type RgbaImage } from './webp';
import { readZip } from './zip';

/**
 * PlayCanvas SOG: a `meta.json` naming lossless WebP images, loose in a folder or zipped into one `.sog`.
 * Pixel i of every per-Gaussian image is at (i mod W, ⌊i/W⌋).
 *
 * Version 2 (`"version": 2`, what splat-transform writes): means are 16 bits per axis (low byte image, high
 * byte image) lerped between `mins` and `maxs` then un-logged (sign(n)(e^|n| − 1)); quats RGB = the three
 * smaller of rot_0..rot_3 in ±√½, A = 252 + index of the dropped largest; scales RGB index a 256-entry
 * codebook of log scales; sh0 RGB index a codebook of f_dc, A = opacity·255; shN: per-Gaussian 16-bit labels
 * (R + 256·G) into a palette image of 64 entries per row, each entry `coeffs` pixels whose RGB index a codebook.
 * Version 1 (no `version`; count = `means.shape[0]`): scales, sh0 (RGB = f_dc, A = opacity logit) and shN use
 * per-channel `mins`/`maxs` lerps instead of codebooks. Later versions are refused with the version named.
 * Coordinates are the .ply's, unchanged (as splat-transform writes them).
 */

export interface SogMetaInfo {
  version: number;
  count: number;
}

const SH_COEFFS = [0, 3, 8, 15];
const MAX_META_BYTES = 16 << 20;

type Meta = Record<string, any>;

const isNumArray = (v: unknown, n?: number) =>
  Array.isArray(v) && (n === undefined || v.length === n) && v.every((x) => typeof x === 'number' && Number.isFinite(x));

function fileList(m: Meta, key: string, n: number, file: string): string[] {
  const f = m?.[key]?.files;
  if (!Array.isArray(f) || f.length < n || !f.slice(0, n).every((s) => typeof s === 'string' && s.length > 0))
    throw new UserError(`SOG meta.json: ${key}.files must list ${n} image file name(s)`, file);
  for (const s of f.slice(0, n) as string[]) {
    // names inside the file stay beside it (docs/limits.md): no absolute paths, no '..', no control characters
    const problem = insidePathProblem(s) ?? (s.includes('\\') ? 'contains a backslash' : null);
    if (problem) throw new UserError(`SOG meta.json: ${key} file ${describeValue(s, 80)} ${problem}`, file);
  }
  return f.slice(0, n) as string[];
}

/** A codebook: 256 numbers (JSON null, written for −∞, becomes `nullAs`). */
function codebook(m: Meta, key: string, file: string, nullAs: number): Float32Array {
  const c = m?.[key]?.codebook;
  if (!Array.isArray(c) || c.length !== 256 || !c.every((x) => x === null || (typeof x === 'number' && Number.isFinite(x))))
    throw new UserError(`SOG meta.json: ${key}.codebook must hold 256 numbers`, file);
  return Float32Array.from(c, (x: number | null) => (x === null ? nullAs : x));
}

function range(m: Meta, key: string, n: number, file: string): { mins: number[]; maxs: number[] } {
  const mins = m?.[key]?.mins,
    maxs = m?.[key]?.maxs;
  if (n === 1 ? !(Number.isFinite(mins) && Number.isFinite(maxs)) : !(isNumArray(mins, n) && isNumArray(maxs, n)))
    throw new UserError(`SOG meta.json: ${key}.mins and ${key}.maxs must be ${n === 1 ? 'numbers' : `${n} numbers each`}`, file);
  return n === 1 ? { mins: [mins], maxs: [maxs] } : { mins, maxs };
}

/** Parses meta.json bytes (at most 16 MB, UTF-8, nested a few levels): one line naming `file` for anything else. */
export function parseSogMeta(bytes: Uint8Array | undefined, file: string): unknown {
  if (!bytes) throw new UserError('SOG meta.json is missing', file);
  if (bytes.length > MAX_META_BYTES) throw new UserError(`SOG meta.json of ${bytes.length} bytes is larger than 16 MB`, file);
  return parseJson(bytes, file);
}

/** Version and count of a parsed meta.json (a UserError for anything that is not SOG metadata). */
export function sogMetaInfo(m: unknown, file: string): SogMetaInfo {
  if (typeof m !== 'object' || m === null || Array.isArray(m)) throw new UserError('SOG meta.json must be a JSON object', file);
  const meta = m as Meta;
  if (!meta.means || !meta.quats || !meta.scales || !meta.sh0)
    throw new UserError('not SOG metadata (meta.json needs means, quats, scales and sh0)', file);
  if (meta.version === undefined) {
    const shape = meta.means?.shape;
    if (!Array.isArray(shape) || !Number.isSafeInteger(shape[0]) || shape[0] < 0)
      throw new UserError('SOG version 1 meta.json: means.shape[0] must be the Gaussian count', file);
    return { version: 1, count: shape[0] };
  }
  if (meta.version !== 2)
    throw new UserError(
      `SOG version ${describeValue(meta.version, 40)} is not supported (this reads versions 1 and 2; re-export with splat-transform 3.10 or older settings)`,
      file,
    );
  if (!Number.isSafeInteger(meta.count) || meta.count < 0) throw new UserError('SOG meta.json: count must be a non-negative integer', file);
  return { version: 2, count: meta.count };
}

/**
 * Reads SOG Gaussians from a parsed meta.json and a way to fetch the images it names (relative names).
 * `file` names the meta.json (or the .sog) in messages.
 */
export async function readSog(
  meta: unknown,
  getImage: (name: string) => Promise<Uint8Array>,
  file: string,
  opts?: GaussianReadOptions,
): Promise<Gaussians> {
  const { version, count: n } = sogMetaInfo(meta, file);
  checkLimit('elements', n, 'SOG Gaussian count', file);
  checkCount(n, file, 'this SOG scene', opts);
  const m = meta as Meta;
  const v2 = version === 2;
  const meansFiles = fileList(m, 'means', 2, file);
  const [quatsFile] = fileList(m, 'quats', 1, file);
  const [scalesFile] = fileList(m, 'scales', 1, file);
  const [sh0File] = fileList(m, 'sh0', 1, file);
  const means = range(m, 'means', 3, file);
  const scalesCb = v2 ? codebook(m, 'scales', file, -20) : null;
  const sh0Cb = v2 ? codebook(m, 'sh0', file, 0) : null;
  const scalesR = v2 ? null : range(m, 'scales', 3, file);
  const sh0R = v2 ? null : range(m, 'sh0', 4, file);
  let bands = 0,
    paletteCount = 0;
  let shFiles: string[] = [];
  let shCb: Float32Array | null = null;
  let shR: { mins: number[]; maxs: number[] } | null = null;
  if (m.shN) {
    shFiles = fileList(m, 'shN', 2, file);
    if (v2) {
      bands = m.shN.bands;
      if (![1, 2, 3].includes(bands))
        throw new UserError(`SOG meta.json: shN.bands must be 1, 2 or 3, got ${describeValue(bands, 40)}`, file);
      paletteCount = m.shN.count;
      if (!Number.isSafeInteger(paletteCount) || paletteCount < 1 || paletteCount > 65536)
        throw new UserError('SOG meta.json: shN.count must be 1 to 65536', file);
      shCb = codebook(m, 'shN', file, 0);
    } else shR = range(m, 'shN', 1, file);
  }

  const steps = 6 + (m.shN ? 2 : 0);
  let done = 0;
  const load = async (name: string, what: string, check: (w: number, h: number) => string | null): Promise<RgbaImage> => {
    const bytes = await getImage(name);
    const where = `${file} (${name})`;
    const img = await readWebpImage(bytes, where, (w, h) => {
      const bad = check(w, h);
      return bad && `SOG ${what} image is ${w}×${h}: ${bad}`;
    });
    opts?.onProgress?.(++done / steps);
    return img;
  };
  // per-Gaussian images: at least n pixels, and no more than the layout needs (bounds what libwebp allocates)
  const perGaussian = (w: number, h: number) =>
    w * h < n ? `too small for ${n} Gaussians` : w * h > 2 * n + 4 * (w + h) + 4096 ? `far larger than ${n} Gaussians need` : null;
  const lo = await load(meansFiles[0], 'means (low bytes)', perGaussian);
  const hi = await load(meansFiles[1], 'means (high bytes)', perGaussian);
  const quats = await load(quatsFile, 'quats', perGaussian);
  const scales = await load(scalesFile, 'scales', perGaussian);
  const sh0 = await load(sh0File, 'sh0', perGaussian);

  let centroids: RgbaImage | null = null,
    labels: RgbaImage | null = null;
  let coeffs = 0;
  if (m.shN) {
    centroids = await load(shFiles[0], 'shN centroids', (w, h) => {
      if (!v2) {
        bands = [0, 192, 512, 960].indexOf(w);
        if (bands < 1) return 'expected a width of 192, 512 or 960 (64 palette entries of 3, 8 or 15 coefficients)';
        return h > 1024 ? 'taller than a 65536-entry palette needs' : null;
      }
      const c = SH_COEFFS[bands];
      if (w !== 64 * c) return `expected a width of ${64 * c} for ${bands} SH band(s)`;
      if (h * 64 < paletteCount) return `too small for ${paletteCount} palette entries`;
      return h > Math.ceil(paletteCount / 64) + 1 ? `far taller than ${paletteCount} palette entries need` : null;
    });
    coeffs = SH_COEFFS[bands];
    if (!v2) paletteCount = Math.floor(centroids.width / coeffs) * centroids.height;
    labels = await load(shFiles[1], 'shN labels', perGaussian);
  }

  const g = createGaussians(n, bands);
  const unlog = (v: number) => Math.sign(v) * (Math.exp(Math.abs(v)) - 1);
  const lerp = (a: number, b: number, t: number) => a + (b - a) * t;
  const QI = [
    [1, 2, 3],
    [0, 2, 3],
    [0, 1, 3],
    [0, 1, 2],
  ];
  let badQuat = -1,
    badLabel = -1;
  for (let i = 0; i < n; i++) {
    const o = 4 * i;
    for (let a = 0; a < 3; a++) {
      const q16 = lo.data[o + a] | (hi.data[o + a] << 8);
      g.means[3 * i + a] = unlog(lerp(means.mins[a], means.maxs[a], q16 / 65535));
      g.logScales[3 * i + a] = scalesCb ? scalesCb[scales.data[o + a]] : lerp(scalesR!.mins[a], scalesR!.maxs[a], scales.data[o + a] / 255);
      g.sh[i * SH_STRIDE + a] = sh0Cb ? sh0Cb[sh0.data[o + a]] : lerp(sh0R!.mins[a], sh0R!.maxs[a], sh0.data[o + a] / 255);
    }
    g.opacityLogits[i] = sh0Cb ? logit(sh0.data[o + 3] / 255) : lerp(sh0R!.mins[3], sh0R!.maxs[3], sh0.data[o + 3] / 255);
    const tag = quats.data[o + 3];
    if (tag < 252) {
      if (badQuat < 0) badQuat = i;
    } else {
      const mode = tag - 252;
      const comp = (c: number) => ((c / 255 - 0.5) * 2) / Math.SQRT2;
      const abc = [comp(quats.data[o]), comp(quats.data[o + 1]), comp(quats.data[o + 2])];
      const d = Math.sqrt(Math.max(0, 1 - (abc[0] ** 2 + abc[1] ** 2 + abc[2] ** 2)));
      g.rotations[o + mode] = d;
      QI[mode].forEach((j, k) => (g.rotations[o + j] = abc[k]));
      normaliseQuat(g.rotations, i);
    }
    if (labels && centroids && coeffs) {
      const label = labels.data[o] | (labels.data[o + 1] << 8);
      if (label >= paletteCount) {
        if (badLabel < 0) badLabel = i;
        continue;
      }
      const u = (label % 64) * coeffs,
        v = Math.floor(label / 64);
      for (let k = 0; k < coeffs; k++) {
        const p = (v * centroids.width + u + k) * 4;
        for (let c = 0; c < 3; c++) {
          const b = centroids.data[p + c];
          g.sh[i * SH_STRIDE + 3 * (k + 1) + c] = shCb ? shCb[b] : lerp(shR!.mins[0], shR!.maxs[0], b / 255);
        }
      }
    }
  }
  if (badQuat >= 0)
    throw new UserError(`SOG quats: Gaussian ${badQuat} has mode byte ${quats.data[4 * badQuat + 3]} (must be 252..255)`, file);
  if (badLabel >= 0) throw new UserError(`SOG shN labels: Gaussian ${badLabel} points past the ${paletteCount}-entry palette`, file);
  return g;
}

/** Names in a zip, for finding meta.json at the root (or in a single top folder). */
function findMeta(names: string[], file: string): string {
  const metas = names.filter((n) => n === 'meta.json' || /^[^/]+\/meta\.json$/.test(n));
  if (!metas.length) throw new UserError('SOG bundle (zip) has no meta.json', file);
  return metas.includes('meta.json') ? 'meta.json' : metas[0];
}

/** Reads a bundled `.sog` (zip of meta.json + images). Entry sizes are checked before anything is inflated. */
export async function readSogBundle(bytes: Uint8Array, file: string, opts?: GaussianReadOptions): Promise<Gaussians> {
  // entry sizes are checked before anything is inflated (src/io/formats/zip.ts)
  let names: string[] = [];
  const unzip = (want: (name: string) => boolean, max: number) =>
    readZip(
      bytes,
      file,
      'SOG bundle',
      (f) => {
        names.push(f.name);
        return want(f.name);
      },
      max,
    );
  unzip(() => false, 0);
  const metaName = findMeta(names, file);
  const dir = metaName.includes('/') ? metaName.slice(0, metaName.lastIndexOf('/') + 1) : '';
  const metaBytes = unzip((n) => n === metaName, MAX_META_BYTES)[metaName];
  const meta = parseSogMeta(metaBytes, `${file} (${metaName})`);
  sogMetaInfo(meta, `${file} (meta.json)`);
  names = [];
  const images = new Set<string>();
  for (const k of ['means', 'quats', 'scales', 'sh0', 'shN']) {
    const f = (meta as Meta)[k]?.files;
    if (Array.isArray(f)) for (const s of f) if (typeof s === 'string') images.add(dir + s);
  }
  const entries = unzip((n) => images.has(n), limits.fileBytes);
  return readSog(
    meta,
    async (name) => {
      const b = entries[dir + name];
      if (!b) throw new UserError(`SOG bundle has no image '${name}' (named in meta.json)`, file);
      return b;
    },
    file,
    opts,
  );
}

/** True for a zip's local-file signature (PK\x03\x04): a bundled SOG among Gaussian files. */
export function isZip(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04;
}
