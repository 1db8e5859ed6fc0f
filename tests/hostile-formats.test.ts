import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, zipSync } from 'fflate';
import { UserError } from '../src/core/errors';
import { resetLimits, setLimits } from '../src/core/limits';
import { applyEnvLimits } from '../src/io/node/node-limits';
import { lookAtCamera } from '../src/core/camera';
import { createImage } from '../src/core/image';
import { createGaussians } from '../src/nerf/gaussian/gaussians';
import { readGaussians } from '../src/io/formats/gaussian-formats';
import { writeGaussianPly } from '../src/io/formats/ply';
import { writeCompressedPly } from '../src/io/formats/compressed-ply';
import { loadZstdCompressor, writeSpz } from '../src/io/formats/spz';
import { readWebpImage } from '../src/io/formats/webp';
import { readZip, MAX_ZIP_ENTRIES } from '../src/io/formats/zip';
import { loadDataset } from '../src/io/datasets/dataset';
import { encodePng } from '../src/io/images/image-codec';
import { nodeFiles } from '../src/io/node/node-files';
import { installNodeWebp } from '../src/io/node/node-webp';
import { clipConfigJson, parseClipConfig } from '../src/edit/clip/clip-config';
import { loadClipFolder } from '../src/edit/clip/clip-folder';
import { readSafetensors, tensorAsF32, writeSafetensors } from '../src/edit/clip/safetensors';
import { randomClipTensors, tinyClipConfig } from '../models/build/clip-graphs';
import { colmapModel } from './helpers/colmap-writer';
import { bundle, webpEncode, writeSog } from './helpers/sog-writer';
import { modelSeed, sampleGaussians } from './helpers/fuzz/checks';

/**
 * Issue 17's bar for the readers issues 13 and 14 added (found by the fuzz campaign, tests/helpers/fuzz/): SOG,
 * SPZ, compressed PLY, zip, WebP, COLMAP captures and CLIP folders. Every refusal is one UserError line naming the
 * file, before any large allocation; paths named inside files stay in the file's folder.
 */
installNodeWebp();
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'is-hostile-formats-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => resetLimits());

function put(rel: string, data: string | Uint8Array): string {
  const p = join(dir, rel);
  mkdirSync(join(p, '..'), { recursive: true });
  writeFileSync(p, data);
  return p;
}
const enc = (s: string) => new TextEncoder().encode(s);

async function refuses(p: Promise<unknown> | (() => unknown), re: RegExp): Promise<string> {
  let err: unknown = null;
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    err = e;
  }
  expect(err, `expected a refusal matching ${re}`).toBeInstanceOf(UserError);
  const m = (err as Error).message;
  expect(m).toMatch(re);
  expect(m).not.toMatch(/[\n\r]/);
  return m;
}

describe('SOG', () => {
  it('image names in meta.json stay beside it: absolute, escaping, drive-letter and control-character names are refused', async () => {
    const files = await writeSog(sampleGaussians(20, 0, 1));
    const meta = JSON.parse(new TextDecoder().decode(files['meta.json']));
    put('secret/quats.webp', files['quats.webp']); // what an escaping name would reach
    for (const [name, re] of [
      ['/etc/passwd', /is absolute/],
      ['../secret/quats.webp', /leaves its folder/],
      ['C:\\quats.webp', /is absolute|backslash/],
      ['sub\\..\\..\\quats.webp', /backslash/],
      ['qu\nats.webp', /control characters/],
    ] as const) {
      const m = { ...meta, quats: { files: [name] } };
      const d = join(dir, `sog-${Math.random().toString(36).slice(2)}`);
      mkdirSync(d);
      for (const [k, b] of Object.entries(files)) writeFileSync(join(d, k), b);
      writeFileSync(join(d, 'meta.json'), JSON.stringify(m));
      await refuses(readGaussians(enc(JSON.stringify(m)), join(d, 'meta.json'), nodeFiles), re);
      // the same names inside a bundle
      await refuses(readGaussians(bundle({ ...files, 'meta.json': enc(JSON.stringify(m)) }), join(d, 'x.sog'), null), re);
    }
  });

  it('a count over limits.elements is refused before any image is read; meta.json nested 10,000 deep is one line', async () => {
    const files = await writeSog(sampleGaussians(20, 0, 2));
    const meta = JSON.parse(new TextDecoder().decode(files['meta.json']));
    applyEnvLimits({}); // as the CLI does: over-limit messages name the environment variable
    setLimits({ elements: 10 });
    await refuses(
      readGaussians(bundle(files), join(dir, 'a.sog'), null),
      /SOG Gaussian count \(20\) is over the limit.*INSTRUCT_SCENE_MAX_ELEMENTS/,
    );
    resetLimits();
    const deep = JSON.stringify({ ...meta, extra: 0 }).replace('0}', '['.repeat(10_000) + ']'.repeat(10_000) + '}');
    await refuses(readGaussians(enc(deep), join(dir, 'meta.json'), nodeFiles), /nested more than 256 levels/);
  });

  it('zips: a lying entry count, entries claiming more than deflate can expand or than the file holds, truncated stored entries', async () => {
    const files = await writeSog(sampleGaussians(20, 0, 3));
    const z = bundle(files);
    const eocd = z.length - 22;
    expect(new DataView(z.buffer).getUint32(eocd, true)).toBe(0x06054b50);
    // 65,535 entries claimed by the end record: refused after MAX_ZIP_ENTRIES, fast
    const many = z.slice();
    new DataView(many.buffer).setUint16(eocd + 8, 0xffff, true);
    new DataView(many.buffer).setUint16(eocd + 10, 0xffff, true);
    const t0 = performance.now();
    await refuses(readGaussians(many, 'many.sog', null), /SOG bundle/);
    expect(performance.now() - t0).toBeLessThan(5000);
    expect(MAX_ZIP_ENTRIES).toBeLessThan(0xffff);
    // a central-directory record claiming 2 GB uncompressed from a few bytes
    const big = zipSync({ 'meta.json': [files['meta.json'], { level: 6 }] });
    const dv = new DataView(big.buffer);
    for (let i = big.length - 22; i > 0; i--) if (dv.getUint32(i, true) === 0x02014b50) dv.setUint32(i + 24, 0x7fffffff, true);
    await refuses(() => readZip(big, 'big.zip', 'test zip', () => true, 1 << 30), /claims 2147483647 bytes from \d+ compressed/);
    // a compressed size larger than the file
    const lying = zipSync({ 'meta.json': [files['meta.json'], { level: 0 }] });
    const dl = new DataView(lying.buffer);
    for (let i = lying.length - 22; i > 0; i--) if (dl.getUint32(i, true) === 0x02014b50) dl.setUint32(i + 20, 0x7ffffff0, true);
    await refuses(
      () => readZip(lying, 'lying.zip', 'test zip', () => true, 1 << 30),
      /claims 2147483632 compressed bytes in a \d+-byte file/,
    );
    // over the caller's bound
    await refuses(() => readZip(z, 'z.zip', 'test zip', (e) => e.name === 'meta.json', 10), /more than the 10 this reader takes/);
  });

  it('WebP images over the pixel limit are refused from the header, before libwebp allocates', async () => {
    const px = new Uint8ClampedArray(4 * 4 * 4).fill(200);
    const img = await webpEncode(px, 4, 4);
    expect((await readWebpImage(img, 'ok.webp')).data.length).toBe(64);
    const huge = img.slice();
    expect(String.fromCharCode(...huge.subarray(12, 16))).toBe('VP8L');
    new DataView(huge.buffer).setUint32(21, (huge[24] & 0xf0) * 2 ** 24 + (16383 << 14) + 16383, true);
    await refuses(readWebpImage(huge, 'huge.webp'), /WebP image of 16384×16384 is over the image size limit/);
    setLimits({ imagePixels: 15 });
    await refuses(readWebpImage(img, 'small-limit.webp'), /4×4 is over the image size limit/);
  });
});

describe('SPZ, compressed PLY and empty files', () => {
  it('SPZ counts over limits.elements are refused from the header (gzip and v4); a v4 stream larger than ZSTD can expand is refused before allocating', async () => {
    const g = sampleGaussians(30, 1, 4);
    const v3 = writeSpz(g);
    const v4 = writeSpz(g, { version: 4, zstd: await loadZstdCompressor() });
    setLimits({ elements: 29 });
    await refuses(readGaussians(v3, 'a.spz', null), /SPZ point count \(30\) is over the limit/);
    await refuses(readGaussians(v4, 'a.spz', null), /SPZ point count \(30\) is over the limit/);
    resetLimits();
    // a v4 file whose header and table of contents agree on 30 million points, with 100 bytes of ZSTD data
    const lie = v4.slice();
    const dv = new DataView(lie.buffer);
    const n = 30_000_000;
    dv.setUint32(8, n, true);
    const toc = dv.getUint32(16, true);
    const sizes = [9 * n, n, 3 * n, 3 * n, 4 * n, 9 * n];
    sizes.forEach((s, i) => dv.setBigUint64(toc + i * 16 + 8, BigInt(s), true));
    const before = process.memoryUsage().arrayBuffers;
    await refuses(
      readGaussians(lie, 'lie.spz', null),
      /SPZ stream 0 \(positions\) claims 270000000 bytes from \d+ compressed, more than ZSTD can expand/,
    );
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(64 << 20);
    // the raw v3 stream still decodes (the header bound applies to gzip only)
    expect((await readGaussians(gunzipSync(v3), 'raw.spz', null)).gaussians.count).toBe(30);
  });

  it('files that hold no Gaussians are refused in every format (an empty .splat cannot even be written)', async () => {
    const g = createGaussians(0, 0);
    for (const [bytes, name, kind] of [
      [writeGaussianPly(g), 'e.ply', '3DGS PLY'],
      [writeSpz(g), 'e.spz', 'SPZ'],
      [writeCompressedPly(g), 'e.compressed.ply', 'compressed PLY'],
    ] as const)
      await refuses(readGaussians(bytes, name, null), new RegExp(`this ${kind} file holds no Gaussians`));
  });
});

describe('COLMAP', () => {
  const W = 8,
    H = 6;
  const cams = [-1, 0, 1].map((x) => lookAtCamera([x, 0.3, 3], [0, 0, 0], [0, 1, 0], W, H, 50));
  const pts = { xyz: Float32Array.of(0, 0, 0, 0.1, 0.2, 0.3), rgb: Float32Array.of(1, 0, 0, 0, 1, 0) };
  const capture = (
    name: string,
    names: string[],
    model = colmapModel(cams, names, { model: 'PINHOLE', params: [7, 7, 4, 3] }, pts, 'txt'),
  ) => {
    const root = join(dir, name);
    for (const [f, b] of Object.entries(model)) put(`${name}/sparse/0/${f}`, b);
    names.forEach((n, i) => {
      if (!n.includes('..') && !n.startsWith('/')) put(`${name}/images/${n}`, encodePng(createImage(W, H, 3, i / 3)));
    });
    return root;
  };

  it('image names stay inside images/ (no absolute paths, no ..) in .txt and .bin models', async () => {
    put('colmap-secret.png', encodePng(createImage(W, H, 3, 0.5)));
    for (const fmt of ['txt', 'bin'] as const) {
      for (const [bad, re] of [
        ['../../colmap-secret.png', /image 2 .*the image name leaves its folder/],
        ['/etc/passwd', /image 2 .*the image name is absolute/],
      ] as const) {
        const names = ['a.png', bad, 'c.png'];
        const root = capture(
          `cm-${fmt}-${bad.length}`,
          names,
          colmapModel(cams, names, { model: 'PINHOLE', params: [7, 7, 4, 3] }, pts, fmt),
        );
        await refuses(loadDataset(root, nodeFiles), re);
      }
    }
  });

  it('cameras out of range (second focal length, principal point, distortion, size) and points past float32 are refused', async () => {
    const names = ['a.png', 'b.png', 'c.png'];
    const cases: [string, RegExp][] = [
      ['1 PINHOLE 8 6 7 -7 4 3', /camera 1 has focal length \(y\) -7/],
      ['1 PINHOLE 8 6 7 7 4e6 3', /camera 1 has principal point \(4000000, 3\)/],
      ['1 OPENCV 8 6 7 7 4 3 1e9 0 0 0', /camera 1 has distortion k1 = 1000000000/],
      ['1 SIMPLE_PINHOLE 100000 60000 7 4 3', /camera 1 is 100000×60000/],
      ['1 SIMPLE_PINHOLE 8.5 6 7 4 3', /camera 1 is 8.5×6/],
      ['1 PINHOLE 8', /camera line '1 PINHOLE 8' needs an id, a model, width, height and parameters/],
      ['1 PINHOLE 8 6 7 7 4 3\n1 PINHOLE 8 6 7 7 4 3', /camera 1 is listed twice/],
    ];
    for (const [i, [line, re]] of cases.entries()) {
      const root = capture(`cm-cam-${i}`, names);
      put(`cm-cam-${i}/sparse/0/cameras.txt`, `# cameras\n${line}\n`);
      await refuses(loadDataset(root, nodeFiles), re);
    }
    const root = capture('cm-pts', names);
    put('cm-pts/sparse/0/points3D.txt', '1 1e300 0 0 255 0 0 0.5\n');
    await refuses(loadDataset(root, nodeFiles), /point 0 has coordinate Infinity, beyond ±100000000/);
    const bin = colmapModel(
      cams,
      names,
      { model: 'PINHOLE', params: [7, 7, 4, 3] },
      { xyz: Float32Array.of(0, 0, 2e8), rgb: Float32Array.of(0, 0, 0) },
      'bin',
    );
    await refuses(loadDataset(capture('cm-pts-bin', names, bin), nodeFiles), /point 0 has coordinate 200000000/);
    const far = colmapModel(cams, names, { model: 'PINHOLE', params: [7, 7, 4, 3] }, pts, 'txt');
    far['images.txt'] = enc(new TextDecoder().decode(far['images.txt']).replace(/^(1 \S+ \S+ \S+ \S+) \S+/m, '$1 1e12'));
    await refuses(loadDataset(capture('cm-far', names, far), nodeFiles), /image 1 .* has translation \[1000000000000,/);
    setLimits({ elements: 1 });
    await refuses(loadDataset(capture('cm-count', names), nodeFiles), /COLMAP point count \(2\) is over the limit/);
  });
});

describe('CLIP folders', () => {
  const folder = (name: string, over: { config?: unknown; weights?: Uint8Array; index?: unknown } = {}) => {
    const config = tinyClipConfig();
    const root = join(dir, name);
    for (const [k, b] of Object.entries(modelSeed())) if (k.startsWith('tokenizer/')) put(`${name}/${k.slice(10)}`, b);
    put(`${name}/config.json`, JSON.stringify(over.config ?? clipConfigJson(config)));
    if (over.index) put(`${name}/model.safetensors.index.json`, JSON.stringify(over.index));
    else put(`${name}/model.safetensors`, over.weights ?? writeSafetensors(randomClipTensors(config, 3)));
    return root;
  };

  it('a NaN or ∞ weight is refused naming the tensor and the file (it made every embedding NaN)', async () => {
    const config = tinyClipConfig();
    const tensors = randomClipTensors(config, 3);
    const i = tensors.findIndex((t) => t.name === 'text_model.final_layer_norm.weight');
    tensors[i] = { ...tensors[i], data: tensors[i].data.slice() };
    tensors[i].data[5] = NaN;
    const root = folder('clip-nan', { weights: writeSafetensors(tensors) });
    await refuses(
      loadClipFolder(root, nodeFiles),
      /model\.safetensors: tensor 'text_model\.final_layer_norm\.weight' holds NaN at index 5/,
    );
    const st = readSafetensors(
      writeSafetensors([{ name: 'w', shape: [2], data: Float32Array.of(1, Infinity), dtype: 'F16' }]),
      'h.safetensors',
    );
    await refuses(() => tensorAsF32(st, st.entries.get('w')!), /tensor 'w' holds Infinity at index 1/);
  });

  it('config sizes are bounded (a million layers would build a 16-million-entry tensor list), logit scales are numbers', async () => {
    const base = clipConfigJson(tinyClipConfig()) as Record<string, any>;
    const t0 = performance.now();
    await refuses(
      () => parseClipConfig({ ...base, text_config: { ...base.text_config, num_hidden_layers: 1_000_000_000 } }, 'c.json'),
      /text_config\.num_hidden_layers must be an integer in \[0, 1024\], got 1000000000/,
    );
    expect(performance.now() - t0).toBeLessThan(1000);
    await refuses(() => parseClipConfig({ ...base, projection_dim: 1e9 }, 'c.json'), /projection_dim must be an integer in \[1, 65536\]/);
    await refuses(
      () => parseClipConfig(JSON.parse(`{"model_type":"clip","text_config":{},"logit_scale_init_value":1e400}`), 'c.json'),
      /logit_scale_init_value must be a number within ±100, got Infinity/,
    );
    const deep = { ...base, text_config: { ...base.text_config, hidden_act: JSON.parse('['.repeat(5000) + ']'.repeat(5000)) } };
    await refuses(() => parseClipConfig(deep, 'c.json'), /text_config\.hidden_act \[\[\[|text_config\.hidden_act/);
    const config = tinyClipConfig();
    const tensors = randomClipTensors(config, 3).map((t) => (t.name === 'logit_scale' ? { ...t, data: Float32Array.of(1e30) } : t));
    await refuses(
      loadClipFolder(folder('clip-scale', { weights: writeSafetensors(tensors) }), nodeFiles),
      /tensor 'logit_scale' is 1\.00\d*e\+30/,
    );
  });

  it('shard names in the index stay inside the folder; a shard that is a FIFO is refused, not waited on', async () => {
    const names = randomClipTensors(tinyClipConfig(), 3).map((t) => t.name);
    for (const [shard, re] of [
      ['/etc/passwd', /weight_map shard "\/etc\/passwd" is absolute/],
      ['../model.safetensors', /weight_map shard "\.\.\/model\.safetensors" leaves its folder/],
    ] as const) {
      const root = folder(`clip-shard-${shard.length}`, { index: { weight_map: Object.fromEntries(names.map((n) => [n, shard])) } });
      await refuses(loadClipFolder(root, nodeFiles), re);
    }
    const root = folder('clip-fifo', { index: { weight_map: Object.fromEntries(names.map((n) => [n, 'model-00001.safetensors'])) } });
    execFileSync('mkfifo', [join(root, 'model-00001.safetensors')]);
    await refuses(loadClipFolder(root, nodeFiles), /model-00001\.safetensors: is a named pipe \(FIFO\)/);
    await refuses(nodeFiles.readRange!(join(root, 'model-00001.safetensors'), 0, 8), /is a named pipe \(FIFO\)/);
  }, 20_000);
});
