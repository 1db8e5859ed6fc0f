import { describe, expect, it } from 'vitest';
import { lookAtCamera, projectPoint, type Camera } from '../src/core/camera';
import { Rng } from '../src/core/rng';
import { rasterizeMesh, rasterizeMeshBackward, type MeshRasterInput } from '../src/nerf/mesh/mesh-raster-cpu';
import { torus, uvSphere } from '../src/nerf/mesh/mesh-shapes';

const BG: [number, number, number] = [1, 1, 1];

function colored(m: { positions: Float32Array; indices: Uint32Array }, seed: number): MeshRasterInput {
  const rng = new Rng(seed);
  const colors = new Float32Array(m.positions.length);
  for (let i = 0; i < colors.length; i++) colors[i] = 0.2 + 0.6 * rng.next();
  return { positions: m.positions.slice(), indices: m.indices, colors };
}

/** L = Σ weights · image: a loss whose gradient w.r.t. the image is `weights`. */
function loss(m: MeshRasterInput, cam: Camera, weights: Float32Array): number {
  const st = rasterizeMesh(m, cam, BG);
  let s = 0;
  for (let i = 0; i < weights.length; i++) s += weights[i] * st.image[i];
  return s;
}

/**
 * Finite differences on the CPU twin: central differences at eps and eps/2 (a pixel centre crossing an edge
 * in between makes them disagree; such samples are counted and left out), compared with the analytic gradient.
 */
function fdCheck(m: MeshRasterInput, cam: Camera, which: 'colors' | 'positions', samples: number, seed: number, eps: number) {
  const rng = new Rng(seed);
  const weights = new Float32Array(cam.width * cam.height * 3);
  for (let i = 0; i < weights.length; i++) weights[i] = rng.uniform(-1, 1);
  const st = rasterizeMesh(m, cam, BG);
  const g = rasterizeMeshBackward(m, st, weights);
  const arr = m[which];
  const grad = g[which];
  // sample parameters the render depends on (visible vertices: non-zero gradient), plus a few arbitrary ones
  const cands: number[] = [];
  for (let i = 0; i < grad.length; i++) if (grad[i] !== 0) cands.push(i);
  expect(cands.length).toBeGreaterThan(samples);
  let agree = 0,
    used = 0;
  const errs: number[] = [];
  for (let s = 0; s < samples; s++) {
    const i = cands[rng.int(cands.length)];
    const fd = (e: number) => {
      const v = arr[i];
      arr[i] = v + e;
      const a = loss(m, cam, weights);
      arr[i] = v - e;
      const b = loss(m, cam, weights);
      arr[i] = v;
      return (a - b) / (2 * e);
    };
    const f1 = fd(eps),
      f2 = fd(eps / 2);
    used++;
    if (Math.abs(f1 - f2) > 0.02 * Math.max(Math.abs(f1), Math.abs(f2)) + 1e-3) continue; // an edge crossing
    agree++;
    errs.push(Math.abs(grad[i] - f2) / (Math.abs(f2) + Math.abs(grad[i]) + 1e-2));
  }
  return { agree, used, errs };
}

describe('mesh rasteriser (CPU twin)', () => {
  it('draws a sphere: antialiased coverage matches the projected disc, colours are shaded, background elsewhere', () => {
    const cam = lookAtCamera([0, 0, 4], [0, 0, 0], [0, 1, 0], 96, 96, 40);
    const m = uvSphere(96, 48, 1, [0.8, 0.6, 0.2]);
    const st = rasterizeMesh({ positions: m.positions, indices: m.indices, colors: m.colors! }, cam, BG);
    // projected radius of a unit sphere seen from distance 4: f·tan(asin(1/4))
    const r = cam.fy * Math.tan(Math.asin(1 / 4));
    let cover = 0;
    for (let p = 0; p < st.alpha.length; p++) cover += st.alpha[p];
    expect(Math.abs(cover - Math.PI * r * r) / (Math.PI * r * r)).toBeLessThan(0.01);
    // the centre pixel: shaded vertex colour; a corner: background
    const c = (48 * 96 + 48) * 3;
    const s = st.image[c] / 0.8;
    expect(s).toBeGreaterThan(0.3);
    expect(s).toBeLessThanOrEqual(1);
    expect(st.image[c + 1] / 0.6).toBeCloseTo(s, 5);
    expect(Array.from(st.image.subarray(0, 3))).toEqual([1, 1, 1]);
    // the lit side (upper left, towards the light) is brighter than the lower right
    const px = (x: number, y: number) => st.image[(y * 96 + x) * 3];
    expect(px(38, 38)).toBeGreaterThan(px(58, 58));
  });

  it('draws the nearest surface and both sides of faces', () => {
    const cam = lookAtCamera([0, 0, 3], [0, 0, 0], [0, 1, 0], 32, 32, 50);
    // two parallel quads, the far one red, the near one green (wound clockwise: seen from behind)
    const positions = Float32Array.from([
      -1, -1, -1, 1, -1, -1, 1, 1, -1, -1, 1, -1, -0.5, -0.5, 0, -0.5, 0.5, 0, 0.5, 0.5, 0, 0.5, -0.5, 0,
    ]);
    const indices = Uint32Array.from([0, 1, 2, 0, 2, 3, 4, 5, 6, 4, 6, 7]);
    const colors = Float32Array.from([1, 0, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 1, 0]);
    const st = rasterizeMesh({ positions, indices, colors }, cam, BG);
    const at = (x: number, y: number) => Array.from(st.image.subarray((y * 32 + x) * 3, (y * 32 + x) * 3 + 3));
    expect(at(16, 16)[1]).toBeGreaterThan(0.3);
    expect(at(16, 16)[0]).toBe(0);
    expect(at(3, 16)[0]).toBeGreaterThan(0.3);
    const p = projectPoint(cam, [0.5, 0.5, 0])!;
    expect(p[0]).toBeGreaterThan(16);
  });

  it('colour gradients match finite differences', () => {
    const cam = lookAtCamera([0.3, 0.4, 3], [0, 0, 0], [0, 1, 0], 40, 36, 45);
    const m = colored(torus(0.7, 0.3, 16, 10), 1);
    const { agree, errs } = fdCheck(m, cam, 'colors', 20, 2, 1e-2);
    expect(agree).toBe(20); // linear in the colours: no crossings
    expect(Math.max(...errs)).toBeLessThan(1e-3);
  });

  it('position gradients (interior, shading, silhouettes) match finite differences', () => {
    const cam = lookAtCamera([0.5, 0.8, 2.6], [0, 0, 0], [0, 1, 0], 48, 40, 45);
    const m = colored(torus(0.7, 0.3, 14, 9), 3);
    const { agree, used, errs } = fdCheck(m, cam, 'positions', 40, 4, 2e-4);
    expect(agree).toBeGreaterThan(0.75 * used);
    errs.sort((a, b) => a - b);
    // the median sample is accurate; the worst ones at most a few percent off (float32 positions)
    expect(errs[Math.floor(errs.length / 2)]).toBeLessThan(0.01);
    expect(errs[Math.floor(errs.length * 0.9)]).toBeLessThan(0.05);
  });

  it('silhouette gradients move the outline: growing a sphere raises the coverage as the gradient says', () => {
    const cam = lookAtCamera([0, 0, 4], [0, 0, 0], [0, 1, 0], 40, 40, 40);
    const m = uvSphere(48, 24, 1, [0.5, 0.5, 0.5]);
    const input = { positions: m.positions.slice(), indices: m.indices, colors: new Float32Array(m.positions.length).fill(0) };
    // black sphere on white: L = Σ image = (white area); d L / d(scale) through silhouette edges only
    const st = rasterizeMesh(input, cam, BG);
    const g = rasterizeMeshBackward(input, st, new Float32Array(40 * 40 * 3).fill(1));
    let dScale = 0;
    for (let i = 0; i < m.positions.length; i++) dScale += g.positions[i] * m.positions[i];
    const sum = (s: number) => {
      const p = m.positions.map((v) => v * s);
      const r = rasterizeMesh({ ...input, positions: p }, cam, BG);
      return r.image.reduce((a, b) => a + b, 0);
    };
    const fd = (sum(1.01) - sum(0.99)) / 0.02;
    expect(dScale).toBeLessThan(0);
    expect(Math.abs(dScale - fd) / Math.abs(fd)).toBeLessThan(0.05);
    // analytic: the disc's area π(f·tan(asin(s/4)))² changes at 2π r dr/ds over three channels
    const r = cam.fy * Math.tan(Math.asin(1 / 4));
    const drds = (cam.fy * (1 / 4)) / Math.cos(Math.asin(1 / 4)) ** 3;
    expect(Math.abs(fd + 3 * 2 * Math.PI * r * drds) / Math.abs(fd)).toBeLessThan(0.05);
  });
});
