import { readdir } from 'node:fs/promises';
import { UserError } from '../core/errors';
import { loadDataset, framesOf, type Split } from '../io/datasets/dataset';
import { nodeFiles } from '../io/node/node-files';
import { loadScene } from '../io/scenes/load-scene';
import { diffScenes, redness } from '../edit/eval/diff';
import { aggregateTargetMetrics, targetViewMetrics, type TargetMetrics } from '../edit/eval/target-metrics';
import { loadDatasetObjects, loadInstanceLabels } from '../io/datasets/instances';
import { decodeImage } from '../io/images/image-codec';
import { basename, joinPath } from '../core/paths';
import { loadRegion } from '../edit/regions/region-load';
import { defaultDilation } from '../edit/regions/regions';
import { choiceFlag, intFlag, parseCommand, requireFlag } from './args';
import { Progress } from './progress';

const USAGE = `usage: instruct-scene diff SCENE_A SCENE_B --dataset DATASET [--split train|test|all] [--downscale K]
                          [--region box:…|sphere:…|hull:MASK_DIR] [--dilate PX]
                          [--target NAME [--ideal DIR]] [--json]

Renders both scenes at the dataset's cameras and compares them: PSNR over the whole image, and with --region
outside / inside the region's projected masks (dilated by --dilate pixels, default 2% of the image side,
the same masks the edit loops composite with), plus the mean RGB inside (values in [0, 1]).
--json prints {psnr, outside_psnr, inside_psnr, inside_mean_rgb_a, inside_mean_rgb_b, views}.

--target NAME measures an object edit against the dataset's ground truth (objects.json and instances/, as
demo-data writes them): near_psnr (A vs B on non-target pixels whose ray passes through the target's box grown
by 10 %), off_target_psnr (A vs B on every non-target pixel) and, with --ideal DIR (the same views edited one by
one in 2D, e.g. by edit-image, named like the dataset's images), target_psnr_vs_ideal (B vs the 2D edit on the
target's pixels). Pixels on a label boundary count in neither set.`;

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
  );
  let target: (TargetMetrics & { target: string }) | null = null;
  if (typeof p.values.target === 'string') {
    const objects = await loadDatasetObjects(ds, nodeFiles);
    const obj = objects.find((o) => o.name === p.values.target);
    if (!obj)
      throw new UserError(`no object named '${p.values.target}' (objects.json has ${objects.map((o) => o.name).join(', ')})`, ds.root);
    const ideal = typeof p.values.ideal === 'string' ? p.values.ideal : null;
    const views = [];
    for (const f of frames) {
      const labels = await loadInstanceLabels(ds, f, nodeFiles);
      let idealImg;
      if (ideal) {
        const file = joinPath(ideal, basename(f.file).replace(/\.[^.]*$/, '') + '.png');
        idealImg = decodeImage(await nodeFiles.read(file), file);
        if (idealImg.width !== f.camera.width || idealImg.height !== f.camera.height)
          throw new UserError(`is ${idealImg.width}×${idealImg.height}; the view is ${f.camera.width}×${f.camera.height}`, file);
      }
      const [ra, rb] = [await a.render(f.camera), await b.render(f.camera)];
      views.push({ file: f.file, m: targetViewMetrics(ra.image, rb.image, labels, obj.label, f.camera, obj.box, idealImg) });
    }
    target = { target: obj.name, ...aggregateTargetMetrics(views) };
  } else if (p.values.ideal !== undefined) throw new UserError('--ideal needs --target NAME');
  progress.done();
  if (p.values.json) {
    const t = target
      ? {
          target: target.target,
          near_psnr: target.near_psnr,
          off_target_psnr: target.off_target_psnr,
          target_psnr_vs_ideal: target.target_psnr_vs_ideal,
          target_views: target.views,
        }
      : {};
    console.log(JSON.stringify({ ...res, ...t, split, region: region?.text ?? null, dilate }));
    return 0;
  }
  const f = (v: number | null) => (v === null ? '—' : `${v.toFixed(2)} dB`);
  console.log(`${frames.length} ${split} views: PSNR ${f(res.psnr)}`);
  if (target)
    console.log(
      `target '${target.target}': near ${f(target.near_psnr)}   off-target ${f(target.off_target_psnr)}   target vs ideal ${f(target.target_psnr_vs_ideal)}`,
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
