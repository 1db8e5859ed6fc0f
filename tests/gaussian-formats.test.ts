import { beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { unzipSync } from 'fflate';
import { Rng } from '../src/core/rng';
import { UserError } from '../src/core/errors';
import { createGaussians, SH_STRIDE, type Gaussians } from '../src/nerf/gaussian/gaussians';
import { readGaussianPly, writeGaussianPly } from '../src/io/formats/ply';
import { readGaussians, encodeGaussians, detectGaussianFormat } from '../src/io/formats/gaussian-formats';
import { readSpz } from '../src/io/formats/spz';
import { readGaussianFile } from '../src/io/scenes/load-gaussian-scene';
import { nodeFiles } from '../src/io/node/node-files';
import { installNodeWebp } from '../src/io/node/node-webp';
import { splatTransform } from './helpers/splat-transform';

installNodeWebp();

function randomGaussians(n: number, deg: number, seed = 1): Gaussians {
  const rng = new Rng(seed);
  const g = createGaussians(n, deg);
  for (let i = 0; i < n; i++) {
    for (let a = 0; a < 3; a++) {
      g.means[3 * i + a] = rng.uniform(-2, 2);
      g.logScales[3 * i + a] = rng.uniform(-5, -1);
    }
    const q = [rng.normal(), rng.normal(), rng.normal(), rng.normal()];
    const l = Math.hypot(...q);
    for (let a = 0; a < 4; a++) g.rotations[4 * i + a] = q[a] / l;
    g.opacityLogits[i] = rng.uniform(-4, 4);
    for (let k = 0; k < (deg + 1) ** 2 * 3; k++) g.sh[i * SH_STRIDE + k] = rng.uniform(-0.8, 0.8);
  }
  return g;
}

/** Largest differences per attribute (rotations as 1 − |q·q'|, which ignores the sign). */
function diff(a: Gaussians, b: Gaussians, deg: number) {
  expect(b.count).toBe(a.count);
  const d = { pos: 0, scale: 0, rot: 0, opacity: 0, dc: 0, rest: 0 };
  const sig = (x: number) => 1 / (1 + Math.exp(-x));
  const K = (deg + 1) ** 2;
  for (let i = 0; i < a.count; i++) {
    for (let c = 0; c < 3; c++) {
      d.pos = Math.max(d.pos, Math.abs(a.means[3 * i + c] - b.means[3 * i + c]));
      d.scale = Math.max(d.scale, Math.abs(a.logScales[3 * i + c] - b.logScales[3 * i + c]));
      d.dc = Math.max(d.dc, Math.abs(a.sh[i * SH_STRIDE + c] - b.sh[i * SH_STRIDE + c]));
    }
    let dot = 0;
    for (let c = 0; c < 4; c++) dot += a.rotations[4 * i + c] * b.rotations[4 * i + c];
    d.rot = Math.max(d.rot, 1 - Math.abs(dot));
    d.opacity = Math.max(d.opacity, Math.abs(sig(a.opacityLogits[i]) - sig(b.opacityLogits[i])));
    for (let k = 3; k < 3 * K; k++) d.rest = Math.max(d.rest, Math.abs(a.sh[i * SH_STRIDE + k] - b.sh[i * SH_STRIDE + k]));
  }
  return d;
}

/** Reorders `b` to `a`'s order by nearest position (writers may sort splats, e.g. Morton order). */
function matchOrder(a: Gaussians, b: Gaussians): Gaussians {
  const key = (g: Gaussians, i: number) =>
    `${Math.round(g.means[3 * i] * 50)},${Math.round(g.means[3 * i + 1] * 50)},${Math.round(g.means[3 * i + 2] * 50)}`;
  const idx = new Map<string, number[]>();
  for (let i = 0; i < b.count; i++) idx.set(key(b, i), [...(idx.get(key(b, i)) ?? []), i]);
  const out = createGaussians(a.count, b.shDegree);
  for (let i = 0; i < a.count; i++) {
    let best = -1,
      bd = Infinity;
    for (const j of idx.get(key(a, i)) ?? Array.from({ length: b.count }, (_, j) => j)) {
      const dd = Math.hypot(
        a.means[3 * i] - b.means[3 * j],
        a.means[3 * i + 1] - b.means[3 * j + 1],
        a.means[3 * i + 2] - b.means[3 * j + 2],
      );
      if (dd < bd) [bd, best] = [dd, j];
    }
    out.means.set(b.means.subarray(3 * best, 3 * best + 3), 3 * i);
    out.logScales.set(b.logScales.subarray(3 * best, 3 * best + 3), 3 * i);
    out.rotations.set(b.rotations.subarray(4 * best, 4 * best + 4), 4 * i);
    out.opacityLogits[i] = b.opacityLogits[best];
    out.sh.set(b.sh.subarray(best * SH_STRIDE, (best + 1) * SH_STRIDE), i * SH_STRIDE);
  }
  return out;
}

const userError = async (f: () => unknown): Promise<string> => {
  try {
    await f();
  } catch (e) {
    if (!(e instanceof UserError)) throw e;
    expect(e.message.split('\n').length).toBe(1);
    return e.message;
  }
  throw new Error('expected a UserError');
};

const read = async (path: string) => (await readGaussianFile(path, nodeFiles)) as Gaussians;

describe.skipIf(!splatTransform.available)('files written by splat-transform read like its own decoding', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gs-fmt-'));
  const g = randomGaussians(700, 3);
  beforeAll(() => {
    writeFileSync(join(dir, 'src.ply'), writeGaussianPly(g));
    splatTransform.run(['src.ply', 'a.compressed.ply'], dir);
    splatTransform.run(['--spz-version', '3', 'src.ply', 'a3.spz'], dir);
    splatTransform.run(['--spz-version', '4', 'src.ply', 'a4.spz'], dir);
    splatTransform.run(['src.ply', 'a.sog'], dir);
    mkdirSync(join(dir, 'unbundled'));
    splatTransform.run(['src.ply', 'unbundled/meta.json'], dir);
    // splat-transform's own decoding of each, as plain .ply
    for (const f of ['a.compressed.ply', 'a3.spz', 'a4.spz', 'a.sog']) splatTransform.run([f, `${f}.ref.ply`], dir);
    splatTransform.run(['unbundled/meta.json', 'meta.ref.ply'], dir);
  }, 600_000);

  for (const [file, kind] of [
    ['a.compressed.ply', 'compressed-ply'],
    ['a3.spz', 'spz'],
    ['a4.spz', 'spz'],
    ['a.sog', 'sog'],
  ] as const) {
    it(`${file}: detected as ${kind}; values equal splat-transform's decoding; close to the source`, async () => {
      const bytes = new Uint8Array(readFileSync(join(dir, file)));
      expect(detectGaussianFormat(bytes, 'no-extension')).toBe(kind);
      const ours = await read(join(dir, file));
      const ref = readGaussianPly(new Uint8Array(readFileSync(join(dir, `${file}.ref.ply`))), 'ref');
      expect(ours.shDegree).toBe(3);
      const d = diff(ref, ours, 3);
      expect(d.pos).toBeLessThan(1e-5);
      expect(d.scale).toBeLessThan(1e-4);
      expect(d.rot).toBeLessThan(1e-6);
      expect(d.opacity).toBeLessThan(1e-4);
      expect(d.dc).toBeLessThan(1e-4);
      expect(d.rest).toBeLessThan(1e-4);
      // and close to what was written (quantisation only)
      const s = diff(g, matchOrder(g, ours), 3);
      expect(s.pos).toBeLessThan(file.endsWith('.sog') ? 2e-3 : 3e-3);
      expect(s.opacity).toBeLessThan(file.endsWith('.sog') ? 0.01 : 0.01);
      expect(s.rot).toBeLessThan(0.01);
    });
  }

  it('SPZ v4 header and v3 gzip are told apart; antialiased flag and versions are reported', async () => {
    const v3 = readSpz(new Uint8Array(readFileSync(join(dir, 'a3.spz'))), 'a3.spz');
    const v4 = readSpz(new Uint8Array(readFileSync(join(dir, 'a4.spz'))), 'a4.spz');
    expect(v3.spz).toMatchObject({ version: 3, count: 700, shDegree: 3, antialiased: false });
    expect(v4.spz).toMatchObject({ version: 4, count: 700, shDegree: 3 });
  });

  it('a SOG meta.json with its images beside it reads like splat-transform reads it', async () => {
    const ours = await read(join(dir, 'unbundled/meta.json'));
    const ref = readGaussianPly(new Uint8Array(readFileSync(join(dir, 'meta.ref.ply'))), 'ref');
    const d = diff(ref, ours, 3);
    expect(Math.max(d.pos, d.scale, d.opacity, d.dc, d.rest)).toBeLessThan(1e-4);
    expect(d.rot).toBeLessThan(1e-6);
  });

  it("the project's .spz (v3, v4) and .compressed.ply are read by splat-transform with the same splats", async () => {
    for (const [name, opts] of [
      ['ours3.spz', { spzVersion: 3 as const }],
      ['ours4.spz', { spzVersion: 4 as const }],
      ['ours.compressed.ply', {}],
    ] as const) {
      writeFileSync(join(dir, name), await encodeGaussians(g, name, opts));
      splatTransform.run([name, `${name}.ply`], dir);
      const theirs = readGaussianPly(new Uint8Array(readFileSync(join(dir, `${name}.ply`))), name);
      const ours = await read(join(dir, name));
      expect(theirs.count).toBe(g.count);
      const d = diff(ours, name.endsWith('.ply') ? theirs : theirs, 3);
      expect(d.pos).toBeLessThan(1e-5);
      expect(d.rot).toBeLessThan(1e-6);
      expect(d.opacity).toBeLessThan(1e-4);
      expect(d.rest).toBeLessThan(1e-4);
      const s = diff(g, matchOrder(g, ours), 3);
      expect(s.pos).toBeLessThan(3e-3);
      expect(s.rest).toBeLessThan(0.05);
    }
  });
});

describe('malformed new-format files get one line and no huge allocation', () => {
  const g = randomGaussians(300, 3, 7);
  let files: Record<string, Uint8Array> = {};
  beforeAll(async () => {
    files = {
      spz3: await encodeGaussians(g, 'x.spz', { spzVersion: 3 }),
      spz4: await encodeGaussians(g, 'x.spz', { spzVersion: 4 }),
      cply: await encodeGaussians(g, 'x.compressed.ply'),
    };
  });
  const rd = (bytes: Uint8Array, name: string) => readGaussians(bytes, name, null);

  it('round-trips the writers', async () => {
    for (const [k, name] of [
      ['spz3', 'x.spz'],
      ['spz4', 'x.spz'],
      ['cply', 'x.compressed.ply'],
    ]) {
      const r = await rd(files[k], name);
      expect(r.gaussians.count).toBe(300);
      expect(diff(g, matchOrder(g, r.gaussians), 3).pos).toBeLessThan(3e-3);
    }
  });

  it('truncated files', async () => {
    expect(await userError(() => rd(files.spz3.subarray(0, files.spz3.length - 20), 'x.spz'))).toMatch(/x\.spz: SPZ/);
    expect(await userError(() => rd(files.spz3.subarray(0, 30), 'x.spz'))).toMatch(/SPZ/);
    expect(await userError(() => rd(files.spz4.subarray(0, files.spz4.length - 5), 'x.spz'))).toMatch(/SPZ stream \d .*truncated/);
    expect(await userError(() => rd(files.spz4.subarray(0, 20), 'x.spz'))).toMatch(/SPZ version 4 file ends inside its 32-byte header/);
    expect(await userError(() => rd(files.cply.subarray(0, files.cply.length - 7), 'x.compressed.ply'))).toMatch(
      /compressed PLY.*truncated/,
    );
  });

  it('lying counts are refused before allocating', async () => {
    const lie = (src: Uint8Array, at: number, v: number) => {
      const c = src.slice();
      new DataView(c.buffer).setUint32(at, v, true);
      return c;
    };
    // (counts over the elements limit are refused first: tests/hostile-formats.test.ts)
    expect(await userError(() => rd(lie(files.spz4, 8, 0x01000000), 'x.spz'))).toMatch(/SPZ stream 0 .*says \d+ bytes uncompressed/);
    // a v3 stream whose header claims 16 million points: checked against what the compressed size can hold
    const { gzipSync, gunzipSync } = await import('fflate');
    const raw = gunzipSync(files.spz3);
    new DataView(raw.buffer).setUint32(8, 0x01000000, true);
    expect(await userError(() => rd(gzipSync(raw), 'x.spz'))).toMatch(/more than \d+ compressed bytes can hold/);
    const text = new TextDecoder('latin1').decode(files.cply.subarray(0, 2000));
    const lying = new TextEncoder().encode(text.replace('element vertex 300', 'element vertex 999999999'));
    const c = new Uint8Array(files.cply.length);
    c.set(files.cply);
    c.set(lying.subarray(0, Math.min(lying.length, 2000)));
    expect(await userError(() => rd(c, 'x.compressed.ply'))).toMatch(/compressed PLY/);
  });

  it('flipped bytes and wrong versions', async () => {
    const v = files.spz4.slice();
    v[4] = 9;
    expect(await userError(() => rd(v, 'x.spz'))).toMatch(/SPZ version 9 is not supported/);
    const z = files.spz4.slice();
    for (let i = 200; i < 260; i++) z[i] ^= 0xff;
    const msg = await rd(z, 'x.spz').then(
      () => 'read',
      (e) => {
        if (!(e instanceof UserError)) throw e;
        return e.message;
      },
    );
    expect(msg === 'read' || /SPZ/.test(msg)).toBe(true);
    const gz = files.spz3.slice();
    for (let i = 40; i < 60; i++) gz[i] ^= 0x5a;
    expect(await userError(() => rd(gz, 'x.spz'))).toMatch(/SPZ/);
    expect(
      await userError(() =>
        rd(new TextEncoder().encode('{"version": 3, "count": 5, "means": {}, "quats": {}, "scales": {}, "sh0": {}}'), 'meta.json'),
      ),
    ).toMatch(/SOG version 3 is not supported/);
    expect(await userError(() => rd(new TextEncoder().encode('{"nope": 1}'), 'meta.json'))).toMatch(/not SOG metadata/);
    expect(await userError(() => rd(new Uint8Array([1, 2, 3, 4, 5]), 'thing.bin'))).toMatch(/not a Gaussian file.*01 02 03 04/);
    // a PLY named .spz: read as PLY, and the message says so when it fails
    expect(
      await userError(() =>
        rd(new TextEncoder().encode('ply\nformat ascii 1.0\nelement vertex 2\nproperty float x\nend_header\n1\n'), 'y.spz'),
      ),
    ).toMatch(/content is 3DGS PLY, although the name suggests SPZ/);
  });

  it('SOG bundles: broken zip, lying entry sizes, missing images, lying image sizes', async () => {
    if (!splatTransform.available) return console.log(`skipped the SOG part: ${splatTransform.reason}`);
    const dir = mkdtempSync(join(tmpdir(), 'gs-sog-'));
    writeFileSync(join(dir, 's.ply'), writeGaussianPly(randomGaussians(100, 1, 9)));
    splatTransform.run(['s.ply', 's.sog'], dir);
    const sog = new Uint8Array(readFileSync(join(dir, 's.sog')));
    expect(await userError(() => rd(sog.subarray(0, sog.length - 30), 's.sog'))).toMatch(/SOG bundle/);
    const entries = unzipSync(sog);
    const { zipSync } = await import('fflate');
    const meta = JSON.parse(new TextDecoder().decode(entries['meta.json']));
    const without = { ...entries };
    delete without['quats.webp'];
    expect(await userError(() => rd(zipSync(without), 's.sog'))).toMatch(/no image 'quats\.webp'/);
    const big = { ...entries, 'meta.json': new TextEncoder().encode(JSON.stringify({ ...meta, count: 5_000_000 })) };
    expect(await userError(() => rd(zipSync(big), 's.sog'))).toMatch(/too small for 5000000 Gaussians/);
    // an image whose header claims 8000 × 8000 pixels (within the pixel limit) is refused before libwebp allocates 256 MB
    const huge = entries['means_l.webp'].slice();
    expect(String.fromCharCode(...huge.subarray(12, 16))).toBe('VP8L');
    new DataView(huge.buffer).setUint32(21, (huge[24] & 0xf0) * 2 ** 24 + (7999 << 14) + 7999, true);
    expect(await userError(() => rd(zipSync({ ...entries, 'means_l.webp': huge }), 's.sog'))).toMatch(
      /means_l\.webp\): SOG means \(low bytes\) image is 8000×8000: far larger than 100 Gaussians need/,
    );
    const badImg = { ...entries, 'sh0.webp': entries['sh0.webp'].slice(0, 40) };
    expect(await userError(() => rd(zipSync(badImg), 's.sog'))).toMatch(/sh0\.webp.*could not be decoded/);
    // the local header / directory claims a huge inflated size
    const z = zipSync(entries, { level: 6 });
    const dv = new DataView(z.buffer);
    for (let i = z.length - 22; i > 0; i--) if (dv.getUint32(i, true) === 0x02014b50) dv.setUint32(i + 24, 0x7fffffff, true);
    expect(await userError(() => rd(z, 's.sog'))).toMatch(/claims 2147483647 bytes|SOG bundle/);
    expect(await userError(() => readGaussians(new TextEncoder().encode(JSON.stringify(meta)), join(dir, 'meta.json'), nodeFiles))).toMatch(
      /SOG image 'means_l\.webp' .* is missing/,
    );
  });

  it('a count over the caller bound is refused with how many fit', async () => {
    expect(
      await userError(() => readGaussians(files.spz4, 'x.spz', null, { maxCount: 100, limitReason: 'the viewer can hold about' })),
    ).toMatch(/holds 300 Gaussians .*the viewer can hold about 100/);
  });
});

describe.skipIf(!splatTransform.available)('a fitted scene with SH survives every format (eval within 0.5 dB)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gs-fmt-fit-'));
  const ds = join(dir, 'demo');
  const results: Record<string, number> = {};
  beforeAll(async () => {
    const { writeDemoData } = await import('../src/cli/cmd-demo-data');
    await writeDemoData(ds, { size: 64, views: 24 });
    const { loadDataset, loadViews } = await import('../src/io/datasets/dataset');
    const { fitGaussians } = await import('../src/nerf/gaussian/fit-gaussians');
    const { saveGaussianScene } = await import('../src/io/scenes/load-gaussian-scene');
    const d = await loadDataset(ds, nodeFiles);
    const { views } = await loadViews(d, 'train', nodeFiles);
    // SH raised every 150 steps: degree 3 from step 450
    const r = await fitGaussians(
      d,
      views.map((v) => ({ camera: v.frame.camera, image: v.image })),
      { iters: 600, shEvery: 150, seed: 2 },
    );
    expect(r.gaussians.shDegree).toBe(3);
    await saveGaussianScene(join(dir, 'scene'), r.gaussians, d.background, nodeFiles);
    splatTransform.run(['scene/scene.ply', 'st.compressed.ply'], dir);
    splatTransform.run(['--spz-version', '3', 'scene/scene.ply', 'st3.spz'], dir);
    splatTransform.run(['--spz-version', '4', 'scene/scene.ply', 'st4.spz'], dir);
    splatTransform.run(['scene/scene.ply', 'st.sog'], dir);
    // the reverse: the project's files through splat-transform back to .ply
    const g = await read(join(dir, 'scene/scene.ply'));
    for (const [f, o] of [
      ['ours3.spz', { spzVersion: 3 as const }],
      ['ours4.spz', { spzVersion: 4 as const }],
      ['ours.compressed.ply', {}],
    ] as const) {
      writeFileSync(join(dir, f), await encodeGaussians(g, f, o));
      splatTransform.run([f, `${f}.st.ply`], dir);
      const back = readGaussianPly(new Uint8Array(readFileSync(join(dir, `${f}.st.ply`))), f);
      expect(back.count).toBe(g.count);
    }
    const { evaluate } = await import('../src/cli/cmd-eval');
    for (const f of [
      'scene/scene.ply',
      'st.compressed.ply',
      'st3.spz',
      'st4.spz',
      'st.sog',
      'ours3.spz.st.ply',
      'ours4.spz.st.ply',
      'ours.compressed.ply.st.ply',
    ])
      results[f] = (await evaluate(join(dir, f), ds, 'test', 1)).psnr;
    console.log(
      Object.entries(results)
        .map(([k, v]) => `${k} ${v.toFixed(2)} dB`)
        .join(', '),
    );
  }, 900_000);

  for (const f of [
    'st.compressed.ply',
    'st3.spz',
    'st4.spz',
    'st.sog',
    'ours3.spz.st.ply',
    'ours4.spz.st.ply',
    'ours.compressed.ply.st.ply',
  ])
    it(`${f}: test PSNR within 0.5 dB of the original .ply`, () => {
      expect(results['scene/scene.ply']).toBeGreaterThan(20);
      expect(Math.abs(results[f] - results['scene/scene.ply'])).toBeLessThan(0.5);
    });
});
