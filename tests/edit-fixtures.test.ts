import { describe, expect, it } from 'vitest';
import { blocksCameras, boxGaussians, framesFor, redRegionTargets, targetPrior } from './helpers/edit-fixtures';
import { prepareViews } from '../src/edit/loops/edit-views';
import { boxRegion, regionMask } from '../src/edit/regions/regions';
import { GaussianEditable } from '../src/edit/scenes/gaussian-editable';
import { diffImages } from '../src/edit/eval/diff';

// The shared edit-test fixtures do what the tests rely on.
describe('edit test fixtures', () => {
  it('redRegionTargets changes only what the region holds; targetPrior answers each view with its own target', async () => {
    const cams = blocksCameras(16);
    const region = boxRegion([0.1, -0.6, -0.6], [0.9, 0.6, 0.6]);
    const g = boxGaussians(120, 5, 0.08, 2);
    const targets = await redRegionTargets(g, region, cams);
    const scene = new GaussianEditable(g, [1, 1, 1], region);
    const views = await prepareViews(scene, framesFor(cams, targets), region, () => 1);
    for (let i = 0; i < cams.length; i++) {
      // the region's projection (the fixture's business; edit masks are narrower, depth-aware)
      const d = diffImages(targets[i], views[i].source, regionMask(region, cams[i], 1));
      expect(d.inside_psnr!).toBeLessThan(30); // the region is recoloured…
      expect(d.outside_psnr!).toBeGreaterThan(30); // …and little else (Gaussians straddling the mask's edge)
    }
    const prior = targetPrior(views, targets);
    const cond = { instruction: 'red', textScale: 7.5, imageScale: 1.5 };
    expect(await prior.img2img(views[2].source, { ...cond, image: views[2].original }, { t: 0.5, steps: 1, seed: 0 })).toBe(targets[2]);
    expect(await prior.img2img(views[1].source, { ...cond, image: views[1].source }, { t: 0.5, steps: 1, seed: 0 })).toBe(targets[1]);
  });
});
