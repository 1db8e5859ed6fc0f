/**
 * WebGPU Gaussian rasteriser speed vs number of Gaussians, with the CPU twin on the same rows for ratios:
 * forward frame time (projection, tile keys, GPU sort, compositing, readback of the image) and backward time
 * (2D gradients with float CAS atomics, projection backward, readback of all gradients), and the viewer's part
 * (projection + depth sort of all Gaussians, `WebGpuGaussianProjector.encodeProject`). 512×512, SH degree 3,
 * the scene of bench/gaussians.ts (half on a unit sphere, half on a ground square, surface-like depth complexity).
 * Wall-clock ms (the GPU runs outside this process's CPU time), median of a few runs after one warm-up (with
 * two runs, the slower). On machines without a GPU this is SwiftShader
 * (Vulkan on the CPU): it proves the kernels run at these sizes; speed is meaningful on real GPUs only.
 *
 * Run: node bin/run-ts.mjs bench/gaussians-webgpu.ts [--counts 10000,100000,1000000] [--size 512] [--cpu-max 100000]
 *      [--software-max 100000]   (counts above it are recorded as skipped on SwiftShader)  [--out FILE.json]
 * → bench/results/gaussians-webgpu.json
 */
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { lookAtCamera } from '../src/core/camera';
import { Rng } from '../src/core/rng';
import { getGpuDevice, gpuDescription } from '../src/gpu/device';
import { installNodeWebGpu } from '../src/io/node/node-webgpu';
import { writeFileAtomic } from '../src/io/node/node-files';
import { rasterizeBackward, rasterizeForward } from '../src/nerf/gaussian/gaussian-span-cpu';
import { WebGpuGaussianProjector, WebGpuGaussianRasterizer, packCamera, packGaussians } from '../src/nerf/gaussian/gaussian-raster-webgpu';
import { runnerFor } from '../src/gpu/runner';
import { createGaussians, setColor, SH_STRIDE, type Gaussians } from '../src/nerf/gaussian/gaussians';
import { logit } from '../src/core/math';
import { createGrads } from '../src/nerf/gaussian/gaussian-project-cpu';

const HERE = dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);
const opt = (name: string, d: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : d;
};
const counts = opt('counts', '10000,100000,1000000').split(',').map(Number);
const size = Number(opt('size', '512'));
const cpuMax = Number(opt('cpu-max', '100000'));
/** Largest count run on a software adapter (SwiftShader): 1M there takes many minutes per frame on a shared machine. */
const swMax = Number(opt('software-max', '100000'));
const outPath = opt('out', '');

/** The scene of bench/gaussians.ts (same generator and seed, so rows are comparable). */
function benchScene(n: number, seed = 0): Gaussians {
  const rng = new Rng(seed);
  const g = createGaussians(n, 3);
  const area = 4 * Math.PI + 16;
  const s = Math.log(0.7 * Math.sqrt(area / n));
  for (let i = 0; i < n; i++) {
    if (i % 2 === 0) {
      const z = rng.uniform(-1, 1),
        t = rng.uniform(0, 2 * Math.PI),
        r = Math.sqrt(1 - z * z);
      g.means.set([r * Math.cos(t), z, r * Math.sin(t)], 3 * i);
    } else g.means.set([rng.uniform(-2, 2), -1, rng.uniform(-2, 2)], 3 * i);
    g.logScales.set([s + rng.uniform(-0.3, 0.3), s + rng.uniform(-0.3, 0.3), s - 1], 3 * i);
    g.rotations.set([rng.normal(), rng.normal(), rng.normal(), rng.normal()], 4 * i);
    g.opacityLogits[i] = logit(rng.uniform(0.3, 0.95));
    setColor(g, i, rng.next(), rng.next(), rng.next());
    for (let k = 3; k < SH_STRIDE; k++) g.sh[i * SH_STRIDE + k] = rng.uniform(-0.1, 0.1);
  }
  return g;
}

// (upper median: with two runs, the slower one)
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const r1 = (x: number) => Math.round(x * 10) / 10;
const r2 = (x: number) => Number(x.toPrecision(2));

installNodeWebGpu();
const device = await getGpuDevice();
let t0 = performance.now();
const raster = await WebGpuGaussianRasterizer.create(device);
const compileMs = performance.now() - t0;
const cam = lookAtCamera([2.2, 1.4, 2.6], [0, -0.3, 0], [0, 1, 0], size, size, 50);
const rows: any[] = [];
const out = outPath || join(HERE, 'results', 'gaussians-webgpu.json');
const software = /swiftshader|llvmpipe|lavapipe/i.test(gpuDescription());
for (const n of counts) {
  if (software && n > swMax) {
    const row = {
      count: n,
      webgpu: { skipped: `software adapter (${gpuDescription()}): above --software-max ${swMax}; run on a real GPU` },
    };
    rows.push(row);
    console.log(JSON.stringify(row));
    continue;
  }
  const g = benchScene(n);
  const reps = n <= 10_000 ? 3 : 1;
  const dImage = new Float32Array(size * size * 3).map((_, i) => ((i * 7919) % 13) / 13 - 0.5);
  const grads = createGrads(n);
  const fwd: number[] = [],
    bwd: number[] = [];
  let pairs = 0,
    visible = 0;
  process.stderr.write(`webgpu ${n}: `);
  for (let r = 0; r <= reps; r++) {
    t0 = performance.now();
    const f = await raster.forward(g, cam, [0, 0, 0]);
    const tf = performance.now() - t0;
    t0 = performance.now();
    await raster.backward(dImage, null, grads);
    const tb = performance.now() - t0;
    pairs = f.pairs;
    visible = f.radius.reduce((a, v) => a + (v > 0 ? 1 : 0), 0);
    if (r > 0 || reps === 1) {
      fwd.push(tf);
      bwd.push(tb);
    } // first run warms up (buffer allocation)
    process.stderr.write(`${Math.round(tf)}/${Math.round(tb)} ms `);
  }
  process.stderr.write('\n');
  // the viewer's per-frame work: projection + depth sort of all Gaussians (+ tile-count scan), no compositing
  const runner = runnerFor(device);
  const projector = await WebGpuGaussianProjector.create(device);
  const params = runner.buffer(packGaussians(g)),
    camU = runner.uniform(packCamera(cam, n, 3)),
    proj = runner.buffer(n * 64);
  const ps: number[] = [];
  for (let r = 0; r <= reps; r++) {
    t0 = performance.now();
    const enc = device.createCommandEncoder();
    const { offsets } = projector.encodeProject(enc, { cam: camU, params, proj, count: n });
    device.queue.submit([enc.finish()]);
    await runner.readU32(offsets, n * 4, 1);
    if (r > 0 || reps === 1) ps.push(performance.now() - t0);
  }
  projector.destroy();
  params.destroy();
  camU.destroy();
  proj.destroy();
  const row: any = {
    count: n,
    visible,
    tilePairs: pairs,
    webgpu: { forwardMs: r1(median(fwd)), backwardMs: r1(median(bwd)), projectDepthSortMs: r1(median(ps)), runs: fwd.length },
  };
  if (n <= cpuMax) {
    const cf: number[] = [],
      cb: number[] = [];
    for (let r = 0; r < Math.min(reps, 3); r++) {
      t0 = performance.now();
      const f = rasterizeForward(g, cam, [0, 0, 0]);
      cf.push(performance.now() - t0);
      t0 = performance.now();
      rasterizeBackward(g, cam, f, dImage, null, grads);
      cb.push(performance.now() - t0);
    }
    row.cpu = { forwardMs: r1(median(cf)), backwardMs: r1(median(cb)) };
    row.cpuOverWebgpu = { forward: r2(row.cpu.forwardMs / row.webgpu.forwardMs), backward: r2(row.cpu.backwardMs / row.webgpu.backwardMs) }; // speed-up of WebGPU
  }
  rows.push(row);
  console.log(JSON.stringify(row));
  await save(); // after every row, so a run cut short keeps what it measured
}
await save();
console.log(`→ ${out}`);
process.exit(0);

async function save(): Promise<void> {
  const result = {
    bench: 'gaussians-webgpu',
    date: new Date().toISOString(),
    machine: {
      cpus: cpus().length,
      cpu: cpus()[0]?.model.split(' ').slice(0, 2).join(' '),
      node: process.version,
      adapter: gpuDescription(),
    },
    resolution: [size, size],
    shDegree: 3,
    pipelineCompileMs: Math.round(compileMs),
    note: "Wall-clock ms, median after one warm-up run; webgpu forward includes the tile-count readback and the image readback, backward the dImage upload and the gradient readback. CPU = the TypeScript twin (single thread) on the same rows. A SwiftShader adapter means Vulkan emulated on this machine's CPU cores (shared with other work): correctness, not GPU speed.",
    rows,
  };
  await writeFileAtomic(out, new TextEncoder().encode(JSON.stringify(result, null, 2) + '\n'));
}
