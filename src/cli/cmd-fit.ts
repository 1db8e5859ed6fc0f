import { UserError } from '../core/errors';
import { dirLabel } from '../core/paths';
import { loadDataset, loadViews, type Dataset, type LoadedView } from '../io/datasets/dataset';
import { saveVoxelScene } from '../io/scenes/load-scene';
import { orbitHintFromCameras } from '../io/export/multiview-export';
import { nodeFiles } from '../io/node/node-files';
import { axesFocus, fitVoxel, sceneBounds } from '../nerf/voxel/fit-voxel';
import { VoxelGridScene } from '../nerf/voxel/voxel-grid-scene';
import { psnr } from '../edit/eval/metrics';
import { choiceFlag, intFlag, parseCommand, requireFlag } from './args';
import { Progress, warn } from './progress';
import { datasetRoot, prepareOutput } from '../io/node/output-guard';
import { checkGaussiansFinite } from '../nerf/gaussian/gaussians';
import { BACKEND_NAMES, type BackendName } from '../nerf/common/backend';
import type { Scene } from '../nerf/common/scene';

const USAGE = `usage: instruct-scene fit DATASET --repr voxel|gaussians --out SCENE_DIR [options]

Fits a scene to a posed dataset (nerfstudio, Blender or instant-ngp transforms, or a COLMAP capture: sparse/0
with images/) and writes a scene folder (scene.json + scene.voxel or scene.ply) that eval, render, edit and
the viewer open. Gaussians are rasterised as pinhole cameras: views with lens distortion are undistorted first.

options:
  --repr voxel|gaussians   representation (default voxel)
  --res N                  voxel grid: vertices along the longest axis (default 128; 160 for unbounded captures)
  --iters N                optimisation steps (voxel: 1000 bounded, 2000 unbounded captures; gaussians: 1000 bounded, 4000 unbounded)
  --backend cpu|webgpu     where to run (default cpu)
  --downscale K            use images downscaled by K (COLMAP captures: images_K/ when present)
  --max-images N           use at most N training images
  --seed S                 random seed (default 0)
  --sh                     voxel: view-dependent colour (SH degree 1)
  --batch N                voxel: rays per step (default 4096)
  --max-gaussians N        gaussians: upper bound on the count (default 4 × the pixels of an image, ≥ 20000)
  --json                   progress and the result as JSON lines on stdout`;

export interface FitCliOptions {
  repr: 'voxel' | 'gaussians';
  res?: number;
  iters?: number;
  backend: BackendName;
  downscale: number;
  maxImages?: number;
  seed: number;
  sh: boolean;
  batch?: number;
  maxGaussians?: number;
}

export interface FitSummary {
  out: string;
  repr: string;
  seconds: number;
  trainPsnr: number;
  testPsnr?: number;
  views: number;
  res?: number[];
  count?: number;
}

/** Fits and saves a voxel scene; shared by `fit` and `demo`. */
export async function fitVoxelToFolder(
  ds: Dataset,
  views: LoadedView[],
  out: string,
  o: FitCliOptions,
  progress: Progress,
  datasetPath: string,
): Promise<FitSummary> {
  const cams = views.map((v) => v.frame.camera);
  const bounds = sceneBounds(cams, ds.sceneBox);
  const r = await fitVoxel(
    views.map((v) => ({ camera: v.frame.camera, image: v.image })),
    {
      ...bounds,
      background: ds.background,
      res: o.res,
      iters: o.iters,
      batch: o.batch,
      seed: o.seed,
      shDegree: o.sh ? 1 : 0,
      backend: o.backend,
      onProgress: (p) =>
        progress.update(
          { phase: 'fit', step: p.step, total: p.total, loss: p.loss, psnr: p.psnr },
          p.psnr !== undefined ? `${p.psnr.toFixed(2)} dB` : '',
        ),
    },
  );
  progress.done();
  for (const [name, a] of [
    ['density', r.grid.density],
    ['colour', r.grid.color],
  ] as const)
    for (let i = 0; i < a.length; i++)
      if (!Number.isFinite(a[i]))
        throw new UserError(
          `the fit diverged: the grid's ${name} became non-finite (${a[i]}); nothing was written — check the dataset's cameras and scene_box`,
          datasetPath,
        );
  if (!Number.isFinite(r.stats.finalPsnr))
    throw new UserError(
      `the fit diverged: its training PSNR is ${r.stats.finalPsnr}; nothing was written — check the dataset's images and cameras`,
      datasetPath,
    );
  const scene = new VoxelGridScene(r.grid, ds.background, { stepRatio: 0.5, near: r.params.near });
  const orbit = orbitHintFromCameras(cams, axesFocus(cams));
  const testPsnr = await testSplitPsnr(ds, scene);
  const meta = {
    dataset: datasetPath,
    downscale: ds.downscale,
    iters: r.stats.steps,
    seed: o.seed,
    backend: o.backend,
    views: views.length,
    seconds: r.stats.seconds,
    trainPsnr: r.stats.finalPsnr,
    testPsnr,
    orbit,
  };
  scene.meta = meta;
  await saveVoxelScene(out, { grid: r.grid, background: ds.background, render: scene.settings, meta }, nodeFiles);
  return { out, repr: 'voxel', seconds: r.stats.seconds, trainPsnr: r.stats.finalPsnr, testPsnr, views: views.length, res: r.grid.res };
}

async function fitGaussiansToFolder(
  ds: Dataset,
  views: LoadedView[],
  out: string,
  o: FitCliOptions,
  progress: Progress,
  datasetPath: string,
): Promise<FitSummary> {
  // Imported lazily: voxel fits never load the Gaussian code.
  const { fitGaussians } = await import('../nerf/gaussian/fit-gaussians');
  const { saveGaussianScene } = await import('../io/scenes/load-gaussian-scene');
  const { GaussianScene } = await import('../nerf/gaussian/gaussian-scene');
  const cams = views.map((v) => v.frame.camera);
  const r = await fitGaussians(
    ds,
    views.map((v) => ({ camera: v.frame.camera, image: v.image })),
    { iters: o.iters, seed: o.seed, backend: o.backend, files: nodeFiles, maxGaussians: o.maxGaussians },
    (p) =>
      progress.update(
        { phase: p.phase ?? 'fit', step: p.step, total: p.total, loss: p.loss, psnr: p.psnr, count: p.count },
        p.psnr !== undefined ? `${p.psnr.toFixed(2)} dB` : '',
      ),
  );
  progress.done();
  try {
    checkGaussiansFinite(r.gaussians);
  } catch (e) {
    throw new UserError(
      `the fit diverged (${(e as Error).message}); nothing was written — check the dataset's cameras and scene_box`,
      datasetPath,
    );
  }
  if (!Number.isFinite(r.stats.finalPsnr))
    throw new UserError(`the fit diverged: its training PSNR is ${r.stats.finalPsnr}; nothing was written`, datasetPath);
  const orbit = orbitHintFromCameras(cams, axesFocus(cams));
  const testPsnr = await testSplitPsnr(ds, new GaussianScene(r.gaussians, ds.background));
  await saveGaussianScene(out, r.gaussians, ds.background, nodeFiles, {
    meta: { ...r.stats, seed: o.seed, dataset: datasetPath, downscale: ds.downscale, testPsnr, orbit },
  });
  return {
    out,
    repr: 'gaussians',
    seconds: r.stats.seconds,
    trainPsnr: r.stats.finalPsnr,
    testPsnr,
    views: views.length,
    count: r.stats.count,
  };
}

/** Mean PSNR of the scene's renders over the dataset's test split (CPU renderer); undefined without a test split. */
async function testSplitPsnr(ds: Dataset, scene: Scene): Promise<number | undefined> {
  if (!ds.frames.some((f) => f.split === 'test')) return undefined;
  const { views } = await loadViews(ds, 'test', nodeFiles);
  if (!views.length) return undefined;
  let s = 0;
  for (const v of views) s += psnr((await scene.render(v.frame.camera)).image, v.image);
  return s / views.length;
}

export async function run(args: string[]): Promise<number> {
  const p = parseCommand(
    args,
    USAGE,
    {
      repr: { type: 'string' },
      res: { type: 'string' },
      iters: { type: 'string' },
      backend: { type: 'string' },
      downscale: { type: 'string' },
      'max-images': { type: 'string' },
      seed: { type: 'string' },
      out: { type: 'string' },
      sh: { type: 'boolean' },
      batch: { type: 'string' },
      'max-gaussians': { type: 'string' },
    },
    { positionals: [1, 1] },
  );
  if (!p) return 0;
  const dataset = p.positionals[0];
  const out = requireFlag(p.values.out, 'out');
  const o: FitCliOptions = {
    repr: choiceFlag(p.values.repr, 'repr', ['voxel', 'gaussians'] as const, 'voxel'),
    res: p.values.res === undefined ? undefined : intFlag(p.values.res, 'res', 128, 4),
    iters: p.values.iters === undefined ? undefined : intFlag(p.values.iters, 'iters', 1000, 1),
    backend: choiceFlag(p.values.backend, 'backend', BACKEND_NAMES, 'cpu'),
    downscale: intFlag(p.values.downscale, 'downscale', 1, 1),
    maxImages: p.values['max-images'] === undefined ? undefined : intFlag(p.values['max-images'], 'max-images', 1, 1),
    seed: intFlag(p.values.seed, 'seed', 0, 0),
    sh: !!p.values.sh,
    batch: p.values.batch === undefined ? undefined : intFlag(p.values.batch, 'batch', 4096, 1),
    maxGaussians: p.values['max-gaussians'] === undefined ? undefined : intFlag(p.values['max-gaussians'], 'max-gaussians', 200000, 1),
  };
  if (o.res !== undefined && o.res > 1024) throw new UserError(`--res ${o.res} is too large (at most 1024)`);
  await prepareOutput({ out, kind: 'dir', inputs: [datasetRoot(dataset)] });
  const json = !!p.values.json;
  const progress = Progress.for(json);
  const summary = await fitToFolder(dataset, out, o, progress);
  if (json) console.log(JSON.stringify(summary));
  else {
    const test = summary.testPsnr !== undefined ? `, test PSNR ${summary.testPsnr.toFixed(2)} dB` : '';
    console.log(
      `fitted ${summary.repr} scene in ${summary.seconds.toFixed(1)} s (train PSNR ${summary.trainPsnr.toFixed(2)} dB${test}) → ${dirLabel(out)}`,
    );
  }
  return 0;
}

/** Loads a dataset, fits the chosen representation and writes the scene folder. */
export async function fitToFolder(dataset: string, out: string, o: FitCliOptions, progress: Progress): Promise<FitSummary> {
  if (o.backend === 'webgpu') (await import('../io/node/node-webgpu')).installNodeWebGpu(); // Dawn for getGpuDevice()
  const ds = await loadDataset(dataset, nodeFiles, { downscale: o.downscale, maxImages: o.maxImages });
  const { views, missing } = await loadViews(ds, 'train', nodeFiles, (done, total) =>
    progress.update({ phase: 'load', step: done, total }),
  );
  progress.done();
  if (missing.length) warn(`${missing.length} training image(s) are missing and were skipped (first: ${missing[0]})`);
  return o.repr === 'voxel'
    ? fitVoxelToFolder(ds, views, out, o, progress, dataset)
    : fitGaussiansToFolder(ds, views, out, o, progress, dataset);
}
