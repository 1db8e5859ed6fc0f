import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UserError } from '../src/core/errors';
import { createImage } from '../src/core/image';
import { lookAtCamera } from '../src/core/camera';
import { prepareOutput, removeLeftovers } from '../src/io/node/output-guard';
import { nodeFiles, writeFileAtomic } from '../src/io/node/node-files';
import { exportMultiview } from '../src/io/export/multiview-export';
import type { Scene } from '../src/nerf/common/scene';

/**
 * Outputs (issue 17): checked before any work (not an input, not inside an input folder — real paths, so
 * symlinks do not fool it — and writable), leftovers of a killed run removed, multi-file exports staged so
 * they appear together or not at all.
 */
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'is-outputs-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function refused(p: Promise<unknown>, re: RegExp) {
  const e = await p.then(
    () => null,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(UserError);
  expect((e as Error).message).toMatch(re);
}

describe('prepareOutput', () => {
  it('refuses an output that is an input, reaches one through a symlinked folder, or lies inside an input folder', async () => {
    mkdirSync(join(dir, 'real'));
    writeFileSync(join(dir, 'real/in.ply'), 'ply');
    symlinkSync(join(dir, 'real'), join(dir, 'link'));
    await refused(
      prepareOutput({ out: join(dir, 'link/in.ply'), kind: 'file', inputs: [join(dir, 'real/in.ply')], flag: 'OUT' }),
      /OUT is an input/,
    );
    mkdirSync(join(dir, 'data'));
    await refused(prepareOutput({ out: join(dir, 'data'), kind: 'dir', inputs: [join(dir, 'data')] }), /--out is an input/);
    await refused(
      prepareOutput({ out: join(dir, 'link/renders'), kind: 'dir', inputs: [join(dir, 'real')] }),
      /--out lies inside the input folder/,
    );
    await refused(
      prepareOutput({ out: join(dir, 'real'), kind: 'dir', inputs: [join(dir, 'real/in.ply')] }),
      /--out is the folder holding the input/,
    );
    // a sibling file, or a folder elsewhere, is fine
    await prepareOutput({ out: join(dir, 'real/in.splat'), kind: 'file', inputs: [join(dir, 'real/in.ply')] });
    await prepareOutput({ out: join(dir, 'renders'), kind: 'dir', inputs: [join(dir, 'real'), join(dir, 'data')] });
    expect(existsSync(join(dir, 'renders'))).toBe(false); // nothing is created by the check
  });
  it('refuses an output it cannot write before any work (a file in the path, an existing file for a folder)', async () => {
    writeFileSync(join(dir, 'afile'), 'x');
    await refused(
      prepareOutput({ out: join(dir, 'afile/sub/out'), kind: 'dir', inputs: [] }),
      /cannot create --out: .*afile is a file, not a folder/,
    );
    await refused(prepareOutput({ out: join(dir, 'afile'), kind: 'dir', inputs: [] }), /--out exists and is not a folder/);
    await refused(prepareOutput({ out: '/proc/is-no-such-dir/out', kind: 'dir', inputs: [] }), /cannot write here/);
  });
  it('removes the temporary files and staging folders a killed run left, and nothing else', async () => {
    const out = join(dir, 'killed');
    mkdirSync(join(out, 'images'), { recursive: true });
    writeFileSync(join(out, 'scene.json.0123456789ab.tmp'), 'half');
    writeFileSync(join(out, 'images/a.png.ba9876543210.tmp'), 'half');
    mkdirSync(join(out, '.killed.partial-00112233aabb/images'), { recursive: true });
    writeFileSync(join(out, 'keep.tmp'), 'mine');
    writeFileSync(join(out, 'scene.json'), '{}');
    await prepareOutput({ out, kind: 'dir', inputs: [] });
    expect(readdirSync(out).sort()).toEqual(['images', 'keep.tmp', 'scene.json']);
    expect(readdirSync(join(out, 'images'))).toEqual([]);
    writeFileSync(join(dir, 'o.splat.0123456789ab.tmp'), 'half');
    expect(await removeLeftovers({ out: join(dir, 'o.splat'), kind: 'file' })).toBe(1);
  });
});

describe('staged exports', () => {
  const cam = lookAtCamera([0, 0, 3], [0, 0, 0], [0, 1, 0], 4, 4, 40);
  const scene = (failAt: number): Scene =>
    ({
      kind: 'voxel',
      background: [1, 1, 1],
      async render(c: typeof cam) {
        if (c.fx === failAt) throw new UserError('the disk is full');
        return { image: createImage(c.width, c.height, 3, 0.5), alpha: new Float32Array(16), depth: new Float32Array(16) };
      },
    }) as unknown as Scene;
  const views = [1, 2, 3, 4].map((k) => ({ camera: { ...cam, fx: k }, file: `images/v${k}.png` }));
  it('a failure part-way leaves no file of the export behind (not 12 of 20 PNGs without transforms.json)', async () => {
    const out = join(dir, 'export');
    mkdirSync(out);
    writeFileSync(join(out, 'notes.txt'), 'the user’s');
    await refused(exportMultiview(scene(3), views, out, nodeFiles), /the disk is full/);
    expect(readdirSync(out)).toEqual(['notes.txt']);
    const r = await exportMultiview(scene(-1), views, out, nodeFiles);
    expect(r.files).toHaveLength(4);
    expect(readdirSync(out).sort()).toEqual(['images', 'notes.txt', 'transforms.json']);
    expect(readdirSync(join(out, 'images'))).toHaveLength(4);
  });
  it('atomic single files never leave a temp file on failure', async () => {
    await refused(writeFileAtomic(join(dir, 'afile/x.json'), '{}'), /afile/);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });
});
