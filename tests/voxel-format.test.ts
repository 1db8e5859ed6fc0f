import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '../src/core/rng';
import { UserError } from '../src/core/errors';
import { createVoxelGrid, downsampleGrid, upsampleGrid, updateOccupancy } from '../src/nerf/voxel/voxel-grid';
import { decodeVoxelScene, encodeVoxelScene, type VoxelFile } from '../src/io/formats/voxel-format';
import { loadScene, saveVoxelScene } from '../src/io/scenes/load-scene';
import { nodeFiles } from '../src/io/node/node-files';
import { lookAtCamera } from '../src/core/camera';

function sample(sh: 0 | 1 = 1): VoxelFile {
  const rng = new Rng(5);
  const grid = createVoxelGrid({ res: [7, 5, 9], box: { min: [-1, -0.5, -2], max: [1, 1, 2] }, bgLen: 0.5, shDegree: sh });
  for (let i = 0; i < grid.density.length; i++) grid.density[i] = rng.uniform(-2, 14);
  for (let i = 0; i < grid.color.length; i++) grid.color[i] = rng.uniform(-3, 3);
  updateOccupancy(grid, 1e-2);
  return { grid, background: [1, 0.5, 0], render: { stepRatio: 0.5, near: 0.1 }, meta: { note: 'test' } };
}

function errorOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(UserError);
    return (e as Error).message;
  }
  throw new Error('expected a UserError');
}

describe('voxel scene format', () => {
  it('round-trips every value exactly', () => {
    for (const sh of [0, 1] as const) {
      const f = sample(sh);
      const back = decodeVoxelScene(encodeVoxelScene(f), 'x.voxel');
      expect(back.grid.res).toEqual(f.grid.res);
      expect(back.grid.box).toEqual(f.grid.box);
      expect(back.grid.bgLen).toBe(0.5);
      expect(back.grid.shDegree).toBe(sh);
      expect(back.grid.densityShift).toBe(f.grid.densityShift);
      expect(back.grid.densityScale).toBe(f.grid.densityScale);
      expect(back.grid.density).toEqual(f.grid.density);
      expect(back.grid.color).toEqual(f.grid.color);
      expect(back.grid.occupancy).toEqual(f.grid.occupancy);
      expect(back.background).toEqual([1, 0.5, 0]);
      expect(back.render).toEqual({ stepRatio: 0.5, near: 0.1 });
      expect(back.meta).toEqual({ note: 'test' });
    }
  });

  it('rejects a lying header before allocating, a truncated file, NaN and bad magic, in one line naming the file', () => {
    const bytes = encodeVoxelScene(sample());
    const H = new DataView(bytes.buffer).getUint32(8, true);
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + H)));
    // a header that claims a huge grid: rejected by size check, nothing huge allocated
    const lie = (patch: (h: any) => void) => {
      const h = JSON.parse(JSON.stringify(header));
      patch(h);
      const j = new TextEncoder().encode(JSON.stringify(h));
      const out = new Uint8Array(12 + j.length + 64);
      out.set(bytes.subarray(0, 8));
      new DataView(out.buffer).setUint32(8, j.length, true);
      out.set(j, 12);
      return out;
    };
    expect(
      errorOf(() =>
        decodeVoxelScene(
          lie((h) => (h.res = [4096, 4096, 4096])),
          'big.voxel',
        ),
      ),
    ).toMatch(/^big\.voxel: grid 4096×4096×4096 vertex count .* is over the limit/);
    expect(
      errorOf(() =>
        decodeVoxelScene(
          lie((h) => (h.res = [300, 300, 300])),
          'lie.voxel',
        ),
      ),
    ).toMatch(/lie\.voxel: .*(truncated|array density)/);
    expect(
      errorOf(() =>
        decodeVoxelScene(
          lie((h) => (h.arrays[0].length = 12)),
          'arr.voxel',
        ),
      ),
    ).toMatch(/array density is float32×12/);
    expect(
      errorOf(() =>
        decodeVoxelScene(
          lie((h) => (h.version = 7)),
          'v.voxel',
        ),
      ),
    ).toMatch(/version 7 is newer/);
    expect(
      errorOf(() =>
        decodeVoxelScene(
          lie((h) => (h.shDegree = 3)),
          's.voxel',
        ),
      ),
    ).toMatch(/shDegree must be 0 or 1/);
    // header length pointing past the end
    const badLen = bytes.slice();
    new DataView(badLen.buffer).setUint32(8, 0xfffffff0, true);
    expect(errorOf(() => decodeVoxelScene(badLen, 'len.voxel'))).toMatch(/header length .* exceeds the file size/);
    // truncated payload
    expect(errorOf(() => decodeVoxelScene(bytes.subarray(0, bytes.length - 5), 'cut.voxel'))).toMatch(
      /cut\.voxel: truncated: \d+ bytes, but .* needs \d+/,
    );
    // NaN in the payload
    const nan = bytes.slice();
    const P = (12 + H + 3) & ~3;
    new DataView(nan.buffer).setFloat32(P + 4 * 10, NaN, true);
    expect(errorOf(() => decodeVoxelScene(nan, 'nan.voxel'))).toBe('nan.voxel: density contains a non-finite value (NaN) at vertex 10');
    expect(errorOf(() => decodeVoxelScene(new TextEncoder().encode('{"not": "voxel"}'), 'j.voxel'))).toMatch(/bad magic/);
  });

  it('scene folders load through loadScene and render the same as the grid', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vox-fmt-'));
    const f = sample(0);
    f.grid.bgLen = 0;
    f.render.near = 0;
    await saveVoxelScene(join(dir, 'scene'), f, nodeFiles);
    const s = await loadScene(join(dir, 'scene'), nodeFiles);
    expect(s.kind).toBe('voxel');
    const cam = lookAtCamera([3, 2, 4], [0, 0, 0], [0, 1, 0], 24, 20, 40);
    const direct = await loadScene(join(dir, 'scene', 'scene.voxel'), nodeFiles);
    const a = await s.render(cam),
      b = await direct.render(cam);
    expect(a.image.data).toEqual(b.image.data);
    expect(a.alpha.some((v) => v > 0.1)).toBe(true);
    // broken manifest, unknown kind, missing folder: one line each
    writeFileSync(join(dir, 'scene', 'scene.json'), '{"format": "instruct-scene", "version": 1,');
    await expect(loadScene(join(dir, 'scene'), nodeFiles)).rejects.toThrow(/scene\.json: broken JSON/);
    mkdirSync(join(dir, 'k'));
    writeFileSync(join(dir, 'k', 'scene.json'), JSON.stringify({ format: 'instruct-scene', version: 1, kind: 'nurbs', file: 'x' }));
    await expect(loadScene(join(dir, 'k'), nodeFiles)).rejects.toThrow(/kind must be "voxel", "gaussians" or "mesh", got "nurbs"/);
    await expect(loadScene(join(dir, 'nope'), nodeFiles)).rejects.toThrow(/no such scene/);
    expect(readFileSync(join(dir, 'scene', 'scene.voxel')).length).toBeGreaterThan(100);
  });

  it('downsample then upsample keeps a smooth grid nearly unchanged', () => {
    const g = createVoxelGrid({ res: [33, 17, 25], box: { min: [-1, -1, -1], max: [1, 1, 1] }, shDegree: 0 });
    const [nx, ny] = g.res;
    for (let v = 0; v < g.density.length; v++) {
      const i = v % nx,
        j = Math.floor(v / nx) % ny,
        k = Math.floor(v / (nx * ny));
      g.density[v] = Math.sin(i / 6) + (Math.cos(j / 5) * k) / 10;
      g.color[v * 3] = i / 32;
    }
    const d = downsampleGrid(g, 1);
    expect(d.res).toEqual([17, 9, 13]);
    expect(d.densityScale).toBe(g.densityScale);
    const u = upsampleGrid(d, g.res);
    let err = 0;
    for (let v = 0; v < g.density.length; v++) err = Math.max(err, Math.abs(u.density[v] - g.density[v]));
    expect(err).toBeLessThan(0.1);
    expect(err).toBeGreaterThan(0); // it did resample
  });
});
