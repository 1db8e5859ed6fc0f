/**
 * Mesh stylisation speed: steps/s of the whole stylise loop (IDU with the built-in model: ring views at 128², the
 * editor, the differentiable rasteriser forward and backward, the neural style field forward and backward, Adam)
 * and the time to finish the default 200 steps, for spheres of 5k and 50k vertices, on the CPU (the default small
 * field on a worker pool over all cores, and the paper's field) and on WebGPU (the paper's field). One full run of
 * the CPU default on a 15k-vertex sphere checks the target (≤ 5 min on 2 cores).
 *
 * Wall-clock seconds and process CPU seconds (all threads) are both recorded: this machine is shared, so wall
 * times stretch with other work; CPU seconds / cores is what the run would take on idle cores. On a machine whose
 * WebGPU adapter is software (SwiftShader: Vulkan emulated on the CPU), the WebGPU rows only prove the kernels run
 * (a tiny mesh, 2 steps); speed is meaningful on real GPUs only.
 *
 * Run: node bin/run-ts.mjs bench/mesh.ts [--quick] [--out FILE.json] → bench/results/mesh.json
 */
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadPrior } from '../src/cli/cmd-edit';
import { stylizeMesh } from '../src/edit/loops/mesh-stylize';
import { getGpuDevice, gpuDescription } from '../src/gpu/device';
import { writeFileAtomic } from '../src/io/node/node-files';
import { nodeFieldRunner } from '../src/io/node/node-style-field-pool';
import { installNodeWebGpu } from '../src/io/node/node-webgpu';
import type { MeshBackendName } from '../src/nerf/mesh/mesh-backend';
import { sphereWithVertices } from '../src/nerf/mesh/mesh-shapes';
import { CPU_FIELD, fieldLayout, macsPerVertex, TEXT2MESH_FIELD, type StyleFieldConfig } from '../src/nerf/mesh/style-field';

const HERE = dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);
const quick = argv.includes('--quick');
const outPath = argv.includes('--out') ? argv[argv.indexOf('--out') + 1] : join(HERE, 'results', 'mesh.json');
const DEFAULT_STEPS = 200;

const { prior, dispose } = await loadPrior('builtin');

interface Row {
  vertices: number;
  faces: number;
  backend: MeshBackendName;
  field: 'small' | 'paper';
  runner: string;
  macsPerVertex: number;
  steps: number;
  seconds: number;
  cpuSeconds: number;
  stepsPerSecond: number;
  stepsPerCpuSecond: number;
  /** Default 200 steps at the measured rate (setup excluded). */
  projectedSecondsFor200: number;
  projectedCpuSecondsFor200: number;
  setupSeconds: number;
  loadAverage: number;
}

async function run(vertices: number, backend: MeshBackendName, fieldName: 'small' | 'paper', steps: number): Promise<Row> {
  const mesh = sphereWithVertices(vertices);
  const field: StyleFieldConfig = fieldName === 'paper' ? TEXT2MESH_FIELD : CPU_FIELD;
  const load = loadavg()[0];
  const t0 = performance.now(),
    c0 = process.cpuUsage();
  let tFirst = 0,
    cFirst = 0;
  const r = await stylizeMesh({
    mesh,
    options: { instruction: 'make it gold', method: 'idu', iters: steps, backend, field: fieldName },
    guide: { prior },
    fieldRunner: backend === 'cpu' ? nodeFieldRunner() : undefined,
    onProgress: (ev) => {
      // the clock for steps/s starts after the first refit step (setup: views, field creation, worker start-up)
      if (ev.phase === 'refit' && ev.step === 1) {
        tFirst = performance.now();
        const c = process.cpuUsage(c0);
        cFirst = (c.user + c.system) / 1e6;
      }
    },
  });
  const seconds = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  const cpuSeconds = (c.user + c.system) / 1e6;
  const runner_ = r.scene.backendName;
  r.scene.dispose();
  const loopSeconds = (performance.now() - tFirst) / 1000,
    loopCpu = cpuSeconds - cFirst;
  const per = loopSeconds / Math.max(1, steps - 1),
    perCpu = loopCpu / Math.max(1, steps - 1);
  const row: Row = {
    vertices: mesh.positions.length / 3,
    faces: mesh.indices.length / 3,
    backend,
    field: fieldName,
    runner: runner_,
    macsPerVertex: macsPerVertex(fieldLayout(field)),
    steps,
    seconds: +seconds.toFixed(2),
    cpuSeconds: +cpuSeconds.toFixed(2),
    stepsPerSecond: +(1 / per).toFixed(3),
    stepsPerCpuSecond: +(1 / perCpu).toFixed(3),
    projectedSecondsFor200: +(per * DEFAULT_STEPS).toFixed(1),
    projectedCpuSecondsFor200: +(perCpu * DEFAULT_STEPS).toFixed(1),
    setupSeconds: +((tFirst - t0) / 1000).toFixed(2),
    loadAverage: +load.toFixed(1),
  };
  console.log(JSON.stringify(row));
  return row;
}

const rows: Row[] = [];
for (const [v, steps] of quick
  ? ([[5000, 6]] as const)
  : ([
      [5000, 21],
      [50000, 11],
    ] as const))
  rows.push(await run(v, 'cpu', 'small', steps));
rows.push(await run(5000, 'cpu', 'paper', quick ? 2 : 3));

installNodeWebGpu();
let adapter = 'none';
let software = true;
try {
  await getGpuDevice();
  adapter = gpuDescription();
  software = /swiftshader|llvmpipe|lavapipe/i.test(adapter);
} catch (e) {
  adapter = `unavailable: ${(e as Error).message.split('.')[0]}`;
}
const webgpu: Record<string, unknown> = { adapter };
if (adapter.startsWith('unavailable')) webgpu.skipped = 'no WebGPU adapter';
else if (software) {
  webgpu.note =
    'software adapter (SwiftShader): a 1k-vertex mesh, 2 steps, the small field — the kernels run; GPU speed is not measured here';
  webgpu.rows = [await run(1000, 'webgpu', 'small', 2)];
} else {
  const r: Row[] = [];
  for (const v of [5000, 50000]) r.push(await run(v, 'webgpu', 'paper', 21));
  webgpu.rows = r;
}

// the target: the CPU default stylises a 15k-vertex mesh in ≤ 5 min on 2 cores (the default 200 steps, end to end)
let target: Record<string, unknown> | null = null;
if (!quick) {
  const full = await run(15000, 'cpu', 'small', DEFAULT_STEPS);
  target = {
    vertices: full.vertices,
    steps: DEFAULT_STEPS,
    wallSeconds: full.seconds,
    cpuSeconds: full.cpuSeconds,
    secondsOnTwoIdleCores: +(full.cpuSeconds / 2).toFixed(1),
    loadAverage: full.loadAverage,
    withinFiveMinutes: full.cpuSeconds / 2 <= 300,
  };
}
await dispose();

const result = {
  bench: 'mesh',
  date: new Date().toISOString(),
  machine: { cpus: cpus().length, cpu: cpus()[0]?.model.trim(), node: process.version, loadAverageAtEnd: +loadavg()[0].toFixed(1) },
  note: 'IDU stylisation with the built-in model, 8 ring views at 128², one view per step; steps/s over the loop after the first step (setup: ring renders, field creation, worker start-up). cpuSeconds count every thread of the process; on a shared machine wall time stretches with the load average, CPU seconds / cores is the time on idle cores. small = the CPU default field (width 64, 64 frequencies), paper = Text2Mesh (width 256, 256 frequencies).',
  fields: {
    small: { ...CPU_FIELD, macsPerVertex: macsPerVertex(fieldLayout(CPU_FIELD)), params: fieldLayout(CPU_FIELD).paramCount },
    paper: {
      ...TEXT2MESH_FIELD,
      macsPerVertex: macsPerVertex(fieldLayout(TEXT2MESH_FIELD)),
      params: fieldLayout(TEXT2MESH_FIELD).paramCount,
    },
  },
  cpu: rows,
  webgpu,
  target15k: target,
};
await writeFileAtomic(outPath, JSON.stringify(result, null, 2) + '\n');
console.log(`→ ${outPath}`);
process.exit(0);
