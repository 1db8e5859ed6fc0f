import { describe, expect, it } from 'vitest';
import { Rng } from '../src/core/rng';
import { createVoxelGrid, sampleDensity, worldToGrid, colorDims, type VoxelGrid } from '../src/nerf/voxel/voxel-grid';
import { defaultMarchParams, type MarchParams, type RayBatch } from '../src/nerf/voxel/voxel-backend';
import { renderRaysCpu } from '../src/nerf/voxel/voxel-render-cpu';
import { softplus, sigmoid } from '../src/core/math';
import { SH_C1 } from '../src/nerf/common/sh';

/**
 * The CPU renderer against a naive, literal implementation of the marching spec in voxel-backend.ts
 * (no block jumps, no precomputation), on grids with large empty regions so the empty-space jumps matter.
 */
function naive(grid: VoxelGrid, rays: RayBatch, p: MarchParams) {
  const rgb = new Float32Array(rays.count * 3),
    alpha = new Float32Array(rays.count);
  const g = [0, 0, 0];
  const K = colorDims(grid.shDegree);
  const c = grid.box.min.map((v, a) => (v + grid.box.max[a]) / 2),
    h = grid.box.min.map((v, a) => (grid.box.max[a] - v) / 2);
  for (let r = 0; r < rays.count; r++) {
    const o = [0, 1, 2].map((a) => rays.origins[r * 3 + a]),
      d = [0, 1, 2].map((a) => rays.dirs[r * 3 + a]);
    let t: number,
      t1 = Infinity;
    if (grid.bgLen === 0) {
      let a0 = -Infinity,
        a1 = Infinity;
      for (let a = 0; a < 3; a++) {
        let ta = (grid.box.min[a] - o[a]) / d[a],
          tb = (grid.box.max[a] - o[a]) / d[a];
        if (ta > tb) [ta, tb] = [tb, ta];
        a0 = Math.max(a0, ta);
        a1 = Math.min(a1, tb);
      }
      a0 = Math.max(a0, p.near);
      if (!(a1 > a0)) {
        for (let k = 0; k < 3; k++) rgb[r * 3 + k] = p.background[k];
        continue;
      }
      t = a0 + 0.5 * p.stepSize;
      t1 = a1;
    } else t = p.near;
    let T = 1;
    const col = [0, 0, 0];
    for (let it = 0; it < p.maxSamples && t < t1; it++) {
      const x = [0, 1, 2].map((a) => o[a] + t * d[a]);
      const n = Math.max(...[0, 1, 2].map((a) => Math.abs((x[a] - c[a]) / h[a])));
      let dt = p.stepSize;
      if (grid.bgLen > 0 && n > 1) {
        if (n > p.farNorm) break;
        dt = (p.stepSize * n * n) / grid.bgLen;
      }
      t += dt;
      if (!worldToGrid(grid, x[0], x[1], x[2], g)) continue;
      const cell = [0, 1, 2].map((a) => Math.min(Math.floor(g[a]), grid.res[a] - 2));
      if (!grid.occupancy[cell[0] + (grid.res[0] - 1) * (cell[1] + (grid.res[1] - 1) * cell[2])]) continue;
      const sigma = softplus(sampleDensity(grid, g[0], g[1], g[2]) + grid.densityShift);
      const al = 1 - Math.exp(-sigma * p.stepSize * grid.densityScale);
      const basis = [1, -SH_C1 * d[1], SH_C1 * d[2], -SH_C1 * d[0]];
      for (let ch = 0; ch < 3; ch++) {
        let z = 0;
        for (let b = 0; b < K / 3; b++) {
          // trilinear of one feature
          const [i, j, k] = cell,
            f = [g[0] - i, g[1] - j, g[2] - k];
          let s = 0;
          for (let q = 0; q < 8; q++) {
            const e = [q & 1, (q >> 1) & 1, q >> 2];
            const w = (e[0] ? f[0] : 1 - f[0]) * (e[1] ? f[1] : 1 - f[1]) * (e[2] ? f[2] : 1 - f[2]);
            s += w * grid.color[(i + e[0] + grid.res[0] * (j + e[1] + grid.res[1] * (k + e[2]))) * K + b * 3 + ch];
          }
          z += basis[b] * s;
        }
        col[ch] += T * al * sigmoid(z);
      }
      T *= 1 - al;
      if (T < p.stopTransmittance) break;
    }
    for (let k = 0; k < 3; k++) rgb[r * 3 + k] = col[k] + T * p.background[k];
    alpha[r] = 1 - T;
  }
  return { rgb, alpha };
}

function scene(bgLen: number, shDegree: 0 | 1, seed: number) {
  const rng = new Rng(seed);
  const grid = createVoxelGrid({ res: [26, 18, 30], box: { min: [-1, -0.6, -1.1], max: [1, 0.8, 1.2] }, bgLen, shDegree, alphaInit: 1e-2 });
  // moderate density everywhere, but whole 4³-cell blocks (the CPU's jump unit) and single cells marked empty,
  // so a jump that lands one sample early or late changes the result
  for (let v = 0; v < grid.density.length; v++) grid.density[v] = rng.uniform(-1, 4);
  for (let i = 0; i < grid.color.length; i++) grid.color[i] = rng.uniform(-2, 2);
  const [cx, cy, cz] = grid.res.map((r) => r - 1);
  const blockOn = new Map<string, boolean>();
  let occ = 0;
  for (let k = 0; k < cz; k++)
    for (let j = 0; j < cy; j++)
      for (let i = 0; i < cx; i++) {
        const key = `${i >> 2},${j >> 2},${k >> 2}`;
        if (!blockOn.has(key)) blockOn.set(key, rng.next() < 0.35);
        const on = blockOn.get(key)! && rng.next() < 0.9;
        grid.occupancy[i + cx * (j + cy * k)] = on ? 1 : 0;
        occ += on ? 1 : 0;
      }
  occ /= grid.occupancy.length;
  const n = 300,
    origins = new Float32Array(n * 3),
    dirs = new Float32Array(n * 3);
  for (let r = 0; r < n; r++) {
    const th = rng.uniform(0, 2 * Math.PI),
      R = bgLen ? 0.8 : 3.2;
    const o = [R * Math.cos(th), rng.uniform(-0.3, 0.6), R * Math.sin(th)];
    const aim = [rng.uniform(-0.8, 0.8), rng.uniform(-0.5, 0.7), rng.uniform(-0.9, 0.9)];
    const d = bgLen && r % 2 ? [rng.normal(), rng.normal(), rng.normal()] : aim.map((v, a) => v - o[a]);
    const l = Math.hypot(d[0], d[1], d[2]);
    for (let a = 0; a < 3; a++) {
      origins[r * 3 + a] = o[a];
      dirs[r * 3 + a] = d[a] / l;
    }
  }
  return { grid, rays: { origins, dirs, count: n }, occ };
}

describe('CPU voxel renderer follows the marching spec', () => {
  for (const [name, bgLen, sh] of [
    ['bounded', 0, 0],
    ['bounded, SH', 0, 1],
    ['contracted', 0.5, 1],
  ] as const) {
    it(`${name}: equals the literal spec with empty-space jumps`, () => {
      const { grid, rays, occ } = scene(bgLen, sh, 7);
      expect(occ).toBeGreaterThan(0.02);
      expect(occ).toBeLessThan(0.6); // most of the grid is skipped
      const p = defaultMarchParams(grid, [0.2, 0.5, 0.9], { stepSize: (0.5 * 2) / 25, farNorm: 50 });
      const a = renderRaysCpu(grid, rays, p),
        b = naive(grid, rays, p);
      let maxErr = 0,
        hits = 0;
      for (let i = 0; i < rays.count * 3; i++) maxErr = Math.max(maxErr, Math.abs(a.rgb[i] - b.rgb[i]));
      for (let i = 0; i < rays.count; i++) {
        maxErr = Math.max(maxErr, Math.abs(a.alpha[i] - b.alpha[i]));
        if (b.alpha[i] > 0.3) hits++;
      }
      expect(hits).toBeGreaterThan(10);
      expect(maxErr).toBeLessThan(1e-4);
    });
  }
});
