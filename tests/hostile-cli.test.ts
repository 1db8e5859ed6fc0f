import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli } from './helpers/cli';
import { writeDemoData } from '../src/cli/cmd-demo-data';
import { fitToFolder } from '../src/cli/cmd-fit';
import { Progress } from '../src/cli/progress';
import { saveGaussianScene } from '../src/io/scenes/load-gaussian-scene';
import { nodeFiles } from '../src/io/node/node-files';
import { createGaussians } from '../src/nerf/gaussian/gaussians';
import { checkCommandLineForOrt, MAX_COMMAND_LINE_FOR_ORT } from '../src/io/node/node-ort';
import { UserError } from '../src/core/errors';

/**
 * Issue 17 through the real CLI (child processes): the long-instruction SIGSEGV, inputs never modified,
 * outputs checked before the work, one line for every refusal. Each run must exit 1 with exactly one line
 * on stderr and never 70 (internal error) or a signal.
 */
let dir: string;
const data = () => join(dir, 'data');
const vox = () => join(dir, 'vox');

function hashTree(p: string): string {
  const h = createHash('sha256');
  const walk = (d: string) => {
    for (const e of readdirSync(d).sort()) {
      const q = join(d, e);
      if (statSync(q).isDirectory()) walk(q);
      else h.update(`${q}:`).update(readFileSync(q));
    }
  };
  walk(p);
  return h.digest('hex');
}

function refusedInOneLine(args: string[], re: RegExp, timeout = 120_000) {
  const r = cli(args, { cwd: dir, timeout });
  expect(r.code, r.stderr).toBe(1);
  expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1);
  expect(r.stderr).toMatch(re);
  return r;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'is-hostile-cli-'));
  await writeDemoData(data(), { size: 16, views: 8 });
  await fitToFolder(
    data(),
    vox(),
    { repr: 'voxel', res: 8, iters: 5, backend: 'cpu', downscale: 1, seed: 0, sh: false },
    new Progress('off'),
  );
  const g = createGaussians(4, 0);
  for (let i = 0; i < 4; i++) g.logScales.set([-2, -2, -2], 3 * i);
  await saveGaussianScene(join(dir, 'real'), g, [1, 1, 1], nodeFiles);
}, 300_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the long-instruction crash', () => {
  it('a 60,000-character --instruction is one line and exit 1, not SIGSEGV (onnxruntime-node is never started with a long command line)', () => {
    const png = readdirSync(join(data(), 'images'))[0];
    const r = refusedInOneLine(
      ['edit-image', join(data(), 'images', png), '--instruction', `make it red ${'x y '.repeat(15000)}`, '--steps', '2', '--out', 'o.png'],
      /--instruction is 60,012 characters; at most 1000 are accepted/,
    );
    expect(r.stderr.length).toBeLessThan(400);
    expect(() => checkCommandLineForOrt(MAX_COMMAND_LINE_FOR_ORT + 1)).toThrow(UserError);
    expect(() => checkCommandLineForOrt(2000)).not.toThrow();
  });
});

describe('inputs are never modified', () => {
  it('convert IN LINK/IN (the output reaches the input through a symlinked folder) is refused', () => {
    symlinkSync(join(dir, 'real'), join(dir, 'link'));
    const before = hashTree(join(dir, 'real'));
    refusedInOneLine(['convert', 'real/scene.ply', 'link/scene.ply'], /OUT is an input/);
    expect(hashTree(join(dir, 'real'))).toBe(before);
    expect(cli(['convert', 'real/scene.ply', 'real.splat'], { cwd: dir }).code).toBe(0);
  });
  it('render --out DATASET, render --out SCENE, fit --out inside the dataset: refused, nothing written', () => {
    const before = hashTree(data());
    refusedInOneLine(['render', 'vox', '--dataset', 'data', '--out', 'data'], /--out is an input/);
    refusedInOneLine(['render', 'vox', '--orbit', '2', '--size', '8x8', '--out', 'vox'], /--out is an input/);
    refusedInOneLine(['fit', 'data', '--iters', '5', '--out', 'data/scene'], /--out lies inside the input folder/);
    expect(hashTree(data())).toBe(before);
  });
});

describe('outputs are checked before the work, leftovers removed', () => {
  it('an output under a file is refused at once (not EACCES after the fit)', () => {
    writeFileSync(join(dir, 'afile'), 'x');
    const t0 = Date.now();
    refusedInOneLine(['fit', 'data', '--out', 'afile/scene'], /cannot create --out: .*afile is a file, not a folder/);
    expect(Date.now() - t0).toBeLessThan(60_000);
  });
  it('render removes a killed run’s temp files and staging folder and writes the export whole', () => {
    const out = join(dir, 'renders');
    mkdirSync(join(out, 'images'), { recursive: true });
    writeFileSync(join(out, 'images/orbit_0000.png.0123456789ab.tmp'), 'half');
    mkdirSync(join(out, '.renders.partial-0123456789ab'));
    expect(cli(['render', 'vox', '--orbit', '3', '--size', '8x8', '--out', 'renders'], { cwd: dir }).code).toBe(0);
    expect(readdirSync(out).sort()).toEqual(['images', 'transforms.json']);
    expect(readdirSync(join(out, 'images')).sort()).toEqual(['orbit_0000.png', 'orbit_0001.png', 'orbit_0002.png']);
  });
});

describe('one line for every refusal', () => {
  it('a FIFO where a .ply should be: one line at once, no hang', () => {
    execFileSync('mkfifo', [join(dir, 'pipe.ply')]);
    refusedInOneLine(['convert', 'pipe.ply', 'o.splat'], /pipe\.ply: is a named pipe \(FIFO\)/, 60_000);
  });
  it('JSON errors with newlines in the file, non-UTF-8 arguments, absurd flags', () => {
    mkdirSync(join(dir, 'broken'));
    writeFileSync(join(dir, 'broken/transforms.json'), '{"frames": [\n{"a": 1,\n}]}');
    refusedInOneLine(
      ['eval', 'vox', '--dataset', 'broken'],
      /broken\/transforms\.json: broken JSON \(Expected double-quoted property name/,
    );
    refusedInOneLine(['eval', Buffer.from('bad\xff', 'latin1').toString('utf8'), '--dataset', 'data'], /is not valid UTF-8/);
    refusedInOneLine(['fit', 'data', '--iters', '1e12', '--out', 'x'], /--iters must be at most 1,000,000/);
  });
  it('a damaged checkpoint or edit log on --resume', () => {
    mkdirSync(join(dir, 'edit1'));
    writeFileSync(join(dir, 'edit1/edit-log.json'), '{"status": "do');
    const args = (o: string) => ['edit', 'vox', '--dataset', 'data', '--instruction', 'make it red', '--resume', o];
    refusedInOneLine(args('edit1'), /edit1\/edit-log\.json: broken JSON/);
    mkdirSync(join(dir, 'edit2'));
    writeFileSync(join(dir, 'edit2/edit.ckpt'), Buffer.concat([Buffer.from('ISCK'), Buffer.from([2, 0, 0, 0]), Buffer.from('{}')]));
    refusedInOneLine(args('edit2'), /edit2\/edit\.ckpt: the checkpoint is damaged \(.*\); start the edit over with --out/);
    expect(existsSync(join(dir, 'edit2/edit.ckpt'))).toBe(true); // not deleted for the user
  });
});
