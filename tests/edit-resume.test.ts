import { describe, expect, it } from 'vitest';
import { blocksCameras, blocksGrid, editConfig, framesFor, redRightBlocks, targetPrior } from './helpers/edit-fixtures';
import { decodeCheckpoint, encodeCheckpoint, type Checkpoint } from '../src/edit/loops/checkpoint';
import { prepareViews } from '../src/edit/loops/edit-views';
import { runEdit } from '../src/edit/loops/edit-run';
import { boxRegion } from '../src/edit/regions/regions';
import { VoxelEditable } from '../src/edit/scenes/voxel-editable';
import { UserError } from '../src/core/errors';

const cams = blocksCameras(20);
const region = boxRegion([0.05, -0.5, -0.5], [0.9, 0.5, 0.5]);

async function setup() {
  const target = new VoxelEditable(redRightBlocks(), [1, 1, 1], undefined);
  const targets = [];
  for (const c of cams) targets.push((await target.renderSource(c)).image);
  const scene = new VoxelEditable(blocksGrid(), [1, 1, 1], region, { pearsonWeight: 200 });
  const views = await prepareViews(scene, framesFor(cams, targets), region, () => 1);
  // img2img and the noise prediction are exact for the view's target: keyed by the condition image
  return { scene, views, prior: targetPrior(views, targets) };
}

for (const method of ['idu', 'sds'] as const) {
  describe(`${method}: resume`, () => {
    const cfg = editConfig(method, {
      seed: 7,
      iters: 40,
      raysPerStep: 256,
      checkpointEvery: 10,
      idu: { ...editConfig(method).idu, editEvery: 4 },
      sds: { ...editConfig(method).sds, levels: 1, levelUntil: 0.4 },
    });

    it('stopping at a checkpoint and resuming gives bit-identical results to an uninterrupted run', async () => {
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

    it('pausing and continuing the live state (no checkpoint) gives the same result', async () => {
      const a = await setup();
      await runEdit({ cfg, ...a });
      const b = await setup();
      let steps = 0;
      const part = await runEdit({ cfg, ...b, shouldStop: () => steps++ === 13 });
      expect(part.state.step).toBe(13);
      const rest = await runEdit({ cfg, ...b, state: part.state });
      expect(rest.complete).toBe(true);
      expect(rest.state).toBe(part.state); // the live state object, continued
      expect(Buffer.from(b.scene.grid.color.buffer).equals(Buffer.from(a.scene.grid.color.buffer))).toBe(true);
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

  it('a checkpoint of another scene is refused by loadState, naming what does not fit, and the scene is unchanged', async () => {
    const { scene } = await setup();
    const other = new VoxelEditable(blocksGrid(13), [1, 1, 1], region);
    expect(() => scene.loadState(other.saveState())).toThrow(/grid is \[13,13,13\] at level 0, this scene's \[17,17,17\]/);
    const blob = scene.saveState();
    const before = scene.grid.color.slice();
    expect(() => scene.loadState({ ...blob, arrays: { ...blob.arrays, color: new Float32Array(10) } })).toThrow(
      /checkpoint's color holds 10 values, expected 14739/,
    );
    const moved = { ...blob, arrays: { ...blob.arrays, color: before.map((c) => c + 1), 'adam.color.m': new Float32Array(3) } };
    expect(() => scene.loadState(moved)).toThrow(/adam\.color\.m holds 3 values/);
    expect(() => scene.loadState({ ...blob, meta: { ...blob.meta, level: -1 } })).toThrow(/invalid resolution level/);
    expect(Buffer.from(scene.grid.color.buffer).equals(Buffer.from(before.buffer))).toBe(true);
  });
});
