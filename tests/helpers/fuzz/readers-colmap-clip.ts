import { lookAtCamera } from '../../../src/core/camera';
import { createImage } from '../../../src/core/image';
import { Rng } from '../../../src/core/rng';
import { encodePng } from '../../../src/io/images/image-codec';
import { nodeFiles } from '../../../src/io/node/node-files';
import { clipConfigJson } from '../../../src/edit/clip/clip-config';
import { ClipModel } from '../../../src/edit/clip/clip-model';
import { writeSafetensors } from '../../../src/edit/clip/safetensors';
import { randomClipTensors, tinyClipConfig } from '../../../models/build/clip-graphs';
import { colmapModel, type ColmapCameraSpec } from '../colmap-writer';
import { datasetCheck, enc, modelSeed, readDataset } from './checks';
import type { FuzzReader, FuzzSeed } from './readers';

/** COLMAP captures (issue 14) and Hugging Face CLIP folders (issue 13), read as the CLI reads them. */

function colmapSeeds(): FuzzSeed[] {
  const W = 8,
    H = 6;
  const cams = [-1, 0, 1].map((x) => lookAtCamera([x, 0.3, 3], [0, 0, 0], [0, 1, 0], W, H, 50));
  const names = cams.map((_, i) => `f${i}.png`);
  const rng = new Rng(21);
  const xyz = Float32Array.from({ length: 3 * 12 }, () => rng.uniform(-0.5, 0.5));
  const rgb = Float32Array.from({ length: 3 * 12 }, () => Math.round(rng.next() * 255) / 255);
  const spec: ColmapCameraSpec = { model: 'OPENCV', params: [7, 7.5, 4, 3, 0.01, -0.002, 0.001, 0] };
  const images: Record<string, Uint8Array> = {};
  names.forEach((n, i) => {
    const img = createImage(W, H, 3);
    for (let k = 0; k < img.data.length; k++) img.data[k] = ((k * 13 + i * 29) % 256) / 255;
    images[`images/${n}`] = encodePng(img);
  });
  const out: FuzzSeed[] = [];
  for (const fmt of ['bin', 'txt'] as const) {
    const model = colmapModel(cams, names, fmt === 'txt' ? { model: 'SIMPLE_RADIAL', params: [7, 4, 3, 0.01] } : spec, { xyz, rgb }, fmt);
    const files: Record<string, Uint8Array> = { ...images };
    for (const [f, b] of Object.entries(model)) files[`sparse/0/${f}`] = b;
    for (const f of Object.keys(model)) out.push({ files, target: `sparse/0/${f}`, kind: fmt === 'bin' ? 'binary' : 'text' });
  }
  return out;
}

function clipSeeds(): FuzzSeed[] {
  const config = tinyClipConfig();
  const tensors = randomClipTensors(config, 23);
  const tok: Record<string, Uint8Array> = {};
  for (const [k, b] of Object.entries(modelSeed())) if (k.startsWith('tokenizer/')) tok[k.slice(10)] = b;
  const cfg = enc(JSON.stringify(clipConfigJson(config), null, 1));
  const single = { ...tok, 'config.json': cfg, 'model.safetensors': writeSafetensors(tensors) };
  const half = Math.floor(tensors.length / 2);
  const shards: [string, typeof tensors][] = [
    ['model-00001-of-00002.safetensors', tensors.slice(0, half)],
    ['model-00002-of-00002.safetensors', tensors.slice(half)],
  ];
  const sharded: Record<string, Uint8Array> = { ...tok, 'config.json': cfg };
  const weightMap: Record<string, string> = {};
  for (const [f, ts] of shards) {
    sharded[f] = writeSafetensors(ts.map((t) => ({ ...t, dtype: 'F16' as const })));
    for (const t of ts) weightMap[t.name] = f;
  }
  sharded['model.safetensors.index.json'] = enc(JSON.stringify({ metadata: {}, weight_map: weightMap }, null, 1));
  return [
    { files: single, target: 'config.json', kind: 'json' },
    { files: single, target: 'model.safetensors', kind: 'binary' },
    { files: sharded, target: 'model.safetensors.index.json', kind: 'json' },
    { files: sharded, target: shards[1][0], kind: 'binary' },
  ];
}

export const CAPTURE_MODEL_READERS: FuzzReader[] = [
  {
    name: 'colmap',
    async seeds() {
      return colmapSeeds();
    },
    read: readDataset,
    async check(v) {
      const p = await datasetCheck(v);
      if (p) return p;
      const pts = (v as Awaited<ReturnType<typeof readDataset>>).ds.points;
      if (pts && !pts.xyz.every((x) => Number.isFinite(x) && Math.abs(x) <= 1e8)) return 'points3D position not finite or absurd';
      if (pts && !pts.rgb.every((x) => x >= 0 && x <= 1)) return 'points3D colour out of [0, 1]';
      return null;
    },
  },
  {
    // a Hugging Face CLIPModel folder: config.json, model.safetensors (or shards + index), tokenizer
    name: 'clip',
    async seeds() {
      return clipSeeds();
    },
    async read(dir) {
      const m = await ClipModel.load(dir, nodeFiles);
      const img = createImage(32, 32, 3, 0.5);
      for (let i = 0; i < img.data.length; i++) img.data[i] = (i % 7) / 6;
      const [t] = await m.embedTexts(['a red vase']);
      const [im] = await m.embedImages([img]);
      return { t, im, logitScale: m.logitScale };
    },
    async check(v) {
      const { t, im, logitScale } = v as { t: Float32Array; im: Float32Array; logitScale: number };
      for (const [what, e] of [
        ['text', t],
        ['image', im],
      ] as const) {
        if (!e.every(Number.isFinite)) return `${what} embedding not finite`;
        const n = Math.hypot(...e);
        if (!(Math.abs(n - 1) < 1e-3)) return `${what} embedding has norm ${n}`;
      }
      if (!Number.isFinite(logitScale)) return `logit scale ${logitScale}`;
      return null;
    },
  },
];
