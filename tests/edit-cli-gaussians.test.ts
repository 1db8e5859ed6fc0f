import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli } from './helpers/cli';
import { writeTinyGaussianDemo } from './helpers/edit-demo';
import { installNodeWebGpu } from '../src/io/node/node-webgpu';
import { gpuAvailable } from '../src/gpu/device';

installNodeWebGpu();
const hasGpu = await gpuAvailable();
if (!hasGpu)
  console.warn(
    'edit-cli-gaussians: the --backend webgpu case is skipped — no WebGPU adapter (install chromium for SwiftShader, see README)',
  );

const VASE = 'box:-0.22,0,-0.22,0.22,0.55,0.22';

describe('edit CLI on a Gaussian scene', () => {
  it('IDU recolours the Gaussians inside the region and leaves the others untouched', async () => {
    const root = mkdtempSync(join(tmpdir(), 'edit-gs-'));
    const { scene, data } = await writeTinyGaussianDemo(root, { size: 32, views: 12, res: 32 });
    const out = join(root, 'red');
    const r = cli([
      'edit',
      scene,
      '--dataset',
      data,
      '--instruction',
      'make it red',
      '--model',
      'builtin',
      '--method',
      'idu',
      '--region',
      VASE,
      '--iters',
      '40',
      '--edit-every',
      '2',
      '--out',
      out,
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(join(out, 'scene.ply'))).toBe(true);
    expect(JSON.parse(readFileSync(join(out, 'scene.json'), 'utf8')).kind).toBe('gaussians');
    const d = cli(['diff', scene, out, '--dataset', data, '--split', 'all', '--region', VASE, '--json']);
    expect(d.code, d.stderr).toBe(0);
    const res = JSON.parse(d.stdout.trim().split('\n').pop()!);
    const red = (c: number[]) => c[0] - (c[1] + c[2]) / 2;
    expect(red(res.inside_mean_rgb_b) - red(res.inside_mean_rgb_a)).toBeGreaterThan(0.05);
    console.log(
      `Gaussian IDU edit: outside ${res.outside_psnr.toFixed(2)} dB, redness +${(red(res.inside_mean_rgb_b) - red(res.inside_mean_rgb_a)).toFixed(3)}`,
    );
    expect(res.outside_psnr).toBeGreaterThan(36); // region Gaussians straddling the mask edge are held by the default preservation term

    // the edited scene keeps its parent's metadata (the orbit saved by fit) and adds the edit's
    const parentMeta = JSON.parse(readFileSync(join(scene, 'scene.json'), 'utf8')).meta;
    const meta = JSON.parse(readFileSync(join(out, 'scene.json'), 'utf8')).meta;
    expect(meta.orbit).toEqual(parentMeta.orbit);
    expect(meta.source).toBe(parentMeta.source);
    expect(meta.edit).toMatchObject({ instruction: 'make it red', method: 'idu', region: VASE });
    expect(meta.edits).toHaveLength(1);
    // so render --orbit of the edit looks from the parent's cameras (before/after turntables line up)
    const orbit = (s: string, dir: string) => {
      const r = cli(['render', s, '--orbit', '3', '--size', '16x16', '--out', join(root, dir)]);
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(readFileSync(join(root, dir, 'transforms.json'), 'utf8')).frames.map(
        (f: { transform_matrix: number[][] }) => f.transform_matrix,
      );
    };
    const before = orbit(scene, 'orbit-before'),
      after = orbit(out, 'orbit-after');
    expect(after).toEqual(before);
    const eye = before[0].slice(0, 3).map((row: number[]) => row[3]);
    const c = parentMeta.orbit.center;
    expect(Math.hypot(eye[0] - c[0], eye[1] - c[1], eye[2] - c[2])).toBeCloseTo(parentMeta.orbit.radius, 4); // the saved orbit, not a default
  });

  // the WebGPU path needs an adapter (SwiftShader from chromium on CPU-only machines)
  it.skipIf(!hasGpu)('--backend webgpu: the same edit runs on WebGPU and says so in the edit log', async () => {
    const root = mkdtempSync(join(tmpdir(), 'edit-gs-gpu-'));
    const { scene, data } = await writeTinyGaussianDemo(root, { size: 24, views: 8, res: 24 });
    const out = join(root, 'red');
    const r = cli([
      'edit',
      scene,
      '--dataset',
      data,
      '--instruction',
      'make it red',
      '--model',
      'builtin',
      '--region',
      VASE,
      '--iters',
      '12',
      '--edit-every',
      '2',
      '--backend',
      'webgpu',
      '--densify-every',
      '6',
      '--out',
      out,
    ]);
    expect(r.code, r.stderr).toBe(0);
    const log = JSON.parse(readFileSync(join(out, 'edit-log.json'), 'utf8'));
    expect(log.settings.backend).toBe('webgpu');
    expect(log.settings.preserveWeight).toBe(10);
    expect(log.gaussians.densification.map((d: { step: number }) => d.step)).toEqual([6]);
    const d = cli(['diff', scene, out, '--dataset', data, '--split', 'all', '--region', VASE, '--json']);
    const res = JSON.parse(d.stdout.trim().split('\n').pop()!);
    const red = (c: number[]) => c[0] - (c[1] + c[2]) / 2;
    expect(red(res.inside_mean_rgb_b) - red(res.inside_mean_rgb_a)).toBeGreaterThan(0.02);
  });
});
