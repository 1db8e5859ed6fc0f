import { beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync, mkdirSync, copyFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli } from './helpers/cli';

/**
 * The voxel trunk through the real CLI: demo-data → fit → eval → render (multiview export) → eval of the
 * export, on a tiny demo (32², 32 views) so the file stays well under a minute on two shared cores.
 */
const dir = mkdtempSync(join(tmpdir(), 'cli-voxel-'));
const data = join(dir, 'data'),
  scene = join(dir, 'scene');

function oneLineError(r: { code: number | null; stderr: string }, re: RegExp) {
  expect(r.code).not.toBe(0);
  const lines = r.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(re);
  expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
}

describe('fit / eval / render on a tiny demo', () => {
  beforeAll(() => {
    const d = cli(['demo-data', '--out', data, '--size', '32', '--views', '32']);
    expect(d.code).toBe(0);
    const f = cli(['fit', data, '--repr', 'voxel', '--res', '40', '--iters', '300', '--out', scene, '--json']);
    expect(f.stderr).toBe('');
    expect(f.code).toBe(0);
    const last = JSON.parse(f.stdout.trim().split('\n').pop()!);
    expect(last.out).toBe(scene);
  }, 300_000);

  it('fits the demo well enough that held-out views match (PSNR a bad fit would miss)', () => {
    const e = cli(['eval', scene, '--dataset', data, '--split', 'test', '--json']);
    expect(e.code).toBe(0);
    const r = JSON.parse(e.stdout);
    expect(r.views).toHaveLength(4);
    for (const v of r.views) expect(v.file).toMatch(/^images\/frame_\d+\.png$/);
    // an empty grid scores ~11 dB here, a mean-colour one ~14 dB; 300 steps reach ~26 dB
    expect(r.psnr).toBeGreaterThan(23);
    expect(r.ssim).toBeGreaterThan(0.8);
    expect(r.ssim).toBeLessThanOrEqual(1);
  });

  it('a multiview export loads back as a dataset and evaluates ≥ 40 dB against its own renders', () => {
    const out = join(dir, 'renders');
    const r = cli(['render', scene, '--dataset', data, '--split', 'test', '--out', out]);
    expect(r.code).toBe(0);
    expect(readdirSync(join(out, 'images')).sort()).toEqual(['frame_00001.png', 'frame_00009.png', 'frame_00017.png', 'frame_00025.png']);
    const t = JSON.parse(readFileSync(join(out, 'transforms.json'), 'utf8'));
    expect(t.frames).toHaveLength(4);
    expect(t.test_filenames).toHaveLength(4);
    const e = JSON.parse(cli(['eval', scene, '--dataset', out, '--split', 'test', '--json']).stdout);
    expect(e.views).toHaveLength(4);
    expect(e.psnr).toBeGreaterThan(40);
  });

  it('says where it wrote with one slash, however --out was typed', () => {
    const r = cli(['render', scene, '--dataset', data, '--split', 'test', '--out', join(dir, 'renders-slash') + '//']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`→ ${join(dir, 'renders-slash')}/ (images/*.png`);
    expect(r.stdout).not.toContain('//');
  });

  it('orbit export: N views at the requested size, loadable, consistent', () => {
    const out = join(dir, 'orbit');
    const r = cli(['render', scene, '--orbit', '5', '--size', '40x24', '--out', out, '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout.trim().split('\n').pop()!).views).toBe(5);
    const t = JSON.parse(readFileSync(join(out, 'transforms.json'), 'utf8'));
    expect(t.frames.map((f: any) => [f.w, f.h])).toEqual(Array(5).fill([40, 24]));
    const e = JSON.parse(cli(['eval', scene, '--dataset', out, '--split', 'all', '--json']).stdout);
    expect(e.psnr).toBeGreaterThan(40);
    // the orbit looks at the scene: renders are not just background
    expect(statSync(join(out, 'images', 'orbit_0000.png')).size).toBeGreaterThan(500);
  });

  it('fit --repr gaussians reports and records test PSNR like the voxel fit, and honours --max-gaussians', () => {
    const out = join(dir, 'gs');
    const r = cli(['fit', data, '--repr', 'gaussians', '--iters', '150', '--max-gaussians', '400', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const m = /train PSNR ([\d.]+) dB, test PSNR ([\d.]+) dB\) → (.*)$/m.exec(r.stdout);
    expect(m, r.stdout).not.toBeNull();
    expect(m![3]).toBe(`${out}/`);
    const meta = JSON.parse(readFileSync(join(out, 'scene.json'), 'utf8')).meta;
    expect(meta.testPsnr).toBeCloseTo(Number(m![2]), 2);
    expect(meta.count).toBeLessThanOrEqual(400);
    // the test PSNR is the scene's own: eval of the saved scene on the test split agrees
    const e = JSON.parse(cli(['eval', out, '--dataset', data, '--split', 'test', '--json']).stdout);
    expect(e.psnr).toBeCloseTo(meta.testPsnr, 1);
    expect(e.psnr).toBeGreaterThan(14); // above a mean-colour image
  });

  it('demo runs the whole trunk (small settings) and says where everything went', () => {
    const out = join(dir, 'demo');
    const r = cli(['demo', '--out', out, '--size', '24', '--iters', '120', '--res', '24', '--json']);
    expect(r.code).toBe(0);
    const res = JSON.parse(r.stdout.trim().split('\n').pop()!);
    expect(res.renders).toBe(join(out, 'renders'));
    expect(readdirSync(join(out, 'renders', 'images'))).toHaveLength(8);
    expect(existsSync(join(out, 'scene', 'scene.voxel'))).toBe(true);
    expect(res.testPsnr).toBeGreaterThan(16);
  });

  it('bad input: one line, non-zero exit, no stack, inputs untouched', () => {
    oneLineError(cli(['eval', join(dir, 'nope'), '--dataset', data]), /eval: error: .*nope: no such scene/);
    oneLineError(cli(['fit', join(dir, 'nope'), '--out', join(dir, 'x')]), /fit: error: .*nope: no such file or folder/);
    oneLineError(cli(['fit', data, '--repr', 'mesh', '--out', join(dir, 'x')]), /--repr must be one of voxel, gaussians/);
    oneLineError(cli(['render', scene, '--out', join(dir, 'x')]), /give exactly one of --dataset DATASET or --orbit N/);
    oneLineError(cli(['render', scene, '--orbit', '3', '--size', 'big', '--out', join(dir, 'x')]), /--size must look like 512x512/);
    // broken JSON and a non-finite pose in a copy of the dataset
    const bad = join(dir, 'bad');
    mkdirSync(join(bad, 'images'), { recursive: true });
    for (const f of readdirSync(join(data, 'images'))) copyFileSync(join(data, 'images', f), join(bad, 'images', f));
    const text = readFileSync(join(data, 'transforms.json'), 'utf8');
    writeFileSync(join(bad, 'transforms.json'), text.slice(0, text.length / 2));
    oneLineError(cli(['fit', bad, '--out', join(dir, 'x')]), /bad\/transforms\.json: broken JSON/);
    const t = JSON.parse(text);
    t.frames[3].transform_matrix[0][3] = '__INF__';
    writeFileSync(join(bad, 'transforms.json'), JSON.stringify(t).replace('"__INF__"', '1e999'));
    const before = readFileSync(join(bad, 'transforms.json'));
    oneLineError(cli(['eval', scene, '--dataset', bad]), /transforms\.json: frame 3 .*transform_matrix\[0\]\[3\] must be a finite number/);
    expect(readFileSync(join(bad, 'transforms.json'))).toEqual(before);
    // a corrupt scene file
    const broken = join(dir, 'broken');
    mkdirSync(broken);
    copyFileSync(join(scene, 'scene.json'), join(broken, 'scene.json'));
    writeFileSync(join(broken, 'scene.voxel'), readFileSync(join(scene, 'scene.voxel')).subarray(0, 1000));
    oneLineError(cli(['render', broken, '--orbit', '2', '--out', join(dir, 'x')]), /broken\/scene\.voxel: truncated/);
    expect(existsSync(join(dir, 'x'))).toBe(false);
  });
});
