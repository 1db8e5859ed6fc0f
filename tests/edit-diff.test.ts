import { describe, expect, it } from 'vitest';
import type { Camera } from '../src/core/camera';
import { createImage } from '../src/core/image';
import { aggregateDiffs, diffImages, diffScenes, redness } from '../src/edit/eval/diff';
import { boxRegion } from '../src/edit/regions/regions';
import { DEMO_OBJECTS, demoCameras, renderDemoScene } from '../src/io/datasets/demo-scene';
import type { Scene } from '../src/nerf/common/scene';

/** The analytic demo scene as a `Scene` (optionally with recoloured objects). */
function demoScene(recolor: Record<string, [number, number, number]> = {}): Scene {
  const objects = DEMO_OBJECTS.map((o) => (recolor[o.name] ? { ...o, color: recolor[o.name] } : o));
  return {
    kind: 'voxel',
    background: [1, 1, 1],
    async render(cam: Camera) {
      const image = renderDemoScene(cam, objects);
      return { image, alpha: new Float32Array(cam.width * cam.height), depth: new Float32Array(cam.width * cam.height) };
    },
  };
}

describe('diff', () => {
  it('per-view figures on known images', () => {
    const a = createImage(4, 4, 3, 0.5),
      b = createImage(4, 4, 3, 0.5);
    const m = createImage(4, 4, 1);
    for (let i = 0; i < 4; i++) {
      m.data[i] = 1;
      b.data[i * 3] = 0.6;
    } // top row differs in red by 0.1, and is "inside"
    const d = diffImages(a, b, m);
    expect(d.outside_psnr).toBe(100); // identical outside (MSE floored at 1e-10)
    expect(d.inside_psnr!).toBeCloseTo(10 * Math.log10(1 / (0.01 / 3)), 4);
    expect(d.psnr).toBeCloseTo(10 * Math.log10(1 / ((4 * 0.01) / 48)), 4);
    const agg = aggregateDiffs([{ file: 'x', d, pixels: 16 }], true);
    expect(agg.inside_mean_rgb_a![0]).toBeCloseTo(0.5, 6);
    expect(agg.inside_mean_rgb_b![0]).toBeCloseTo(0.6, 6);
    expect(redness(agg.inside_mean_rgb_b!) - redness(agg.inside_mean_rgb_a!)).toBeCloseTo(0.1, 6);
  });

  it('recolouring one demo object: unchanged outside its box, redder inside', async () => {
    const vase = DEMO_OBJECTS.find((o) => o.name === 'vase')!;
    const region = boxRegion(vase.min, vase.max);
    const cams = demoCameras(4, 32, 0);
    const views = cams.map((camera, i) => ({ file: `v${i}`, camera }));
    const res = await diffScenes(demoScene(), demoScene({ vase: [0.9, 0.15, 0.1] }), views, region, 1);
    expect(res.outside_psnr).toBe(100);
    expect(res.inside_psnr!).toBeLessThan(25);
    expect(redness(res.inside_mean_rgb_b!) - redness(res.inside_mean_rgb_a!)).toBeGreaterThan(0.2);
    expect(res.views).toHaveLength(4);
    for (const v of res.views) expect(v.inside_fraction).toBeGreaterThan(0.01);
    // the same scene against itself
    const same = await diffScenes(demoScene(), demoScene(), views, region, 1);
    expect(same.psnr).toBe(100);
    expect(same.inside_psnr).toBe(100);
    // without a region, only the whole-image PSNR
    const whole = await diffScenes(demoScene(), demoScene({ vase: [0.9, 0.15, 0.1] }), views, undefined, 1);
    expect(whole.inside_psnr).toBeNull();
    expect(whole.outside_psnr).toBeCloseTo(whole.psnr, 6);
  });
});
