import { describe, expect, it } from 'vitest';
import { lookAtCamera, projectPoint } from '../src/core/camera';
import { Rng } from '../src/core/rng';
import { createGaussians, setColor, SH_STRIDE, type Gaussians } from '../src/nerf/gaussian/gaussians';
import { radixSortU32 } from '../src/gpu/radix-sort-cpu';
import { shBasis } from '../src/nerf/common/sh';
import { rasterizeBackward, rasterizeForward } from '../src/nerf/gaussian/gaussian-span-cpu';
import { rasterizeForwardTiles } from '../src/nerf/gaussian/gaussian-render-cpu';
import { rasterizeBackwardTiles } from '../src/nerf/gaussian/gaussian-backward-cpu';
import { randomGaussians } from './helpers/scenes';

const randomScene = (seed: number, n: number, deg: number): Gaussians =>
  randomGaussians(new Rng(seed), n, deg, { mean: 0.6, scale: [0.06, 0.25], opacityLogit: [-2, 0.3], sh: { rest: 0.3 } });

const BG: [number, number, number] = [0.2, 0.4, 0.6];
// 40×28: partial tiles on both axes
const cam = lookAtCamera([0.4, 0.5, 3], [0, 0, 0], [0, 1, 0], 40, 28, 40);

function loss(g: Gaussians, wI: Float32Array, wA: Float32Array): number {
  const f = rasterizeForward(g, cam, BG);
  let s = 0;
  for (let i = 0; i < wI.length; i++) s += wI[i] * f.image[i];
  for (let i = 0; i < wA.length; i++) s += wA[i] * f.alpha[i];
  return s;
}

describe('CPU Gaussian rasteriser', () => {
  it('draws a single Gaussian where the camera projects its mean, with the right peak alpha and background', () => {
    const g = createGaussians(1, 0);
    g.logScales.fill(Math.log(0.05));
    g.opacityLogits[0] = Math.log(0.8 / 0.2);
    setColor(g, 0, 1, 0, 0);
    g.means.set([0.1, -0.05, 0.2]);
    const c = lookAtCamera([0, 0, 3], [0, 0, 0], [0, 1, 0], 64, 48, 30);
    const f = rasterizeForward(g, c, [0, 0, 1]);
    const [u, v] = projectPoint(c, g.means)!;
    let best = 0,
      bx = -1,
      by = -1;
    for (let y = 0; y < 48; y++)
      for (let x = 0; x < 64; x++)
        if (f.alpha[y * 64 + x] > best) {
          best = f.alpha[y * 64 + x];
          bx = x;
          by = y;
        }
    expect(Math.abs(bx + 0.5 - u)).toBeLessThanOrEqual(1);
    expect(Math.abs(by + 0.5 - v)).toBeLessThanOrEqual(1);
    expect(best).toBeGreaterThan(0.6);
    expect(best).toBeLessThanOrEqual(0.8 + 1e-6);
    // far corner: background only
    expect(f.image[0]).toBe(0);
    expect(f.image[2]).toBe(1);
    // a peak pixel is red over blue
    const p = by * 64 + bx;
    expect(f.image[3 * p]).toBeCloseTo(best, 5);
    expect(f.image[3 * p + 2]).toBeCloseTo(1 - best, 5);
  });

  it('composites front to back: the nearer Gaussian wins', () => {
    const g = createGaussians(2, 0);
    g.logScales.fill(Math.log(0.3));
    g.opacityLogits.fill(5);
    g.means.set([0, 0, 0.5, 0, 0, -0.5]);
    setColor(g, 0, 1, 0, 0);
    setColor(g, 1, 0, 1, 0);
    const c = lookAtCamera([0, 0, 3], [0, 0, 0], [0, 1, 0], 32, 32, 30);
    const f = rasterizeForward(g, c, [0, 0, 0]);
    const p = 16 * 32 + 16;
    expect(f.image[3 * p]).toBeGreaterThan(0.95);
    expect(f.image[3 * p + 1]).toBeLessThan(0.05);
    // seen from behind, green is in front
    const c2 = lookAtCamera([0, 0, -3], [0, 0, 0], [0, 1, 0], 32, 32, 30);
    const f2 = rasterizeForward(g, c2, [0, 0, 0]);
    expect(f2.image[3 * p + 1]).toBeGreaterThan(0.95);
    expect(f2.depth[p]).toBeGreaterThan(2.3);
    expect(f2.depth[p]).toBeLessThan(2.7);
  });

  it("the footprint splatter gives the tile rasteriser's image and gradients", () => {
    const g = randomScene(21, 60, 3);
    for (let i = 0; i < 20; i++) g.opacityLogits[i] = 6; // some clamped at 0.99, some early termination
    const rng = new Rng(9);
    const wI = new Float32Array(40 * 28 * 3).map(() => rng.uniform(-1, 1));
    const wA = new Float32Array(40 * 28).map(() => rng.uniform(-1, 1));
    const a = rasterizeForward(g, cam, BG),
      b = rasterizeForwardTiles(g, cam, BG);
    let maxD = 0;
    for (let i = 0; i < a.image.length; i++) maxD = Math.max(maxD, Math.abs(a.image[i] - b.image[i]));
    for (let i = 0; i < a.alpha.length; i++) maxD = Math.max(maxD, Math.abs(a.alpha[i] - b.alpha[i]), Math.abs(a.depth[i] - b.depth[i]));
    expect(maxD).toBeLessThan(1e-5);
    let minT = 1;
    for (const t of a.finalT) minT = Math.min(minT, t);
    expect(minT).toBeLessThan(0.01);
    const ga = rasterizeBackward(g, cam, a, wI, wA),
      gb = rasterizeBackwardTiles(g, cam, b, wI, wA);
    for (const k of ['means', 'logScales', 'rotations', 'opacityLogits', 'sh', 'xy'] as const) {
      let scale = 0,
        diff = 0;
      for (let i = 0; i < ga[k].length; i++) {
        scale = Math.max(scale, Math.abs(gb[k][i]));
        diff = Math.max(diff, Math.abs(ga[k][i] - gb[k][i]));
      }
      expect(scale, k).toBeGreaterThan(0);
      expect(diff, k).toBeLessThan(1e-4 * scale + 1e-7);
    }
  });

  it('SH basis derivatives match finite differences', () => {
    const Y1 = new Float64Array(16),
      Y2 = new Float64Array(16),
      Y = new Float64Array(16),
      dY = new Float64Array(48);
    const d = [0.3, -0.5, 0.81];
    shBasis(3, d[0], d[1], d[2], Y, dY);
    const e = 1e-6;
    for (let a = 0; a < 3; a++) {
      const p = [...d],
        m = [...d];
      p[a] += e;
      m[a] -= e;
      shBasis(3, p[0], p[1], p[2], Y1);
      shBasis(3, m[0], m[1], m[2], Y2);
      for (let k = 0; k < 16; k++) expect(dY[3 * k + a]).toBeCloseTo((Y1[k] - Y2[k]) / (2 * e), 5);
    }
  });

  it('radix sort is a stable sort by key', () => {
    const rng = new Rng(3);
    const n = 5000;
    const keys = new Uint32Array(n).map(() => rng.int(2 ** 32));
    for (let i = 0; i < 200; i++) keys[i] = 7; // ties
    const vals = new Uint32Array(n).map((_, i) => i);
    const ref = [...keys].map((k, i) => [k, i]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    radixSortU32(keys, vals, n);
    expect([...vals]).toEqual(ref.map((r) => r[1]));
  });

  // Central differences at two step sizes: where they disagree the step crossed a discontinuity of the
  // rasteriser (the 1/255 alpha cut-off, tile edges, early termination) and the entry is not judged.
  for (const deg of [0, 3]) {
    it(`analytic gradients match finite differences for every parameter (SH degree ${deg})`, () => {
      const g = randomScene(11 + deg, 14, deg);
      const rng = new Rng(5);
      const wI = new Float32Array(40 * 28 * 3).map(() => rng.uniform(-1, 1));
      const wA = new Float32Array(40 * 28).map(() => rng.uniform(-1, 1));
      const fwd = rasterizeForward(g, cam, BG);
      // sanity: most Gaussians are visible
      let visible = 0;
      for (let i = 0; i < g.count; i++) if (fwd.projected.radius[i] > 0) visible++;
      expect(visible).toBeGreaterThan(10);
      const grads = rasterizeBackward(g, cam, fwd, wI, wA);
      const groups: [string, Float32Array, Float32Array, number][] = [
        ['means', g.means, grads.means, 1e-3],
        ['logScales', g.logScales, grads.logScales, 1e-3],
        ['rotations', g.rotations, grads.rotations, 1e-3],
        ['opacityLogits', g.opacityLogits, grads.opacityLogits, 1e-3],
        ['sh', g.sh, grads.sh, 1e-3],
      ];
      for (const [name, param, grad, eps] of groups) {
        let judged = 0,
          bad = 0,
          skipped = 0;
        const limit = name === 'sh' ? (deg + 1) ** 2 * 3 : param.length / g.count;
        const stride = name === 'sh' ? SH_STRIDE : param.length / g.count;
        const fdAt = (j: number, e: number) => {
          const v = param[j];
          param[j] = v + e;
          const hi = param[j];
          const lp = loss(g, wI, wA);
          param[j] = v - e;
          const lo = param[j];
          const lm = loss(g, wI, wA);
          param[j] = v;
          return (lp - lm) / (hi - lo);
        };
        for (let i = 0; i < g.count; i++)
          for (let k = 0; k < limit; k++) {
            const j = i * stride + k;
            const f1 = fdAt(j, eps),
              f2 = fdAt(j, eps / 2);
            const tol = (a: number, b: number) => Math.abs(a - b) <= 0.03 * Math.max(Math.abs(a), Math.abs(b)) + 0.01;
            if (!tol(f1, f2)) {
              skipped++;
              if (process.env.FD_DEBUG) console.log(`skip ${name}[${i}][${k}] an ${grad[j]} fd ${f1} ${f2}`);
              continue;
            }
            judged++;
            if (!tol(grad[j], f2)) {
              bad++;
              console.log(`${name}[${i}][${k}] analytic ${grad[j]} fd ${f1} ${f2}`);
            }
          }
        expect(bad, `${name}: ${bad} of ${judged} gradients disagree`).toBe(0);
        expect(skipped, `${name}: too many entries near discontinuities`).toBeLessThan(0.4 * (judged + skipped));
        // the SH coefficients beyond the active degree get no gradient
        if (name === 'sh')
          for (let i = 0; i < g.count; i++) for (let k = limit; k < SH_STRIDE; k++) expect(grad[i * SH_STRIDE + k]).toBe(0);
      }
    });
  }
});
