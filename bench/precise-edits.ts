/**
 * Precise edits (docs/editing.md): "make the vase red" inside the vase's box on the demo scene, with the CLI's
 * defaults, for voxel IDU, voxel SDS, Gaussian IDU and Gaussian SDS. Measured on the dataset's test views
 * against the demo's ground-truth instance labels (`diff --target vase --ideal`):
 *   near_psnr       A vs B on non-vase pixels whose ray passes the vase's box grown by 10 %,
 *   off_target_psnr A vs B on all non-vase pixels,
 *   target_psnr_vs_ideal  B vs the built-in model's own 2D edit of each test image (edit-image), on vase pixels,
 * and the CPU seconds of each edit (user + system of the `edit` process). Also writes a before/after montage
 * of test views 0 and 5 at twice their size (docs/images/precise-edits.png with --montage; --montage-only redraws it
 * from the edits in DIR without running them).
 *
 * Run: node bin/run-ts.mjs bench/precise-edits.ts [--work DIR] [--only voxel-idu,gaussian-sds] [--montage | --montage-only]
 *      [-- extra edit flags…]
 *   DIR (default out/bench-precise) keeps the demo dataset, the fitted scenes and the ideal edits between runs.
 * → bench/results/precise-edits.json
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { framesOf, loadDataset } from '../src/io/datasets/dataset';
import { decodeImage, encodePng } from '../src/io/images/image-codec';
import { nodeFiles } from '../src/io/node/node-files';
import { loadScene } from '../src/io/scenes/load-scene';
import { createImage, type Image } from '../src/core/image';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..');
const BIN = join(ROOT, 'bin/instruct-scene.mjs');
const argv = process.argv.slice(2);
const dd = argv.indexOf('--');
const extra = dd >= 0 ? argv.slice(dd + 1) : [];
const own = dd >= 0 ? argv.slice(0, dd) : argv;
const opt = (name: string) => {
  const i = own.indexOf(`--${name}`);
  return i >= 0 ? own[i + 1] : undefined;
};
const work = opt('work') ?? join(ROOT, 'out/bench-precise');
const montageOnly = own.includes('--montage-only');
const only = montageOnly ? [] : opt('only')?.split(',');
const INSTRUCTION = 'make the vase red';

/** Runs the CLI; returns stdout and the child's CPU seconds (bash's `time`). */
function cli(args: string[]): { stdout: string; cpu: number } {
  const errFile = join(work, '.stderr');
  const quoted = [process.execPath, BIN, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const r = spawnSync('/bin/bash', ['-c', `TIMEFORMAT='%U %S'; time ${quoted} 2>'${errFile}'`], { encoding: 'utf8', maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`instruct-scene ${args.join(' ')} failed (${r.status}): ${readFileSync(errFile, 'utf8')}`);
  const [u, s] = r.stderr.trim().split('\n').pop()!.split(' ').map(Number);
  return { stdout: r.stdout, cpu: u + s };
}

mkdirSync(work, { recursive: true });
const data = join(work, 'demo');
const fitCpu: Record<string, number> = {};
if (!existsSync(join(data, 'instances'))) cli(['demo-data', '--out', data]);
for (const repr of ['voxel', 'gaussians'] as const) {
  const out = join(work, `demo-${repr}`);
  if (!existsSync(join(out, 'scene.json'))) fitCpu[repr] = cli(['fit', data, '--repr', repr, '--out', out]).cpu;
}
// the ideal: each test image edited in 2D by the same model
const ds = await loadDataset(data, nodeFiles);
const test = framesOf(ds, 'test');
const ideal = join(work, 'ideal');
if (!existsSync(ideal) || readdirSync(ideal).length < test.length) {
  mkdirSync(ideal, { recursive: true });
  for (const f of test)
    cli(['edit-image', f.path, '--instruction', INSTRUCTION, '--model', 'builtin', '--out', join(ideal, f.file.split('/').pop()!)]);
}
const objects = JSON.parse(readFileSync(join(data, 'objects.json'), 'utf8'));
const vase = objects.find((o: { name: string }) => o.name === 'vase');
const region = `box:${[...vase.min, ...vase.max].join(',')}`;

const rows: Record<string, unknown>[] = [];
const combos = [
  ['voxel', 'idu'],
  ['voxel', 'sds'],
  ['gaussians', 'idu'],
  ['gaussians', 'sds'],
] as const;
for (const [repr, method] of combos) {
  const name = `${repr === 'voxel' ? 'voxel' : 'gaussian'}-${method}`;
  if (only && !only.includes(name)) continue;
  const scene = join(work, `demo-${repr}`),
    out = join(work, `edit-${name}`);
  rmSync(out, { recursive: true, force: true });
  const t0 = performance.now();
  const e = cli([
    'edit',
    scene,
    '--dataset',
    data,
    '--instruction',
    INSTRUCTION,
    '--model',
    'builtin',
    '--method',
    method,
    '--region',
    region,
    '--out',
    out,
    ...extra,
  ]);
  const wall = (performance.now() - t0) / 1000;
  const d = JSON.parse(cli(['diff', scene, out, '--dataset', data, '--target', 'vase', '--ideal', ideal, '--json']).stdout);
  const log = JSON.parse(readFileSync(join(out, 'edit-log.json'), 'utf8'));
  const row = {
    edit: name,
    near_psnr: d.near_psnr,
    off_target_psnr: d.off_target_psnr,
    target_psnr_vs_ideal: d.target_psnr_vs_ideal,
    editCpuSeconds: e.cpu,
    editWallSeconds: wall,
    steps: log.steps,
    select: log.selection ?? null,
  };
  rows.push(row);
  console.log(JSON.stringify(row));
}

if (own.includes('--montage') || montageOnly) {
  // test views 0 and 5, a row each: the original, each edit, the 2D edit; pixels doubled
  const Z = 2;
  const rowsOf: Image[][] = [];
  const labels = ['original'];
  for (const v of [0, 5]) {
    const f = test[v];
    const tiles: Image[] = [decodeImage(readFileSync(f.path), f.path)];
    for (const [repr, method] of combos) {
      const name = `${repr === 'voxel' ? 'voxel' : 'gaussian'}-${method}`;
      const dir = join(work, `edit-${name}`);
      if (!existsSync(join(dir, 'scene.json'))) continue;
      tiles.push((await (await loadScene(dir, nodeFiles)).render(f.camera)).image);
      if (v === 0) labels.push(name);
    }
    tiles.push(decodeImage(readFileSync(join(ideal, f.file.split('/').pop()!)), 'ideal'));
    rowsOf.push(tiles);
  }
  labels.push('2D edit (ideal)');
  const w = rowsOf[0][0].width,
    h = rowsOf[0][0].height,
    n = rowsOf[0].length;
  const m = createImage(w * n * Z, h * rowsOf.length * Z, 3);
  rowsOf.forEach((tiles, r) =>
    tiles.forEach((t, k) => {
      for (let y = 0; y < h * Z; y++)
        for (let x = 0; x < w * Z; x++)
          for (let c = 0; c < 3; c++)
            m.data[((r * h * Z + y) * w * n * Z + k * w * Z + x) * 3 + c] =
              t.data[(Math.floor(y / Z) * w + Math.floor(x / Z)) * t.channels + c];
    }),
  );
  mkdirSync(join(ROOT, 'docs/images'), { recursive: true });
  writeFileSync(join(ROOT, 'docs/images/precise-edits.png'), encodePng(m));
  console.log(`montage (left to right: ${labels.join(', ')}; test views 0 and 5) → docs/images/precise-edits.png`);
}

const result = {
  instruction: INSTRUCTION,
  region,
  extraFlags: extra,
  testViews: test.length,
  machine: 'shared 2-core machine, CPU backend; CPU seconds = user + system of the edit process',
  fitCpuSeconds: fitCpu,
  rows,
};
if (!montageOnly) {
  mkdirSync(join(HERE, 'results'), { recursive: true });
  writeFileSync(join(HERE, 'results/precise-edits.json'), JSON.stringify(result, null, 2) + '\n');
  console.log('→ bench/results/precise-edits.json');
}
