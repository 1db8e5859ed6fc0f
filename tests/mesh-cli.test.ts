import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readGltfMesh } from '../src/io/formats/gltf-mesh';
import { readObj, writeObj } from '../src/io/formats/obj';
import { readPlyMesh } from '../src/io/formats/ply-mesh';
import { vase } from '../src/nerf/mesh/mesh-shapes';
import { vertexCount } from '../src/nerf/mesh/mesh';
import { BIN, cli } from './helpers/cli';
import { tinyClipFolder } from './helpers/clip-models';
import { noGpu } from './helpers/skip';

const noGpuReason = await noGpu();

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
    expect(manifest.edit).toMatchObject({ instruction: 'make it gold', method: 'idu', parentSha256: before, field: 'small' });
    expect(manifest.meta.edits).toHaveLength(1);
    const log = JSON.parse(readFileSync(join(out, 'edit-log.json'), 'utf8'));
    expect(log).toMatchObject({ status: 'done', kind: 'mesh', instruction: 'make it gold', method: 'idu', steps: 30 });
    expect(log.settings).toMatchObject({ iters: 30, raysPerStep: 64 * 64, preserveWeight: 0, editable: { field: { width: 64 } } });
    const nv = vertexCount(vase(12, 8));
    expect(log.mesh).toMatchObject({ vertices: nv, styledVertices: nv });
    expect(existsSync(join(out, 'edit.ckpt'))).toBe(false);
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

  it("--prompt --clip runs Text2Mesh's CLIP loss (a small random CLIP: plumbing, not quality)", async () => {
    // a random CLIP gives no meaningful direction: the test checks finite losses, a field that moves, and the outputs
    const clip = await tinyClipFolder({ seed: 3 });
    const out = join(dir, 'clip');
    const args = ['stylize', join(dir, 'vase.obj'), '--prompt', 'a vase made of colorful crochet', '--clip', clip.dir];
    const r = cli([...args, '--iters', '8', '--views', '3', '--seed', '2', '--json', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const events = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const steps = events.filter((e) => e.event === 'progress' && e.phase === 'refit');
    expect(steps.map((e) => e.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    for (const e of steps) {
      expect(Number.isFinite(e.loss)).toBe(true);
      // colour (1 global + 4 local views) and geometry (4 local views) terms: each 1 − cos ∈ [0, 2]
      expect(e.loss).toBeGreaterThan(0);
      expect(e.loss).toBeLessThanOrEqual(2 * 9);
    }
    const log = JSON.parse(readFileSync(join(out, 'edit-log.json'), 'utf8'));
    expect(log).toMatchObject({ status: 'done', kind: 'mesh', prompt: 'a vase made of colorful crochet', method: 'image-loss', steps: 8 });
    expect(log.instruction).toBeUndefined();
    expect(log.model.id).toMatch(/^clip:.* "a vase made of colorful crochet"$/);
    expect(log.settings.imageLoss).toEqual({ viewsPerStep: 5, geometry: true });
    expect(log.views).toEqual({ count: 3, size: 32 }); // the model's input size
    expect(readdirSync(join(out, 'views')).sort()).toEqual(['view_000.png', 'view_001.png', 'view_002.png']);
    const m = await readGltfMesh(readFileSync(join(out, 'scene.glb')), 'scene.glb');
    const src = vase(12, 8);
    expect(m.indices).toEqual(src.indices);
    let moved = 0,
      recoloured = 0;
    for (let i = 0; i < src.positions.length; i++) {
      if (Math.abs(m.positions[i] - src.positions[i]) > 1e-6) moved++;
      if (Math.abs(m.colors![i] - 0.5) > 1e-3) recoloured++;
    }
    expect(moved).toBeGreaterThan(0); // the geometry term reaches the displacement
    expect(recoloured).toBeGreaterThan(src.positions.length / 2); // the colour term reaches the colours
    expect(m.positions.every(Number.isFinite) && m.colors!.every(Number.isFinite)).toBe(true);
    // the same seed reproduces the run
    const again = join(dir, 'clip-again');
    expect(cli([...args, '--iters', '8', '--views', '3', '--seed', '2', '--out', again]).code).toBe(0);
    expect(readFileSync(join(again, 'scene.glb')).equals(readFileSync(join(out, 'scene.glb')))).toBe(true);
    // --size belongs to the instruction editor; the CLIP loss renders at its model's size
    fails([...args, '--size', '64', '--out', join(dir, 'o-clip')], /--size goes with --instruction/, join(dir, 'o-clip'));
  }, 300_000);

  it('--resume after kill -9 gives the same mesh as an uninterrupted run', async () => {
    const args = ['stylize', join(dir, 'vase.obj'), '--instruction', 'make it gold', '--iters', '40', '--views', '3', '--size', '48'];
    const more = ['--checkpoint-every', '5', '--seed', '4'];
    const full = join(dir, 'full');
    expect(cli([...args, ...more, '--out', full]).code).toBe(0);
    const cut = join(dir, 'cut');
    const child = spawn(process.execPath, [BIN, ...args, ...more, '--out', cut], { stdio: 'ignore' });
    const killed = await new Promise<boolean>((resolve) => {
      const timer = setInterval(() => {
        if (existsSync(join(cut, 'edit.ckpt'))) {
          clearInterval(timer);
          child.kill('SIGKILL');
        }
      }, 5);
      child.on('exit', (_code, sig) => {
        clearInterval(timer);
        resolve(sig === 'SIGKILL');
      });
    });
    expect(killed).toBe(true);
    expect(existsSync(join(cut, 'scene.glb'))).toBe(false);
    // other settings are refused, naming the difference
    fails([...args, '--checkpoint-every', '5', '--seed', '5', '--resume', cut], /different seed/);
    const r = cli([...args, ...more, '--resume', cut, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout.trim().split('\n').pop()!)).toMatchObject({ event: 'done', resumed: true });
    expect(readFileSync(join(cut, 'scene.glb')).equals(readFileSync(join(full, 'scene.glb')))).toBe(true);
    expect(JSON.parse(readFileSync(join(cut, 'edit-log.json'), 'utf8')).times.resumed).toBe(true);
    expect(existsSync(join(cut, 'edit.ckpt'))).toBe(false);
    // a finished stylisation has nothing to resume
    expect(cli([...args, ...more, '--resume', cut]).stdout).toMatch(/already complete/);
  }, 300_000);

  it.skipIf(noGpuReason !== null)(
    '--backend webgpu stylises on the GPU kernels (rasteriser and field)',
    async () => {
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
    },
    600_000,
  );

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
      'ply\nformat binary_little_endian 1.0\nelement vertex 30000000\nproperty float x\nproperty float y\nproperty float z\nelement face 1\nproperty list uchar int vertex_indices\nend_header\n',
    );
    fails(['stylize', ply, '--instruction', 'make it gold', '--out', join(dir, 'o4')], /promises 30000000 vertex/, join(dir, 'o4'), ply);
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
    // outputs never go into an input: not the input's own folder, not inside a mesh scene folder
    fails(['stylize', join(dir, 'vase.obj'), '--instruction', 'make it gold', '--out', dir], /folder holding the input/);
    fails(
      ['stylize', join(dir, 'gold'), '--instruction', 'make it gold', '--out', join(dir, 'gold', 'again')],
      /inside the input folder/,
      join(dir, 'gold', 'again'),
    );
    fails(['convert', join(dir, 'vase.obj'), join(dir, 'vase.obj')], /is an input/);
    fails(['render', join(dir, 'gold'), '--orbit', '2', '--out', join(dir, 'gold', 'turntable')], /inside the input folder/);
    // a .gltf naming a buffer outside its folder is one line, nothing read or written
    writeFileSync(
      join(dir, 'escape.gltf'),
      JSON.stringify({ asset: { version: '2.0' }, buffers: [{ uri: '../../etc/passwd', byteLength: 4 }] }),
    );
    fails(['convert', join(dir, 'escape.gltf'), join(dir, 'o8.obj')], /leaves its folder/, join(dir, 'o8.obj'), join(dir, 'escape.gltf'));
    // a mesh given to edit points at stylize
    fails(
      ['edit', join(dir, 'vase.obj'), '--dataset', join(dir, 'orbit'), '--instruction', 'make it gold', '--out', join(dir, 'o9')],
      /stylize/,
    );
  }, 120_000);
});
