import { describe, expect, it } from 'vitest';
import { createImage } from '../src/core/image';
import { Rng } from '../src/core/rng';
import { scaledLinearAlphasCumprod } from '../src/edit/diffusion/prior';
import { SH_STRIDE } from '../src/nerf/gaussian/gaussians';
import { maxAbs, maxAbsDiff, arrayPsnr, relL2 } from './helpers/compare';
import { exactDenoiserPrior } from './helpers/priors';
import { randomGaussians, randomVoxelGrid, raysFromInside, raysLookingIn, TEST_BOX } from './helpers/scenes';

/** The shared test helpers do what the tests that use them assume. */
describe('test helpers', () => {
  it('random Gaussians: deterministic per seed, in the requested ranges, colour modes as documented', () => {
    const o = { mean: 0.6, scale: [0.06, 0.25] as [number, number], opacityLogit: [-2, 0.3] as [number, number], sh: { rest: 0.3 } };
    const a = randomGaussians(new Rng(3), 50, 3, o),
      b = randomGaussians(new Rng(3), 50, 3, o),
      c = randomGaussians(new Rng(4), 50, 3, o);
    expect(Array.from(a.means)).toEqual(Array.from(b.means));
    expect(Array.from(a.sh)).toEqual(Array.from(b.sh));
    expect(Array.from(a.means)).not.toEqual(Array.from(c.means));
    for (const m of a.means) expect(Math.abs(m)).toBeLessThanOrEqual(0.6);
    for (const s of a.logScales) expect(Math.exp(s) > 0.06 - 1e-6 && Math.exp(s) < 0.25 + 1e-6).toBe(true);
    for (const l of a.opacityLogits) expect(l >= -2 && l <= 0.3).toBe(true);
    // { all }: unit quaternions, only the used coefficients set
    const d = randomGaussians(new Rng(1), 20, 1, {
      mean: 2,
      logScale: [-5, -1],
      opacityLogit: [-4, 4],
      unitRotations: true,
      sh: { all: 1 },
    });
    for (let i = 0; i < 20; i++) {
      const q = d.rotations.subarray(4 * i, 4 * i + 4);
      expect(Math.hypot(...q)).toBeCloseTo(1, 6);
      expect(d.sh[i * SH_STRIDE + 11]).not.toBe(0);
      expect(d.sh[i * SH_STRIDE + 12]).toBe(0); // degree 1 uses 4·3 coefficients
    }
  });

  it('random voxel grids and ray batches: deterministic, in range, unit directions that reach the box', () => {
    const o = {
      res: [5, 4, 6] as [number, number, number],
      densityShift: -1,
      density: [-2, 4] as [number, number],
      color: 1.5,
      shDegree: 1 as const,
    };
    const g = randomVoxelGrid(new Rng(7), o);
    expect(Array.from(g.density)).toEqual(Array.from(randomVoxelGrid(new Rng(7), o).density));
    expect(g.color.length).toBe(5 * 4 * 6 * 12);
    expect(Math.min(...g.density)).toBeGreaterThanOrEqual(-2);
    expect(Math.max(...g.density)).toBeLessThanOrEqual(4);
    expect(maxAbs(g.color)).toBeLessThanOrEqual(1.5);
    expect(g.densityShift).toBe(-1);
    const rays = raysLookingIn(new Rng(2), 40, { far: [2.5, 4], elevation: [-0.6, 1.2], aim: TEST_BOX });
    const inside = raysFromInside(new Rng(2), 40, TEST_BOX);
    for (const b of [rays, inside])
      for (let i = 0; i < b.count; i++) {
        expect(Math.hypot(b.dirs[3 * i], b.dirs[3 * i + 1], b.dirs[3 * i + 2])).toBeCloseTo(1, 6);
        for (let a = 0; a < 3; a++) expect(b.target[3 * i + a] >= 0 && b.target[3 * i + a] < 1).toBe(true);
      }
    for (let i = 0; i < rays.count; i++) {
      const o3 = [0, 1, 2].map((a) => rays.origins[3 * i + a]);
      expect(Math.hypot(...o3)).toBeGreaterThanOrEqual(2.5 - 1e-5);
      // the ray passes through the aim box: its closest approach to the box centre is within the box's half diagonal
      const c = [0, 0.1, 0.1];
      const d = [0, 1, 2].map((a) => rays.dirs[3 * i + a]);
      const t = d.reduce((s, x, a) => s + x * (c[a] - o3[a]), 0);
      expect(Math.hypot(...[0, 1, 2].map((a) => o3[a] + t * d[a] - c[a]))).toBeLessThan(1.6);
    }
  });

  it('comparisons: max abs diff, relative L2 and PSNR by their definitions', () => {
    expect(maxAbsDiff([0, 1, 2], [0, 1.5, 1])).toBe(1);
    expect(() => maxAbsDiff([0], [0, 1])).toThrow(/lengths differ/);
    expect(maxAbs([-3, 2])).toBe(3);
    expect(relL2([1, 1], [1, 1])).toBe(0);
    expect(relL2([0, 2], [0, 1])).toBeCloseTo(1, 12);
    // MSE 0.01 → 20 dB; clamping the first array first
    expect(arrayPsnr([0.1, 0.1], [0, 0])).toBeCloseTo(20, 10);
    expect(arrayPsnr([1.3, -0.1], [0.9, 0.1], true)).toBeCloseTo(20, 10);
    expect(arrayPsnr([0.5], [0.5])).toBe(200);
  });

  it('the exact-denoiser prior predicts exactly the noise that was added to its target, and img2img gives the target', async () => {
    const AC = scaledLinearAlphasCumprod();
    const y = createImage(6, 4, 3);
    const rng = new Rng(5);
    for (let i = 0; i < y.data.length; i++) y.data[i] = rng.next();
    const cond = { image: createImage(6, 4, 3), instruction: 'x', textScale: 7.5, imageScale: 1.5 };
    const prior = exactDenoiserPrior(() => y, AC);
    const z0 = await prior.encode(y);
    expect(await prior.decode(z0, 6, 4)).toEqual(y);
    for (const t of [20, 500, 980]) {
      const a = AC[t];
      const eps = new Float32Array(z0.data.length).map(() => rng.normal());
      const zt = { ...z0, data: z0.data.map((v, i) => Math.sqrt(a) * v + Math.sqrt(1 - a) * eps[i]) };
      const pred = await prior.predictNoise(zt, t, cond);
      expect(maxAbsDiff(pred, eps)).toBeLessThan(1e-3);
    }
    expect(await prior.img2img(createImage(6, 4, 3), cond, { t: 0.5, steps: 4, seed: 1 })).toBe(y);
  });
});
