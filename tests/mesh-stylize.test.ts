import { describe, expect, it } from 'vitest';
import { loadPrior } from '../src/cli/cmd-edit';
import { stylizeMesh } from '../src/edit/loops/mesh-stylize';
import { TargetColorLoss } from './helpers/target-color-loss';
import { boxRegion } from '../src/edit/regions/regions';
import { orbitCameras } from '../src/io/export/multiview-export';
import { boundingSphere, type Mesh } from '../src/nerf/mesh/mesh';
import { rasterizeMesh } from '../src/nerf/mesh/mesh-raster-cpu';
import { meshColors } from '../src/nerf/mesh/mesh-scene';
import { meshOrbitHint } from '../src/nerf/mesh/mesh-views';
import { torus, uvSphere, vase } from '../src/nerf/mesh/mesh-shapes';

/** Silhouette IoU (coverage ≥ ½) and the surface's mean (r+g)/2 − b, before and after, over an orbit of cameras. */
function compare(before: Mesh, after: Mesh) {
  const { center, radius } = boundingSphere(before);
  const cams = orbitCameras(meshOrbitHint(center, radius), 6, 64, 64);
  let inter = 0,
    union = 0;
  const gold = [0, 0],
    count = [0, 0];
  for (const cam of cams) {
    const r = [before, after].map((m) =>
      rasterizeMesh({ positions: m.positions, indices: m.indices, colors: meshColors(m) }, cam, [1, 1, 1]),
    );
    for (let p = 0; p < 64 * 64; p++) {
      const a = r[0].alpha[p] >= 0.5,
        b = r[1].alpha[p] >= 0.5;
      if (a && b) inter++;
      if (a || b) union++;
      r.forEach((x, k) => {
        if (x.faceId[p] < 0) return;
        gold[k] += (x.image[3 * p] + x.image[3 * p + 1]) / 2 - x.image[3 * p + 2];
        count[k]++;
      });
    }
  }
  return { iou: inter / union, before: gold[0] / count[0], after: gold[1] / count[1] };
}

describe('mesh stylisation (built-in model)', () => {
  it('"make it gold" turns the sphere, the torus and the vase gold without changing their shape much (IDU)', async () => {
    const { prior } = await loadPrior('builtin');
    for (const [name, mesh] of [
      ['sphere', uvSphere(24, 12)],
      ['torus', torus(0.7, 0.3, 24, 12)],
      ['vase', vase(12, 10)],
    ] as const) {
      const r = await stylizeMesh({
        mesh,
        options: { instruction: 'make it gold', method: 'idu', iters: 60 },
        guide: { prior },
        views: 4,
        size: 64,
      });
      const c = compare(mesh, r.edited!.mesh);
      console.log(
        `${name}: IoU ${c.iou.toFixed(3)}, (r+g)/2 − b ${c.before.toFixed(3)} → ${c.after.toFixed(3)} (${((r.state.editorMs + r.state.refitMs + r.state.renderMs) / 1000).toFixed(1)} s)`,
      );
      expect(c.iou).toBeGreaterThanOrEqual(0.9);
      expect(c.after - c.before).toBeGreaterThanOrEqual(0.1);
      expect(r.edited!.mesh.indices).toBe(mesh.indices);
      expect(r.edited!.mesh.positions.length).toBe(mesh.positions.length);
    }
  }, 300_000);

  it('SDS also turns the vase gold', async () => {
    const { prior } = await loadPrior('builtin');
    const mesh = vase(12, 10);
    const r = await stylizeMesh({
      mesh,
      options: { instruction: 'make it gold', method: 'sds', iters: 80 },
      guide: { prior },
      views: 6,
      size: 64,
    });
    const c = compare(mesh, r.edited!.mesh);
    console.log(`vase (sds): IoU ${c.iou.toFixed(3)}, (r+g)/2 − b ${c.before.toFixed(3)} → ${c.after.toFixed(3)}`);
    expect(c.iou).toBeGreaterThanOrEqual(0.9);
    expect(c.after - c.before).toBeGreaterThanOrEqual(0.1);
  }, 300_000);

  it('a region keeps every vertex outside it bit-identical', async () => {
    const { prior } = await loadPrior('builtin');
    const mesh = vase(12, 10);
    const region = boxRegion([-1, 0, -1], [1, 1.1, 1]); // the upper half
    const r = await stylizeMesh({
      mesh,
      options: { instruction: 'make it gold', method: 'idu', iters: 40 },
      guide: { prior },
      region,
      views: 4,
      size: 64,
    });
    let inside = 0,
      changed = 0;
    for (let i = 0; i < mesh.positions.length / 3; i++) {
      const [x, y, z] = [mesh.positions[3 * i], mesh.positions[3 * i + 1], mesh.positions[3 * i + 2]];
      if (region.inside(x, y, z)) {
        inside++;
        if (r.edited!.mesh.colors![3 * i + 2] < 0.45) changed++;
        continue;
      }
      for (let a = 0; a < 3; a++) {
        expect(Object.is(r.edited!.mesh.positions[3 * i + a], mesh.positions[3 * i + a])).toBe(true);
        expect(r.edited!.mesh.colors![3 * i + a]).toBe(0.5);
      }
    }
    expect(inside).toBeGreaterThan(10);
    expect(changed).toBeGreaterThan(inside / 2); // the inside did turn (less blue)
  }, 300_000);

  it('an image loss (analytic stand-in for CLIP) steers the field through the same renderer', async () => {
    const mesh = torus(0.7, 0.3, 16, 8);
    const r = await stylizeMesh({
      mesh,
      options: { instruction: 'a blue torus', method: 'image-loss', iters: 40, viewsPerStep: 3 },
      guide: { imageLoss: { loss: new TargetColorLoss([0.1, 0.3, 0.9], 48) } },
    });
    const c = r.edited!.mesh.colors!;
    let b = 0;
    for (let i = 0; i < c.length / 3; i++) b += c[3 * i + 2] - c[3 * i];
    expect(b / (c.length / 3)).toBeGreaterThan(0.2); // bluer than red by a margin (started grey)
  }, 300_000);
});
