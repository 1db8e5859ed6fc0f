import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, readFileSync, writeFileSync, existsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '../src/core/rng';
import { UserError } from '../src/core/errors';
import { sigmoid } from '../src/core/math';
import { createGaussians, SH_STRIDE, type Gaussians } from '../src/nerf/gaussian/gaussians';
import { readGaussianPly, readPointCloud, writeGaussianPly } from '../src/io/formats/ply';
import { readSplat, writeSplat } from '../src/io/formats/splat';
import { loadScene } from '../src/io/scenes/load-scene';
import { nodeFiles } from '../src/io/node/node-files';
import { SH_C0 } from '../src/nerf/common/sh';
import { randomGaussians as randomScene } from './helpers/scenes';

const run = promisify(execFile);

const randomGaussians = (n: number, deg: number, seed = 1): Gaussians =>
  randomScene(new Rng(seed), n, deg, { mean: 2, logScale: [-5, -1], opacityLogit: [-4, 4], unitRotations: true, sh: { all: 1 } });

function expectSame(a: Gaussians, b: Gaussians, deg: number, tol = 1e-6) {
  expect(b.count).toBe(a.count);
  expect(b.shDegree).toBe(deg);
  const cmp = (x: Float32Array, y: Float32Array, n: number) => {
    for (let i = 0; i < n; i++) expect(Math.abs(x[i] - y[i])).toBeLessThanOrEqual(tol);
  };
  cmp(a.means, b.means, a.count * 3);
  cmp(a.logScales, b.logScales, a.count * 3);
  cmp(a.rotations, b.rotations, a.count * 4);
  cmp(a.opacityLogits, b.opacityLogits, a.count);
  for (let i = 0; i < a.count; i++)
    for (let k = 0; k < (deg + 1) ** 2 * 3; k++)
      expect(Math.abs(a.sh[i * SH_STRIDE + k] - b.sh[i * SH_STRIDE + k])).toBeLessThanOrEqual(tol);
}

/** A PLY with the given vertex properties in the given order (and types), values from `value(i, name)`. */
function customPly(
  format: 'ascii' | 'binary_little_endian' | 'binary_big_endian',
  n: number,
  props: [string, string][],
  value: (i: number, name: string) => number,
  extra = '',
): Uint8Array {
  const head = `ply\nformat ${format} 1.0\ncomment made by a test\n${extra}element vertex ${n}\n${props.map(([t, p]) => `property ${t} ${p}\n`).join('')}end_header\n`;
  if (format === 'ascii') {
    const lines = [];
    for (let i = 0; i < n; i++) lines.push(props.map(([, p]) => String(value(i, p))).join(' '));
    return new TextEncoder().encode(head + lines.join('\n') + '\n');
  }
  const size: Record<string, number> = { float: 4, double: 8, uchar: 1, int: 4 };
  const row = props.reduce((s, [t]) => s + size[t], 0);
  const h = new TextEncoder().encode(head);
  const out = new Uint8Array(h.length + n * row);
  out.set(h);
  const dv = new DataView(out.buffer, h.length);
  const le = format === 'binary_little_endian';
  let o = 0;
  for (let i = 0; i < n; i++)
    for (const [t, p] of props) {
      const v = value(i, p);
      if (t === 'float') dv.setFloat32(o, v, le);
      else if (t === 'double') dv.setFloat64(o, v, le);
      else if (t === 'uchar') dv.setUint8(o, v);
      else dv.setInt32(o, v, le);
      o += size[t];
    }
  return out;
}

function userError(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(UserError);
    const m = (e as Error).message;
    expect(m.split('\n').length).toBe(1);
    return m;
  }
  throw new Error('expected a UserError');
}

describe('3DGS .ply', () => {
  for (const format of ['binary', 'ascii'] as const)
    for (const deg of [0, 1, 2, 3])
      it(`round-trips ${format} with SH degree ${deg}`, () => {
        const g = randomGaussians(37, deg, deg + 1);
        const bytes = writeGaussianPly(g, { format });
        const back = readGaussianPly(bytes, 'x.ply');
        expectSame(g, back, deg, format === 'binary' ? 0 : 1e-6);
        if (format === 'binary') {
          const text = new TextDecoder().decode(bytes.subarray(0, 2000));
          expect(text).toContain('format binary_little_endian 1.0');
          expect(text).toContain('property float nx');
          if (deg > 0) expect(text).toContain(`property float f_rest_${3 * ((deg + 1) ** 2 - 1) - 1}`);
          else expect(text).not.toContain('f_rest');
          expect(bytes.length).toBe(text.indexOf('end_header\n') + 11 + 37 * 4 * (3 + 3 + 3 + 3 * ((deg + 1) ** 2 - 1) + 1 + 3 + 4));
        }
      });

  it('reads properties in header order (shuffled, doubles, big-endian, extra properties, no normals)', () => {
    const g = randomGaussians(11, 1, 7);
    const names = [
      'x',
      'y',
      'z',
      'f_dc_0',
      'f_dc_1',
      'f_dc_2',
      ...Array.from({ length: 9 }, (_, j) => `f_rest_${j}`),
      'opacity',
      'scale_0',
      'scale_1',
      'scale_2',
      'rot_0',
      'rot_1',
      'rot_2',
      'rot_3',
    ];
    const rng = new Rng(3);
    const shuffled = [...names];
    for (let i = shuffled.length - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [shuffled[i], shuffled[j]] = [shuffled[j], shuffled[i]];
    }
    const props: [string, string][] = shuffled.map((p, i) => [i % 3 === 0 ? 'double' : 'float', p]);
    props.splice(5, 0, ['uchar', 'segment_id'], ['float', 'confidence']);
    const value = (i: number, p: string): number => {
      if (p === 'segment_id') return 200;
      if (p === 'confidence') return 0.5;
      if (p === 'x' || p === 'y' || p === 'z') return g.means[3 * i + 'xyz'.indexOf(p)];
      if (p.startsWith('f_dc_')) return g.sh[i * SH_STRIDE + Number(p.slice(5))];
      if (p.startsWith('f_rest_')) {
        const j = Number(p.slice(7));
        return g.sh[i * SH_STRIDE + 3 * (1 + (j % 3)) + Math.floor(j / 3)];
      }
      if (p === 'opacity') return g.opacityLogits[i];
      if (p.startsWith('scale_')) return g.logScales[3 * i + Number(p.slice(6))];
      return g.rotations[4 * i + Number(p.slice(4))];
    };
    for (const fmt of ['binary_little_endian', 'binary_big_endian', 'ascii'] as const) {
      const back = readGaussianPly(customPly(fmt, 11, props, value, 'element camera 1\nproperty float fov\n'.slice(0, 0)), 'odd.ply');
      expectSame(g, back, 1, 1e-6);
    }
  });

  it('skips elements before the vertex element and normalises quaternions', () => {
    const props: [string, string][] = [
      ['float', 'x'],
      ['float', 'y'],
      ['float', 'z'],
      ['float', 'scale_0'],
      ['float', 'scale_1'],
      ['float', 'scale_2'],
      ['float', 'rot_0'],
      ['float', 'rot_1'],
      ['float', 'rot_2'],
      ['float', 'rot_3'],
      ['float', 'opacity'],
    ];
    const text = `ply\nformat ascii 1.0\nelement info 2\nproperty list uchar int ids\nproperty float q\nelement vertex 2\n${props.map(([t, p]) => `property ${t} ${p}\n`).join('')}end_header\n3 1 2 3 0.5\n0 7\n1 2 3 -1 -1 -1 2 0 0 0 0\n4 5 6 -2 -2 -2 0 0 0 3 1\n`;
    const g = readGaussianPly(new TextEncoder().encode(text), 'a.ply');
    expect(g.count).toBe(2);
    expect([...g.means.subarray(3, 6)]).toEqual([4, 5, 6]);
    expect([...g.rotations]).toEqual([1, 0, 0, 0, 0, 0, 0, 1]);
    // no colour: grey
    expect(0.5 + SH_C0 * g.sh[0]).toBeCloseTo(0.5, 6);
  });

  it('reads sparse point clouds (uchar colours) for initialisation', () => {
    const text =
      'ply\nformat ascii 1.0\nelement vertex 3\nproperty float x\nproperty float y\nproperty float z\nproperty uint8 red\nproperty uint8 green\nproperty uint8 blue\nend_header\n0 0 0 255 0 0\n1 0 0 0 255 0\n0 1 0 0 0 51\n';
    const pc = readPointCloud(new TextEncoder().encode(text), 'sparse_pc.ply');
    expect(pc.count).toBe(3);
    expect([...pc.rgb!].map((v) => Math.round(v * 100) / 100)).toEqual([1, 0, 0, 0, 1, 0, 0, 0, 0.2]);
  });

  it("reads the bear capture's sparse points when the shared data is present", () => {
    const p = join(__dirname, '../../shared/data/bear/sparse_pc.ply');
    if (!existsSync(p)) {
      console.log(`skipped: ${p} not found (users' clones have no ../shared)`);
      return;
    }
    const pc = readPointCloud(new Uint8Array(readFileSync(p)), p);
    expect(pc.count).toBe(34174);
    expect(pc.xyz[0]).toBeCloseTo(2.563399, 5);
  });

  describe('malformed files give one clear line', () => {
    const good = writeGaussianPly(randomGaussians(20, 3));
    const cases: [string, () => Uint8Array, RegExp][] = [
      ['not a PLY', () => new TextEncoder().encode('hello world, not a ply'), /not a PLY file/],
      ['empty', () => new Uint8Array(0), /not a PLY file/],
      ['no end_header', () => new TextEncoder().encode('ply\nformat ascii 1.0\nelement vertex 3\nproperty float x\n'), /end_header/],
      ['truncated body', () => good.subarray(0, good.length - 100), /promises 20 vertices.*truncated/],
      [
        'header promising a billion vertices',
        () => {
          const t = new TextDecoder('latin1').decode(good).replace('element vertex 20', 'element vertex 1000000000');
          return Uint8Array.from(t, (c) => c.charCodeAt(0));
        },
        /vertex' count \(1,000,000,000\) is over the limit/,
      ],
      [
        'ascii header promising more lines',
        () =>
          new TextEncoder().encode(
            'ply\nformat ascii 1.0\nelement vertex 99999999999\nproperty float x\nproperty float y\nproperty float z\nend_header\n1 2 3\n',
          ),
        /vertex' count \(99,999,999,999\) is over the limit/,
      ],
      [
        'ascii body ending early',
        () =>
          new TextEncoder().encode(
            'ply\nformat ascii 1.0\nelement vertex 3\nproperty float x\nproperty float y\nproperty float z\nend_header\n1 2 3\n4 5 6\n              \n',
          ),
        /ends early/,
      ],
      [
        'NaN value',
        () =>
          new TextEncoder().encode(
            'ply\nformat ascii 1.0\nelement vertex 2\nproperty float x\nproperty float y\nproperty float z\nend_header\n1 2 3\n4 nan 6\n',
          ),
        /vertex 1: property y is NaN/,
      ],
      [
        'garbage number',
        () =>
          new TextEncoder().encode(
            'ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\nproperty float y\nproperty float z\nend_header\n1 2 zz\n',
          ),
        /'zz' is not a number/,
      ],
      [
        'empty elements with huge counts (no hang)',
        () =>
          new TextEncoder().encode('ply\nformat ascii 1.0\nelement junk 9007199254740991\nelement vertex 9007199254740991\nend_header\n'),
        /junk' count \(9,007,199,254,740,991\) is over the limit/,
      ],
      [
        'binary list element running past the end',
        () =>
          new TextEncoder().encode(
            'ply\nformat binary_little_endian 1.0\nelement face 1000000\nproperty list uchar int idx\nelement vertex 1\nproperty float x\nend_header\n\u0003abc',
          ),
        /extends past the end/,
      ],
      ['unknown format', () => new TextEncoder().encode('ply\nformat binary_middle_endian 1.0\nend_header\n'), /unknown format/],
      [
        'no vertex element',
        () => new TextEncoder().encode('ply\nformat ascii 1.0\nelement face 0\nproperty list uchar int vertex_indices\nend_header\n'),
        /no vertex element/,
      ],
      [
        'bad SH count',
        () =>
          customPly(
            'ascii',
            1,
            [
              ['float', 'x'],
              ['float', 'y'],
              ['float', 'z'],
              ['float', 'f_rest_0'],
              ['float', 'f_rest_1'],
            ],
            () => 0,
          ),
        /2 f_rest properties/,
      ],
      [
        'zero quaternion',
        () =>
          customPly(
            'ascii',
            1,
            [
              ['float', 'x'],
              ['float', 'y'],
              ['float', 'z'],
              ['float', 'rot_0'],
              ['float', 'rot_1'],
              ['float', 'rot_2'],
              ['float', 'rot_3'],
            ],
            () => 0,
          ),
        /quaternion is zero/,
      ],
    ];
    for (const [name, make, re] of cases)
      it(name, () => {
        const t = Date.now();
        expect(userError(() => readGaussianPly(make(), 'bad.ply'))).toMatch(re);
        expect(Date.now() - t).toBeLessThan(2000);
      });
  });
});

describe('.splat', () => {
  it('writes 32 bytes per splat, sorted by −exp(Σ scale)·alpha, and reads back within quantisation', () => {
    const g = randomGaussians(50, 2, 4);
    const bytes = writeSplat(g);
    expect(bytes.length).toBe(50 * 32);
    const back = readSplat(bytes, 'a.splat');
    expect(back.count).toBe(50);
    expect(back.shDegree).toBe(0);
    const dv = new DataView(bytes.buffer);
    let prev = -Infinity,
      prevS = 0;
    for (let j = 0; j < 50; j++) {
      const s = dv.getFloat32(j * 32 + 12, true) * dv.getFloat32(j * 32 + 16, true) * dv.getFloat32(j * 32 + 20, true);
      const key = -s * (bytes[j * 32 + 27] / 255);
      // alpha is quantised in the file, not in the sort
      expect(key).toBeGreaterThanOrEqual(prev - (s + prevS) / 255 - 1e-6 * Math.abs(prev));
      prev = key;
      prevS = s;
    }
    // match each read splat to its source by position
    for (let j = 0; j < 50; j++) {
      let i = 0;
      while (i < 50 && !(g.means[3 * i] === back.means[3 * j] && g.means[3 * i + 1] === back.means[3 * j + 1])) i++;
      expect(i).toBeLessThan(50);
      for (let a = 0; a < 3; a++) expect(back.logScales[3 * j + a]).toBeCloseTo(g.logScales[3 * i + a], 5);
      const op = sigmoid(g.opacityLogits[i]),
        op2 = sigmoid(back.opacityLogits[j]);
      expect(Math.abs(op - op2)).toBeLessThanOrEqual(0.5 / 255 + 1e-6);
      for (let c = 0; c < 3; c++) {
        const col = Math.min(1, Math.max(0, 0.5 + SH_C0 * g.sh[i * SH_STRIDE + c])),
          col2 = 0.5 + SH_C0 * back.sh[j * SH_STRIDE + c];
        expect(Math.abs(col - col2)).toBeLessThanOrEqual(0.5 / 255 + 1e-6);
      }
      // same rotation up to sign, within 8-bit quantisation
      let dot = 0;
      for (let a = 0; a < 4; a++) dot += g.rotations[4 * i + a] * back.rotations[4 * j + a];
      expect(Math.abs(dot)).toBeGreaterThan(0.995);
    }
  });

  it('rejects malformed files with one line', () => {
    expect(userError(() => readSplat(new Uint8Array(33), 'x.splat'))).toMatch(/not a multiple of 32/);
    expect(userError(() => readSplat(new Uint8Array(0), 'x.splat'))).toMatch(/empty/);
    const b = writeSplat(randomGaussians(3, 0));
    new DataView(b.buffer).setFloat32(32 + 4, NaN, true);
    expect(userError(() => readSplat(b, 'x.splat'))).toMatch(/splat 1: position is NaN/);
    const c = writeSplat(randomGaussians(3, 0));
    new DataView(c.buffer).setFloat32(64 + 16, -1, true);
    expect(userError(() => readSplat(c, 'x.splat'))).toMatch(/splat 2: scale is -1/);
  });
});

describe('Gaussian scenes and the convert CLI', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gs-io-'));
  const cli = join(__dirname, '../bin/instruct-scene.mjs');

  it('loadScene takes .ply, .splat and scene folders', async () => {
    const g = randomGaussians(30, 3);
    writeFileSync(join(dir, 'a.ply'), writeGaussianPly(g));
    writeFileSync(join(dir, 'a.splat'), writeSplat(g));
    const s1 = await loadScene(join(dir, 'a.ply'), nodeFiles);
    const s2 = await loadScene(join(dir, 'a.splat'), nodeFiles);
    expect(s1.kind).toBe('gaussians');
    expect(s2.kind).toBe('gaussians');
    const { GaussianScene } = await import('../src/nerf/gaussian/gaussian-scene');
    expect(s1).toBeInstanceOf(GaussianScene);
    expect((s1 as InstanceType<typeof GaussianScene>).gaussians.count).toBe(30);
    const { saveGaussianScene } = await import('../src/io/scenes/load-gaussian-scene');
    await saveGaussianScene(join(dir, 'scene'), g, [0, 0, 0], nodeFiles);
    const s3 = await loadScene(join(dir, 'scene'), nodeFiles);
    expect(s3.background).toEqual([0, 0, 0]);
    expect(s3).toBeInstanceOf(GaussianScene);
    expect((s3 as InstanceType<typeof GaussianScene>).gaussians.shDegree).toBe(3);
  });

  it('GaussianScene renders RGB, alpha and ray-distance depth', async () => {
    const { GaussianScene } = await import('../src/nerf/gaussian/gaussian-scene');
    const { lookAtCamera } = await import('../src/core/camera');
    const g = createGaussians(1, 0);
    g.logScales.fill(Math.log(0.3));
    g.opacityLogits[0] = 8;
    g.means.set([0.5, 0, 0]);
    const cam = lookAtCamera([0, 0, 4], [0, 0, 0], [0, 1, 0], 48, 32, 40);
    const out = await new GaussianScene(g, [0, 0, 0]).render(cam);
    expect(out.image.width).toBe(48);
    expect(out.image.channels).toBe(3);
    // pixel nearest the mean's projection: depth is the distance along the ray, not camera z
    const { projectPoint } = await import('../src/core/camera');
    const [u, v] = projectPoint(cam, g.means)!;
    const pi = Math.floor(v) * 48 + Math.floor(u);
    expect(out.alpha[pi]).toBeGreaterThan(0.9);
    expect(out.depth[pi]).toBeCloseTo(Math.hypot(0.5, 4), 1);
    expect(out.depth[pi]).toBeGreaterThan(4.01);
    expect(out.alpha[0]).toBeLessThan(0.01);
    expect(out.depth[0]).toBe(0);
  });

  it('convert: .ply → .splat → .ply, one-line errors, inputs never overwritten', async () => {
    const g = randomGaussians(40, 3);
    const ply = join(dir, 'in.ply');
    writeFileSync(ply, writeGaussianPly(g));
    const before = readFileSync(ply);
    const r = await run('node', [cli, 'convert', ply, join(dir, 'out.splat'), '--json']);
    expect(JSON.parse(r.stdout.trim().split('\n').pop()!)).toMatchObject({ count: 40 });
    expect(statSync(join(dir, 'out.splat')).size).toBe(40 * 32);
    await run('node', [cli, 'convert', join(dir, 'out.splat'), join(dir, 'back.ply')]);
    const back = readGaussianPly(new Uint8Array(readFileSync(join(dir, 'back.ply'))), 'back.ply');
    expect(back.count).toBe(40);
    expect(back.shDegree).toBe(0);
    expect(readFileSync(ply).equals(before)).toBe(true);
    writeFileSync(join(dir, 'bad.splat'), new Uint8Array(33));
    const e = await run('node', [cli, 'convert', join(dir, 'bad.splat'), join(dir, 'x.ply')]).catch((x) => x);
    expect(e.code).not.toBe(0);
    const lines = e.stderr
      .trim()
      .split('\n')
      .filter((l: string) => !l.startsWith('npm warn'));
    expect(lines.length).toBe(1);
    expect(lines[0]).toMatch(/bad\.splat.*not a multiple of 32/);
    expect(existsSync(join(dir, 'x.ply'))).toBe(false);
    // a scene folder (saved by the loadScene test above) converts too
    await run('node', [cli, 'convert', join(dir, 'scene'), join(dir, 'scene.splat')]);
    expect(statSync(join(dir, 'scene.splat')).size).toBe(30 * 32);
    const same = await run('node', [cli, 'convert', ply, ply]).catch((x) => x);
    expect(same.code).not.toBe(0);
    expect(readFileSync(ply).equals(before)).toBe(true);
  }, 60_000);
});
