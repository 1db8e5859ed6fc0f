import { describe, expect, it } from 'vitest';
import { blocksCameras } from './helpers/edit-fixtures';
import { Rng } from '../src/core/rng';
import { cloneGaussians, randomGaussians, setColor } from '../src/nerf/gaussian/gaussians';
import { EDIT_DEFAULTS, prepareViews, type EditConfig } from '../src/edit/loops/edit-session';
import { runEdit } from '../src/edit/loops/edit-run';
import { GaussianEditable } from '../src/edit/scenes/gaussian-editable';
import { scaledLinearAlphasCumprod } from '../src/edit/diffusion/prior';
import { boxRegion } from '../src/edit/regions/regions';
import { exactDenoiserPrior } from '../src/edit/loops/sds-core';
import { diffImages } from '../src/edit/eval/diff';
import { decodeCheckpoint, encodeCheckpoint, type Checkpoint } from '../src/edit/loops/checkpoint';

const AC = scaledLinearAlphasCumprod();
const cams = blocksCameras(24);

describe('edits on Gaussians', () => {
  it("idu-mode 'all' (Instruct-GS2GS) edits every view each round", async () => {
    const g = randomGaussians(100, { min: [-0.8, -0.5, -0.5], max: [0.8, 0.5, 0.5] }, new Rng(4));
    const scene = new GaussianEditable(g, [1, 1, 1], undefined);
    const imgs = await Promise.all(cams.map((c) => scene.renderSource(c)));
    const views = await prepareViews(
      scene,
      cams.map((camera, i) => ({ file: `v${i}`, camera, image: imgs[i] })),
      undefined,
      () => 0,
    );
    const prior = exactDenoiserPrior((cond) => cond.image, AC);
    const cfg: EditConfig = {
      ...EDIT_DEFAULTS,
      method: 'idu',
      instruction: 'x',
      iters: 25,
      raysPerStep: 64,
      idu: { ...EDIT_DEFAULTS.idu, mode: 'all', editEvery: 10 },
    };
    const r = await runEdit({ cfg, scene, prior, views, settings: {} });
    expect(r.state.viewsEdited).toBe(3 * cams.length); // rounds at steps 0, 10, 20
    expect(r.state.targets.every((t) => t !== null)).toBe(true);
  });

  for (const method of ['idu', 'sds'] as const) {
    it(`${method}: only Gaussians inside the region change, and the renders approach the target`, async () => {
      const g = randomGaussians(300, { min: [-0.8, -0.5, -0.5], max: [0.8, 0.5, 0.5] }, new Rng(1));
      for (let i = 0; i < g.count; i++) {
        g.logScales.fill(Math.log(0.09), 3 * i, 3 * i + 3);
        g.opacityLogits[i] = 2;
      }
      const region = boxRegion([0.1, -0.6, -0.6], [0.9, 0.6, 0.6]);
      const want = cloneGaussians(g);
      for (let i = 0; i < want.count; i++)
        if (region.inside(want.means[3 * i], want.means[3 * i + 1], want.means[3 * i + 2])) setColor(want, i, 0.95, 0.1, 0.1);
      const wantScene = new GaussianEditable(want, [1, 1, 1], undefined);
      const targets = await Promise.all(cams.map((c) => wantScene.renderSource(c)));
      const scene = new GaussianEditable(g, [1, 1, 1], region, { lrColor: 0.05 });
      const views = await prepareViews(
        scene,
        cams.map((camera, i) => ({ file: `v${i}`, camera, image: targets[i] })),
        region,
        () => 1,
      );
      const prior = exactDenoiserPrior(
        (cond) =>
          targets[
            Math.max(
              views.findIndex((v) => v.source === cond.image),
              views.findIndex((v) => v.original === cond.image),
            )
          ],
        AC,
      );
      const cfg: EditConfig = {
        ...EDIT_DEFAULTS,
        method,
        instruction: 'red',
        iters: 90,
        raysPerStep: 576,
        idu: { ...EDIT_DEFAULTS.idu, editEvery: 3 },
      };
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

  describe('densification during an edit', () => {
    const region = boxRegion([0.1, -0.6, -0.6], [0.9, 0.6, 0.6]);
    async function setup() {
      const g = randomGaussians(200, { min: [-0.8, -0.5, -0.5], max: [0.8, 0.5, 0.5] }, new Rng(3));
      for (let i = 0; i < g.count; i++) {
        g.logScales.fill(Math.log(0.15), 3 * i, 3 * i + 3);
        g.opacityLogits[i] = 1;
      }
      const want = cloneGaussians(g);
      for (let i = 0; i < want.count; i++)
        if (region.inside(want.means[3 * i], want.means[3 * i + 1], want.means[3 * i + 2])) setColor(want, i, 0.95, 0.1, 0.1);
      const wantScene = new GaussianEditable(want, [1, 1, 1], undefined);
      const targets = await Promise.all(cams.map((c) => wantScene.renderSource(c)));
      // a few nearly transparent Gaussians inside and outside the region: pruned inside only
      for (const i of [0, 1, 2, 3, 4, 5, 6, 7]) g.opacityLogits[i] = -8;
      const scene = new GaussianEditable(g, [1, 1, 1], region, { lrColor: 0.05, densifyEvery: 10, densifyUntil: 30, extent: 3.5, seed: 5 });
      const views = await prepareViews(
        scene,
        cams.map((camera, i) => ({ file: `v${i}`, camera, image: targets[i] })),
        region,
        () => 1,
      );
      const prior = exactDenoiserPrior((cond) => targets[views.findIndex((v) => v.original === cond.image)], AC);
      return { g, scene, views, prior };
    }
    const cfg: EditConfig = {
      ...EDIT_DEFAULTS,
      method: 'idu',
      instruction: 'red',
      iters: 40,
      raysPerStep: 256,
      preserveWeight: 10,
      checkpointEvery: 15,
      idu: { ...EDIT_DEFAULTS.idu, editEvery: 4 },
    };

    it("only the region's Gaussians are cloned, split or pruned; the others stay, bit-exact and in order", async () => {
      const { g, scene, views, prior } = await setup();
      const outside = [...Array(g.count).keys()].filter((i) => !scene.gate![i]);
      const pruneable = [0, 1, 2, 3, 4, 5, 6, 7].filter((i) => scene.gate![i]);
      expect(pruneable.length).toBeGreaterThan(0);
      expect(pruneable.length).toBeLessThan(8);
      await runEdit({ cfg, scene, prior, views, settings: {} });
      expect(scene.densifyLog.map((r) => r.step)).toEqual([10, 20, 30]);
      const grown = scene.densifyLog.reduce((a, r) => a + r.cloned + r.split, 0);
      expect(grown).toBeGreaterThan(0);
      expect(scene.densifyLog[0].pruned).toBe(pruneable.length);
      expect(scene.count).toBe(g.count + grown - scene.densifyLog.reduce((a, r) => a + r.pruned, 0));
      expect(scene.gate!.length).toBe(scene.count);
      // the outside Gaussians come first among the kept rows, in their original order, untouched
      const kept: number[] = [];
      for (let r = 0; r < scene.count; r++) if (!scene.gate![r]) kept.push(r);
      expect(kept.length).toBe(outside.length);
      kept.forEach((r, k) => {
        const i = outside[k];
        for (let a = 0; a < 3; a++) expect(scene.g.means[3 * r + a]).toBe(g.means[3 * i + a]);
        expect(scene.g.opacityLogits[r]).toBe(g.opacityLogits[i]);
        expect(scene.g.sh[48 * r]).toBe(g.sh[48 * i]);
      });
      // every new Gaussian may change (it comes from a region Gaussian)
      for (let r = scene.count - grown; r < scene.count; r++) expect(scene.gate![r]).toBe(1);
    });

    it('resuming from a checkpoint between densification rounds is bit-identical', async () => {
      const a = await setup();
      await runEdit({ cfg, scene: a.scene, prior: a.prior, views: a.views, settings: {} });
      const b = await setup();
      let saved: Uint8Array | null = null;
      const part = await runEdit({
        cfg,
        scene: b.scene,
        prior: b.prior,
        views: b.views,
        settings: {},
        saveCheckpoint: async (c: Checkpoint) => {
          saved = encodeCheckpoint(c);
        },
        shouldStop: () => saved !== null,
      });
      expect(part.state.step).toBe(15);
      expect(b.scene.count).not.toBe(200); // a round (step 10) happened before the checkpoint
      const c = await setup();
      const resumed = await runEdit({
        cfg,
        scene: c.scene,
        prior: c.prior,
        views: c.views,
        settings: {},
        resume: decodeCheckpoint(saved!, 'edit.ckpt'),
      });
      expect(resumed.complete).toBe(true);
      expect(c.scene.count).toBe(a.scene.count);
      expect(c.scene.densifyLog).toEqual(a.scene.densifyLog);
      for (const k of ['means', 'logScales', 'rotations', 'opacityLogits', 'sh'] as const)
        expect(Buffer.from(c.scene.g[k].buffer).equals(Buffer.from(a.scene.g[k].buffer)), k).toBe(true);
    });
  });
});
