import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli } from './helpers/cli';
import { writeTinyGaussianDemo } from './helpers/edit-demo';

const VASE = 'box:-0.22,0,-0.22,0.22,0.55,0.22';

describe('edit CLI on a Gaussian scene', () => {
  it('IDU recolours the Gaussians inside the region and leaves the others untouched', async () => {
    const root = mkdtempSync(join(tmpdir(), 'edit-gs-'));
    const { scene, data } = await writeTinyGaussianDemo(root, { size: 32, views: 12, res: 32 });
    const out = join(root, 'red');
    const r = cli(['edit', scene, '--dataset', data, '--instruction', 'make it red', '--model', 'builtin', '--method', 'idu', '--region', VASE, '--iters', '40', '--edit-every', '2', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(join(out, 'scene.ply'))).toBe(true);
    expect(JSON.parse(readFileSync(join(out, 'scene.json'), 'utf8')).kind).toBe('gaussians');
    const d = cli(['diff', scene, out, '--dataset', data, '--split', 'all', '--region', VASE, '--json']);
    expect(d.code, d.stderr).toBe(0);
    const res = JSON.parse(d.stdout.trim().split('\n').pop()!);
    const red = (c: number[]) => c[0] - (c[1] + c[2]) / 2;
    expect(red(res.inside_mean_rgb_b) - red(res.inside_mean_rgb_a)).toBeGreaterThan(0.05);
    console.log(`Gaussian IDU edit: outside ${res.outside_psnr.toFixed(2)} dB, redness +${(red(res.inside_mean_rgb_b) - red(res.inside_mean_rgb_a)).toFixed(3)}`);
    expect(res.outside_psnr).toBeGreaterThan(36); // region Gaussians straddling the mask edge are held by the default preservation term
  });
});
