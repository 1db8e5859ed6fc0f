import { describe, expect, it } from 'vitest';
import { blocksCameras, blocksGrid } from './helpers/edit-fixtures';
import { decodeCheckpoint, encodeCheckpoint, type Checkpoint } from '../src/edit/loops/checkpoint';
import { EDIT_DEFAULTS, prepareViews, type EditConfig } from '../src/edit/loops/edit-session';
import { runEdit } from '../src/edit/loops/edit-run';
import { scaledLinearAlphasCumprod } from '../src/edit/diffusion/prior';
import { boxRegion } from '../src/edit/regions/regions';
import { exactDenoiserPrior } from '../src/edit/loops/sds-core';
import { VoxelEditable } from '../src/edit/scenes/voxel-editable';
import { UserError } from '../src/core/errors';

const AC = scaledLinearAlphasCumprod();
const cams = blocksCameras(20);
const region = boxRegion([0.05, -0.5, -0.5], [0.9, 0.5, 0.5]);

async function setup() {
  const target = new VoxelEditable(blocksGrid(17, [2.5, -2, -2]), [1, 1, 1], undefined);
  const targets = await Promise.all(cams.map((c) => target.renderSource(c)));
  const scene = new VoxelEditable(blocksGrid(), [1, 1, 1], region, { pearsonWeight: 200 });
  const views = await prepareViews(
    scene,
    cams.map((camera, i) => ({ file: `v${i}.png`, camera, image: targets[i] })),
    region,
    () => 1,
  );
  // img2img and the noise prediction are exact for the view's target: keyed by the condition image
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
  return { scene, views, prior };
}

for (const method of ['idu', 'sds'] as const) {
  describe(`${method}: resume`, () => {
    it('stopping at a checkpoint and resuming gives bit-identical results to an uninterrupted run', async () => {
      const cfg: EditConfig = {
        ...EDIT_DEFAULTS,
        method,
        instruction: 'red',
        seed: 7,
        iters: 40,
        raysPerStep: 256,
        checkpointEvery: 10,
        idu: { ...EDIT_DEFAULTS.idu, editEvery: 4 },
        sds: { ...EDIT_DEFAULTS.sds, levels: 1, levelUntil: 0.4 },
      };
      const a = await setup();
      const full = await runEdit({ cfg, ...a, settings: { method } });
      expect(full.complete).toBe(true);

      const b = await setup();
      let saved: Uint8Array | null = null;
      const part = await runEdit({
        cfg,
        ...b,
        settings: { method },
        saveCheckpoint: async (c: Checkpoint) => {
          saved = encodeCheckpoint(c);
        },
        shouldStop: () => saved !== null && decodeCheckpoint(saved, 'x').loop.step === 10, // "killed" right after the checkpoint at step 10
      });
      expect(part.complete).toBe(false);
      expect(part.state.step).toBe(10);
      // a fresh process: new scene, views and prior; state from the checkpoint bytes only
      const c = await setup();
      const ck = decodeCheckpoint(saved!, 'edit.ckpt');
      expect(ck.loop.step).toBe(10);
      const resumed = await runEdit({ cfg, ...c, settings: { method }, resume: ck });
      expect(resumed.complete).toBe(true);
      expect(resumed.state.step).toBe(40);
      expect(resumed.state.viewsEdited).toBe(full.state.viewsEdited);
      expect(Buffer.from(c.scene.grid.density.buffer).equals(Buffer.from(a.scene.grid.density.buffer))).toBe(true);
      expect(Buffer.from(c.scene.grid.color.buffer).equals(Buffer.from(a.scene.grid.color.buffer))).toBe(true);
      // and the edit did something
      let changed = 0;
      for (let i = 0; i < a.scene.grid.color.length; i++) if (a.scene.grid.color[i] !== a.scene.orig.color[i]) changed++;
      expect(changed).toBeGreaterThan(100);
    });
  });
}

describe('checkpoint files', () => {
  it('rejects garbage and truncation with one line naming the file', () => {
    expect(() => decodeCheckpoint(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9]), 'out/edit.ckpt')).toThrow(
      /out\/edit\.ckpt: not an edit checkpoint/,
    );
    const bytes = encodeCheckpoint({
      settings: {},
      loop: { step: 1, rng: 2, cursor: 0, viewsEdited: 0, targets: [null], editorMs: 0, refitMs: 0, renderMs: 0, lastLoss: 0 },
      scene: { meta: {}, arrays: { a: new Float32Array(100) } },
    });
    expect(decodeCheckpoint(bytes, 'c').scene.arrays.a.length).toBe(100);
    expect(() => decodeCheckpoint(bytes.slice(0, bytes.length - 40), 'c')).toThrow(UserError);
  });
});
