import { dirLabel, joinPath } from '../core/paths';
import { loadDataset, framesOf } from '../io/datasets/dataset';
import { loadScene } from '../io/scenes/load-scene';
import { exportMultiview, exportName } from '../io/export/multiview-export';
import { nodeFiles } from '../io/node/node-files';
import { writeDemoData } from './cmd-demo-data';
import { fitToFolder } from './cmd-fit';
import { evaluate } from './cmd-eval';
import { intFlag, parseCommand } from './args';
import { Progress } from './progress';
import { UserError } from '../core/errors';
import { prepareOutput } from '../io/node/output-guard';

const USAGE = `usage: instruct-scene demo [--out DIR] [--size N] [--iters N] [--res N] [--json]

The whole trunk in one go: writes the built-in demo dataset (DIR/data), fits a voxel grid with the default
settings on the CPU (DIR/scene), renders the held-out test views (DIR/renders) and prints their PSNR.
Default DIR: ./out`;

export async function run(args: string[]): Promise<number> {
  const p = parseCommand(args, USAGE, {
    out: { type: 'string' },
    size: { type: 'string' },
    iters: { type: 'string' },
    res: { type: 'string' },
  });
  if (!p) return 0;
  const out = typeof p.values.out === 'string' ? p.values.out : 'out';
  const size = intFlag(p.values.size, 'size', 128, 16);
  if (size > 4096) throw new UserError('--size must be at most 4096');
  await prepareOutput({ out, kind: 'dir', inputs: [] });
  const json = !!p.values.json;
  const progress = Progress.for(json);
  const say = (s: string) => {
    if (!json) console.log(s);
  };
  const data = joinPath(out, 'data'),
    sceneDir = joinPath(out, 'scene'),
    renders = joinPath(out, 'renders');
  say(`1/3 writing the demo dataset to ${dirLabel(data)}`);
  await writeDemoData(data, { size, progress });
  say(`2/3 fitting a voxel grid (CPU) → ${dirLabel(sceneDir)}`);
  const fit = await fitToFolder(
    data,
    sceneDir,
    {
      repr: 'voxel',
      backend: 'cpu',
      downscale: 1,
      seed: 0,
      sh: false,
      iters: p.values.iters === undefined ? undefined : intFlag(p.values.iters, 'iters', 1000, 1),
      res: p.values.res === undefined ? undefined : intFlag(p.values.res, 'res', 128, 4),
    },
    progress,
  );
  say(`    ${fit.seconds.toFixed(1)} s, train PSNR ${fit.trainPsnr.toFixed(2)} dB`);
  say(`3/3 rendering the test views → ${dirLabel(renders)}`);
  const scene = await loadScene(sceneDir, nodeFiles);
  const ds = await loadDataset(data, nodeFiles);
  const views = framesOf(ds, 'test').map((f) => ({ camera: f.camera, file: exportName(f.file), split: f.split }));
  await exportMultiview(scene, views, renders, nodeFiles, (d, t) => progress.update({ phase: 'render', step: d, total: t }));
  progress.done();
  const ev = await evaluate(sceneDir, data, 'test', 1);
  const result = {
    out,
    data,
    scene: sceneDir,
    renders,
    fitSeconds: fit.seconds,
    trainPsnr: fit.trainPsnr,
    testPsnr: ev.psnr,
    testSsim: ev.ssim,
  };
  if (json) console.log(JSON.stringify(result));
  else
    console.log(
      `done: test PSNR ${ev.psnr.toFixed(2)} dB, SSIM ${ev.ssim.toFixed(4)} over ${ev.views.length} views\n  dataset ${dirLabel(data)}\n  scene   ${dirLabel(sceneDir)}\n  renders ${dirLabel(renders)} (PNGs + transforms.json)`,
    );
  return 0;
}
