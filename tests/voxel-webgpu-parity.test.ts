import { beforeAll, describe, expect, it, type TestContext } from 'vitest';
import { Rng } from '../src/core/rng';
import { gpuDescription } from '../src/gpu/device';
import { noGpu } from './helpers/skip';
import { createVoxelGrid, type VoxelGrid } from '../src/nerf/voxel/voxel-grid';
import { defaultMarchParams, type MarchParams, type TrainBatch, type TrainOptions } from '../src/nerf/voxel/voxel-backend';
import { renderRaysCpu, trainRaysCpu } from '../src/nerf/voxel/voxel-render-cpu';
import {
  createWebGpuVoxelBackend,
  packOccupancy,
  packOccupancyWithBlocks,
  type WebGpuVoxelBackend,
} from '../src/nerf/voxel/voxel-render-webgpu';
import type { Vec3 } from '../src/core/math';
import { randomVoxelGrid, raysFromInside, raysLookingIn } from './helpers/scenes';
import { maxAbs } from './helpers/compare';

/**
 * Parity of the WebGPU voxel backend (src/shaders/voxel_render.wgsl) with the CPU reference
 * (src/nerf/voxel/voxel-render-cpu.ts): forward colour / alpha / depth and gradients of every grid channel,
 * on bounded and contracted (unbounded) grids, RGB and SH degree 1, with empty-space skipping.
 *
 * Tolerances (the GPU works in f32, the CPU in f64; gradient sums are f32 atomics in arbitrary order):
 * - colour, alpha: |Δ| ≤ 2e-5 for ≥ 99 % of the rays and ≤ 1e-2 for all; depth likewise relative to
 *   (1 + depth) where alpha > 1e-3. The loose bound is for the rare ray where f32 rounding moves one sample
 *   across a cell or box boundary (measured on SwiftShader: all ≤ 3e-6; on an NVIDIA H200 through Dawn/Vulkan
 *   (bench/results/voxel-webgpu-h200*.json): 99th percentile 1e-6, 7 of 262 144 rays above 1e-4, max 9e-3).
 * - gradients: per channel, max |Δ| ≤ 1e-3 · max |g_cpu| and the cosine between the two vectors ≥ 0.99999
 *   (measured: ≤ 1.3e-4 and ≥ 0.9999997 on SwiftShader; ≤ 7.2e-5 on the H200).
 * - the optional distortion regulariser (MarchParams.distortion) is held to the same bounds.
 * - loss: relative 1e-5; evaluated samples: equal up to 0.1 % (f32 rounding can move a sample across a
 *   cell or box boundary).
 * - the edit loops' loss options (TrainOptions.lossScale, photometric 'l1', TrainBatch.targetAlpha with
 *   alphaWeight) are held to the same loss and gradient bounds.
 */

const noGpuReason = await noGpu();
let backend: WebGpuVoxelBackend | undefined;

beforeAll(async () => {
  if (noGpuReason) return;
  backend = await createWebGpuVoxelBackend();
  console.log(`voxel WebGPU parity on: ${gpuDescription()}`);
});

interface Case {
  res: Vec3;
  shDegree: 0 | 1;
  bgLen: number;
  /** Some cells marked empty in the occupancy grid (skipped by both backends). */
  sparse: boolean;
  /** Rays start inside the inner box (unbounded captures) or outside the box looking in. */
  inside: boolean;
}

function randomGrid(rng: Rng, c: Case): VoxelGrid {
  const g = randomVoxelGrid(rng, { res: c.res, bgLen: c.bgLen, shDegree: c.shDegree, densityShift: -2, density: [-4, 3], color: 2 });
  if (c.sparse) {
    // empty cells: a whole slab (x in the lower third: empty blocks the CPU jumps over) and 30 % at random
    const [nx, ny, nz] = c.res;
    for (let k = 0, i = 0; k < nz - 1; k++)
      for (let j = 0; j < ny - 1; j++) for (let x = 0; x < nx - 1; x++, i++) g.occupancy[i] = x < (nx - 1) / 3 || rng.next() < 0.3 ? 0 : 1;
  }
  return g;
}

/** Rays from inside the inner box (unbounded captures) or from outside looking in. */
const randomBatch = (rng: Rng, n: number, inside: boolean): TrainBatch =>
  inside
    ? raysFromInside(rng, n, { min: [-0.8, -0.3, -0.8], max: [0.8, 0.5, 1] })
    : raysLookingIn(rng, n, { far: [2.5, 4], elevation: [-0.6, 1.2], aim: { min: [-0.9, -0.4, -0.9], max: [0.9, 0.6, 1.1] } });

function compareGrads(name: string, cpu: Float32Array, gpu: Float32Array): { rel: number; cos: number } {
  let d = 0,
    dot = 0,
    na = 0,
    nb = 0;
  for (let i = 0; i < cpu.length; i++) {
    d = Math.max(d, Math.abs(cpu[i] - gpu[i]));
    dot += cpu[i] * gpu[i];
    na += cpu[i] * cpu[i];
    nb += gpu[i] * gpu[i];
  }
  const scale = maxAbs(cpu);
  expect(scale, `${name}: CPU gradient is all zero, the check would prove nothing`).toBeGreaterThan(1e-7);
  const rel = d / scale,
    cos = dot / Math.sqrt(na * nb);
  expect(rel, `${name}: max |Δ| / max |g|`).toBeLessThanOrEqual(1e-3);
  expect(cos, `${name}: cosine`).toBeGreaterThanOrEqual(0.99999);
  return { rel, cos };
}

async function parity(ctx: TestContext, c: Case, seed: number, p: (g: VoxelGrid) => MarchParams) {
  if (noGpuReason) ctx.skip();
  const rng = new Rng(seed);
  const grid = randomGrid(rng, c);
  const batch = randomBatch(rng, 256, c.inside);
  const mp = p(grid);
  await backend!.setGrid(grid);

  // forward
  const cpu = renderRaysCpu(grid, batch, mp);
  const gpu = await backend!.render(batch, mp);
  const eRgb: number[] = [],
    eA: number[] = [],
    eD: number[] = [];
  for (let q = 0; q < batch.count; q++) {
    let e = 0;
    for (let a = 0; a < 3; a++) e = Math.max(e, Math.abs(cpu.rgb[q * 3 + a] - gpu.rgb[q * 3 + a]));
    eRgb.push(e);
    eA.push(Math.abs(cpu.alpha[q] - gpu.alpha[q]));
    if (cpu.alpha[q] > 1e-3) eD.push(Math.abs(cpu.depth[q] - gpu.depth[q]) / (1 + cpu.depth[q]));
  }
  expect(eD.length, 'rays that hit something').toBeGreaterThan(batch.count / 4);
  const p99 = (e: number[]) => [...e].sort((a, b) => a - b)[Math.floor(0.99 * (e.length - 1))];
  for (const [name, e] of [
    ['rgb', eRgb],
    ['alpha', eA],
    ['depth', eD],
  ] as const) {
    expect(p99(e), `${name}: 99th percentile`).toBeLessThanOrEqual(2e-5);
    expect(Math.max(...e), `${name}: max`).toBeLessThanOrEqual(1e-2);
  }
  const dRgb = Math.max(...eRgb),
    dA = Math.max(...eA),
    dD = Math.max(...eD);
  expect(Math.abs(gpu.samples - cpu.samples)).toBeLessThanOrEqual(Math.max(2, cpu.samples * 1e-3));
  // rendering in several dispatches (as for large images) gives the same result
  backend!.renderChunk = 100;
  const chunked = await backend!.render(batch, mp);
  backend!.renderChunk = 1 << 18;
  expect(chunked.rgb).toEqual(gpu.rgb);
  expect(chunked.alpha).toEqual(gpu.alpha);
  expect(chunked.depth).toEqual(gpu.depth);
  expect(chunked.samples).toBe(gpu.samples);

  // forward + backward
  const gc = { density: new Float32Array(grid.density.length), color: new Float32Array(grid.color.length) };
  const gg = { density: new Float32Array(grid.density.length).fill(0.25), color: new Float32Array(grid.color.length).fill(0.25) };
  const rc = trainRaysCpu(grid, batch, mp, gc);
  const rg = await backend!.trainStep(batch, mp, gg);
  // trainStep adds into the arrays
  for (const a of [gg.density, gg.color]) for (let i = 0; i < a.length; i++) a[i] -= 0.25;
  expect(Math.abs(rg.loss - rc.loss) / rc.loss).toBeLessThanOrEqual(1e-5);
  if (mp.distortion) {
    // the regulariser must matter here, or its parity would be untested
    const g0 = { density: new Float32Array(grid.density.length), color: new Float32Array(grid.color.length) };
    const r0 = trainRaysCpu(grid, batch, { ...mp, distortion: 0 }, g0);
    let diff = 0;
    for (let i = 0; i < g0.density.length; i++) diff = Math.max(diff, Math.abs(g0.density[i] - gc.density[i]));
    console.log(
      `distortion: loss ${r0.loss.toFixed(5)} → ${rc.loss.toFixed(5)}, density gradient changed by ${(diff / maxAbs(gc.density)).toFixed(3)} of its max`,
    );
    expect(rc.loss - r0.loss).toBeGreaterThan(0.02 * r0.loss);
    expect(diff).toBeGreaterThan(0.05 * maxAbs(gc.density));
  }
  const dens = compareGrads('density', gc.density, gg.density);
  const col = compareGrads('colour', gc.color, gg.color);
  console.log(
    `${JSON.stringify(c)}: rgb ${dRgb.toExponential(2)} alpha ${dA.toExponential(2)} depth ${dD.toExponential(2)} ` +
      `grad density rel ${dens.rel.toExponential(2)} cos ${dens.cos.toFixed(7)}, colour rel ${col.rel.toExponential(2)} cos ${col.cos.toFixed(7)}; samples cpu ${cpu.samples} gpu ${gpu.samples}`,
  );
}

/**
 * Loss options of the edit loops: the WebGPU loss and gradients against the CPU twin's with `opts` (and, with
 * `alphaWeight`, random opacity targets in [0, 1]); the option must change the CPU's result, or its parity would
 * prove nothing.
 */
async function lossParity(ctx: TestContext, c: Case, seed: number, p: (g: VoxelGrid) => MarchParams, opts: TrainOptions, alphaWeight = 0) {
  if (noGpuReason) ctx.skip();
  const rng = new Rng(seed);
  const grid = randomGrid(rng, c);
  const batch = randomBatch(rng, 256, c.inside);
  if (alphaWeight) {
    batch.targetAlpha = new Float32Array(batch.count);
    for (let q = 0; q < batch.count; q++) batch.targetAlpha[q] = rng.next();
    batch.alphaWeight = alphaWeight;
  }
  const mp = p(grid);
  await backend!.setGrid(grid);
  const zeros = () => ({ density: new Float32Array(grid.density.length), color: new Float32Array(grid.color.length) });
  const gc = zeros(),
    gg = zeros(),
    gPlain = zeros();
  const rc = trainRaysCpu(grid, batch, mp, gc, opts.lossScale, opts.photometric);
  const rg = await backend!.trainStep(batch, mp, gg, opts);
  const plain = trainRaysCpu(grid, { origins: batch.origins, dirs: batch.dirs, target: batch.target, count: batch.count }, mp, gPlain);
  // the options matter here: the loss (L1, opacity term) or the gradient (scale) differs from plain MSE's
  let diff = 0;
  for (let i = 0; i < gc.density.length; i++) diff = Math.max(diff, Math.abs(gc.density[i] - gPlain.density[i]));
  expect(diff, 'density gradient changed by the options').toBeGreaterThan(0.05 * maxAbs(gc.density));
  if (opts.photometric === 'l1' || alphaWeight) expect(Math.abs(rc.loss - plain.loss)).toBeGreaterThan(0.02 * plain.loss);
  const lossRel = Math.abs(rg.loss - rc.loss) / rc.loss;
  expect(lossRel, 'loss: relative difference').toBeLessThanOrEqual(1e-5);
  expect(Math.abs(rg.samples - rc.samples)).toBeLessThanOrEqual(Math.max(2, rc.samples * 1e-3));
  const dens = compareGrads('density', gc.density, gg.density);
  const col = compareGrads('colour', gc.color, gg.color);
  console.log(
    `${JSON.stringify({ ...opts, alphaWeight, distortion: mp.distortion ?? 0, bgLen: c.bgLen, shDegree: c.shDegree })}: loss cpu ${rc.loss.toFixed(6)} gpu ${rg.loss.toFixed(6)} (rel ${lossRel.toExponential(2)}, plain MSE ${plain.loss.toFixed(6)}), ` +
      `grad density rel ${dens.rel.toExponential(2)} cos ${dens.cos.toFixed(7)}, colour rel ${col.rel.toExponential(2)} cos ${col.cos.toFixed(7)}; density grad changed by ${(diff / maxAbs(gc.density)).toFixed(3)} of its max`,
  );
}

describe('voxel WebGPU backend = CPU reference', () => {
  const bounded = (g: VoxelGrid) => defaultMarchParams(g, [0.9, 0.3, 0.6] as Vec3, { stepSize: 0.03 });
  const unbounded = (g: VoxelGrid) => defaultMarchParams(g, [0.2, 0.5, 0.7] as Vec3, { stepSize: 0.04, farNorm: 20, near: 0.05 });
  it('bounded, RGB, dense occupancy', (ctx) =>
    parity(ctx, { res: [12, 9, 11], shDegree: 0, bgLen: 0, sparse: false, inside: false }, 1, bounded));
  it('bounded, SH degree 1, empty-space skipping', (ctx) =>
    parity(ctx, { res: [13, 10, 12], shDegree: 1, bgLen: 0, sparse: true, inside: false }, 2, bounded));
  it('contracted (unbounded), RGB, rays from inside', (ctx) =>
    parity(ctx, { res: [12, 12, 12], shDegree: 0, bgLen: 0.5, sparse: true, inside: true }, 3, unbounded));
  it('contracted (unbounded), SH degree 1, rays from outside', (ctx) =>
    parity(ctx, { res: [10, 10, 10], shDegree: 1, bgLen: 1, sparse: false, inside: false }, 4, unbounded));
  // the optional distortion regulariser (MarchParams.distortion), with empty-space jumps in the step indices
  it('bounded + distortion regulariser, empty-space skipping', (ctx) =>
    parity(ctx, { res: [13, 10, 12], shDegree: 0, bgLen: 0, sparse: true, inside: false }, 5, (g) => ({ ...bounded(g), distortion: 0.3 })));
  it('contracted + distortion regulariser, rays from inside', (ctx) =>
    parity(ctx, { res: [12, 12, 12], shDegree: 1, bgLen: 0.5, sparse: true, inside: true }, 6, (g) => ({
      ...unbounded(g),
      distortion: 0.3,
    })));

  // the edit loops' loss options (TrainOptions, TrainBatch.targetAlpha)
  it('L1 with loss scale 2.5, bounded, empty-space skipping', (ctx) =>
    lossParity(ctx, { res: [13, 10, 12], shDegree: 0, bgLen: 0, sparse: true, inside: false }, 7, bounded, {
      photometric: 'l1',
      lossScale: 2.5,
    }));
  it('L1 with loss scale 2.5, contracted, rays from inside', (ctx) =>
    lossParity(ctx, { res: [12, 12, 12], shDegree: 1, bgLen: 0.5, sparse: true, inside: true }, 8, unbounded, {
      photometric: 'l1',
      lossScale: 2.5,
    }));
  it('opacity targets (weight 10) with loss scale 3, bounded', (ctx) =>
    lossParity(ctx, { res: [12, 9, 11], shDegree: 1, bgLen: 0, sparse: true, inside: false }, 9, bounded, { lossScale: 3 }, 10));
  it('opacity targets (weight 10) with loss scale 3, contracted, rays from outside', (ctx) =>
    lossParity(ctx, { res: [10, 10, 10], shDegree: 0, bgLen: 1, sparse: false, inside: false }, 10, unbounded, { lossScale: 3 }, 10));
  // the scale also multiplies the distortion regulariser's gradient (as the CPU twin)
  it('L1 + opacity targets + distortion, loss scale 0.5, contracted', (ctx) =>
    lossParity(
      ctx,
      { res: [12, 12, 12], shDegree: 0, bgLen: 0.5, sparse: true, inside: true },
      11,
      (g) => ({ ...unbounded(g), distortion: 0.3 }),
      { photometric: 'l1', lossScale: 0.5 },
      10,
    ));

  it('packs occupancy one bit per cell, then one per skip block', () => {
    const occ = new Uint8Array(70);
    occ[0] = 1;
    occ[31] = 1;
    occ[32] = 1;
    occ[69] = 1;
    expect(Array.from(packOccupancy(occ))).toEqual([(1 | (1 << 31)) >>> 0, 1, 1 << 5]);
    // cells then 4³-cell skip blocks: 5×2×2 cells → 2×1×1 blocks; only cell (4, 1, 1) = 19 occupied → block 1
    const g = createVoxelGrid({ res: [6, 3, 3], box: { min: [0, 0, 0], max: [1, 1, 1] } });
    g.occupancy.fill(0);
    g.occupancy[19] = 1;
    expect(Array.from(packOccupancyWithBlocks(g))).toEqual([1 << 19, 1 << 1]);
  });
});
