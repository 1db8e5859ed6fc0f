import { describe, expect, it } from 'vitest';
import { blocksCameras } from './helpers/edit-fixtures';
import { Rng } from '../src/core/rng';
import { cloneGaussians, randomGaussians, setColor } from '../src/nerf/gaussians';
import { EDIT_DEFAULTS, prepareViews, type EditConfig } from '../src/edit/edit-session';
import { runEdit } from '../src/edit/edit-run';
import { GaussianEditable } from '../src/edit/gaussian-editable';
import { scaledLinearAlphasCumprod } from '../src/edit/prior';
import { boxRegion } from '../src/edit/regions';
import { exactDenoiserPrior } from '../src/edit/sds-core';
import { diffImages } from '../src/edit/diff';

const AC = scaledLinearAlphasCumprod();
const cams = blocksCameras(24);

describe('edits on Gaussians', () => {
  it("idu-mode 'all' (Instruct-GS2GS) edits every view each round", async () => {
    const g = randomGaussians(100, { min: [-0.8, -0.5, -0.5], max: [0.8, 0.5, 0.5] }, new Rng(4));
    const scene = new GaussianEditable(g, [1, 1, 1], undefined);
    const imgs = await Promise.all(cams.map((c) => scene.renderSource(c)));
    const views = await prepareViews(scene, cams.map((camera, i) => ({ file: `v${i}`, camera, image: imgs[i] })), undefined, () => 0);
    const prior = exactDenoiserPrior((cond) => cond.image, AC);
    const cfg: EditConfig = { ...EDIT_DEFAULTS, method: 'idu', instruction: 'x', iters: 25, raysPerStep: 64, idu: { ...EDIT_DEFAULTS.idu, mode: 'all', editEvery: 10 } };
    const r = await runEdit({ cfg, scene, prior, views, settings: {} });
    expect(r.state.viewsEdited).toBe(3 * cams.length); // rounds at steps 0, 10, 20
    expect(r.state.targets.every((t) => t !== null)).toBe(true);
  });

  for (const method of ['idu', 'sds'] as const) {
    it(`${method}: only Gaussians inside the region change, and the renders approach the target`, async () => {
      const g = randomGaussians(300, { min: [-0.8, -0.5, -0.5], max: [0.8, 0.5, 0.5] }, new Rng(1));
      for (let i = 0; i < g.count; i++) g.logScales.fill(Math.log(0.09), 3 * i, 3 * i + 3), (g.opacityLogits[i] = 2);
      const region = boxRegion([0.1, -0.6, -0.6], [0.9, 0.6, 0.6]);
      const want = cloneGaussians(g);
      for (let i = 0; i < want.count; i++) if (region.inside(want.means[3 * i], want.means[3 * i + 1], want.means[3 * i + 2])) setColor(want, i, 0.95, 0.1, 0.1);
      const wantScene = new GaussianEditable(want, [1, 1, 1], undefined);
      const targets = await Promise.all(cams.map((c) => wantScene.renderSource(c)));
      const scene = new GaussianEditable(g, [1, 1, 1], region, { lrColor: 0.05 });
      const views = await prepareViews(scene, cams.map((camera, i) => ({ file: `v${i}`, camera, image: targets[i] })), region, () => 1);
      const prior = exactDenoiserPrior((cond) => targets[Math.max(views.findIndex((v) => v.source === cond.image), views.findIndex((v) => v.original === cond.image))], AC);
      const cfg: EditConfig = { ...EDIT_DEFAULTS, method, instruction: 'red', iters: 90, raysPerStep: 576, idu: { ...EDIT_DEFAULTS.idu, editEvery: 3 } };
      const before = cams.map((c, i) => diffImages(views[i].source, targets[i]).psnr);
      await runEdit({ cfg, scene, prior, views, settings: {} });
      for (let i = 0; i < g.count; i++) {
        if (scene.gate![i]) continue;
        for (let k = 0; k < 3; k++) expect(scene.g.means[3 * i + k]).toBe(g.means[3 * i + k]);
        expect(scene.g.sh[48 * i]).toBe(g.sh[48 * i]);
      }
      for (let i = 0; i < cams.length; i++) {
        const after = diffImages(await scene.render(cams[i]), targets[i]).psnr;
        expect(after).toBeGreaterThan(before[i] + 6);
      }
    });
  }
});
