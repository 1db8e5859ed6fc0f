/**
 * Edit loops on each backend (cpu, webgpu): refit steps/s of IDU and SDS on a voxel and a Gaussian scene, the
 * time split (editor / whole-view renders / refit), plain fitting steps/s on the same backend for comparison,
 * and the edit's effect on the test views (outside PSNR, redness rise inside the region).
 *
 * The editor is a stand-in with no model weights (so the run needs no ONNX Runtime): an exact denoiser whose
 * target is the image condition with its colours pushed to red — the loops, renders and gradients are the real
 * ones; the editor's share is measured with the built-in model in bench/edit.ts.
 *
 * Run: node bin/run-ts.mjs bench/edit-backends.ts --dataset D [--voxel S] [--gaussians S] [--backends cpu,webgpu]
 *        [--iters N] [--rays N] [--out FILE]
 *   D: the demo dataset (`instruct-scene demo-data --out D`); S: scenes fitted on it (`fit D --repr voxel|gaussians`).
 * → bench/results/edit-backends.json (or --out)
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Camera } from '../src/core/camera';
import { createImage, type Image } from '../src/core/image';
import { installNodeWebGpu } from '../src/io/node/node-webgpu';
import { gpuAvailable, gpuDescription } from '../src/gpu/device';
import { loadDataset, loadViews } from '../src/io/datasets/dataset';
import { loadScene } from '../src/io/scenes/load-scene';
import { nodeFiles } from '../src/io/node/node-files';
import { DEMO_OBJECTS } from '../src/io/datasets/demo-scene';
import { fitVoxel } from '../src/nerf/voxel/fit-voxel';
import { fitGaussians } from '../src/nerf/gaussian/fit-gaussians';
import type { Gaussians } from '../src/nerf/gaussian/gaussians';
import { VoxelGridScene } from '../src/nerf/voxel/voxel-grid-scene';
import { buildEditSpec } from '../src/edit/loops/edit-spec';
import { openEdit } from '../src/edit/loops/open-edit';
import type { EditableScene } from '../src/edit/scenes/editable';
import type { SceneSource } from '../src/edit/scenes/create-editable';
import { runEdit } from '../src/edit/loops/edit-run';
import { boxRegion, defaultDilation, regionMask } from '../src/edit/regions/regions';
import { diffImages, redness } from '../src/edit/eval/diff';
import { scaledLinearAlphasCumprod } from '../src/edit/diffusion/prior';
import { exactDenoiserPrior } from '../tests/helpers/priors';
import type { BackendName } from '../src/nerf/common/backend';

const argv = process.argv.slice(2);
const opt = (name: string): string | undefined => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
};
const dataPath = opt('dataset');
if (!dataPath) throw new Error('--dataset D is required (see the header)');
const iters = Number(opt('iters') ?? 300),
  rays = Number(opt('rays') ?? 2048);
const backends = (opt('backends') ?? 'cpu,webgpu').split(',') as BackendName[];
const outFile = opt('out') ?? 'bench/results/edit-backends.json';

installNodeWebGpu();
const hasGpu = await gpuAvailable();
const ds = await loadDataset(dataPath, nodeFiles);
const { views: train } = await loadViews(ds, 'train', nodeFiles);
const { views: test } = await loadViews(ds, 'test', nodeFiles);
const vase = DEMO_OBJECTS.find((o) => o.name === 'vase')!;
const region = boxRegion(vase.min, vase.max);
const cpuSeconds = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

/** The stand-in editor: the condition image pushed to red (cached per image object). */
const reddened = new WeakMap<Image, Image>();
const redden = (img: Image): Image => {
  let r = reddened.get(img);
  if (!r) {
    r = createImage(img.width, img.height, 3);
    for (let p = 0; p < img.width * img.height; p++) {
      const l = (img.data[p * img.channels] + img.data[p * img.channels + 1] + img.data[p * img.channels + 2]) / 3;
      r.data[p * 3] = Math.min(1, 0.35 + 0.75 * l);
      r.data[p * 3 + 1] = 0.25 * l;
      r.data[p * 3 + 2] = 0.25 * l;
    }
    reddened.set(img, r);
  }
  return r;
};
const prior = exactDenoiserPrior((cond) => redden(cond.image), scaledLinearAlphasCumprod());

async function effect(
  scene: EditableScene,
  source: (c: Camera) => Promise<Image>,
): Promise<{ outside_psnr: number; redness_rise: number }> {
  let outside = 0,
    rise = 0;
  for (const v of test) {
    const cam = v.frame.camera;
    const mask = regionMask(region, cam, defaultDilation(cam));
    const a = await source(cam),
      b = await scene.render(cam);
    const d = diffImages(b, a, mask);
    outside += Math.min(d.outside_psnr ?? 100, 100) / test.length;
    // d: a = the edited render, b = the source render
    if (d.insideCount) rise += (redness(d.insideSumA) - redness(d.insideSumB)) / d.insideCount / test.length;
  }
  return { outside_psnr: outside, redness_rise: rise };
}

const results: Record<string, unknown> = {
  bench: 'edit-backends',
  date: new Date().toISOString(),
  node: process.version,
  adapter: hasGpu ? gpuDescription() : 'none',
  dataset: dataPath,
  trainViews: train.length,
  imageSize: [train[0].image.width, train[0].image.height],
  iters,
  rays,
  editor: 'stand-in exact denoiser towards a reddened condition (no ONNX); see bench/edit.ts for the built-in model',
  note: 'steps/s over the whole loop (renders for the editor, editor, refit); refitStepsPerSecond over the refit alone',
  runs: {} as Record<string, unknown>,
};
const save = () => {
  mkdirSync(dirname(outFile), { recursive: true });
  writeFileSync(outFile + '.tmp', JSON.stringify(results, null, 2) + '\n');
  renameSync(outFile + '.tmp', outFile);
};
const runs = results.runs as Record<string, unknown>;

for (const kind of ['voxel', 'gaussians'] as const) {
  const scenePath = opt(kind);
  if (!scenePath) continue;
  const parent = await loadScene(scenePath, nodeFiles);
  for (const backend of backends) {
    if (backend === 'webgpu' && !hasGpu) {
      runs[`${kind}/${backend}`] = { skipped: 'no WebGPU adapter' };
      continue;
    }
    const row: Record<string, unknown> = {};
    runs[`${kind}/${backend}`] = row;
    // plain fitting on the same backend, same rays per step (voxels: fixed resolution; Gaussians: from the parent, no densification)
    {
      const t0 = performance.now(),
        c0 = cpuSeconds();
      const n = Math.min(iters, 200);
      if (parent instanceof VoxelGridScene) {
        await fitVoxel(
          train.map((v) => ({ camera: v.frame.camera, image: v.image })),
          {
            res: Math.max(...parent.grid.res),
            iters: n,
            batch: rays,
            upsampleAt: [],
            box: parent.grid.box,
            bgLen: parent.grid.bgLen,
            background: parent.background,
            backend,
          },
        );
      } else {
        const g = (parent as unknown as { gaussians: Gaussians }).gaussians;
        await fitGaussians(
          ds,
          train.map((v) => ({ camera: v.frame.camera, image: v.image })),
          { iters: n, init: g, backend, densifyUntil: 0 },
        );
      }
      const s = (performance.now() - t0) / 1000;
      row.plainFit = { steps: n, seconds: s, stepsPerSecond: n / s, cpuSeconds: cpuSeconds() - c0 };
    }
    for (const method of ['idu', 'sds'] as const) {
      // the CLI's defaults for the scene's kind (preservation, densification, Pearson, edit rounds)
      const source: SceneSource =
        parent instanceof VoxelGridScene
          ? { kind: 'voxel', grid: parent.grid, background: parent.background, render: parent.settings }
          : {
              kind: 'gaussians',
              gaussians: (parent as unknown as { gaussians: Gaussians }).gaussians,
              background: parent.background ?? ds.background,
            };
      const spec = buildEditSpec(
        { instruction: 'make it red', method, iters, raysPerStep: rays, backend },
        { kind: source.kind, cameras: train.map((v) => v.frame.camera), region },
      );
      const cfg = spec.config;
      const t0 = performance.now();
      const { scene, views } = await openEdit(
        source,
        spec,
        region,
        train.map((v) => ({ file: v.frame.file, camera: v.frame.camera, image: v.image })),
      );
      const prepareSeconds = (performance.now() - t0) / 1000;
      const t1 = performance.now(),
        c1 = cpuSeconds();
      const res = await runEdit({ cfg, scene, prior, views });
      const loopSeconds = (performance.now() - t1) / 1000;
      const st = res.state;
      const e = await effect(scene, async (c) => (await scene.renderSource(c)).image);
      row[method] = {
        prepareSeconds,
        loopSeconds,
        stepsPerSecond: iters / loopSeconds,
        loopCpuSeconds: cpuSeconds() - c1,
        refitStepsPerSecond: iters / (st.refitMs / 1000),
        editorSeconds: st.editorMs / 1000,
        renderSeconds: st.renderMs / 1000,
        refitSeconds: st.refitMs / 1000,
        viewsEdited: st.viewsEdited,
        preserveWeight: cfg.preserveWeight,
        ...scene.export().log,
        test: e,
      };
      scene.dispose();
      console.log(kind, backend, method, JSON.stringify(row[method]));
      save();
    }
  }
  // speed-ups side by side
  const c = runs[`${kind}/cpu`] as Record<string, { stepsPerSecond: number }> | undefined,
    g = runs[`${kind}/webgpu`] as Record<string, { stepsPerSecond: number }> | undefined;
  if (c?.idu && g?.idu)
    runs[`${kind}/speedup_webgpu_over_cpu`] = {
      idu: g.idu.stepsPerSecond / c.idu.stepsPerSecond,
      sds: g.sds.stepsPerSecond / c.sds.stepsPerSecond,
      plainFit: g.plainFit.stepsPerSecond / c.plainFit.stepsPerSecond,
    };
  save();
}
console.log(JSON.stringify(results, null, 2));
