import { loadDataset, loadFrameImage, framesOf, type Split } from '../io/datasets/dataset';
import { loadScene } from '../io/scenes/load-scene';
import { nodeFiles } from '../io/node/node-files';
import { psnr, ssim } from '../edit/eval/metrics';
import { choiceFlag, intFlag, parseCommand, requireFlag } from './args';
import { Progress, warn } from './progress';
import { UserError } from '../core/errors';
import { displayImage } from '../core/image';

const USAGE = `usage: instruct-scene eval SCENE --dataset DATASET [--split train|val|test|all] [--downscale K] [--json]

Renders the scene at the dataset's cameras and compares with its images: PSNR (dB) and SSIM per view and
their means. With --json, stdout is one JSON object {psnr, ssim, views: [{file, psnr, ssim}], ...}.`;

export interface EvalResult {
  psnr: number;
  ssim: number;
  views: { file: string; psnr: number; ssim: number }[];
  split: string;
  missing: number;
  seconds: number;
}

/** Evaluates a scene on a dataset split. PSNR of identical images is capped at 100 dB so JSON stays finite. */
export async function evaluate(
  scenePath: string,
  datasetPath: string,
  split: Split | 'all',
  downscale: number,
  progress?: Progress,
): Promise<EvalResult> {
  const t0 = Date.now();
  const scene = await loadScene(scenePath, nodeFiles);
  const ds = await loadDataset(datasetPath, nodeFiles, { downscale });
  const frames = framesOf(ds, split);
  if (!frames.length) throw new UserError(`the dataset has no ${split} frames (try --split all)`, ds.sources[0]);
  const views: EvalResult['views'] = [];
  let missing = 0;
  for (let i = 0; i < frames.length; i++) {
    const f = frames[i];
    const img = await loadFrameImage(ds, f, nodeFiles);
    if (!img) {
      missing++;
      continue;
    }
    // metrics on the render as it is displayed and saved (clamped to [0, 1]); a non-finite render is refused
    const r = displayImage((await scene.render(f.camera)).image, `${scenePath}: the render of ${f.file}`);
    views.push({ file: f.file, psnr: Math.min(100, psnr(r, img)), ssim: ssim(r, img) });
    progress?.update({ phase: 'eval', step: i + 1, total: frames.length }, `${views[views.length - 1].psnr.toFixed(2)} dB`);
  }
  progress?.done();
  if (!views.length) throw new UserError(`none of the ${frames.length} ${split} images could be found`, ds.sources[0]);
  if (missing) warn(`${missing} of ${frames.length} ${split} image(s) are missing and were skipped`);
  const mean = (k: 'psnr' | 'ssim') => views.reduce((s, v) => s + v[k], 0) / views.length;
  return { psnr: mean('psnr'), ssim: mean('ssim'), views, split, missing, seconds: (Date.now() - t0) / 1000 };
}

export async function run(args: string[]): Promise<number> {
  const p = parseCommand(
    args,
    USAGE,
    { dataset: { type: 'string' }, split: { type: 'string' }, downscale: { type: 'string' } },
    { positionals: [1, 1] },
  );
  if (!p) return 0;
  const dataset = requireFlag(p.values.dataset, 'dataset');
  const split = choiceFlag(p.values.split, 'split', ['train', 'val', 'test', 'all'] as const, 'test');
  const downscale = intFlag(p.values.downscale, 'downscale', 1, 1);
  const json = !!p.values.json;
  // --json keeps stdout to the one result object: no progress lines there
  const r = await evaluate(p.positionals[0], dataset, split, downscale, json ? undefined : Progress.for(false));
  if (json) console.log(JSON.stringify(r));
  else {
    for (const v of r.views) console.log(`${v.file}  PSNR ${v.psnr.toFixed(2)} dB  SSIM ${v.ssim.toFixed(4)}`);
    console.log(`mean over ${r.views.length} ${split} view(s): PSNR ${r.psnr.toFixed(2)} dB, SSIM ${r.ssim.toFixed(4)}`);
  }
  return 0;
}
