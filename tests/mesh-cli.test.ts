import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { gpuAvailable } from '../src/gpu/device';
import { installNodeWebGpu } from '../src/io/node/node-webgpu';
import { readGltfMesh } from '../src/io/formats/gltf-mesh';
import { readObj, writeObj } from '../src/io/formats/obj';
import { readPlyMesh } from '../src/io/formats/ply-mesh';
import { vase } from '../src/nerf/mesh/mesh-shapes';
import { cli } from './helpers/cli';

let dir = '';
const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'mesh-cli-'));
  writeFileSync(join(dir, 'vase.obj'), writeObj(vase(12, 8)));
});

/** A failing command: exit ≠ 0, one line on stderr naming `file` (when given), nothing written at `out`. */
function fails(args: string[], re: RegExp, out?: string, file?: string) {
  const r = cli(args);
  expect(r.code).not.toBe(0);
  const lines = r.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(re);
  if (file) expect(lines[0]).toContain(file);
  if (out) expect(existsSync(out)).toBe(false);
}

describe('instruct-scene stylize / render / convert with meshes', () => {
  it('stylize writes scene.json (kind mesh), scene.glb, edit-log.json and views; the input is untouched', () => {
    const input = join(dir, 'vase.obj');
    const before = sha(input);
    const out = join(dir, 'gold');
    const r = cli([
      'stylize',
      input,
      '--instruction',
      'make it gold',
      '--iters',
      '30',
      '--views',
      '4',
      '--size',
      '64',
      '--json',
      '--out',
      out,
    ]);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.some((l) => l.event === 'progress' && l.phase === 'refit')).toBe(true);
    const done = lines[lines.length - 1];
    expect(done).toMatchObject({ event: 'done', out, steps: 30 });
    expect(sha(input)).toBe(before);
    const manifest = JSON.parse(readFileSync(join(out, 'scene.json'), 'utf8'));
    expect(manifest).toMatchObject({ format: 'instruct-scene', kind: 'mesh', file: 'scene.glb' });
    expect(manifest.stylize).toMatchObject({ instruction: 'make it gold', method: 'idu', inputSha256: before });
    const log = JSON.parse(readFileSync(join(out, 'edit-log.json'), 'utf8'));
    expect(log).toMatchObject({ status: 'done', kind: 'mesh', instruction: 'make it gold', steps: 30 });
    expect(readdirSync(join(out, 'views')).sort()).toEqual(['view_000.png', 'view_001.png', 'view_002.png', 'view_003.png']);
    return readGltfMesh(readFileSync(join(out, 'scene.glb')), 'scene.glb').then((m) => {
      const src = readObj(readFileSync(input), 'vase.obj');
      expect(m.indices).toEqual(src.indices);
      expect(m.positions.length).toBe(src.positions.length);
      // gold: red and green above blue on average
      let d = 0;
      for (let i = 0; i < m.colors!.length; i += 3) d += (m.colors![i] + m.colors![i + 1]) / 2 - m.colors![i + 2];
      expect(d / (m.colors!.length / 3)).toBeGreaterThan(0.1);
    });
  }, 300_000);

  it('render takes mesh folders and mesh files, on an orbit or at a dataset’s cameras', () => {
    const orbit = join(dir, 'orbit');
    let r = cli(['render', join(dir, 'gold'), '--orbit', '3', '--size', '48x40', '--out', orbit]);
    expect(r.code, r.stderr).toBe(0);
    expect(readdirSync(join(orbit, 'images'))).toHaveLength(3);
    // any mesh file renders from a dataset's cameras (the orbit export is a dataset)
    const before = join(dir, 'before');
    r = cli(['render', join(dir, 'vase.obj'), '--dataset', orbit, '--out', before, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout.trim().split('\n').pop()!)).toMatchObject({ views: 3 });
    expect(readdirSync(join(before, 'images'))).toHaveLength(3);
  }, 120_000);

  it('convert between .glb, .ply and .obj keeps vertices, faces and colours', () => {
    const ply = join(dir, 'gold.ply'),
      obj = join(dir, 'gold.obj'),
      glb = join(dir, 'gold2.glb');
    expect(cli(['convert', join(dir, 'gold'), ply]).code).toBe(0);
    expect(cli(['convert', ply, obj]).code).toBe(0);
    const r = cli(['convert', obj, glb, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ kind: 'mesh', faces: 12 * 8 * 2 + 12, colors: true });
    const a = readPlyMesh(readFileSync(ply), 'gold.ply'),
      b = readObj(readFileSync(obj), 'gold.obj');
    expect(b.positions).toEqual(a.positions);
    expect(b.colors).toEqual(a.colors);
    fails(['convert', obj, join(dir, 'x.splat')], /converts to \.obj, \.ply or \.glb/);
  }, 120_000);

  it('a region keeps the vertices outside it bit-identical (through the CLI and the GLB)', async () => {
    const out = join(dir, 'half');
    const r = cli([
      'stylize',
      join(dir, 'vase.obj'),
      '--instruction',
      'make it gold',
      '--region',
      'box:-1,0,-1,1,1.1,1',
      '--iters',
      '20',
      '--views',
      '3',
      '--size',
      '48',
      '--out',
      out,
    ]);
    expect(r.code, r.stderr).toBe(0);
    const m = await readGltfMesh(readFileSync(join(out, 'scene.glb')), 'scene.glb');
    const src = vase(12, 8);
    let outside = 0;
    for (let i = 0; i < src.positions.length / 3; i++) {
      if (src.positions[3 * i + 1] >= 0) continue;
      outside++;
      for (let a = 0; a < 3; a++) expect(m.positions[3 * i + a]).toBe(src.positions[3 * i + a]);
      expect(Array.from(m.colors!.subarray(3 * i, 3 * i + 3))).toEqual([0.5, 0.5, 0.5].map((v) => expect.closeTo(v, 6)));
    }
    expect(outside).toBeGreaterThan(20);
  }, 300_000);

  it('--prompt --clip takes an image loss (an analytic one here)', async () => {
    const loss = join(dir, 'blue-loss');
    mkdirSync(loss);
    writeFileSync(join(loss, 'image-loss.json'), JSON.stringify({ kind: 'target-color', color: [0.1, 0.2, 0.9], imageSize: 48 }));
    const out = join(dir, 'blue');
    const r = cli(['stylize', join(dir, 'vase.obj'), '--prompt', 'a blue vase', '--clip', loss, '--iters', '15', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const log = JSON.parse(readFileSync(join(out, 'edit-log.json'), 'utf8'));
    expect(log).toMatchObject({ prompt: 'a blue vase', method: 'image-loss' });
    const m = await readGltfMesh(readFileSync(join(out, 'scene.glb')), 'scene.glb');
    let d = 0;
    for (let i = 0; i < m.colors!.length; i += 3) d += m.colors![i + 2] - m.colors![i];
    expect(d / (m.colors!.length / 3)).toBeGreaterThan(0.05);
  }, 300_000);

  it('--backend webgpu stylises on the GPU kernels (rasteriser and field)', async (ctx) => {
    installNodeWebGpu();
    if (!(await gpuAvailable())) {
      console.log('skipped: no WebGPU adapter (Dawn / SwiftShader) on this machine');
      ctx.skip();
    }
    const out = join(dir, 'gpu');
    // the small field and few steps: SwiftShader (a CPU emulation of a GPU) runs these kernels slowly
    const r = cli([
      'stylize',
      join(dir, 'vase.obj'),
      '--instruction',
      'make it gold',
      '--backend',
      'webgpu',
      '--field',
      'small',
      '--iters',
      '6',
      '--views',
      '2',
      '--size',
      '32',
      '--out',
      out,
    ]);
    expect(r.code, r.stderr).toBe(0);
    const log = JSON.parse(readFileSync(join(out, 'edit-log.json'), 'utf8'));
    expect(log.settings.backend).toBe('webgpu');
    expect(log.steps).toBe(6);
    const m = await readGltfMesh(readFileSync(join(out, 'scene.glb')), 'scene.glb');
    expect(m.positions.length).toBe(vase(12, 8).positions.length);
  }, 600_000);

  it('demo-data --meshes writes the demo meshes, which load', async () => {
    const out = join(dir, 'demo-meshes');
    const r = cli(['demo-data', '--meshes', '--out', out, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).files).toEqual(['vase.obj', 'torus.glb', 'sphere.ply', 'sphere-15k.obj']);
    const { readMeshFile } = await import('../src/io/scenes/load-mesh');
    const { nodeFiles } = await import('../src/io/node/node-files');
    const big = await readMeshFile(join(out, 'sphere-15k.obj'), nodeFiles);
    expect(Math.abs(big.positions.length / 3 - 15000)).toBeLessThan(300);
    for (const f of ['vase.obj', 'torus.glb', 'sphere.ply'])
      expect((await readMeshFile(join(out, f), nodeFiles)).indices.length).toBeGreaterThan(0);
  }, 60_000);

  it('bad input is one line naming the problem, and nothing is written', () => {
    const broken = join(dir, 'broken.obj');
    writeFileSync(broken, 'v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 7\n');
    fails(['stylize', broken, '--instruction', 'make it gold', '--out', join(dir, 'o1')], /face 0 names vertex 7/, join(dir, 'o1'), broken);
    const nan = join(dir, 'nan.obj');
    writeFileSync(nan, 'v 0 0 0\nv nan 0 0\nv 0 1 0\nf 1 2 3\n');
    fails(['render', nan, '--orbit', '2', '--out', join(dir, 'o2')], /non-finite/, join(dir, 'o2'), nan);
    const glb = join(dir, 'cut.glb');
    writeFileSync(glb, readFileSync(join(dir, 'gold', 'scene.glb')).subarray(0, 300));
    fails(['convert', glb, join(dir, 'o3.obj')], /truncated GLB/, join(dir, 'o3.obj'), glb);
    const ply = join(dir, 'lie.ply');
    writeFileSync(
      ply,
      'ply\nformat binary_little_endian 1.0\nelement vertex 99999999\nproperty float x\nproperty float y\nproperty float z\nelement face 1\nproperty list uchar int vertex_indices\nend_header\n',
    );
    fails(['stylize', ply, '--instruction', 'make it gold', '--out', join(dir, 'o4')], /promises 99999999 vertex/, join(dir, 'o4'), ply);
    fails(['stylize', join(dir, 'vase.obj'), '--prompt', 'x', '--out', join(dir, 'o5')], /--prompt needs --clip/, join(dir, 'o5'));
    fails(
      ['stylize', join(dir, 'vase.obj'), '--instruction', 'make it gold', '--region', 'box:5,5,5,6,6,6', '--out', join(dir, 'o6')],
      /outside/,
      join(dir, 'o6'),
    );
    fails(
      ['stylize', join(dir, 'vase.obj'), '--instruction', 'make it sparkle', '--out', join(dir, 'o7')],
      /does not understand/,
      join(dir, 'o7'),
    );
    fails(['stylize', join(dir, 'vase.obj'), '--instruction', 'make it gold', '--out', join(dir, 'gold')], /already holds/);
  }, 120_000);
});
