import { readdir } from 'node:fs/promises';
import { UserError } from '../core/errors';
import { loadDataset, framesOf, type Dataset, type DatasetFrame, type Split } from '../io/datasets/dataset';
import { nodeFiles } from '../io/node/node-files';
import { loadScene } from '../io/scenes/load-scene';
import { diffScenes, redness } from '../edit/eval/diff';
import { aggregateTargetMetrics, targetViewMetrics, type TargetMetrics, type TargetViewMetrics } from '../edit/eval/target-metrics';
import { loadDatasetObjects, loadInstanceLabels } from '../io/datasets/instances';
import { decodeImage } from '../io/images/image-codec';
import { basename, joinPath } from '../core/paths';
import { clipDirectionMetrics } from '../edit/eval/clip-direction';
import { ClipModel } from '../edit/clip/clip-model';
import { isClipFolder } from '../edit/clip/clip-folder';
import type { Image } from '../core/image';
import { loadRegion } from '../edit/regions/region-load';
import { defaultDilation } from '../edit/regions/regions';
import { choiceFlag, intFlag, parseCommand, requireFlag } from './args';
import { Progress } from './progress';

const USAGE = `usage: instruct-scene diff SCENE_A SCENE_B --dataset DATASET [--split train|test|all] [--downscale K]
                          [--region box:…|sphere:…|hull:MASK_DIR] [--dilate PX]
                          [--target NAME [--ideal DIR]]
                          [--clip DIR --source-text S --edit-text E [--clip-backend cpu|webgpu]] [--json]

Renders both scenes at the dataset's cameras and compares them: PSNR over the whole image, and with --region
outside / inside the region's projected masks (dilated by --dilate pixels, default 2% of the image side,
the same masks the edit loops composite with), plus the mean RGB inside (values in [0, 1]).
--target NAME measures an object edit against the dataset's ground truth (objects.json and instances/, as
demo-data writes them): near_psnr (A vs B on non-target pixels whose ray passes through the target's box grown
by 10 %), off_target_psnr (A vs B on every non-target pixel) and, with --ideal DIR (the same views edited one by
one in 2D, e.g. by edit-image, named like the dataset's images), target_psnr_vs_ideal (B vs the 2D edit on the
target's pixels). Pixels on a label boundary count in neither set.
With --clip (a Hugging Face CLIP folder), also the CLIP metrics of instruction-editing papers, with A the
original and B the edited scene: clip_direction_similarity = mean over views of
cos(E_I(B) − E_I(A), E_T(E) − E_T(S)), and clip_direction_consistency = mean over consecutive views of the
cosine between their image directions E_I(B) − E_I(A).
--json prints {psnr, outside_psnr, inside_psnr, inside_mean_rgb_a, inside_mean_rgb_b, views} (+ the CLIP metrics).`;

export const listDir = (d: string) => readdir(d);

export async function run(args: string[]): Promise<number> {
  const p = parseCommand(
    args,
    USAGE,
    {
      dataset: { type: 'string' },
      split: { type: 'string' },
      downscale: { type: 'string' },
      region: { type: 'string' },
      dilate: { type: 'string' },
      target: { type: 'string' },
      ideal: { type: 'string' },
      clip: { type: 'string' },
      'source-text': { type: 'string' },
      'edit-text': { type: 'string' },
      'clip-backend': { type: 'string' },
    },
    { positionals: [2, 2] },
  );
  if (!p) return 0;
  const [pathA, pathB] = p.positionals;
  const dsPath = requireFlag(p.values.dataset, 'dataset');
  const split = choiceFlag(p.values.split, 'split', ['train', 'val', 'test', 'all'] as const, 'test');
  const downscale = intFlag(p.values.downscale, 'downscale', 1, 1);
  const ds = await loadDataset(dsPath, nodeFiles, { downscale });
  const frames = framesOf(ds, split as Split | 'all');
  if (!frames.length) throw new UserError(`the dataset has no ${split} frames`, ds.sources[0]);
  const region =
    typeof p.values.region === 'string'
      ? await loadRegion(p.values.region, { dataset: ds, files: nodeFiles, listDir, bounds: ds.sceneBox })
      : undefined;
  const dilate = p.values.dilate === undefined ? defaultDilation(frames[0].camera) : intFlag(p.values.dilate, 'dilate', 0, 0);
  const clip = await loadClipMetrics(p.values);
  const target = await loadTargetMetrics(ds, frames, p.values);
  const [a, b] = [await loadScene(pathA, nodeFiles), await loadScene(pathB, nodeFiles)];
  // with --json stdout is exactly one JSON object (like eval); the bar only shows on a terminal
  const progress = p.values.json ? new Progress('off') : Progress.for(false);
  const res = await diffScenes(
    a,
    b,
    frames.map((f) => ({ file: f.file, camera: f.camera })),
    region,
    dilate,
    (i, n) => progress.update({ phase: 'diff', step: i, total: n }),
    clip || target
      ? async (i, ra, rb) => {
          await clip?.onRenders(i, ra, rb);
          await target?.onRenders(i, ra, rb);
        }
      : undefined,
  );
  progress.done();
  const clipRes = clip ? await clip.finish() : null;
  const targetRes = target?.finish() ?? null;
  if (p.values.json) {
    const t = targetRes
      ? {
          target: targetRes.target,
          near_psnr: targetRes.near_psnr,
          off_target_psnr: targetRes.off_target_psnr,
          target_psnr_vs_ideal: targetRes.target_psnr_vs_ideal,
          target_views: targetRes.views,
        }
      : {};
    console.log(JSON.stringify({ ...res, ...t, ...(clipRes ?? {}), split, region: region?.text ?? null, dilate }));
    return 0;
  }
  const f = (v: number | null) => (v === null ? '—' : `${v.toFixed(2)} dB`);
  console.log(`${frames.length} ${split} views: PSNR ${f(res.psnr)}`);
  if (targetRes)
    console.log(
      `target '${targetRes.target}': near ${f(targetRes.near_psnr)}   off-target ${f(targetRes.off_target_psnr)}   target vs ideal ${f(targetRes.target_psnr_vs_ideal)}`,
    );
  if (clipRes)
    console.log(
      `CLIP direction similarity ${clipRes.clip_direction_similarity.toFixed(4)}   direction consistency ${clipRes.clip_direction_consistency?.toFixed(4) ?? '— (one view)'}`,
    );
  if (region) {
    console.log(`outside the region: ${f(res.outside_psnr)}   inside: ${f(res.inside_psnr)}`);
    const c = (v: number[] | null) => (v ? v.map((x) => x.toFixed(3)).join(', ') : '—');
    console.log(
      `mean RGB inside: A (${c(res.inside_mean_rgb_a)})  B (${c(res.inside_mean_rgb_b)})` +
        (res.inside_mean_rgb_a && res.inside_mean_rgb_b
          ? `   redness change ${(redness(res.inside_mean_rgb_b) - redness(res.inside_mean_rgb_a)).toFixed(3)}`
          : ''),
    );
  }
  return 0;
}

/**
 * With --target: the object's box and label, each view's instance labels (and its 2D edit with --ideal), read
 * before any render; a hook measuring each view's renders; the aggregate.
 */
async function loadTargetMetrics(ds: Dataset, frames: DatasetFrame[], v: Record<string, string | boolean | undefined>) {
  if (typeof v.target !== 'string') {
    if (v.ideal !== undefined) throw new UserError('--ideal needs --target NAME');
    return null;
  }
  const objects = await loadDatasetObjects(ds, nodeFiles);
  const obj = objects.find((o) => o.name === v.target);
  if (!obj) throw new UserError(`no object named '${v.target}' (objects.json has ${objects.map((o) => o.name).join(', ')})`, ds.root);
  const ideal = typeof v.ideal === 'string' ? v.ideal : null;
  const labels: Uint8Array[] = [],
    ideals: (Image | undefined)[] = [];
  for (const f of frames) {
    labels.push(await loadInstanceLabels(ds, f, nodeFiles));
    if (!ideal) {
      ideals.push(undefined);
      continue;
    }
    const file = joinPath(ideal, basename(f.file).replace(/\.[^.]*$/, '') + '.png');
    const img = decodeImage(await nodeFiles.read(file), file);
    if (img.width !== f.camera.width || img.height !== f.camera.height)
      throw new UserError(`is ${img.width}×${img.height}; the view is ${f.camera.width}×${f.camera.height}`, file);
    ideals.push(img);
  }
  const views: { file: string; m: TargetViewMetrics }[] = [];
  return {
    onRenders: async (i: number, a: Image, b: Image) => {
      views.push({ file: frames[i].file, m: targetViewMetrics(a, b, labels[i], obj.label, frames[i].camera, obj.box, ideals[i]) });
    },
    finish: (): TargetMetrics & { target: string } => ({ target: obj.name, ...aggregateTargetMetrics(views) }),
  };
}

/** With --clip: the model and text embeddings, a hook collecting each view's image embeddings, and the metrics. */
async function loadClipMetrics(v: Record<string, string | boolean | undefined>) {
  if (v.clip === undefined) {
    for (const k of ['source-text', 'edit-text', 'clip-backend']) if (v[k] !== undefined) throw new UserError(`--${k} needs --clip DIR`);
    return null;
  }
  const dir = requireFlag(v.clip, 'clip');
  const source = requireFlag(v['source-text'], 'source-text'),
    edit = requireFlag(v['edit-text'], 'edit-text');
  const backend = choiceFlag(v['clip-backend'], 'clip-backend', ['cpu', 'webgpu'] as const, 'cpu');
  if (!(await isClipFolder(dir, nodeFiles)))
    throw new UserError('not a CLIP model folder (expected config.json, model.safetensors, vocab.json + merges.txt)', dir);
  if (backend === 'webgpu') (await import('../io/node/node-webgpu')).installNodeWebGpu();
  const model = await ClipModel.load(dir, nodeFiles, { backend });
  const [ts, te] = await model.embedTexts([source, edit]);
  const orig: Float32Array[] = [],
    edited: Float32Array[] = [];
  return {
    onRenders: async (_view: number, a: Image, b: Image) => {
      const [ea, eb] = await model.embedImages([a, b]);
      orig.push(ea);
      edited.push(eb);
    },
    finish: async () => {
      model.dispose();
      return clipDirectionMetrics(orig, edited, ts, te);
    },
  };
}
