import { beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, cli } from './helpers/cli';
import { writeTinyDemo } from './helpers/edit-demo';

const VASE = 'box:-0.22,0,-0.22,0.22,0.55,0.22';
let root = '',
  scene = '',
  data = '';

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'edit-cli-'));
  ({ scene, data } = await writeTinyDemo(root, { size: 32, views: 16, res: 40 }));
});

/** An empty folder passed as --model (not the folder the outputs go to: that would be writing into an input). */
const notModel = () => {
  mkdirSync(join(root, 'not-a-model'), { recursive: true });
  return join(root, 'not-a-model');
};
const base = () => [scene, '--dataset', data, '--instruction', 'make it red', '--model', 'builtin'];
const redness = (rgb: number[]) => rgb[0] - (rgb[1] + rgb[2]) / 2;

function diff(b: string) {
  const r = cli(['diff', scene, b, '--dataset', data, '--split', 'all', '--region', VASE, '--json']);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout); // exactly one JSON object on stdout
}

describe('edit CLI', () => {
  it('bad arguments get one clear line before any work', () => {
    const cases: [string[], RegExp][] = [
      [['--method', 'magic', '--out', join(root, 'x1')], /--method must be one of idu, sds, got 'magic'/],
      [['--region', 'box:5,5,5,6,6,6', '--out', join(root, 'x2')], /lies outside the scene box/],
      [['--region', 'box:0,0,0,0,1,1', '--out', join(root, 'x3')], /the box is empty/],
      [['--region', 'sphere:1.25,0.85,1.25,0.005', '--out', join(root, 'x4')], /covers \(almost\) nothing in every training view/],
      [['--model', notModel(), '--out', join(root, 'x5')], /not (a usable )?an? InstructPix2Pix model folder/],
      [['--resume', join(root, 'nothing-here')], /no checkpoint to resume from/],
    ];
    for (const [extra, re] of cases) {
      const r = cli(['edit', ...base(), ...extra]);
      expect(r.code, r.stderr).not.toBe(0);
      expect(r.code).not.toBe(70); // not an internal error
      const lines = r.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^instruct-scene edit: error: /);
      expect(lines[0]).toMatch(re);
    }
    const r = cli([
      'edit',
      scene,
      '--dataset',
      data,
      '--instruction',
      'turn it into a dragon',
      '--model',
      'builtin',
      '--out',
      join(root, 'x6'),
    ]);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/does not understand 'turn', 'into', 'dragon'|does not understand/);
    for (const x of ['x1', 'x2', 'x3', 'x4', 'x5', 'x6']) expect(existsSync(join(root, x))).toBe(false); // nothing written
  });

  for (const method of ['idu', 'sds'] as const) {
    it(`${method} with the built-in model makes the region redder and keeps the outside`, () => {
      const out = join(root, `red-${method}`);
      const r = cli([
        'edit',
        ...base(),
        '--method',
        method,
        '--region',
        VASE,
        '--iters',
        '40',
        '--edit-every',
        '2',
        '--rays',
        '512',
        '--seed',
        '3',
        '--json',
        '--out',
        out,
      ]);
      expect(r.code, r.stderr).toBe(0);
      const events = r.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      expect(events.filter((e) => e.event === 'progress' && e.phase === (method === 'idu' ? 'refit' : 'sds'))).toHaveLength(40);
      if (method === 'idu') expect(events.some((e) => e.phase === 'edit' && e.viewsEdited === 1)).toBe(true);
      expect(events.at(-1).event).toBe('done');
      const d = diff(out);
      expect(d.outside_psnr).toBeGreaterThan(40);
      expect(redness(d.inside_mean_rgb_b) - redness(d.inside_mean_rgb_a)).toBeGreaterThan(0.1);
      const log = JSON.parse(readFileSync(join(out, 'edit-log.json'), 'utf8'));
      expect(log).toMatchObject({ status: 'done', instruction: 'make it red', method, seed: 3, region: { kind: 'box' } });
      expect(log.model.files['unet/model.onnx']).toMatch(/^[0-9a-f]{64}$/);
      expect(log.parent.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(log.settings.textScale).toBe(7.5);
      expect(log.times.editorSeconds).toBeGreaterThan(0);
      expect(readdirSync(join(out, 'edited'))).toHaveLength(14);
      expect(existsSync(join(out, 'edit.ckpt'))).toBe(false);
      // the output is a scene the other commands read; editing into the same folder again is refused
      const again = cli(['edit', ...base(), '--out', out]);
      expect(again.stderr).toMatch(/already holds an edit/);
    });
  }

  it('resume after kill -9 gives the same scene as an uninterrupted run', async () => {
    const args = [
      ...base(),
      '--method',
      'idu',
      '--region',
      VASE,
      '--iters',
      '60',
      '--edit-every',
      '3',
      '--rays',
      '256',
      '--checkpoint-every',
      '10',
      '--seed',
      '5',
    ];
    const full = join(root, 'full');
    expect(cli(['edit', ...args, '--out', full]).code).toBe(0);
    const cut = join(root, 'cut');
    const child = spawn(process.execPath, [BIN, 'edit', ...args, '--out', cut], { stdio: 'ignore' });
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
    expect(killed).toBe(true); // it died mid-edit, leaving a checkpoint and no scene
    expect(existsSync(join(cut, 'scene.voxel'))).toBe(false);
    const r = cli(['edit', ...args, '--resume', cut]);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(cut, 'scene.voxel')).equals(readFileSync(join(full, 'scene.voxel')))).toBe(true);
    // resuming with a different seed is refused
    mkdirSync(join(root, 'cut2'));
    writeFileSync(join(root, 'cut2', 'edit.ckpt'), readFileSync(join(cut, 'edit-log.json'))); // not a checkpoint
    expect(cli(['edit', ...args, '--resume', join(root, 'cut2')]).stderr).toMatch(/not an edit checkpoint/);
  });
});
