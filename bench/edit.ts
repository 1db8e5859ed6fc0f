/**
 * Edit loops: refit steps/s during an edit (IDU and SDS, built-in model, "make it red" inside the vase box)
 * vs plain fitting (fitVoxel at the same resolution and batch), and the time split between the editor
 * (diffusion model calls) and the refit (render + backward + optimiser). Also the edit's effect
 * (outside PSNR, redness change) on the dataset's test views.
 *
 * Run: node bin/run-ts.mjs bench/edit.ts [SCENE_DIR DATASET_DIR] [--iters N] [--rays N]
 *   default scene: the analytic tiny demo (tests/helpers/edit-demo.ts) at 64² images, 40³ grid.
 *   For the real demo: instruct-scene demo-data --out D; instruct-scene fit D --repr voxel --res 96 --iters 1200 --out S;
 *   node bin/run-ts.mjs bench/edit.ts S D
 * → bench/results/edit.json
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { framesOf, loadDataset, loadViews } from '../src/io/datasets/dataset';
import { loadScene } from '../src/io/scenes/load-scene';
import { nodeFiles, writeFileAtomic } from '../src/io/node/node-files';
import { VoxelGridScene } from '../src/nerf/voxel/voxel-grid-scene';
import { fitVoxel } from '../src/nerf/voxel/fit-voxel';
import { buildEditSpec } from '../src/edit/loops/edit-spec';
import { openEdit } from '../src/edit/loops/open-edit';
import { runEdit } from '../src/edit/loops/edit-run';
import { boxRegion, defaultDilation } from '../src/edit/regions/regions';
import { diffScenes, redness } from '../src/edit/eval/diff';
import { ip2pPrior } from '../src/edit/diffusion/ip2p-prior';
import { loadPipelineFor } from '../src/cli/model-path';
import { DEMO_OBJECTS } from '../src/io/datasets/demo-scene';
import { writeTinyDemo } from '../tests/helpers/edit-demo';

const HERE = dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);
const flag = (name: string, d: number) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? Number(argv[i + 1]) : d;
};
const positional = argv.filter((a, i) => !a.startsWith('--') && !(i > 0 && argv[i - 1].startsWith('--')));

let tmp: string | null = null;
let scenePath: string, dataPath: string;
if (positional.length >= 2) [scenePath, dataPath] = positional;
else {
  tmp = mkdtempSync(join(tmpdir(), 'bench-edit-'));
  ({ scene: scenePath, data: dataPath } = await writeTinyDemo(tmp, { size: 64, views: 24, res: 40 }));
}
const iters = flag('iters', 100),
  rays = flag('rays', 2048);

const ds = await loadDataset(dataPath, nodeFiles);
const { views: train } = await loadViews(ds, 'train', nodeFiles);
const parent = await loadScene(scenePath, nodeFiles);
if (!(parent instanceof VoxelGridScene)) throw new Error('bench/edit.ts needs a voxel scene');
const vase = DEMO_OBJECTS.find((o) => o.name === 'vase')!;
const region = boxRegion(vase.min, vase.max);
const pipe = await loadPipelineFor('builtin');
const prior = ip2pPrior(pipe);
const testFrames = framesOf(ds, 'test').map((f) => ({ file: f.file, camera: f.camera }));

const results: Record<string, unknown> = {
  scene: positional.length >= 2 ? scenePath : 'analytic tiny demo (64², 40³ grid)',
  grid: parent.grid.res,
  trainViews: train.length,
  imageSize: [train[0].image.width, train[0].image.height],
  iters,
  rays,
  machine: 'CPU reference renderer; shared 2-core box — compare ratios, not absolute figures',
};

// plain fitting at the same resolution and batch (no coarse-to-fine), for the same number of steps
const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
{
  const t0 = performance.now(),
    c0 = cpu();
  await fitVoxel(
    train.map((v) => ({ camera: v.frame.camera, image: v.image })),
    {
      res: Math.max(...parent.grid.res),
      iters,
      batch: rays,
      upsampleAt: [],
      box: parent.grid.box,
      bgLen: parent.grid.bgLen,
      background: parent.background,
    },
  );
  const s = (performance.now() - t0) / 1000,
    c = cpu() - c0;
  results.plainFit = { seconds: s, stepsPerSecond: iters / s, cpuSeconds: c, stepsPerCpuSecond: iters / c };
}

for (const method of ['idu', 'sds'] as const) {
  // the CLI's defaults (an edit round every 10 steps, enough views per round to edit each view about twice;
  // SDS: Vox-E's Pearson term, dynamic scaling)
  const spec = buildEditSpec(
    { instruction: 'make it red', method, iters, raysPerStep: rays },
    { kind: 'voxel', cameras: train.map((v) => v.frame.camera), region },
  );
  const cfg = spec.config;
  const t0 = performance.now();
  const { scene, views } = await openEdit(
    { kind: 'voxel', grid: parent.grid, background: parent.background, render: parent.settings },
    spec,
    region,
    train.map((v) => ({ file: v.frame.file, camera: v.frame.camera, image: v.image })),
  );
  const prepSeconds = (performance.now() - t0) / 1000;
  const t1 = performance.now(),
    c1 = cpu();
  const res = await runEdit({ cfg, scene, prior, views });
  const loopSeconds = (performance.now() - t1) / 1000,
    loopCpu = cpu() - c1;
  const edited = {
    kind: 'voxel' as const,
    background: parent.background,
    render: async (c: Parameters<VoxelGridScene['render']>[0]) => ({
      image: await scene.render(c),
      alpha: new Float32Array(0),
      depth: new Float32Array(0),
    }),
  };
  const d = await diffScenes(parent, edited, testFrames, region, defaultDilation(testFrames[0].camera));
  results[method] = {
    prepareSeconds: prepSeconds,
    loopSeconds,
    stepsPerSecond: iters / loopSeconds,
    loopCpuSeconds: loopCpu,
    stepsPerCpuSecond: iters / loopCpu,
    refitStepsPerSecond: iters / (res.state.refitMs / 1000),
    editorSeconds: res.state.editorMs / 1000,
    refitSeconds: res.state.refitMs / 1000,
    renderSeconds: res.state.renderMs / 1000,
    editorShare: res.state.editorMs / (res.state.editorMs + res.state.refitMs + res.state.renderMs),
    viewsEdited: res.state.viewsEdited,
    test_outside_psnr: d.outside_psnr,
    test_redness_change: redness(d.inside_mean_rgb_b!) - redness(d.inside_mean_rgb_a!),
  };
  console.log(method, JSON.stringify(results[method]));
}
const plain = (results.plainFit as { stepsPerSecond: number }).stepsPerSecond;
const plainCpu = (results.plainFit as { stepsPerCpuSecond: number }).stepsPerCpuSecond;
type R = { stepsPerSecond: number; stepsPerCpuSecond: number };
results.ratios = {
  note: 'edit steps/s ÷ plain-fit steps/s (same rays per step); CPU-time ratios are less sensitive to other load on the machine',
  idu_vs_plain_fit_wall: (results.idu as R).stepsPerSecond / plain,
  sds_vs_plain_fit_wall: (results.sds as R).stepsPerSecond / plain,
  idu_vs_plain_fit_cpu: (results.idu as R).stepsPerCpuSecond / plainCpu,
  sds_vs_plain_fit_cpu: (results.sds as R).stepsPerCpuSecond / plainCpu,
};
await pipe.dispose();
if (tmp) rmSync(tmp, { recursive: true, force: true });
await writeFileAtomic(join(HERE, 'results', 'edit.json'), JSON.stringify(results, null, 2) + '\n');
console.log(JSON.stringify(results, null, 2));
