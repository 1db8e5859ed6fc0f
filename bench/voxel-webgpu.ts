/**
 * Voxel engine, CPU vs WebGPU side by side:
 * `node bin/run-ts.mjs bench/voxel-webgpu.ts [--iters N] [--res N] [--batch N] [--render-size N] [--out FILE]`
 * → bench/results/voxel-webgpu.json.
 *
 * Same work on both backends in one run:
 * - fit: `fitVoxel` (the one trainer) on the demo scene (24 views at 64²), identical seed and schedule; rays/s and
 *   samples/s over the whole loop, final loss. WebGPU twice: fused (the whole step on the device, the default) and
 *   with the host Adam (gradients read back and the grid uploaded every step, as the CPU backend's loop).
 * - trainStep: forward + backward of 4096-ray batches on the fitted grid, gradients to the host;
 *   fusedStep (WebGPU): forward + backward + regularisers + Adam on the device, loss to the host.
 * - render: two full views (render-size²) on the fitted grid.
 * - parity: CPU vs WebGPU on that grid (render colour/alpha/depth, trainStep gradients) on the adapter used.
 * Wall time and this process's CPU time are both reported (the machine's cores are shared; on a software adapter
 * like SwiftShader the GPU work runs on this process's threads, so CPU seconds include it).
 * Software WebGPU is expected to be slower than the CPU reference: it proves correctness, real GPUs give speed.
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { installNodeWebGpu } from '../src/io/node/node-webgpu';
import { gpuAvailable, gpuDescription } from '../src/gpu/device';
import { cameraRays, pixelRay } from '../src/core/rays';
import { Rng } from '../src/core/rng';
import { DEMO_BACKGROUND, DEMO_SCENE_BOX, demoCameras, renderDemoScene } from '../src/io/datasets/demo-scene';
import { fitVoxel, type FitView } from '../src/nerf/voxel/fit-voxel';
import type { TrainBatch } from '../src/nerf/voxel/voxel-backend';
import { updateOccupancy, type VoxelGrid } from '../src/nerf/voxel/voxel-grid';
import { VoxelGridScene } from '../src/nerf/voxel/voxel-grid-scene';
import { WebGpuVoxelBackend } from '../src/nerf/voxel/voxel-render-webgpu';
import { createVoxelBackend } from '../src/nerf/voxel/voxel-backend';
import type { BackendName } from '../src/nerf/common/backend';

function flag(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
}
const iters = flag('iters', 60);
const res = flag('res', 48);
const batchSize = flag('batch', 1024);
const renderSize = flag('render-size', 64);
const outIdx = process.argv.indexOf('--out');
const outFile = outIdx > 0 ? process.argv[outIdx + 1] : 'bench/results/voxel-webgpu.json';

function clock() {
  const w = performance.now(),
    c = process.cpuUsage();
  return () => {
    const d = process.cpuUsage(c);
    return { wall: (performance.now() - w) / 1000, cpu: (d.user + d.system) / 1e6 };
  };
}

function randomBatch(views: FitView[], n: number, rng: Rng): TrainBatch {
  const b: TrainBatch = { origins: new Float32Array(n * 3), dirs: new Float32Array(n * 3), target: new Float32Array(n * 3), count: n };
  for (let r = 0; r < n; r++) {
    const v = views[rng.int(views.length)];
    const px = rng.int(v.image.width),
      py = rng.int(v.image.height);
    pixelRay(v.camera, px, py, b.origins, b.dirs, r);
    for (let c = 0; c < 3; c++) b.target[r * 3 + c] = v.image.data[(py * v.image.width + px) * 3 + c];
  }
  return b;
}

async function fitOn(backend: BackendName, views: FitView[], fused = true) {
  const losses: number[] = [];
  const t = clock();
  const r = await fitVoxel(views, {
    box: DEMO_SCENE_BOX,
    bgLen: 0,
    background: DEMO_BACKGROUND,
    res,
    iters,
    batch: batchSize,
    seed: 0,
    backend,
    fused,
    onProgress: (p) => {
      if (p.loss !== undefined) losses.push(p.loss);
    },
  });
  const d = t();
  return {
    grid: r.grid,
    summary: {
      iters,
      batch: batchSize,
      res: r.grid.res,
      wallSeconds: d.wall,
      cpuSeconds: d.cpu,
      raysPerSecond: r.stats.rays / d.wall,
      samplesPerSecond: r.stats.samples / d.wall,
      samplesPerRay: r.stats.samples / r.stats.rays,
      finalLossEma: losses[losses.length - 1],
      firstLoss: losses[0],
    },
  };
}

interface Measured {
  rgb: Float32Array;
  alpha: Float32Array;
  depth: Float32Array;
  gD: Float32Array;
  gC: Float32Array;
}

function parityOf(cpu: Measured, gpu: Measured) {
  let rgb = 0,
    alpha = 0,
    depth = 0,
    raysOver1e4 = 0;
  const perRay: number[] = [];
  for (let q = 0; q < cpu.alpha.length; q++) {
    let e = 0;
    for (let c = 0; c < 3; c++) e = Math.max(e, Math.abs(cpu.rgb[q * 3 + c] - gpu.rgb[q * 3 + c]));
    perRay.push(e);
    if (e > 1e-4) raysOver1e4++;
    rgb = Math.max(rgb, e);
  }
  perRay.sort((a, b) => a - b);
  for (let i = 0; i < cpu.alpha.length; i++) {
    alpha = Math.max(alpha, Math.abs(cpu.alpha[i] - gpu.alpha[i]));
    if (cpu.alpha[i] > 1e-3) depth = Math.max(depth, Math.abs(cpu.depth[i] - gpu.depth[i]) / (1 + cpu.depth[i]));
  }
  const rel = (a: Float32Array, b: Float32Array) => {
    let d = 0,
      m = 0;
    for (let i = 0; i < a.length; i++) {
      d = Math.max(d, Math.abs(a[i] - b[i]));
      m = Math.max(m, Math.abs(a[i]));
    }
    return m > 0 ? d / m : 0;
  };
  return {
    rays: cpu.alpha.length,
    rgbMaxAbs: rgb,
    rgbP99Abs: perRay[Math.floor(0.99 * (perRay.length - 1))],
    rgbRaysOver1e4: raysOver1e4,
    alphaMaxAbs: alpha,
    depthMaxRel: depth,
    gradDensityMaxRel: rel(cpu.gD, gpu.gD),
    gradColorMaxRel: rel(cpu.gC, gpu.gC),
  };
}

const measured: Record<string, Measured> = {};

async function throughput(backend: BackendName, grid: VoxelGrid, views: FitView[]) {
  const be = await createVoxelBackend(backend);
  await be.setGrid(grid);
  const scene = new VoxelGridScene(grid, DEMO_BACKGROUND, { stepRatio: 0.5, near: 0 });
  const p = scene.marchParams();
  const grads = { density: new Float32Array(grid.density.length), color: new Float32Array(grid.color.length) };
  const rng = new Rng(7);
  const reps = 2;
  const batches = Array.from({ length: reps + 1 }, () => randomBatch(views, 4096, rng));
  await be.trainStep(batches[reps], p, grads); // warm-up (pipelines, buffers); kept for the parity figures
  const gD = grads.density.slice(),
    gC = grads.color.slice();
  grads.density.fill(0);
  grads.color.fill(0);
  let t = clock(),
    rays = 0,
    samples = 0;
  for (let i = 0; i < reps; i++) {
    const o = await be.trainStep(batches[i], p, grads);
    rays += batches[i].count;
    samples += o.samples;
  }
  let d = t();
  const train = {
    rays,
    wallSeconds: d.wall,
    cpuSeconds: d.cpu,
    raysPerSecond: rays / d.wall,
    samplesPerSecond: samples / d.wall,
    samplesPerRay: samples / rays,
  };
  // the fused device-resident step (train + TV + sparsity + Adam, loss read back): what a WebGPU fit step costs
  let fusedStep: Record<string, number> | undefined;
  if (be instanceof WebGpuVoxelBackend) {
    const o = { lrDensity: 0.01, lrColor: 0.01, beta1: 0.9, beta2: 0.99, eps: 1e-15, tvDensity: 1e-3, tvColor: 1e-4, sparsity: 1e-3 };
    await be.trainAndStep(batches[0], p, o);
    t = clock();
    rays = 0;
    samples = 0;
    for (let i = 0; i < reps; i++) {
      const r = await be.trainAndStep(batches[i], p, o);
      rays += batches[i].count;
      samples += r.samples;
    }
    d = t();
    fusedStep = {
      rays,
      wallSeconds: d.wall,
      cpuSeconds: d.cpu,
      raysPerSecond: rays / d.wall,
      samplesPerSecond: samples / d.wall,
      samplesPerRay: samples / rays,
    };
    await be.setGrid(grid); // back to the grid's values for the render measurements
  }
  const cams = demoCameras(2, renderSize, 1);
  const first = await be.render(cameraRays(cams[0]), p);
  measured[backend] = { rgb: first.rgb, alpha: first.alpha, depth: first.depth, gD, gC };
  t = clock();
  rays = 0;
  samples = 0;
  for (const c of cams) {
    const rr = cameraRays(c);
    const o = await be.render(rr, p);
    rays += rr.count;
    samples += o.samples;
  }
  d = t();
  const render = {
    rays,
    wallSeconds: d.wall,
    cpuSeconds: d.cpu,
    raysPerSecond: rays / d.wall,
    samplesPerSecond: samples / d.wall,
    samplesPerRay: samples / rays,
  };
  be.dispose();
  return { trainStep: train, ...(fusedStep ? { fusedStep } : {}), render };
}

installNodeWebGpu();
const haveGpu = await gpuAvailable();
const views: FitView[] = demoCameras(24, 64, 0).map((camera) => ({ camera, image: renderDemoScene(camera) }));
const backends: BackendName[] = haveGpu ? ['cpu', 'webgpu'] : ['cpu'];
const results: Record<string, any> = {};
let grid: VoxelGrid | undefined;
for (const b of backends) {
  const f = await fitOn(b, views);
  grid ??= f.grid;
  results[b] = { fit: f.summary };
  console.error(`${b} fit: ${JSON.stringify(f.summary)}`);
  if (b === 'webgpu') {
    // the same fit with the host Adam (gradients read back every step), as the CPU backend does it
    const h = await fitOn(b, views, false);
    results[b].fitHostAdam = h.summary;
    console.error(`${b} fit, host Adam: ${JSON.stringify(h.summary)}`);
  }
}
// throughput on one grid (the CPU fit's) with occupancy pruning, so both backends see the same work
updateOccupancy(grid!, 1e-2);
for (const b of backends) {
  Object.assign(results[b], await throughput(b, grid!, views));
  console.error(`${b} trainStep: ${JSON.stringify(results[b].trainStep)}\n${b} render: ${JSON.stringify(results[b].render)}`);
}
const ratio = (k: 'fit' | 'trainStep' | 'render', m: string, wk: string = k) =>
  results.webgpu ? results.webgpu[wk][m] / results.cpu[k][m] : undefined;
const out = {
  bench: 'voxel-webgpu',
  date: new Date().toISOString(),
  node: process.version,
  adapter: haveGpu ? gpuDescription() : 'none (WebGPU unavailable: CPU only)',
  dataset: 'demo scene, 24 views at 64²',
  grid: grid!.res,
  renderSize,
  parity: measured.webgpu ? parityOf(measured.cpu, measured.webgpu) : undefined,
  note: 'Software WebGPU (SwiftShader) runs on the shared CPU cores and is expected to be slower than the CPU reference; real GPUs give the speed.',
  results,
  ratios_webgpu_over_cpu: {
    fitRaysPerSecond: ratio('fit', 'raysPerSecond'),
    fitHostAdamRaysPerSecond: ratio('fit', 'raysPerSecond', 'fitHostAdam'),
    fusedStepRaysPerSecond_over_cpuTrainStep: ratio('trainStep', 'raysPerSecond', 'fusedStep'),
    trainStepRaysPerSecond: ratio('trainStep', 'raysPerSecond'),
    trainStepSamplesPerSecond: ratio('trainStep', 'samplesPerSecond'),
    renderRaysPerSecond: ratio('render', 'raysPerSecond'),
    renderSamplesPerSecond: ratio('render', 'samplesPerSecond'),
  },
};
mkdirSync(dirname(outFile), { recursive: true });
writeFileSync(`${outFile}.tmp`, JSON.stringify(out, null, 2) + '\n');
renameSync(`${outFile}.tmp`, outFile);
console.log(JSON.stringify({ adapter: out.adapter, ratios: out.ratios_webgpu_over_cpu, parity: out.parity }));
process.exit(0);
