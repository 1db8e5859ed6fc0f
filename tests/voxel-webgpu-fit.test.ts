import { describe, expect, it } from 'vitest';
import { noGpu } from './helpers/skip';
import { DEMO_BACKGROUND, DEMO_SCENE_BOX, demoCameras, renderDemoScene } from '../src/io/datasets/demo-scene';
import { fitVoxel, type FitVoxelOptions, type FitView } from '../src/nerf/voxel/fit-voxel';
import { createWebGpuVoxelBackend } from '../src/nerf/voxel/voxel-render-webgpu';
import type { BackendName } from '../src/nerf/common/backend';

/**
 * The same trainer (fitVoxel) on `backend: 'webgpu'` lowers the loss like on the CPU: a short coarse-to-fine
 * fit of the demo scene at 16² with identical seeds, with occupancy updates and an upsample, both with the
 * whole step on the device (fused: train + TV + sparsity + Adam in WGSL) and with the host Adam. The gradients
 * agree to f32 rounding (voxel-webgpu-parity / -optim tests), so the loss curves must nearly coincide.
 */
const noGpuReason = await noGpu();

async function curve(views: FitView[], which: BackendName, fused = true) {
  const losses: number[] = [];
  let fusedSteps = 0,
    hostSteps = 0;
  let backend: FitVoxelOptions['backend'] = which;
  if (which === 'webgpu') {
    // count which path the trainer takes (the real backend, with its two step methods wrapped)
    const be = await createWebGpuVoxelBackend();
    const fusedStep = be.trainAndStep.bind(be),
      hostStep = be.trainStep.bind(be);
    be.trainAndStep = (...a) => {
      fusedSteps++;
      return fusedStep(...a);
    };
    be.trainStep = (...a) => {
      hostSteps++;
      return hostStep(...a);
    };
    backend = be;
  }
  const o: FitVoxelOptions = {
    box: DEMO_SCENE_BOX,
    bgLen: 0,
    background: DEMO_BACKGROUND,
    res: 17,
    iters: 40,
    batch: 384,
    seed: 3,
    upsampleAt: [15],
    occupancyEvery: 10,
    backend,
    fused,
    onProgress: (p) => {
      if (p.loss !== undefined) losses.push(p.loss);
    },
  };
  const r = await fitVoxel(views, o);
  return { losses, r, fusedSteps, hostSteps };
}

describe('fitVoxel on the WebGPU backend', () => {
  it('lowers the loss like the CPU backend (same seed, same schedule)', async (ctx) => {
    if (noGpuReason) ctx.skip();
    const views = demoCameras(6, 16, 5).map((camera) => ({ camera, image: renderDemoScene(camera) }));
    const cpu = await curve(views, 'cpu');
    const gpu = await curve(views, 'webgpu');
    const host = await curve(views, 'webgpu', false);
    const fmt = (l: number[]) => l.map((x) => x.toFixed(4)).join(' ');
    console.log(
      `loss (EMA) cpu: ${fmt(cpu.losses)}\nloss (EMA) webgpu fused: ${fmt(gpu.losses)}\nloss (EMA) webgpu + host Adam: ${fmt(host.losses)}`,
    );
    for (let i = 0; i < cpu.losses.length; i++) expect(Math.abs(host.losses[i] - cpu.losses[i]) / cpu.losses[i]).toBeLessThan(0.02);
    expect(gpu.losses.length).toBe(cpu.losses.length);
    expect([gpu.fusedSteps, gpu.hostSteps]).toEqual([40, 0]);
    expect([host.fusedSteps, host.hostSteps]).toEqual([0, 40]);
    const first = gpu.losses[0],
      last = gpu.losses[gpu.losses.length - 1];
    expect(last).toBeLessThan(0.7 * first);
    expect(cpu.losses[cpu.losses.length - 1]).toBeLessThan(0.7 * cpu.losses[0]);
    // the curves coincide to f32 noise: within 2 % at every report
    for (let i = 0; i < cpu.losses.length; i++) expect(Math.abs(gpu.losses[i] - cpu.losses[i]) / cpu.losses[i]).toBeLessThan(0.02);
    expect(gpu.r.grid.res).toEqual(cpu.r.grid.res);
    expect(gpu.r.stats.samples / cpu.r.stats.samples).toBeCloseTo(1, 2);
  });
});
