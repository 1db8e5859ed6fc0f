import { describe, expect, it } from 'vitest';
import type { Dataset } from '../src/io/datasets/dataset';
import { DEMO_SCENE_BOX, demoCameras, renderDemoScene } from '../src/io/datasets/demo-scene';
import { Rng } from '../src/core/rng';
import { fitGaussians, densifyAndPrune } from '../src/nerf/gaussian/fit-gaussians';
import { Adam } from '../src/nerf/common/adam';
import { createGaussians } from '../src/nerf/gaussian/gaussians';
import { logit, sigmoid } from '../src/core/math';
import { rasterizeForward } from '../src/nerf/gaussian/gaussian-span-cpu';
import { readSplat, writeSplat } from '../src/io/formats/splat';
import { readGaussianPly, writeGaussianPly } from '../src/io/formats/ply';
import type { Gaussians } from '../src/nerf/gaussian/gaussians';
import type { Camera } from '../src/core/camera';
import type { Image } from '../src/core/image';
import { arrayPsnr } from './helpers/compare';

const SIZE = 40;
const cams = demoCameras(24, SIZE, 1);
const views = cams.map((camera) => ({ camera, image: renderDemoScene(camera) }));
const train = views.filter((_, i) => i % 6 !== 0),
  test = views.filter((_, i) => i % 6 === 0);
const dataset: Dataset = {
  root: '',
  sources: [],
  format: 'nerfstudio',
  frames: [],
  background: [1, 1, 1],
  sceneBox: DEMO_SCENE_BOX,
  downscale: 1,
};

function meanPsnr(g: Gaussians, vs: { camera: Camera; image: Image }[]): number {
  let s = 0;
  for (const v of vs) {
    s += arrayPsnr(rasterizeForward(g, v.camera, [1, 1, 1]).image, v.image.data, true);
  }
  return s / vs.length;
}

describe('Gaussian fitting (CPU)', () => {
  let fitted: Gaussians;

  it('fits the demo scene at 40×40 from random points well above a flat-colour baseline', async () => {
    const events: any[] = [];
    const cpu0 = process.cpuUsage();
    const r = await fitGaussians(dataset, train, { iters: 400, seed: 0, randomInit: 2000, maxGaussians: 4000 }, (p) => events.push(p));
    fitted = r.gaussians;
    const p = meanPsnr(fitted, test);
    const cpu = process.cpuUsage(cpu0);
    console.log(
      `tiny fit: test PSNR ${p.toFixed(2)} dB, ${r.stats.count} Gaussians, ${r.stats.seconds.toFixed(1)} s wall, ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s CPU`,
    );
    // a white image scores ≈ 12 dB here; 400 steps on 20 views reach ≈ 24.5 dB
    expect(p).toBeGreaterThan(22);
    expect(r.stats.count).toBeLessThanOrEqual(4000);
    expect(events.length).toBeGreaterThan(10);
    expect(events[events.length - 1]).toMatchObject({ phase: 'fit', step: 400, total: 400 });
    expect(typeof events[0].count).toBe('number');
    expect(events[events.length - 1].loss).toBeLessThan(events[0].loss);
  }, 120_000);

  it('a .splat export loses at most 1.5 dB against its .ply on the test views', () => {
    const ply = readGaussianPly(writeGaussianPly(fitted), 'f.ply');
    const splat = readSplat(writeSplat(fitted), 'f.splat');
    const a = meanPsnr(ply, test),
      b = meanPsnr(splat, test);
    console.log(`.ply ${a.toFixed(2)} dB, .splat ${b.toFixed(2)} dB`);
    expect(a).toBeCloseTo(meanPsnr(fitted, test), 3);
    expect(a - b).toBeLessThanOrEqual(1.5);
  });

  it('densification clones small and splits large Gaussians with large view-space gradients, prunes transparent ones, respects the bound', () => {
    const rng = new Rng(1);
    const g = createGaussians(6, 0);
    g.logScales.set([-6, -6, -6, -1, -1, -1, -6, -6, -6, -1, -1, -1, -6, -6, -6, -6, -6, -6]);
    g.opacityLogits.set([0, 0, 0, 0, logit(0.001), 0]);
    // an optimiser on the positions whose moments say which Gaussian they belong to (row i: i + 1)
    const adam = new Adam([{ name: 'means', params: g.means, grads: new Float32Array(18), lr: 1, width: 3 }]);
    adam.moments('means').m.set(Array.from({ length: 18 }, (_, j) => Math.floor(j / 3) + 1));
    const grad = new Float32Array([1e-3, 1e-3, 1e-6, 1e-6, 1e-3, 1e-6]);
    const denom = new Float32Array(6).fill(1);
    const r = densifyAndPrune(g, adam, grad, denom, new Float32Array(6), {
      gradThr: 2e-4,
      percentDense: 0.01,
      extent: 3,
      minOpacity: 0.005,
      maxScreen: Infinity,
      maxWorld: Infinity,
      maxCount: 100,
      rng,
    });
    // 0 cloned (small), 1 split (large), 4 cloned then pruned as transparent (the clone too)
    expect(r.cloned).toBe(2);
    expect(r.split).toBe(1);
    // kept originals: 0, 2, 3, 5 (1 split away, 4 pruned) + clones of 0 and 4 + 2 halves of 1; the clone of 4 is transparent too but new
    expect(r.g.count).toBe(4 + 2 + 2);
    // split halves are 1.6× smaller
    expect(r.g.logScales[3 * 6]).toBeCloseTo(-1 - Math.log(1.6), 5);
    // the moments follow the kept rows; new Gaussians start from zero
    expect(Array.from(adam.moments('means').m.filter((_, j) => j % 3 === 0))).toEqual([1, 3, 4, 6, 0, 0, 0, 0]);
    expect(r.grads.means.length).toBe(3 * r.g.count);
    const bounded = densifyAndPrune(g, null, grad, denom, new Float32Array(6), {
      gradThr: 2e-4,
      percentDense: 0.01,
      extent: 3,
      minOpacity: 0.005,
      maxScreen: Infinity,
      maxWorld: Infinity,
      maxCount: 6,
      rng,
    });
    expect(bounded.g.count).toBeLessThanOrEqual(6);
  });

  it('opacity reset and --max-gaussians hold during a fit', async () => {
    // the reset falls on the last step: every opacity must come out ≤ 0.01
    const counts: number[] = [];
    const r = await fitGaussians(
      dataset,
      train.slice(0, 6),
      {
        iters: 120,
        randomInit: 300,
        maxGaussians: 350,
        densifyFrom: 10,
        densifyEvery: 20,
        densifyUntil: 121,
        opacityResetEvery: 120,
        seed: 3,
      },
      (p) => counts.push(p.count!),
    );
    expect(Math.max(...counts)).toBeLessThanOrEqual(350);
    expect(Math.max(...counts)).toBeGreaterThan(300);
    let maxOp = 0;
    for (let i = 0; i < r.gaussians.count; i++) maxOp = Math.max(maxOp, sigmoid(r.gaussians.opacityLogits[i]));
    expect(maxOp).toBeLessThanOrEqual(0.01 + 1e-6);
    expect(maxOp).toBeGreaterThan(0.005);
  }, 60_000);
});
