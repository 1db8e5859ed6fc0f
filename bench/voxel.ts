/**
 * Voxel engine benchmark: `node bin/run-ts.mjs bench/voxel.ts [--quick]` → bench/results/voxel.json.
 *
 * For each backend available (CPU always; WebGPU when an adapter exists — its measurements are added by the
 * WebGPU backend's owner in `measureBackend`): fitting and rendering throughput (rays/s, samples/s), the
 * time for the default demo fit to reach 30 dB test PSNR, and peak memory. Both wall time and this process's
 * CPU time are reported: the machine's cores are shared, so CPU seconds are the steadier figure.
 */
import { mkdirSync, writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { writeDemoData } from '../src/cli/cmd-demo-data';
import { loadDataset, loadViews } from '../src/io/datasets/dataset';
import { nodeFiles } from '../src/io/node/node-files';
import { fitVoxel, sceneBounds } from '../src/nerf/voxel/fit-voxel';
import { VoxelGridScene } from '../src/nerf/voxel/voxel-grid-scene';
import { cameraRays } from '../src/core/rays';
import { psnr } from '../src/edit/eval/metrics';
import type { BackendName } from '../src/nerf/common/backend';
import { createVoxelBackend } from '../src/nerf/voxel/voxel-backend';

const quick = process.argv.includes('--quick');
let peakRss = 0,
  peakArrayBuffers = 0;
const sampler = setInterval(() => {
  const m = process.memoryUsage();
  peakRss = Math.max(peakRss, m.rss);
  peakArrayBuffers = Math.max(peakArrayBuffers, m.arrayBuffers);
}, 50);

function clock() {
  const w = performance.now(),
    c = process.cpuUsage();
  return () => {
    const d = process.cpuUsage(c);
    return { wall: (performance.now() - w) / 1000, cpu: (d.user + d.system) / 1e6 };
  };
}

async function measureBackend(backend: BackendName, dataDir: string) {
  const ds = await loadDataset(dataDir, nodeFiles);
  const { views } = await loadViews(ds, 'train', nodeFiles);
  const { views: test } = await loadViews(ds, 'test', nodeFiles);
  const bounds = sceneBounds(
    views.map((v) => v.frame.camera),
    ds.sceneBox,
  );
  const iters = quick ? 300 : undefined; // undefined: fitVoxel's default (what `fit` uses)
  const curve: { step: number; wall: number; cpu: number; testPsnr: number }[] = [];
  let evalWall = 0,
    evalCpu = 0;
  const t = clock();
  const evalTest = async (scene: VoxelGridScene) => {
    let s = 0;
    for (const v of test) s += psnr((await scene.render(v.frame.camera)).image, v.image);
    return s / test.length;
  };
  const r = await fitVoxel(
    views.map((v) => ({ camera: v.frame.camera, image: v.image })),
    {
      ...bounds,
      background: ds.background,
      iters,
      seed: 0,
      backend,
      gridEvery: quick ? 100 : 200,
      onGrid: async (grid, step, params) => {
        const now = t();
        const e = clock();
        const testPsnr = await evalTest(new VoxelGridScene(grid, ds.background, { stepRatio: 0.5, near: params.near }));
        const d = e();
        evalWall += d.wall;
        evalCpu += d.cpu;
        curve.push({ step, wall: now.wall - evalWall + d.wall, cpu: now.cpu - evalCpu + d.cpu, testPsnr });
      },
    },
  );
  const fitT = t();
  const fitWall = fitT.wall - evalWall,
    fitCpu = fitT.cpu - evalCpu;
  const scene = new VoxelGridScene(r.grid, ds.background, { stepRatio: 0.5, near: r.params.near });
  const finalPsnr = await evalTest(scene);
  curve.push({ step: r.stats.steps, wall: fitWall, cpu: fitCpu, testPsnr: finalPsnr });
  const reach = curve.find((c) => c.testPsnr >= 30);
  // render throughput: all test views, twice (first warms up)
  const be = await createVoxelBackend(backend);
  await be.setGrid(r.grid);
  const p = scene.marchParams();
  let rays = 0,
    samples = 0;
  for (const v of test) await be.render(cameraRays(v.frame.camera), p);
  const rt = clock();
  for (const v of test) {
    const rr = cameraRays(v.frame.camera);
    const o = await be.render(rr, p);
    rays += rr.count;
    samples += o.samples;
  }
  const renderT = rt();
  be.dispose();
  return {
    backend,
    dataset: `demo ${views[0].image.width}² (${views.length} train / ${test.length} test views)`,
    grid: r.grid.res,
    fit: {
      iters: r.stats.steps,
      batch: 4096,
      wallSeconds: fitWall,
      cpuSeconds: fitCpu,
      raysPerSecond: r.stats.rays / fitWall,
      samplesPerSecond: r.stats.samples / fitWall,
      raysPerCpuSecond: r.stats.rays / fitCpu,
      samplesPerCpuSecond: r.stats.samples / fitCpu,
      samplesPerRay: r.stats.samples / r.stats.rays,
      testPsnr: finalPsnr,
      timeTo30dB: reach ? { step: reach.step, wallSeconds: reach.wall, cpuSeconds: reach.cpu } : null,
      curve,
    },
    render: {
      views: test.length,
      rays,
      wallSeconds: renderT.wall,
      cpuSeconds: renderT.cpu,
      raysPerSecond: rays / renderT.wall,
      samplesPerSecond: samples / renderT.wall,
      raysPerCpuSecond: rays / renderT.cpu,
      samplesPerCpuSecond: samples / renderT.cpu,
    },
  };
}

const dataDir = join(tmpdir(), `bench-voxel-demo-${process.pid}`);
await writeDemoData(dataDir, {});
const results: Record<string, unknown>[] = [];
const backends: BackendName[] = ['cpu'];
if (process.argv.includes('--webgpu')) {
  // Dawn for getGpuDevice(). On software WebGPU this full-size run is very slow:
  // bench/voxel-webgpu.ts compares both backends on a smaller fit (bench/results/voxel-webgpu*.json).
  (await import('../src/io/node/node-webgpu')).installNodeWebGpu();
  backends.push('webgpu');
}
for (const b of backends) {
  try {
    results.push(await measureBackend(b, dataDir));
  } catch (e) {
    results.push({ backend: b, skipped: (e as Error).message });
  }
  console.error(JSON.stringify(results[results.length - 1]).slice(0, 400));
}
clearInterval(sampler);
const out = {
  bench: 'voxel',
  date: new Date().toISOString(),
  node: process.version,
  quick,
  note: 'cores are shared with other work: compare cpuSeconds-based rates; wall-clock rates depend on load',
  results,
  ratios:
    results.length > 1 && (results[1] as any).fit
      ? {
          fitRaysPerSecond_webgpu_over_cpu: (results[1] as any).fit.raysPerSecond / (results[0] as any).fit.raysPerSecond,
          renderRaysPerSecond_webgpu_over_cpu: (results[1] as any).render.raysPerSecond / (results[0] as any).render.raysPerSecond,
        }
      : undefined,
  peakMemory: { rssMB: peakRss / 2 ** 20, arrayBuffersMB: peakArrayBuffers / 2 ** 20 },
};
mkdirSync('bench/results', { recursive: true });
writeFileSync('bench/results/voxel.json.tmp', JSON.stringify(out, null, 2) + '\n');
renameSync('bench/results/voxel.json.tmp', 'bench/results/voxel.json');
console.log(
  JSON.stringify({
    results: results.map((r: any) => ({
      backend: r.backend,
      fitRaysPerSecond: r.fit?.raysPerSecond,
      testPsnr: r.fit?.testPsnr,
      timeTo30dB: r.fit?.timeTo30dB,
      renderRaysPerSecond: r.render?.raysPerSecond,
      skipped: r.skipped,
    })),
    peakMemory: out.peakMemory,
  }),
);
