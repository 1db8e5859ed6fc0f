// Frame time of the viewer's splat renderer (SplatMesh, WebGPU) beside three.js r187's GaussianSplat addon (WebGPU)
// and Spark 2 (@sparkjsdev/spark, WebGL2), on the same .splat file, camera path, canvas size and headless Chromium
// (SwiftShader on machines without a GPU). Each frame is timed to GPU completion. The renderers run interleaved:
// every round runs each of them once on every row, in a rotating order, so background load hits all of them alike.
//
// Usage: node bin/run-ts.mjs bench/viewer.ts [--counts 100000,1000000,3000000] [--scene DIR|FILE.ply|FILE.splat]
//        [--rounds 2] [--big-rounds 1] [--renderers ours,three,spark] [--lod-counts 10000000] [--budget 1000000]
//        [--width 640 --height 480]
//        [--out bench/results/viewer.json] [--shots DIR]
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { Rng } from '../src/core/rng';
import { writeSplat, SPLAT_BYTES } from '../src/io/formats/splat';
import { readGaussianPly } from '../src/io/formats/ply';
import { startViewer, ROOT } from '../tests/helpers/viewer-browser';
import type { BenchArgs, BenchOut } from './viewer-page/main';

const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const counts = arg('counts', '100000,1000000,3000000').split(',').filter(Boolean).map(Number);
const lodCounts = arg('lod-counts', '').split(',').filter(Boolean).map(Number);
const scenePath = arg('scene', '');
const rounds = Number(arg('rounds', '2'));
// rows of 3M splats and more are slow on software adapters (three.js and Spark take minutes a frame there)
const bigRounds = Number(arg('big-rounds', '1'));
const renderers = arg('renderers', 'ours,three,spark').split(',') as BenchArgs['which'][];
const width = Number(arg('width', '640')),
  height = Number(arg('height', '480'));
const outFile = arg('out', join(ROOT, 'bench/results/viewer.json'));
const shots = arg('shots', '');
const entry = arg('entry', 'bench/viewer-page/index.html');
const budget = Number(arg('budget', '1000000'));

/** A ball of random Gaussians (small anisotropic splats, random colours and opacities 0.2–0.95). */
function ballFile(n: number): Uint8Array {
  const rng = new Rng(n);
  const out = new Uint8Array(n * SPLAT_BYTES);
  const dv = new DataView(out.buffer);
  // written directly (not through Gaussians: 10M of those would not fit in memory)
  const s0 = 0.6 / Math.cbrt(n);
  for (let i = 0; i < n; i++) {
    let x, y, z;
    do {
      x = rng.uniform(-1, 1);
      y = rng.uniform(-1, 1);
      z = rng.uniform(-1, 1);
    } while (x * x + y * y + z * z > 1);
    const o = i * SPLAT_BYTES;
    dv.setFloat32(o, x, true);
    dv.setFloat32(o + 4, y, true);
    dv.setFloat32(o + 8, z, true);
    for (let a = 0; a < 3; a++) dv.setFloat32(o + 12 + 4 * a, s0 * Math.exp(rng.uniform(-0.7, 0.7)), true);
    for (let c = 0; c < 3; c++) out[o + 24 + c] = Math.floor(rng.next() * 256);
    out[o + 27] = Math.round(rng.uniform(0.2, 0.95) * 255);
    const q = [rng.normal(), rng.normal(), rng.normal(), rng.normal()];
    const l = Math.hypot(...q) || 1;
    for (let a = 0; a < 4; a++) out[o + 28 + a] = Math.max(0, Math.min(255, Math.round((q[a] / l) * 128 + 128)));
  }
  return out;
}

/** A fitted scene (scene folder with scene.ply, a .ply or a .splat) as .splat bytes. */
function sceneFile(p: string): { bytes: Uint8Array; name: string } {
  let file = p;
  if (statSync(p).isDirectory()) file = join(p, 'scene.ply');
  const raw = new Uint8Array(readFileSync(file));
  const bytes = file.endsWith('.splat') ? raw : writeSplat(readGaussianPly(raw, file));
  return { bytes, name: `${basename(file === join(p, 'scene.ply') ? p : file)}` };
}

/** Orbit of a quarter turn around the centres' bounds (robust: 1st–99th percentile), 1.6 radii out, looking at the middle. */
function cameraPath(bytes: Uint8Array, frames: number) {
  const n = bytes.length / SPLAT_BYTES;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const step = Math.max(1, Math.floor(n / 50000));
  const axes: number[][] = [[], [], []];
  for (let i = 0; i < n; i += step) for (let a = 0; a < 3; a++) axes[a].push(dv.getFloat32(i * SPLAT_BYTES + 4 * a, true));
  const lo: number[] = [],
    hi: number[] = [];
  for (const v of axes) {
    v.sort((x, y) => x - y);
    lo.push(v[Math.floor(0.01 * (v.length - 1))]);
    hi.push(v[Math.ceil(0.99 * (v.length - 1))]);
  }
  const c = lo.map((l, a) => (l + hi[a]) / 2);
  const r = Math.hypot(hi[0] - lo[0], hi[1] - lo[1], hi[2] - lo[2]) / 2;
  const path: number[][] = [];
  for (let f = 0; f <= frames; f++) {
    const az = ((2 * Math.PI * f) / Math.max(1, frames)) * 0.25;
    path.push([c[0] + 1.6 * r * Math.cos(az), c[1] + 0.5 * r, c[2] + 1.6 * r * Math.sin(az)]);
  }
  return { path, target: c, fov: 50, near: r / 100, far: r * 100 };
}

const median = (v: number[]) => {
  const s = [...v].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)] : NaN;
};

interface Row {
  name: string;
  count: number;
  file: string;
  bytes: Uint8Array;
  frames: number;
  renderers: BenchArgs['which'][];
  lod?: boolean;
}
const rows: Row[] = [];
for (const n of counts)
  rows.push({
    name: `ball-${n}`,
    count: n,
    file: `bench/ball-${n}.splat`,
    bytes: ballFile(n),
    frames: n >= 3_000_000 ? 2 : n >= 1_000_000 ? 3 : 6,
    renderers,
  });
if (scenePath) {
  if (!existsSync(scenePath)) throw new Error(`--scene ${scenePath}: no such file or folder`);
  const { bytes, name } = sceneFile(scenePath);
  rows.push({ name: `scene-${name}`, count: bytes.length / SPLAT_BYTES, file: `bench/scene.splat`, bytes, frames: 8, renderers });
}
// big files: ours only, in its level-of-detail mode (a budget of drawn splats per frame)
for (const n of lodCounts)
  rows.push({
    name: `ball-${n}-lod`,
    count: n,
    file: `bench/ball-${n}.splat`,
    bytes: ballFile(n),
    frames: 2,
    renderers: ['ours'],
    lod: true,
  });

const files: Record<string, Uint8Array> = {};
for (const r of rows) files[r.file] = r.bytes;
const h = await startViewer({ entry, extraPublic: files });
const results: Record<string, unknown>[] = [];
if (shots) mkdirSync(shots, { recursive: true });
try {
  for (const row of rows) {
    const cam = cameraPath(row.bytes, row.frames);
    const runs: Record<string, Omit<BenchOut, 'dispose'>[]> = {};
    const rowRounds = row.count >= 3_000_000 ? bigRounds : rounds;
    for (let round = 0; round < rowRounds; round++) {
      // rotate the order each round so no renderer always runs first (or right after the heaviest one)
      const order = row.renderers.map((_, i) => row.renderers[(i + round) % row.renderers.length]);
      for (const which of order) {
        const page = await h.context.newPage();
        await page.setViewportSize({ width, height });
        page.on('pageerror', (e) => console.log(`  [${which}] page error: ${e.message}`));
        await page.goto(`${h.url}${entry}`);
        await page.waitForFunction(() => 'runBench' in window);
        const a: BenchArgs = {
          url: `/${row.file}`,
          which,
          width,
          height,
          ...cam,
          stillFrames: row.count >= 1_000_000 ? 1 : 2,
          ...(row.lod ? { budget, lodAbove: 2_000_000 } : {}),
        };
        try {
          const r = (await page.evaluate((x) => (window as any).runBench(x), a)) as Omit<BenchOut, 'dispose'>;
          (runs[which] ??= []).push(r);
          console.log(
            `${row.name} round ${round + 1} ${which}: median frame ${median(r.frameMs).toFixed(1)} ms [${r.frameMs.map((t) => t.toFixed(0)).join(', ')}], still ${median(r.stillFrameMs).toFixed(1)} ms, first ${r.firstFrameMs.toFixed(0)} ms, parse ${r.parseMs.toFixed(0)} ms${r.drawn !== undefined ? `, drawn ${r.drawn}` : ''}${r.sortLatencyMs?.length ? `, sort lands after ${median(r.sortLatencyMs).toFixed(0)} ms` : ''}`,
          );
          if (shots && round === 0) await page.locator('canvas').screenshot({ path: join(shots, `${row.name}-${which}.png`) });
          await page.evaluate(() => (window as any).endBench());
        } catch (e) {
          console.log(`${row.name} round ${round + 1} ${which}: failed: ${(e as Error).message.split('\n')[0]}`);
          (runs[which] ??= []).push({ error: (e as Error).message.split('\n')[0] } as never);
        }
        await page.close();
      }
    }
    const out: Record<string, unknown> = { name: row.name, count: row.count, frames: row.frames, rounds: rowRounds };
    const med: Record<string, number> = {};
    for (const [which, list] of Object.entries(runs)) {
      const ok = list.filter((r) => Array.isArray(r.frameMs));
      const all = ok.flatMap((r) => r.frameMs);
      med[which] = median(all);
      out[which] = {
        medianFrameMs: med[which],
        medianStillFrameMs: median(ok.flatMap((r) => r.stillFrameMs)),
        perRoundMedianFrameMs: ok.map((r) => median(r.frameMs)),
        ...(ok[0]
          ? { backend: ok[0].backend, sorter: ok[0].sorter, parseMs: ok[0].parseMs, drawn: ok[0].drawn, gpuBytes: ok[0].gpuBytes }
          : {}),
        ...(ok.some((r) => r.sortLatencyMs?.length) ? { medianSortLatencyMs: median(ok.flatMap((r) => r.sortLatencyMs ?? [])) } : {}),
        runs: list,
      };
    }
    if (med.ours) {
      if (med.three) out.ratioThreeOverOurs = med.three / med.ours;
      if (med.spark) out.ratioSparkOverOurs = med.spark / med.ours;
      // the same ratios round by round (each round ran the renderers back to back): how stable the ratio is
      const per = (k: string) => (runs[k] ?? []).map((r) => (Array.isArray(r.frameMs) ? median(r.frameMs) : NaN));
      const o = per('ours');
      if (med.three) out.perRoundRatioThreeOverOurs = per('three').map((t, i) => t / o[i]);
      if (med.spark) out.perRoundRatioSparkOverOurs = per('spark').map((t, i) => t / o[i]);
    }
    results.push(out);
    const fmt = (k: string) => (med[k] ? `${k} ${med[k].toFixed(1)} ms` : '');
    console.log(
      `${row.name}: ${renderers.map(fmt).filter(Boolean).join(', ')}${out.ratioThreeOverOurs ? `; three/ours ${(out.ratioThreeOverOurs as number).toFixed(2)}` : ''}${out.ratioSparkOverOurs ? `, spark/ours ${(out.ratioSparkOverOurs as number).toFixed(2)}` : ''}`,
    );
  }
} finally {
  await h.close();
}
const report = {
  bench: 'viewer',
  date: new Date().toISOString(),
  machine: {
    cpus: cpus().length,
    cpu: cpus()[0]?.model,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    browser: 'chromium (headless; WebGPU and WebGL2 on SwiftShader unless a GPU is present)',
  },
  resolution: [width, height],
  note:
    'Frame = one render of a new camera position of a quarter-turn orbit, timed to GPU completion (WebGPU: render + queue.onSubmittedWorkDone; WebGL2: render + a one-pixel readPixels, since gl.finish() does not wait in Chromium), median over the orbit frames of all rounds (the first view is a warm-up). Still frame = the last view drawn again (nothing moved). ' +
    "ours = SplatMesh (WebGPU): per-splat projection, culling and 16-bit depth keys in one compute pass, GPU counting sort of the visible splats (3 dispatches), one non-instanced draw; quads cut where the splat's own α reaches 1/255 (as the CPU rasteriser); nothing recomputed when the view is unchanged. Rows named *-lod: ours with its level-of-detail tree and a budget of drawn splats (drawn = nodes on the cut). " +
    'three = three.js r187 GaussianSplat addon (WebGPU): per-vertex projection of instanced quads, GPU counting sort (4096 bins) when the view direction turned, quads cut at 2σ. ' +
    'spark = Spark 2 SparkRenderer + SplatMesh (WebGL2): a GPU pass that regenerates the splats when the view changed, instanced quads cut at √8σ, depth readback + WASM sort in a worker whose order lands after the frame (sortLatency = how long after); its frame time therefore excludes the sort. ' +
    'ratioXOverOurs > 1 means ours is faster. Renderers run interleaved round by round in fresh pages of one browser. SwiftShader emulates the GPU on the CPU (shared with other work): relative numbers only.',
  rows: results,
};
mkdirSync(dirname(outFile), { recursive: true });
writeFileSync(outFile, JSON.stringify(report, null, 2) + '\n');
console.log(`wrote ${outFile}`);
