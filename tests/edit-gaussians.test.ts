import { describe, expect, it } from 'vitest';
import { ALPHAS, blocksCameras, boxGaussians, editConfig, framesFor, redRegionTargets, targetPrior } from './helpers/edit-fixtures';
import { prepareViews } from '../src/edit/loops/edit-views';
import { runEdit } from '../src/edit/loops/edit-run';
import { GaussianEditable } from '../src/edit/scenes/gaussian-editable';
import { boxRegion } from '../src/edit/regions/regions';
import { exactDenoiserPrior } from './helpers/priors';
import { diffImages } from '../src/edit/eval/diff';
import { decodeCheckpoint, encodeCheckpoint, type Checkpoint } from '../src/edit/loops/checkpoint';

const cams = blocksCameras(24);

describe('edits on Gaussians', () => {
  it("idu-mode 'all' (Instruct-GS2GS) edits every view each round", async () => {
    const g = boxGaussians(100, 4);
    const scene = new GaussianEditable(g, [1, 1, 1], undefined);
    const imgs = [];
    for (const c of cams) imgs.push((await scene.renderSource(c)).image);
    const views = await prepareViews(scene, framesFor(cams, imgs), undefined, () => 0);
    const prior = exactDenoiserPrior((cond) => cond.image, ALPHAS);
    const cfg = editConfig('idu', { iters: 25, raysPerStep: 64, idu: { ...editConfig('idu').idu, mode: 'all', editEvery: 10 } });
    const r = await runEdit({ cfg, scene, prior, views, settings: {} });
    expect(r.state.viewsEdited).toBe(3 * cams.length); // rounds at steps 0, 10, 20
    expect(r.state.targets.every((t) => t !== null)).toBe(true);
  });

  for (const method of ['idu', 'sds'] as const) {
    it(`${method}: only Gaussians inside the region change, and the renders approach the target`, async () => {
      const g = boxGaussians(300, 1, 0.09, 2);
      const region = boxRegion([0.1, -0.6, -0.6], [0.9, 0.6, 0.6]);
      const targets = await redRegionTargets(g, region, cams);
      const scene = new GaussianEditable(g, [1, 1, 1], region, { lrColor: 0.05 });
      const views = await prepareViews(scene, framesFor(cams, targets), region, () => 1);
      const prior = targetPrior(views, targets);
      const cfg = editConfig(method, { iters: 90, raysPerStep: 576, idu: { ...editConfig(method).idu, editEvery: 3 } });
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
      const g = boxGaussians(200, 3, 0.15, 1);
      const targets = await redRegionTargets(g, region, cams);
      // a few nearly transparent Gaussians inside and outside the region: pruned inside only
      for (const i of [0, 1, 2, 3, 4, 5, 6, 7]) g.opacityLogits[i] = -8;
      const scene = new GaussianEditable(g, [1, 1, 1], region, { lrColor: 0.05, densifyEvery: 10, densifyUntil: 30, extent: 3.5, seed: 5 });
      const views = await prepareViews(scene, framesFor(cams, targets), region, () => 1);
      return { g, scene, views, prior: targetPrior(views, targets) };
    }
    const cfg = editConfig('idu', {
      iters: 40,
      raysPerStep: 256,
      preserveWeight: 10,
      checkpointEvery: 15,
      idu: { ...editConfig('idu').idu, editEvery: 4 },
    });

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
