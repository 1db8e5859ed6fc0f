import { noGpu } from './helpers/skip';
import { describe, expect, it } from 'vitest';

import type { Dataset } from '../src/io/datasets/dataset';
import { DEMO_SCENE_BOX, demoCameras, renderDemoScene } from '../src/io/datasets/demo-scene';
import { fitGaussians } from '../src/nerf/gaussian/fit-gaussians';
import { rasterizeForward } from '../src/nerf/gaussian/gaussian-span-cpu';
import { arrayPsnr } from './helpers/compare';

// `fitGaussians(..., { backend: 'webgpu' })` runs the same optimisation as the CPU backend: a few steps from the
// same random start give the same Gaussians up to float32 rounding (the rasterisers agree to ~1e-6 relative; Adam
// can turn a tiny gradient difference into a learning-rate-sized step, hence the image-space comparison).

const noGpuReason = await noGpu();

const SIZE = 24;
const views = demoCameras(8, SIZE, 1).map((camera) => ({ camera, image: renderDemoScene(camera) }));
const dataset: Dataset = {
  root: '',
  sources: [],
  format: 'nerfstudio',
  frames: [],
  background: [1, 1, 1],
  sceneBox: DEMO_SCENE_BOX,
  downscale: 1,
};

describe.skipIf(noGpuReason)('Gaussian fitting with --backend webgpu', () => {
  it('follows the CPU backend step for step (same count, same renders, same loss)', async () => {
    const opts = { iters: 8, seed: 3, randomInit: 300, maxGaussians: 1000 };
    const cpu = await fitGaussians(dataset, views, { ...opts, backend: 'cpu' });
    const gpu = await fitGaussians(dataset, views, { ...opts, backend: 'webgpu' });
    expect(gpu.stats.backend).toBe('webgpu');
    expect(gpu.gaussians.count).toBe(cpu.gaussians.count);
    expect(Math.abs(gpu.stats.finalLoss - cpu.stats.finalLoss) / cpu.stats.finalLoss).toBeLessThan(1e-3);
    let meanDiff = 0;
    for (let i = 0; i < gpu.gaussians.count * 3; i++)
      meanDiff = Math.max(meanDiff, Math.abs(gpu.gaussians.means[i] - cpu.gaussians.means[i]));
    const a = rasterizeForward(cpu.gaussians, views[0].camera, [1, 1, 1]).image;
    const b = rasterizeForward(gpu.gaussians, views[0].camera, [1, 1, 1]).image;
    expect(arrayPsnr(a, b)).toBeGreaterThan(45);
    expect(meanDiff).toBeLessThan(0.01); // scene units (the demo box is 2.6 wide)
  });
});
