import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'fflate';
import type { Gaussians } from '../../../src/nerf/gaussian/gaussians';
import type { GaussianScene } from '../../../src/nerf/gaussian/gaussian-scene';
import { writeCompressedPly } from '../../../src/io/formats/compressed-ply';
import { loadZstdCompressor, writeSpz } from '../../../src/io/formats/spz';
import { readWebpImage } from '../../../src/io/formats/webp';
import { loadScene } from '../../../src/io/scenes/load-scene';
import { nodeFiles } from '../../../src/io/node/node-files';
import { installNodeWebp } from '../../../src/io/node/node-webp';
import { bundle, webpEncode, writeSog } from '../sog-writer';
import { gaussianCheck, sampleGaussians } from './checks';
import type { FuzzReader, FuzzSeed } from './readers';

/**
 * The Gaussian formats of issue 14 (compressed PLY, SPZ v1–4, SOG bundles and meta.json folders) and the WebP
 * decoder under SOG, read as the CLI reads them (loadScene on the file).
 */
installNodeWebp();

const gaussianSceneCheck = async (v: unknown) => {
  const s = v as GaussianScene;
  return gaussianCheck(s.gaussians, s);
};

/** Half-float bits of v (round to nearest; enough for seed positions in ±1). */
function toHalf(v: number): number {
  if (v === 0) return 0;
  const s = v < 0 ? 0x8000 : 0;
  const a = Math.abs(v);
  const e = Math.floor(Math.log2(a));
  if (e < -14) return s | Math.round(a / 2 ** -24);
  return s | ((e + 15) << 10) | (Math.round((a / 2 ** e - 1) * 1024) & 0x3ff);
}

/** An uncompressed SPZ stream of version 1 or 2 made from a version 3 one (positions, rotations re-encoded). */
function spzOldVersion(raw3: Uint8Array, g: Gaussians, version: 1 | 2): Uint8Array {
  const n = g.count;
  const deg = raw3[12];
  const shBytes = n * [0, 3, 8, 15][deg] * 3;
  const pos3 = raw3.subarray(16, 16 + 9 * n);
  const rest = raw3.subarray(16 + 9 * n, 16 + 9 * n + 7 * n); // alphas, colours, scales
  const sh = raw3.subarray(raw3.length - shBytes);
  const pos = version === 1 ? new Uint8Array(6 * n) : pos3;
  if (version === 1) {
    const pdv = new DataView(pos.buffer);
    for (let i = 0; i < 3 * n; i++) pdv.setUint16(2 * i, toHalf(g.means[i]), true);
  }
  const rot = new Uint8Array(3 * n);
  for (let i = 0; i < n; i++) {
    const q = g.rotations.subarray(4 * i, 4 * i + 4);
    const l = Math.hypot(...q) * (q[0] < 0 ? -1 : 1);
    for (let a = 0; a < 3; a++) rot[3 * i + a] = Math.round((q[a + 1] / l) * 127.5 + 127.5);
  }
  const out = new Uint8Array(16 + pos.length + rest.length + rot.length + sh.length);
  out.set(raw3.subarray(0, 16));
  new DataView(out.buffer).setUint32(4, version, true);
  let o = 16;
  for (const part of [pos, rest, rot, sh]) {
    out.set(part, o);
    o += part.length;
  }
  return out;
}

export const FORMAT_READERS: FuzzReader[] = [
  {
    name: 'compressed-ply',
    async seeds(): Promise<FuzzSeed[]> {
      return [
        {
          files: { 'scene.compressed.ply': writeCompressedPly(sampleGaussians(300, 1, 11)) },
          target: 'scene.compressed.ply',
          kind: 'binary',
        },
        {
          files: { 'scene.compressed.ply': writeCompressedPly(sampleGaussians(20, 0, 12)) },
          target: 'scene.compressed.ply',
          kind: 'binary',
        },
      ];
    },
    async read(dir) {
      return loadScene(join(dir, 'scene.compressed.ply'), nodeFiles);
    },
    check: gaussianSceneCheck,
  },
  {
    name: 'spz',
    async seeds(): Promise<FuzzSeed[]> {
      const g = sampleGaussians(24, 1, 13);
      const v3 = writeSpz(g);
      const raw3 = gunzipSync(v3);
      const v4 = writeSpz(sampleGaussians(20, 2, 14), { version: 4, zstd: await loadZstdCompressor() });
      const seed = (b: Uint8Array): FuzzSeed => ({ files: { 'scene.spz': b }, target: 'scene.spz', kind: 'binary' });
      return [seed(v3), seed(raw3), seed(v4), seed(spzOldVersion(raw3, g, 2)), seed(spzOldVersion(raw3, g, 1))];
    },
    async read(dir) {
      return loadScene(join(dir, 'scene.spz'), nodeFiles);
    },
    check: gaussianSceneCheck,
  },
  {
    name: 'sog',
    async seeds(): Promise<FuzzSeed[]> {
      const v2 = await writeSog(sampleGaussians(40, 1, 15), 2);
      const v1 = await writeSog(sampleGaussians(30, 2, 16), 1);
      const v2plain = await writeSog(sampleGaussians(25, 0, 17), 2);
      return [
        { files: { 'scene.sog': bundle(v2) }, target: 'scene.sog', kind: 'binary' },
        { files: { 'scene.sog': bundle(v1) }, target: 'scene.sog', kind: 'binary' },
        { files: v2, target: 'meta.json', kind: 'json' },
        { files: v1, target: 'meta.json', kind: 'json' },
        { files: v2plain, target: 'meta.json', kind: 'json' },
        { files: v2, target: 'quats.webp', kind: 'binary' },
        { files: v2, target: 'shN_labels.webp', kind: 'binary' },
        { files: v1, target: 'shN_centroids.webp', kind: 'binary' },
        { files: v2plain, target: 'means_l.webp', kind: 'binary' },
      ];
    },
    async read(dir) {
      return loadScene(join(dir, existsSync(join(dir, 'scene.sog')) ? 'scene.sog' : 'meta.json'), nodeFiles);
    },
    check: gaussianSceneCheck,
  },
  {
    // the WebP decoder SOG images go through (header checked before libwebp allocates)
    name: 'webp',
    async seeds(): Promise<FuzzSeed[]> {
      const img = (w: number, h: number, seed: number) => {
        const d = new Uint8ClampedArray(w * h * 4);
        for (let i = 0; i < d.length; i++) d[i] = (i * 37 + seed * 11) % 256;
        return { d, w, h };
      };
      const out: FuzzSeed[] = [];
      for (const [i, { d, w, h }] of [img(7, 5, 1), img(16, 3, 2), img(4, 4, 3)].entries())
        out.push({ files: { 'image.webp': await webpEncode(d, w, h, i !== 1) }, target: 'image.webp', kind: 'binary' });
      return out;
    },
    async read(dir) {
      const p = join(dir, 'image.webp');
      return readWebpImage(await nodeFiles.read(p), p);
    },
    async check(v) {
      const im = v as Awaited<ReturnType<typeof readWebpImage>>;
      if (!(im.width >= 1 && im.height >= 1) || im.data.length !== im.width * im.height * 4) return 'decoded size disagrees with its data';
      return null;
    },
  },
];
