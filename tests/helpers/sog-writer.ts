import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { zipSync } from 'fflate';
import { SH_STRIDE, type Gaussians } from '../../src/nerf/gaussian/gaussians';

/**
 * Writes PlayCanvas SOG scenes (meta.json + lossless WebP images) from Gaussians, for tests: the project reads SOG
 * but does not write it. Version 2 uses codebooks (as splat-transform 3.x writes), version 1 per-channel
 * mins/maxs; both lay pixel i at (i mod W, ⌊i/W⌋) as the reader expects. The images are encoded by libwebp
 * (@jsquash/webp's encoder, lossless and exact).
 */
type Encode = (rgba: Uint8ClampedArray, w: number, h: number, lossless?: boolean) => Uint8Array;
let encoder: Promise<Encode> | null = null;

function webpEncoder(): Promise<Encode> {
  encoder ??= (async () => {
    const require = createRequire(import.meta.url);
    const dir = require.resolve('@jsquash/webp/package.json').replace(/package\.json$/, '');
    const { initEmscriptenModule } = await import('@jsquash/webp/utils.js');
    const { defaultOptions } = await import('@jsquash/webp/meta.js');
    const factory = await import('@jsquash/webp/codec/enc/webp_enc.js');
    const mod = await initEmscriptenModule(factory.default, new WebAssembly.Module(readFileSync(`${dir}codec/enc/webp_enc.wasm`)));
    return (rgba: Uint8ClampedArray, w: number, h: number, lossless = true) => {
      const r = mod.encode(rgba, w, h, { ...defaultOptions, lossless: lossless ? 1 : 0, exact: 1, quality: lossless ? 100 : 80 });
      if (!r) throw new Error('WebP encoding failed');
      return new Uint8Array(r);
    };
  })();
  return encoder;
}

/** A WebP image of RGBA pixels: lossless (exact) by default, lossy (VP8, with alpha: VP8X) otherwise. */
export async function webpEncode(rgba: Uint8ClampedArray, w: number, h: number, lossless = true): Promise<Uint8Array> {
  return (await webpEncoder())(rgba, w, h, lossless);
}

const SH_COEFFS = [0, 3, 8, 15];
const logT = (v: number) => Math.sign(v) * Math.log(Math.abs(v) + 1);
const q8 = (t: number) => Math.max(0, Math.min(255, Math.round(t * 255)));

/** 256 evenly spaced values over [lo, hi] and the nearest index of a value. */
function linearCodebook(values: ArrayLike<number>): { book: number[]; index: (v: number) => number } {
  let lo = Infinity,
    hi = -Infinity;
  for (let i = 0; i < values.length; i++) {
    lo = Math.min(lo, values[i]);
    hi = Math.max(hi, values[i]);
  }
  if (!(hi > lo)) hi = lo + 1;
  const book = Array.from({ length: 256 }, (_, k) => lo + ((hi - lo) * k) / 255);
  return { book, index: (v) => q8((v - lo) / (hi - lo)) };
}

function range(values: number[]): [number, number] {
  const lo = Math.min(...values);
  let hi = Math.max(...values);
  if (!(hi > lo)) hi = lo + 1;
  return [lo, hi];
}

/** The files of a SOG scene (meta.json and its images) for `g`; `bundle` zips them into one .sog. */
export async function writeSog(g: Gaussians, version: 1 | 2 = 2): Promise<Record<string, Uint8Array>> {
  const enc = await webpEncoder();
  const n = g.count;
  const W = Math.max(1, Math.ceil(Math.sqrt(n))),
    H = Math.max(1, Math.ceil(n / W));
  const img = () => new Uint8ClampedArray(W * H * 4).fill(255);
  const files: Record<string, Uint8Array> = {};
  const put = (name: string, rgba: Uint8ClampedArray, w = W, h = H) => (files[name] = enc(rgba, w, h));

  // means: log-transformed, 16 bits per axis split over two images
  const logs = Array.from(g.means.subarray(0, 3 * n), logT);
  const mins = [0, 1, 2].map((a) => range(logs.filter((_, i) => i % 3 === a))[0]);
  const maxs = [0, 1, 2].map((a) => range(logs.filter((_, i) => i % 3 === a))[1]);
  const lo = img(),
    hi = img();
  for (let i = 0; i < n; i++)
    for (let a = 0; a < 3; a++) {
      const q = Math.round(((logs[3 * i + a] - mins[a]) / (maxs[a] - mins[a])) * 65535);
      lo[4 * i + a] = q & 255;
      hi[4 * i + a] = q >> 8;
    }
  put('means_l.webp', lo);
  put('means_u.webp', hi);

  // quats: the three smaller components of (w, x, y, z), largest made positive; A = 252 + its index
  const qi = img();
  for (let i = 0; i < n; i++) {
    const q = Array.from(g.rotations.subarray(4 * i, 4 * i + 4));
    const l = Math.hypot(...q) || 1;
    let m = 0;
    for (let j = 1; j < 4; j++) if (Math.abs(q[j]) > Math.abs(q[m])) m = j;
    const s = q[m] < 0 ? -1 : 1;
    let k = 0;
    for (let j = 0; j < 4; j++) if (j !== m) qi[4 * i + k++] = q8(((s * q[j]) / l) * Math.SQRT1_2 + 0.5);
    qi[4 * i + 3] = 252 + m;
  }
  put('quats.webp', qi);

  const meta: Record<string, unknown> = {
    means: { mins, maxs, files: ['means_l.webp', 'means_u.webp'] },
    quats: { files: ['quats.webp'] },
  };
  const sc = img(),
    s0 = img();
  const dc = Array.from({ length: 3 * n }, (_, j) => g.sh[Math.floor(j / 3) * SH_STRIDE + (j % 3)]);
  const opacity = Array.from(g.opacityLogits.subarray(0, n));
  if (version === 2) {
    meta.version = 2;
    meta.count = n;
    const scb = linearCodebook(g.logScales.subarray(0, 3 * n));
    const dcb = linearCodebook(dc);
    for (let i = 0; i < n; i++) {
      for (let a = 0; a < 3; a++) {
        sc[4 * i + a] = scb.index(g.logScales[3 * i + a]);
        s0[4 * i + a] = dcb.index(dc[3 * i + a]);
      }
      s0[4 * i + 3] = q8(1 / (1 + Math.exp(-opacity[i])));
    }
    meta.scales = { codebook: scb.book, files: ['scales.webp'] };
    meta.sh0 = { codebook: dcb.book, files: ['sh0.webp'] };
  } else {
    (meta.means as Record<string, unknown>).shape = [n, 3];
    const sr = [0, 1, 2].map((a) => range(Array.from(g.logScales.subarray(0, 3 * n)).filter((_, i) => i % 3 === a)));
    const cr = [0, 1, 2].map((a) => range(dc.filter((_, i) => i % 3 === a)));
    cr.push(range(opacity));
    for (let i = 0; i < n; i++) {
      for (let a = 0; a < 3; a++) {
        sc[4 * i + a] = q8((g.logScales[3 * i + a] - sr[a][0]) / (sr[a][1] - sr[a][0]));
        s0[4 * i + a] = q8((dc[3 * i + a] - cr[a][0]) / (cr[a][1] - cr[a][0]));
      }
      s0[4 * i + 3] = q8((opacity[i] - cr[3][0]) / (cr[3][1] - cr[3][0]));
    }
    meta.scales = { mins: sr.map((r) => r[0]), maxs: sr.map((r) => r[1]), files: ['scales.webp'] };
    meta.sh0 = { mins: cr.map((r) => r[0]), maxs: cr.map((r) => r[1]), files: ['sh0.webp'] };
  }
  put('scales.webp', sc);
  put('sh0.webp', s0);

  // shN: one palette entry per Gaussian (64 entries per row), labels R + 256·G
  const bands = Math.min(3, g.shDegree);
  if (bands > 0) {
    const K = SH_COEFFS[bands];
    const rest: number[] = [];
    for (let i = 0; i < n; i++) for (let k = 1; k <= K; k++) for (let c = 0; c < 3; c++) rest.push(g.sh[i * SH_STRIDE + 3 * k + c]);
    const cw = 64 * K,
      ch = Math.ceil(n / 64);
    const cent = new Uint8ClampedArray(cw * ch * 4).fill(255);
    const [rlo, rhi] = range(rest);
    const book = linearCodebook(rest);
    for (let i = 0; i < n; i++)
      for (let k = 0; k < K; k++)
        for (let c = 0; c < 3; c++) {
          const v = rest[(i * K + k) * 3 + c];
          cent[(Math.floor(i / 64) * cw + (i % 64) * K + k) * 4 + c] = version === 2 ? book.index(v) : q8((v - rlo) / (rhi - rlo));
        }
    const labels = img();
    for (let i = 0; i < n; i++) {
      labels[4 * i] = i & 255;
      labels[4 * i + 1] = i >> 8;
      labels[4 * i + 2] = 0;
    }
    put('shN_centroids.webp', cent, cw, ch);
    put('shN_labels.webp', labels);
    meta.shN =
      version === 2
        ? { count: n, bands, codebook: book.book, files: ['shN_centroids.webp', 'shN_labels.webp'] }
        : { mins: rlo, maxs: rhi, files: ['shN_centroids.webp', 'shN_labels.webp'] };
  }
  files['meta.json'] = new TextEncoder().encode(JSON.stringify(meta));
  return files;
}

/** A `.sog` bundle: the files zipped (images stored, as they are already compressed). */
export function bundle(files: Record<string, Uint8Array>): Uint8Array {
  return zipSync(Object.fromEntries(Object.entries(files).map(([k, v]) => [k, [v, { level: k.endsWith('.json') ? 6 : 0 }]])));
}
