/**
 * Gaussian rasterisation speed vs number of Gaussians: CPU forward (footprint splatter, the default), CPU
 * forward with per-tile lists (the GPU algorithm run on the CPU, for comparison), CPU backward; 512×512,
 * SH degree 3, Gaussians on a sphere shell and a ground plane (surface-like depth complexity, as fitted
 * scenes have). Median of a few runs; 1M runs forward only unless --full.
 * The WebGPU columns are measured by bench/gaussians-webgpu.ts.
 *
 * Run: node bin/run-ts.mjs bench/gaussians.ts [--counts 10000,100000,1000000] [--size 512] [--full]
 * → bench/results/gaussians.json
 */
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { lookAtCamera } from '../src/core/camera';
import { Rng } from '../src/core/rng';
import { writeFileAtomic } from '../src/io/node/node-files';
import { createGaussians, setColor, SH_STRIDE, type Gaussians } from '../src/nerf/gaussian/gaussians';
import { rasterizeForwardTiles } from '../src/nerf/gaussian/gaussian-render-cpu';
import { logit } from '../src/core/math';
import { createGrads } from '../src/nerf/gaussian/gaussian-project-cpu';
import { rasterizeBackward, rasterizeForward } from '../src/nerf/gaussian/gaussian-span-cpu';

const HERE = dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);
const opt = (name: string, d: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : d;
};
const counts = opt('counts', '10000,100000,1000000').split(',').map(Number);
const size = Number(opt('size', '512'));
const full = argv.includes('--full');

/** Half the Gaussians on a unit sphere, half on the ground square y = −1, spacing-sized, opaque-ish. */
export function benchScene(n: number, seed = 0): Gaussians {
  const rng = new Rng(seed);
  const g = createGaussians(n, 3);
  const area = 4 * Math.PI + 16;
  const s = Math.log(0.7 * Math.sqrt(area / n));
  for (let i = 0; i < n; i++) {
    if (i % 2 === 0) {
      const z = rng.uniform(-1, 1),
        t = rng.uniform(0, 2 * Math.PI),
        r = Math.sqrt(1 - z * z);
      g.means.set([r * Math.cos(t), z, r * Math.sin(t)], 3 * i);
    } else g.means.set([rng.uniform(-2, 2), -1, rng.uniform(-2, 2)], 3 * i);
    g.logScales.set([s + rng.uniform(-0.3, 0.3), s + rng.uniform(-0.3, 0.3), s - 1], 3 * i);
    const q = [rng.normal(), rng.normal(), rng.normal(), rng.normal()];
    g.rotations.set(q, 4 * i);
    g.opacityLogits[i] = logit(rng.uniform(0.3, 0.95));
    setColor(g, i, rng.next(), rng.next(), rng.next());
    for (let k = 3; k < SH_STRIDE; k++) g.sh[i * SH_STRIDE + k] = rng.uniform(-0.1, 0.1);
  }
  return g;
}

/** CPU time of this process in ms (user + system): robust to other processes sharing the cores. */
function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

const cam = lookAtCamera([2.2, 1.4, 2.6], [0, -0.3, 0], [0, 1, 0], size, size, 50);
const rows: any[] = [];
for (const n of counts) {
  const g = benchScene(n);
  const reps = n <= 10_000 ? 5 : n <= 100_000 ? 3 : 1;
  const withBackward = n < 1_000_000 || full;
  const fwd: number[] = [],
    tiles: number[] = [],
    bwd: number[] = [];
  const dImage = new Float32Array(size * size * 3).map((_, i) => ((i * 7919) % 13) / 13 - 0.5);
  const grads = createGrads(n);
  let visible = 0,
    meanContrib = 0;
  for (let r = 0; r < reps; r++) {
    let t = cpuMs();
    const f = rasterizeForward(g, cam, [0, 0, 0]);
    fwd.push(cpuMs() - t);
    visible = f.order!.length;
    let a = 0;
    for (const v of f.alpha) a += v;
    meanContrib = a / f.alpha.length;
    if (withBackward) {
      t = cpuMs();
      rasterizeBackward(g, cam, f, dImage, null, grads);
      bwd.push(cpuMs() - t);
    }
    if (n <= 100_000 && r < 2) {
      t = cpuMs();
      rasterizeForwardTiles(g, cam, [0, 0, 0]);
      tiles.push(cpuMs() - t);
    }
  }
  const row = {
    count: n,
    visible,
    meanAlpha: +meanContrib.toFixed(3),
    cpu: {
      forwardMs: +median(fwd).toFixed(1),
      backwardMs: withBackward ? +median(bwd).toFixed(1) : null,
      tilesForwardMs: tiles.length ? +median(tiles).toFixed(1) : null,
      footprintSpeedup: tiles.length ? +(median(tiles) / median(fwd)).toFixed(2) : null,
    },
  };
  rows.push(row);
  console.log(JSON.stringify(row));
}
const result = {
  bench: 'gaussians',
  date: new Date().toISOString(),
  machine: { cpus: cpus().length, cpu: cpus()[0]?.model, node: process.version },
  resolution: [size, size],
  shDegree: 3,
  note: 'CPU: single thread, TypeScript; times are process CPU time (user+system, ms) so that other load on a shared machine does not inflate them (GC threads may add a little). WebGPU columns: see `webgpu` keys when present.',
  rows,
};
await writeFileAtomic(join(HERE, 'results', 'gaussians.json'), JSON.stringify(result, null, 2) + '\n');
console.log(`wrote ${join(HERE, 'results', 'gaussians.json')}`);
