import { describe, expect, it } from 'vitest';
import { blocksGrid } from './helpers/edit-fixtures';
import { decodeCheckpoint, encodeCheckpoint, type Checkpoint } from '../src/edit/loops/checkpoint';
import { checkCheckpointSettings, checkResumeState } from '../src/edit/loops/checkpoint-check';
import { VoxelEditable } from '../src/edit/scenes/voxel-editable';
import { createImage } from '../src/core/image';
import { UserError } from '../src/core/errors';

/**
 * Corrupted edit checkpoints (issue 17 found 23 of 74 giving internal errors): each must be one line saying
 * the checkpoint is damaged and that --out starts over — never an exception from deep inside the loop, and
 * never a resumed run on NaN parameters.
 */
const scene = () => new VoxelEditable(blocksGrid(5), [1, 1, 1], undefined);

function good(): Checkpoint {
  const s = scene();
  return {
    settings: { spec: { config: { iters: 20 } }, views: ['a.png', 'b.png'] },
    loop: {
      step: 10,
      rng: -1640531527,
      cursor: 1,
      viewsEdited: 1,
      targets: [createImage(4, 3, 3, 0.5), null],
      editorMs: 1,
      refitMs: 2,
      renderMs: 3,
      lastLoss: 0.1,
    },
    scene: s.saveState(),
  };
}

/** Re-encodes with the header edited as JSON (arrays kept where they are). */
function withHeader(edit: (h: any) => void): Uint8Array {
  const b = encodeCheckpoint(good());
  const hl = new DataView(b.buffer).getUint32(4, true);
  const h = JSON.parse(new TextDecoder().decode(b.subarray(8, 8 + hl)));
  const start = Math.ceil((8 + hl) / 8) * 8;
  edit(h);
  const hb = new TextEncoder().encode(JSON.stringify(h));
  const s2 = Math.ceil((8 + hb.length) / 8) * 8;
  const out = new Uint8Array(s2 + b.length - start);
  out.set(b.subarray(0, 4));
  new DataView(out.buffer).setUint32(4, hb.length, true);
  out.set(hb, 8);
  out.set(b.subarray(start), s2);
  return out;
}

function damaged(f: () => unknown, re: RegExp = /./) {
  let e: unknown;
  try {
    f();
  } catch (x) {
    e = x;
  }
  expect(e).toBeInstanceOf(UserError);
  expect((e as Error).message).toMatch(/edit\.ckpt: the checkpoint is damaged \(.*\); start the edit over with --out NEW_FOLDER/);
  expect((e as Error).message).toMatch(re);
}

describe('damaged checkpoints', () => {
  it('decodes a good one', () => {
    const c = checkCheckpointSettings(decodeCheckpoint(encodeCheckpoint(good()), 'edit.ckpt'), 'edit.ckpt');
    expect(c.loop.step).toBe(10);
    expect(c.loop.targets[0]!.data.length).toBe(36);
  });
  const cases: [string, (h: any) => void, RegExp][] = [
    ['arrays null', (h) => (h.arrays = null), /array table missing/],
    ['offset −8', (h) => (h.arrays[0].offset = -8), /bad offset/],
    ['offset not aligned', (h) => (h.arrays[0].offset = 4), /bad offset/],
    ['length past the end', (h) => (h.arrays[0].length = 1e9), /bad length|runs past the end/],
    ['unknown type', (h) => (h.arrays[0].type = 'f64'), /unknown type/],
    ['array listed twice', (h) => h.arrays.push(h.arrays[0]), /listed twice/],
    ['loop missing', (h) => delete h.loop, /loop state missing/],
    ['settings missing', (h) => delete h.settings, /settings missing/],
    ['loop.step −5', (h) => (h.loop.step = -5), /loop\.step -5 is not an integer/],
    ['loop.step "x"', (h) => (h.loop.step = 'x'), /loop\.step "x"/],
    ['loop.step past the end', (h) => (h.loop.step = 21), /loop\.step 21 is not an integer in \[0, 20\]/],
    ['one view fewer', (h) => h.loop.targets.pop(), /1 training images for 2 views/],
    ['target of the wrong size', (h) => (h.loop.targets[0].width = 5), /training image 0 is missing or the wrong size/],
    ['rng not an integer', (h) => (h.loop.rng = 0.5), /loop\.rng/],
    ['scene state missing', (h) => delete h.sceneMeta, /scene state missing/],
    ['version 2', (h) => (h.version = 2), /version 2/],
  ];
  for (const [name, edit, re] of cases) it(name, () => damaged(() => decodeCheckpoint(withHeader(edit), 'edit.ckpt'), re));
  it('NaN parameters, a missing spec, a truncated file', () => {
    const c = good();
    (c.scene.arrays.density as Float32Array)[7] = NaN;
    damaged(() => decodeCheckpoint(encodeCheckpoint(c), 'edit.ckpt'), /density holds a non-finite value \(NaN\) at 7/);
    damaged(
      () =>
        checkCheckpointSettings(
          decodeCheckpoint(
            withHeader((h) => delete h.settings.spec),
            'edit.ckpt',
          ),
          'edit.ckpt',
        ),
      /settings\.spec\.config missing/,
    );
    const b = encodeCheckpoint(good());
    damaged(() => decodeCheckpoint(b.slice(0, b.length - 100), 'edit.ckpt'), /runs past the end/);
    damaged(() => decodeCheckpoint(b.slice(0, 20), 'edit.ckpt'), /truncated/);
  });
  it('against the scene being resumed: array names, types, lengths, level and training-image sizes', () => {
    const views = [
      { width: 4, height: 3 },
      { width: 4, height: 3 },
    ];
    const ok = decodeCheckpoint(encodeCheckpoint(good()), 'edit.ckpt');
    checkResumeState(scene(), ok, views, 'edit.ckpt');
    const short = decodeCheckpoint(encodeCheckpoint(good()), 'edit.ckpt');
    short.scene.arrays.density = (short.scene.arrays.density as Float32Array).slice(0, 10);
    damaged(() => checkResumeState(scene(), short, views, 'edit.ckpt'), /density holds 10 values, (the scene takes|expected) 125/);
    const missing = decodeCheckpoint(encodeCheckpoint(good()), 'edit.ckpt');
    delete missing.scene.arrays['adam.color.m'];
    damaged(() => checkResumeState(scene(), missing, views, 'edit.ckpt'), /the scene arrays are/);
    const level = decodeCheckpoint(encodeCheckpoint(good()), 'edit.ckpt');
    level.scene.meta.level = 1e9;
    damaged(() => checkResumeState(scene(), level, views, 'edit.ckpt'), /scene level 1000000000 is out of range/);
    damaged(
      () => checkResumeState(scene(), ok, [views[0], { width: 8, height: 6 }, views[0]], 'edit.ckpt'),
      /2 training images for 3 views/,
    );
    damaged(
      () => checkResumeState(scene(), ok, [{ width: 8, height: 6 }, views[1]], 'edit.ckpt'),
      /training image 0 is 4×3, its view is 8×6/,
    );
  });
});
