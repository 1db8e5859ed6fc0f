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
