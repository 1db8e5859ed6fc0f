/**
 * Gaussian file formats: write and read time and file size per format for N Gaussians with SH degree 3
 * (random scene in a 4-unit cube), in one run so the ratios compare. Median of 3 runs each.
 *
 * Run: node bin/run-ts.mjs bench/formats.ts [--count 200000] → bench/results/formats.json
 */
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Rng } from '../src/core/rng';
import { writeFileAtomic } from '../src/io/node/node-files';
import { createGaussians, SH_STRIDE } from '../src/nerf/gaussian/gaussians';
import { encodeGaussians, readGaussians } from '../src/io/formats/gaussian-formats';

const HERE = dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);
const i = argv.indexOf('--count');
const n = i >= 0 ? Number(argv[i + 1]) : 200_000;

const rng = new Rng(1);
const g = createGaussians(n, 3);
for (let k = 0; k < n; k++) {
  for (let a = 0; a < 3; a++) {
    g.means[3 * k + a] = rng.uniform(-2, 2);
    g.logScales[3 * k + a] = rng.uniform(-6, -2);
  }
  const q = [rng.normal(), rng.normal(), rng.normal(), rng.normal()];
  const l = Math.hypot(...q);
  for (let a = 0; a < 4; a++) g.rotations[4 * k + a] = q[a] / l;
  g.opacityLogits[k] = rng.uniform(-3, 5);
  for (let c = 0; c < 48; c++) g.sh[k * SH_STRIDE + c] = c < 3 ? rng.uniform(-1.5, 1.5) : rng.normal() * 0.1;
}

const median = (xs: number[]) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const rows: Record<string, { bytes: number; writeMs: number; readMs: number; bytesPerGaussian: number }> = {};
for (const [name, file, opts] of [
  ['ply', 'x.ply', {}],
  ['compressed-ply', 'x.compressed.ply', {}],
  ['spz-v3', 'x.spz', { spzVersion: 3 as const }],
  ['spz-v4', 'x.spz', { spzVersion: 4 as const }],
  ['splat', 'x.splat', {}],
] as const) {
  const w: number[] = [],
    r: number[] = [];
  let bytes: Uint8Array = new Uint8Array(0);
  for (let rep = 0; rep < 3; rep++) {
    let t = performance.now();
    bytes = await encodeGaussians(g, file, opts);
    w.push(performance.now() - t);
    t = performance.now();
    await readGaussians(bytes, file, null);
    r.push(performance.now() - t);
  }
  rows[name] = {
    bytes: bytes.length,
    writeMs: Math.round(median(w)),
    readMs: Math.round(median(r)),
    bytesPerGaussian: +(bytes.length / n).toFixed(1),
  };
  console.log(name.padEnd(16), JSON.stringify(rows[name]));
}
const out = {
  count: n,
  shDegree: 3,
  cpus: cpus().length,
  cpu: cpus()[0]?.model,
  node: process.version,
  date: new Date().toISOString(),
  rows,
};
await writeFileAtomic(join(HERE, 'results/formats.json'), JSON.stringify(out, null, 2) + '\n');
console.log('→ bench/results/formats.json');
