import { describe, expect, it } from 'vitest';
import { createImage } from '../src/core/image';
import { ALPHAS as AC, blocksCameras, blocksGrid, editConfig, framesFor, redRightBlocks, targetPrior } from './helpers/edit-fixtures';
import type { Image } from '../src/core/image';
import { Rng } from '../src/core/rng';
import { prepareViews } from '../src/edit/loops/edit-views';
import { initialLoopState } from '../src/edit/loops/loop-state';
import { runLoop } from '../src/edit/loops/run-loop';
import { exactDenoiserPrior } from './helpers/priors';
import { annealedTMax, gaussianLatents, sdsTarget, targetTimesteps, VOXE_SCHEDULE } from '../src/edit/loops/sds-target';
import { sdsStep } from '../src/edit/loops/sds';
import { pearsonLoss } from '../src/nerf/voxel/voxel-regularizers';
import { vertexRegionMask } from '../src/nerf/voxel/voxel-grid-ops';
import { VoxelEditable } from '../src/edit/scenes/voxel-editable';
import { boxRegion } from '../src/edit/regions/regions';
import { diffImages } from '../src/edit/eval/diff';
import type { Camera } from '../src/core/camera';

const blocks = blocksGrid;
const cams = blocksCameras();
const sourceImages = async (scene: VoxelEditable, cs: Camera[]) => {
  const out: Image[] = [];
  for (const c of cs) out.push((await scene.renderSource(c)).image);
  return out;
};

describe('SDS building blocks', () => {
  it('an exact single-image denoiser gives x̂ = y at every t', async () => {
    const y: Image = { width: 4, height: 3, channels: 3, data: Float32Array.from({ length: 36 }, (_, i) => (i * 0.37) % 1) };
    const x: Image = { width: 4, height: 3, channels: 3, data: new Float32Array(36).fill(0.5) };
    const prior = exactDenoiserPrior(() => y, AC);
    for (const t of [20, 300, 700, 979]) {
      const r = await sdsTarget(prior, x, { image: x, instruction: '', textScale: 7.5, imageScale: 1.5 }, t, new Rng(t));
      for (let i = 0; i < 36; i++) expect(r.target.data[i]).toBeCloseTo(y.data[i], 4);
      expect(r.weight).toBeCloseTo(1 - AC[t], 6);
    }
  });
  it('a multi-step target follows the DDIM flow of the data, the one-step target its posterior mean', async () => {
    // data x0 ~ N(μ, s²) per pixel: the exact ε̂(z_t) = √(1−ᾱ)(z_t − √ᾱμ)/(ᾱs² + 1 − ᾱ); the probability-flow ODE
    // that DDIM integrates maps z_t to μ + s(z_t − √ᾱμ)/√(ᾱs² + 1 − ᾱ), Tweedie's one step to μ + √ᾱs²(z_t − √ᾱμ)/(ᾱs² + 1 − ᾱ)
    const mu = 0.5,
      s = 0.15;
    const prior = {
      ...exactDenoiserPrior(() => x, AC),
      async predictNoise(zt: { data: Float32Array }, t: number) {
        const a = AC[t];
        return zt.data.map((v) => (Math.sqrt(1 - a) * (v - Math.sqrt(a) * mu)) / (a * s * s + 1 - a));
      },
    };
    const x: Image = { width: 4, height: 3, channels: 3, data: Float32Array.from({ length: 36 }, (_, i) => 0.3 + 0.4 * ((i * 0.37) % 1)) };
    const cond = { image: x, instruction: '', textScale: 7.5, imageScale: 1.5 };
    for (const t of [300, 700]) {
      const a = AC[t];
      const eps = gaussianLatents({ channels: 3, height: 3, width: 4 }, new Rng(t)).data;
      const zt = (i: number) => Math.sqrt(a) * x.data[(i % 12) * 3 + Math.floor(i / 12)] + Math.sqrt(1 - a) * eps[i];
      const at = (img: Image, i: number) => img.data[(i % 12) * 3 + Math.floor(i / 12)];
      const one = await sdsTarget(prior, x, cond, t, new Rng(t), 'sds', 1);
      const many = await sdsTarget(prior, x, cond, t, new Rng(t), 'sds', 1000);
      const few = await sdsTarget(prior, x, cond, t, new Rng(t), 'sds', 20);
      let errMany = 0,
        errFew = 0,
        gap = 0;
      for (let i = 0; i < 36; i++) {
        const d = zt(i) - Math.sqrt(a) * mu;
        expect(at(one.target, i)).toBeCloseTo(mu + (Math.sqrt(a) * s * s * d) / (a * s * s + 1 - a), 5);
        const flow = mu + (s * d) / Math.sqrt(a * s * s + 1 - a);
        errMany = Math.max(errMany, Math.abs(at(many.target, i) - flow));
        errFew = Math.max(errFew, Math.abs(at(few.target, i) - flow));
        gap = Math.max(gap, Math.abs(at(one.target, i) - flow));
      }
      // one DDIM step per training timestep lands within the last step's own error (σ_1 ≪ s); fewer steps lie between
      expect(errMany).toBeLessThan(gap / 10);
      expect(errFew).toBeGreaterThan(errMany);
      expect(errFew).toBeLessThan(gap);
      expect(one.residual).toBe(many.residual);
    }
  });
  it('the target timesteps: ⌈K·t⌉ evenly spaced from t, at least one', () => {
    expect(targetTimesteps(700, 1, 1000)).toEqual([700]);
    expect(targetTimesteps(700, 20, 1000)).toEqual([700, 650, 600, 550, 500, 450, 400, 350, 300, 250, 200, 150, 100, 50]);
    expect(targetTimesteps(20, 20, 1000)).toEqual([20]);
    expect(targetTimesteps(3, 2000, 1000)).toEqual([3, 2, 1]);
  });
  it('the Vox-E t_max anneal', () => {
    expect(annealedTMax(0, 8000, VOXE_SCHEDULE)).toBe(0.98);
    expect(annealedTMax(3999, 8000, VOXE_SCHEDULE)).toBe(0.98);
    expect(annealedTMax(4000, 8000, VOXE_SCHEDULE)).toBeCloseTo(0.735, 6);
    expect(annealedTMax(4600, 8000, VOXE_SCHEDULE)).toBeCloseTo(0.98 * 0.75 ** 2, 6);
    expect(annealedTMax(7999, 8000, VOXE_SCHEDULE)).toBe(0.22);
  });
  it('the Pearson regulariser matches finite differences and is 0 for a scaled copy', () => {
    const rng = new Rng(3);
    const a = Float32Array.from({ length: 50 }, () => rng.next());
    const b = Float32Array.from({ length: 50 }, () => rng.next());
    expect(
      pearsonLoss(
        a,
        a.map((v) => 3 * v + 1),
      ),
    ).toBeCloseTo(0, 5);
    const g = new Float32Array(50);
    pearsonLoss(a, b, 2, g);
    for (const j of [0, 7, 31]) {
      const h = 1e-3,
        bp = Float64Array.from(b),
        bm = Float64Array.from(b);
      bp[j] += h;
      bm[j] -= h;
      const fd = (2 * pearsonLoss(a, bp) - 2 * pearsonLoss(a, bm)) / (2 * h);
      expect(g[j]).toBeCloseTo(fd, 3);
    }
  });
});

describe('Pearson regulariser on a gated voxel edit', () => {
  it('the cached form (region vertices revisited) equals the whole-grid Pearson loss', () => {
    const region = boxRegion([0.05, -0.5, -0.5], [0.9, 0.5, 0.5]);
    const scene = new VoxelEditable(blocks(), [1, 1, 1], region, { pearsonWeight: 200, tvColor: 0 });
    scene.regularize(); // builds the cache
    const rng = new Rng(2);
    // move the vertices gating lets change (inside the region, dilated by one vertex)
    const mask = vertexRegionMask(scene.grid, region, 1);
    for (let i = 0; i < mask.length; i++) if (mask[i]) scene.grid.density[i] += rng.uniform(-4, 4);
    const sp = (x: number) => Math.log1p(Math.exp(x));
    const shift = scene.grid.densityShift;
    const want =
      200 *
      pearsonLoss(
        Array.from(scene.orig.density, (d) => sp(d + shift)),
        Array.from(scene.grid.density, (d) => sp(d + shift)),
      );
    expect(want).toBeGreaterThan(1e-4);
    expect(scene.regularize()).toBeCloseTo(want, 6);
  });
});

describe('SDS loop on a voxel grid', () => {
  it('with an exact denoiser for one target image per camera, the renders converge to the targets', async () => {
    const src = blocks();
    const targets = await sourceImages(new VoxelEditable(redRightBlocks(), [1, 1, 1], undefined), cams); // right block red
    const scene = new VoxelEditable(src, [1, 1, 1], undefined, { lrColor: 0.1, lrDensity: 0.02 });
    const views = await prepareViews(scene, framesFor(cams, targets), undefined, () => 0);
    // the denoiser is exact for the target of the camera being optimised (keyed by the source render it is conditioned on)
    const prior = targetPrior(views, targets);
    const before = cams.map((_, i) => diffImages(views[i].source, targets[i]).psnr);
    const cfg = editConfig('sds', { iters: 150, raysPerStep: 576, sds: { ...editConfig('sds').sds, levels: 0 } });
    await runLoop(scene, views, cfg, initialLoopState(cfg, views), {}, sdsStep(prior));
    scene.finalize();
    for (let i = 0; i < cams.length; i++) {
      const after = diffImages(await scene.render(cams[i]), targets[i]).psnr;
      expect(before[i]).toBeLessThan(20);
      expect(after).toBeGreaterThan(32);
    }
  });
  it('with a region, dynamic scaling and the merge, only the region changes', async () => {
    const src = blocks();
    const targets = await sourceImages(new VoxelEditable(redRightBlocks(), [1, 1, 1], undefined), cams); // the right block red
    const region = boxRegion([0.05, -0.5, -0.5], [0.9, 0.5, 0.5]); // around the right block only
    const scene = new VoxelEditable(src, [1, 1, 1], region, { lrColor: 0.1, lrDensity: 0.1, pearsonWeight: 200 });
    const views = await prepareViews(scene, framesFor(cams, targets), region, () => 1);
    const prior = targetPrior(views, targets);
    const cfg = editConfig('sds', { iters: 160, raysPerStep: 576, sds: { ...editConfig('sds').sds, levels: 1, levelUntil: 0.4 } });
    await runLoop(scene, views, cfg, initialLoopState(cfg, views), {}, sdsStep(prior));
    scene.finalize();
    expect(scene.grid.res).toEqual(src.res);
    // rendering only the pixels that see the gated volume over the source render is exact for a gated edit
    for (const v of views) {
      const part = (await scene.renderPixels(v.camera, v.reach, v.source))!;
      const full = await scene.render(v.camera);
      let worst = 0;
      for (let i = 0; i < full.data.length; i++) worst = Math.max(worst, Math.abs(part.data[i] - full.data[i]));
      expect(worst).toBeLessThan(1e-4);
    }
    // what should come out: only the right block red (the left one lies outside the region)
    const expected = new VoxelEditable(redRightBlocks(), [1, 1, 1], undefined);
    for (let i = 0; i < cams.length; i++) {
      const out = await scene.render(cams[i]);
      // pixels whose rays miss everything the edit may change: the original, exactly
      const reach = createImage(cams[i].width, cams[i].height, 1);
      for (const p of views[i].reach) reach.data[p] = 1;
      expect(diffImages(out, views[i].source, reach).outside_psnr!).toBeGreaterThan(45);
      const want = (await expected.renderSource(cams[i])).image;
      expect(diffImages(views[i].source, want).psnr).toBeLessThan(26);
      expect(diffImages(out, want).psnr).toBeGreaterThan(30); // inside: pulled to the red target
    }
  });
});
