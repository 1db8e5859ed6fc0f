import { beforeAll, describe, expect, it } from 'vitest';
import { noGpu } from './helpers/skip';
import { getGpuDevice } from '../src/gpu/device';
import { lookAtCamera, type Camera } from '../src/core/camera';
import { Rng } from '../src/core/rng';
import { SH_STRIDE, type Gaussians } from '../src/nerf/gaussian/gaussians';
import { depthOrder } from '../src/nerf/gaussian/gaussian-bin-cpu';
import { WebGpuGaussianRasterizer } from '../src/nerf/gaussian/gaussian-raster-webgpu';
import { createGaussianBackend } from '../src/nerf/gaussian/gaussian-backend';
import { createGrads, type GaussianGrads } from '../src/nerf/gaussian/gaussian-project-cpu';
import { rasterizeBackward, rasterizeForward } from '../src/nerf/gaussian/gaussian-span-cpu';
import { rasterizeForwardTiles } from '../src/nerf/gaussian/gaussian-render-cpu';
import { GpuMemoryError } from '../src/core/errors';
import { randomGaussians } from './helpers/scenes';
import { maxAbsDiff, relL2 } from './helpers/compare';

// WebGPU twin of the 3DGS rasteriser vs the CPU twins (gaussian-*-cpu.ts): same projection, tile lists,
// image and gradients. The GPU computes in f32, the CPU in f64, so values agree to float32 rounding; the
// tolerances below are ~100× what SwiftShader shows (image ≤ 1e-6, gradients relative L2 ≤ 2e-6).

const noGpuReason = await noGpu();

/** Random Gaussians around the origin, with a few special cases mixed in. */
function scene(seed: number, n: number, deg: number): Gaussians {
  const g = randomGaussians(new Rng(seed), n, deg, { mean: 0.7, scale: [0.02, 0.2], opacityLogit: [-2, 2], sh: { rest: 0.3 } });
  // nearly opaque (α clamped at 0.99 near the centre → no opacity/position gradient there)
  for (let i = 0; i < n; i += 17) g.opacityLogits[i] = 6;
  // a colour clamped at 0 (no gradient through that channel)
  for (let i = 5; i < n; i += 23) g.sh[i * SH_STRIDE] = -4;
  // behind the camera and right at it: culled
  g.means.set([0, 0, 5], 3 * 1);
  g.means.set([0.4, 0.5, 3], 3 * 2);
  // huge and flat
  g.logScales.set([Math.log(0.8), Math.log(0.005), Math.log(0.3)], 3 * 3);
  return g;
}

const BG: [number, number, number] = [0.2, 0.4, 0.6];

/** Tile lists as arrays (empty tiles may store any equal start/end). */
function tileLists(ranges: Uint32Array, ids: Uint32Array): number[][] {
  const out: number[][] = [];
  for (let t = 0; t < ranges.length / 2; t++) out.push(Array.from(ids.subarray(ranges[2 * t], ranges[2 * t + 1])));
  return out;
}

describe.skipIf(noGpuReason)('WebGPU Gaussian rasteriser vs the CPU twin', () => {
  let raster: WebGpuGaussianRasterizer;
  beforeAll(async () => {
    raster = await WebGpuGaussianRasterizer.create(await getGpuDevice());
  });

  const cases: { name: string; seed: number; n: number; deg: number; cam: Camera }[] = [
    // 72×50: partial tiles on both axes; SH degree 3
    { name: '300 Gaussians, SH 3, 72×50', seed: 5, n: 300, deg: 3, cam: lookAtCamera([0.4, 0.5, 3], [0, 0, 0], [0, 1, 0], 72, 50, 40) },
    // off-centre principal point, close camera (Gaussians beyond the image edges: clamped EWA Jacobian)
    {
      name: '200 Gaussians, SH 1, close off-centre camera',
      seed: 9,
      n: 200,
      deg: 1,
      cam: { ...lookAtCamera([-0.3, 0.2, 1.4], [0, 0, 0], [0, 1, 0], 48, 40, 60), cx: 20, cy: 23 },
    },
  ];

  for (const c of cases) {
    it(`forward: projection, tile lists and image match (${c.name})`, async () => {
      const g = scene(c.seed, c.n, c.deg);
      const gpu = await raster.forward(g, c.cam, BG);
      const cpu = rasterizeForward(g, c.cam, BG);
      const tiles = rasterizeForwardTiles(g, c.cam, BG);
      const p = await raster.projected(),
        q = cpu.projected;
      expect(Array.from(gpu.radius)).toEqual(Array.from(q.radius));
      expect(gpu.radius[1]).toBe(0); // behind the camera
      expect(gpu.radius[2]).toBe(0); // at the camera
      expect(Array.from(p.rect)).toEqual(Array.from(q.rect));
      expect(Array.from(p.rgbClamped)).toEqual(Array.from(q.rgbClamped));
      expect(maxAbsDiff(p.xy, q.xy)).toBeLessThan(1e-3); // pixels
      expect(relL2(p.conic, q.conic)).toBeLessThan(1e-4);
      expect(maxAbsDiff(p.rgb, q.rgb)).toBeLessThan(1e-5);
      expect(maxAbsDiff(p.opacity, q.opacity)).toBeLessThan(1e-6);
      // global depth order (what the viewer draws back to front): visible ones as the CPU twin, culled after
      const order = await raster.depthOrder();
      const visible = depthOrder(q);
      expect(Array.from(order.subarray(0, visible.length))).toEqual(Array.from(visible));
      expect(new Set(order).size).toBe(c.n);
      const bins = await raster.bins();
      expect(gpu.pairs).toBe(tiles.bins!.ids.length);
      expect(tileLists(bins.ranges, bins.ids)).toEqual(tileLists(tiles.bins!.ranges, tiles.bins!.ids));
      expect(Array.from(gpu.nContrib)).toEqual(Array.from(tiles.nContrib!));
      expect(maxAbsDiff(gpu.image, cpu.image)).toBeLessThan(1e-4);
      expect(maxAbsDiff(gpu.alpha, cpu.alpha)).toBeLessThan(1e-4);
      expect(maxAbsDiff(gpu.depth, cpu.depth)).toBeLessThan(1e-3);
      // the picture is not trivial: some pixels covered, some background
      const covered = gpu.alpha.filter((a) => a > 0.5).length;
      expect(covered).toBeGreaterThan(50);
      expect(covered).toBeLessThan(gpu.alpha.length);
    });

    it(`backward: gradients of every parameter match (${c.name})`, async () => {
      const g = scene(c.seed, c.n, c.deg);
      const rng = new Rng(c.seed + 100);
      const npx = c.cam.width * c.cam.height;
      const dI = new Float32Array(npx * 3).map(() => rng.uniform(-1, 1));
      const dA = new Float32Array(npx).map(() => rng.uniform(-1, 1));
      const cpu = rasterizeBackward(g, c.cam, rasterizeForward(g, c.cam, BG), dI, dA);
      await raster.forward(g, c.cam, BG);
      const gpu = createGrads(g.count);
      gpu.means.fill(NaN); // overwritten, culled ones included
      await raster.backward(dI, dA, gpu);
      const keys: (keyof GaussianGrads)[] = ['means', 'logScales', 'rotations', 'opacityLogits', 'sh', 'xy'];
      for (const k of keys) {
        let scale = 0;
        for (const v of cpu[k]) scale = Math.max(scale, Math.abs(v));
        expect(scale, k).toBeGreaterThan(0);
        expect(relL2(gpu[k], cpu[k]), k).toBeLessThan(2e-4);
        expect(maxAbsDiff(gpu[k], cpu[k]) / scale, k).toBeLessThan(1e-3);
      }
      // culled Gaussians get exactly zero
      expect(Array.from(gpu.means.subarray(3, 9))).toEqual([0, 0, 0, 0, 0, 0]);
      // SH above the active degree: zero
      if (c.deg < 3) expect(gpu.sh[(c.deg + 1) ** 2 * 3 + 5]).toBe(0);
    });
  }

  it('renders only the background when nothing is visible, and is the fit backend for --backend webgpu', async () => {
    const g = scene(3, 20, 0);
    for (let i = 0; i < g.count; i++) g.means[3 * i + 2] = 10; // all behind the camera
    const cam = lookAtCamera([0, 0, 3], [0, 0, 0], [0, 1, 0], 20, 18, 40);
    const f = await raster.forward(g, cam, BG);
    expect(f.pairs).toBe(0);
    for (let p = 0; p < 20 * 18; p++) expect([f.image[3 * p], f.image[3 * p + 1], f.image[3 * p + 2]]).toEqual([...BG].map(Math.fround));
    const grads = createGrads(g.count);
    await raster.backward(new Float32Array(20 * 18 * 3).fill(1), null, grads);
    expect(grads.means.every((v) => v === 0)).toBe(true);

    const backend = await createGaussianBackend('webgpu');
    expect(backend.name).toBe('webgpu');
    const h = scene(4, 50, 0);
    const out = await backend.render(h, cam, BG);
    const ref = rasterizeForward(h, cam, BG);
    expect(maxAbsDiff(out.image, ref.image)).toBeLessThan(1e-4);
    expect(Array.from(out.radius)).toEqual(Array.from(ref.projected.radius));
    backend.dispose?.();
  });

  it('refuses a frame larger than the device allows with one clear error (no allocation, no garbage)', async () => {
    const g = scene(3, 10, 0);
    const huge = lookAtCamera([0, 0, 3], [0, 0, 0], [0, 1, 0], 40_000, 40_000, 40); // 1.6 G pixels × 16 B of colour
    const err = await raster.forward(g, huge, BG).catch((e) => e);
    expect(err).toBeInstanceOf(GpuMemoryError);
    expect(String(err.message)).toMatch(/more than this device allows.*--downscale/);
    // the rasteriser still works afterwards
    const cam = lookAtCamera([0, 0, 3], [0, 0, 0], [0, 1, 0], 20, 18, 40);
    const f = await raster.forward(g, cam, BG);
    expect(maxAbsDiff(f.image, rasterizeForward(g, cam, BG).image)).toBeLessThan(1e-4);
  });
});
