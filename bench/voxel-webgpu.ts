/**
 * Voxel engine, CPU vs WebGPU side by side: `node bin/run-ts.mjs bench/voxel-webgpu.ts [--iters N] [--res N] [--batch N]`
 * → bench/results/voxel-webgpu.json.
 *
 * Same work on both backends in one run:
 * - fit: `fitVoxel` (the one trainer) on the demo scene (24 views at 64²), identical seed and schedule; rays/s and
 *   samples/s over the whole loop (host Adam, uploads and readbacks included), final loss.
 * - trainStep: forward + backward of 4096-ray batches on the fitted grid (what one fit step asks of the backend).
 * - render: full views on the fitted grid.
 * Wall time and this process's CPU time are both reported (the machine's cores are shared; on a software adapter
 * like SwiftShader the GPU work runs on this process's threads, so CPU seconds include it).
 * Software WebGPU is expected to be slower than the CPU reference: it proves correctness, real GPUs give speed.
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { installNodeWebGpu } from '../src/io/node-webgpu';
import { gpuAvailable, gpuDescription } from '../src/gpu/device';
import { cameraRays, pixelRay } from '../src/core/rays';
import { Rng } from '../src/core/rng';
import { DEMO_BACKGROUND, DEMO_SCENE_BOX, demoCameras, renderDemoScene } from '../src/io/demo-scene';
import { createBackend, fitVoxel, type FitView } from '../src/nerf/fit-voxel';
import type { BackendName, TrainBatch } from '../src/nerf/voxel-backend';
import { updateOccupancy, type VoxelGrid } from '../src/nerf/voxel-grid';
import { VoxelScene } from '../src/nerf/voxel-scene';

function flag(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
}
const iters = flag('iters', 60);
const res = flag('res', 48);
const batchSize = flag('batch', 1024);

function clock() {
  const w = performance.now(), c = process.cpuUsage();
  return () => {
    const d = process.cpuUsage(c);
    return { wall: (performance.now() - w) / 1000, cpu: (d.user + d.system) / 1e6 };
  };
}

function randomBatch(views: FitView[], n: number, rng: Rng): TrainBatch {
  const b: TrainBatch = { origins: new Float32Array(n * 3), dirs: new Float32Array(n * 3), target: new Float32Array(n * 3), count: n };
  for (let r = 0; r < n; r++) {
    const v = views[rng.int(views.length)];
    const px = rng.int(v.image.width), py = rng.int(v.image.height);
    pixelRay(v.camera, px, py, b.origins, b.dirs, r);
    for (let c = 0; c < 3; c++) b.target[r * 3 + c] = v.image.data[(py * v.image.width + px) * 3 + c];
  }
  return b;
}

async function fitOn(backend: BackendName, views: FitView[]) {
  const losses: number[] = [];
  const t = clock();
  const r = await fitVoxel(views, {
    box: DEMO_SCENE_BOX, bgLen: 0, background: DEMO_BACKGROUND, res, iters, batch: batchSize, seed: 0, backend,
    onProgress: (p) => { if (p.loss !== undefined) losses.push(p.loss); },
  });
  const d = t();
  return {
    grid: r.grid,
    summary: {
      iters, batch: batchSize, res: r.grid.res, wallSeconds: d.wall, cpuSeconds: d.cpu,
      raysPerSecond: r.stats.rays / d.wall, samplesPerSecond: r.stats.samples / d.wall,
      samplesPerRay: r.stats.samples / r.stats.rays, finalLossEma: losses[losses.length - 1], firstLoss: losses[0],
    },
  };
}

async function throughput(backend: BackendName, grid: VoxelGrid, views: FitView[]) {
  const be = await createBackend(backend);
  await be.setGrid(grid);
  const scene = new VoxelScene(grid, DEMO_BACKGROUND, { stepRatio: 0.5, near: 0 });
  const p = scene.marchParams();
  const grads = { density: new Float32Array(grid.density.length), color: new Float32Array(grid.color.length) };
  const rng = new Rng(7);
  const reps = 2;
  const batches = Array.from({ length: reps + 1 }, () => randomBatch(views, 4096, rng));
  await be.trainStep(batches[reps], p, grads); // warm-up (pipelines, buffers)
  let t = clock(), rays = 0, samples = 0;
  for (let i = 0; i < reps; i++) { const o = await be.trainStep(batches[i], p, grads); rays += batches[i].count; samples += o.samples; }
  let d = t();
  const train = { rays, wallSeconds: d.wall, cpuSeconds: d.cpu, raysPerSecond: rays / d.wall, samplesPerSecond: samples / d.wall, samplesPerRay: samples / rays };
  const cams = views.slice(0, 2).map((v) => v.camera);
  await be.render(cameraRays(cams[0]), p);
  t = clock(); rays = 0; samples = 0;
  for (const c of cams) { const rr = cameraRays(c); const o = await be.render(rr, p); rays += rr.count; samples += o.samples; }
  d = t();
  const render = { rays, wallSeconds: d.wall, cpuSeconds: d.cpu, raysPerSecond: rays / d.wall, samplesPerSecond: samples / d.wall, samplesPerRay: samples / rays };
  be.dispose();
  return { trainStep: train, render };
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
}
// throughput on one grid (the CPU fit's) with occupancy pruning, so both backends see the same work
updateOccupancy(grid!, 1e-2);
for (const b of backends) {
  Object.assign(results[b], await throughput(b, grid!, views));
  console.error(`${b} trainStep: ${JSON.stringify(results[b].trainStep)}\n${b} render: ${JSON.stringify(results[b].render)}`);
}
const ratio = (k: 'fit' | 'trainStep' | 'render', m: string) => (results.webgpu ? results.webgpu[k][m] / results.cpu[k][m] : undefined);
const out = {
  bench: 'voxel-webgpu', date: new Date().toISOString(), node: process.version,
  adapter: haveGpu ? gpuDescription() : 'none (WebGPU unavailable: CPU only)',
  dataset: 'demo scene, 24 views at 64²', grid: grid!.res,
  note: 'Software WebGPU (SwiftShader) runs on the shared CPU cores and is expected to be slower than the CPU reference; real GPUs give the speed.',
  results,
  ratios_webgpu_over_cpu: {
    fitRaysPerSecond: ratio('fit', 'raysPerSecond'),
    trainStepRaysPerSecond: ratio('trainStep', 'raysPerSecond'),
    trainStepSamplesPerSecond: ratio('trainStep', 'samplesPerSecond'),
    renderRaysPerSecond: ratio('render', 'raysPerSecond'),
    renderSamplesPerSecond: ratio('render', 'samplesPerSecond'),
  },
};
mkdirSync('bench/results', { recursive: true });
writeFileSync('bench/results/voxel-webgpu.json.tmp', JSON.stringify(out, null, 2) + '\n');
renameSync('bench/results/voxel-webgpu.json.tmp', 'bench/results/voxel-webgpu.json');
console.log(JSON.stringify({ adapter: out.adapter, ratios: out.ratios_webgpu_over_cpu }));
process.exit(0);
