import { describe, expect, it } from 'vitest';
import { mkdtempSync, mkdirSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lookAtCamera, projectPoint } from '../src/core/camera';
import { UserError } from '../src/core/errors';
import {
  almostEmpty,
  boxRegion,
  carveVisualHull,
  dilateMask,
  gridRegion,
  maskCoverage,
  parseRegionSpec,
  regionMask,
  sphereRegion,
  validateRegion,
} from '../src/edit/regions/regions';
import { loadRegion } from '../src/edit/regions/region-load';
import { DEMO_SCENE_BOX } from '../src/io/datasets/demo-scene';
import { encodePng } from '../src/io/images/image-codec';
import { nodeFiles } from '../src/io/node/node-files';
import { loadDataset } from '../src/io/datasets/dataset';
import { demoCameras, demoTransforms } from '../src/io/datasets/demo-scene';
import { createImage } from '../src/core/image';

describe('region parsing', () => {
  it('parses boxes (any corner order), spheres and hulls', () => {
    expect(parseRegionSpec('box:0.3,0.6,0.3,-0.3,0,-0.3')).toEqual({ kind: 'box', min: [-0.3, 0, -0.3], max: [0.3, 0.6, 0.3] });
    expect(parseRegionSpec('sphere:0,0.2,0,0.5')).toEqual({ kind: 'sphere', center: [0, 0.2, 0], radius: 0.5 });
    expect(parseRegionSpec('hull:masks/')).toEqual({ kind: 'hull', dir: 'masks/' });
  });
  it('rejects malformed and empty regions with one clear line', () => {
    expect(() => parseRegionSpec('box:1,2,3')).toThrow(/expected 6 comma-separated numbers, got 3/);
    expect(() => parseRegionSpec('box:0,0,0,1,0,1')).toThrow(/box is empty \(its y extent is zero\)/);
    expect(() => parseRegionSpec('sphere:0,0,0,0')).toThrow(/radius must be positive/);
    expect(() => parseRegionSpec('sphere:0,0,x,1')).toThrow(/'x' is not a number/);
    expect(() => parseRegionSpec('cone:1,2')).toThrow(/unknown region kind 'cone'/);
    expect(() => parseRegionSpec('0,0,0')).toThrow(UserError);
  });
  it('rejects a region outside the scene box', () => {
    expect(() => validateRegion(boxRegion([5, 5, 5], [6, 6, 6]), DEMO_SCENE_BOX)).toThrow(/lies outside the scene box/);
    expect(() => validateRegion(sphereRegion([0, 0.2, 0], 0.3), DEMO_SCENE_BOX)).not.toThrow();
  });
});

describe('inside tests and projection', () => {
  const cam = lookAtCamera([3, 1.5, 2], [0, 0.2, 0], [0, 1, 0], 64, 48, 40);
  it('box and sphere inside tests', () => {
    const b = boxRegion([-0.2, 0, -0.2], [0.2, 0.5, 0.2]);
    expect(b.inside(0, 0.25, 0)).toBe(true);
    expect(b.inside(0.3, 0.25, 0)).toBe(false);
    const s = sphereRegion([1, 1, 1], 0.5);
    expect(s.inside(1.2, 1.2, 1.2)).toBe(true);
    expect(s.inside(1.4, 1.4, 1.4)).toBe(false);
  });
  it('the projected mask of a box covers the projections of its interior and nothing far away', () => {
    const b = boxRegion([-0.2, 0, -0.2], [0.2, 0.5, 0.2]);
    const m = regionMask(b, cam);
    // every interior sample point projects onto a set mask pixel (within one pixel: masks are sampled at pixel centres)
    const m1 = dilateMask(m, 1);
    for (let i = 0; i < 200; i++) {
      const p = [-0.2 + (0.4 * ((i * 7) % 13)) / 12, (0.5 * ((i * 5) % 11)) / 10, -0.2 + (0.4 * ((i * 3) % 17)) / 16];
      const uv = projectPoint(cam, p)!;
      const x = Math.min(63, Math.floor(uv[0])),
        y = Math.min(47, Math.floor(uv[1]));
      expect(m1.data[y * 64 + x]).toBe(1);
    }
    // the mask's extent matches the projected corners' bounding rectangle (convex box)
    let x0 = Infinity,
      x1 = -Infinity;
    for (const cx of [-0.2, 0.2])
      for (const cy of [0, 0.5])
        for (const cz of [-0.2, 0.2]) {
          const uv = projectPoint(cam, [cx, cy, cz])!;
          x0 = Math.min(x0, uv[0]);
          x1 = Math.max(x1, uv[0]);
        }
    let mx0 = Infinity,
      mx1 = -Infinity;
    for (let y = 0; y < 48; y++)
      for (let x = 0; x < 64; x++)
        if (m.data[y * 64 + x]) {
          mx0 = Math.min(mx0, x);
          mx1 = Math.max(mx1, x + 1);
        }
    expect(Math.abs(mx0 - x0)).toBeLessThan(1.01);
    expect(Math.abs(mx1 - x1)).toBeLessThan(1.01);
    const cov = maskCoverage(m);
    expect(cov).toBeGreaterThan(0.02);
    expect(cov).toBeLessThan(0.5);
    // dilation grows it, monotonically
    const d = dilateMask(m, 2);
    for (let i = 0; i < m.data.length; i++) if (m.data[i]) expect(d.data[i]).toBe(1);
    expect(maskCoverage(d)).toBeGreaterThan(cov);
  });
  it('a region behind the camera or off-screen projects to an almost empty mask', () => {
    const behind = sphereRegion([6, 3, 4], 0.2); // beyond the eye, opposite the view direction
    expect(maskCoverage(regionMask(behind, cam))).toBe(0);
    const tiny = sphereRegion([0, 0.2, 0], 0.01);
    expect(almostEmpty(regionMask(tiny, cam))).toBe(true);
    expect(almostEmpty(regionMask(sphereRegion([0, 0.2, 0], 0.4), cam))).toBe(false);
  });
});

describe('visual hull', () => {
  it('carves a hull from masks that contains the object and excludes the rest', () => {
    const target = sphereRegion([0.1, 0.3, -0.1], 0.3);
    const cams = demoCameras(8, 48, 1).filter((_, i) => i % 3 === 0);
    const views = cams.map((camera) => ({ camera, mask: regionMask(target, camera) }));
    const hull = gridRegion(carveVisualHull(views, DEMO_SCENE_BOX, 48), 'hull:test');
    expect(hull.inside(0.1, 0.3, -0.1)).toBe(true);
    expect(hull.inside(0.1, 0.5, -0.1)).toBe(true);
    expect(hull.inside(-0.9, 0.3, 0.9)).toBe(false);
    expect(hull.inside(0.1, 0.85, -0.1)).toBe(false);
    // the hull's silhouette in a mask view matches the mask closely
    const m = regionMask(hull, cams[0]);
    let agree = 0;
    for (let i = 0; i < m.data.length; i++) if (m.data[i] === views[0].mask.data[i]) agree++;
    expect(agree / m.data.length).toBeGreaterThan(0.97);
  });
  it('loads hull:MASK_DIR with masks named after dataset images', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hull-'));
    const cams = demoCameras(6, 40, 2);
    const fileOf = (i: number) => `images/frame_${String(i + 1).padStart(5, '0')}.png`;
    writeFileSync(join(dir, 'transforms.json'), JSON.stringify(demoTransforms(cams, fileOf)));
    const ds = await loadDataset(dir, nodeFiles);
    const target = boxRegion([-0.22, 0, -0.22], [0.22, 0.55, 0.22]);
    mkdirSync(join(dir, 'masks'));
    for (const i of [0, 2, 4])
      writeFileSync(join(dir, 'masks', `frame_${String(i + 1).padStart(5, '0')}.png`), encodePng(regionMask(target, cams[i])));
    const listDir = async (d: string) => readdirSync(d);
    const hull = await loadRegion(`hull:${join(dir, 'masks')}`, { dataset: ds, files: nodeFiles, listDir, bounds: DEMO_SCENE_BOX });
    expect(hull.kind).toBe('hull');
    expect(hull.inside(0, 0.3, 0)).toBe(true);
    expect(hull.inside(0.8, 0.3, 0.8)).toBe(false);
    // one mask is not enough; masks that match no image are named
    mkdirSync(join(dir, 'one'));
    writeFileSync(join(dir, 'one', 'frame_00001.png'), encodePng(regionMask(target, cams[0])));
    writeFileSync(join(dir, 'one', 'other.png'), encodePng(createImage(40, 40, 1)));
    await expect(
      loadRegion(`hull:${join(dir, 'one')}`, { dataset: ds, files: nodeFiles, listDir, bounds: DEMO_SCENE_BOX }),
    ).rejects.toThrow(/at least 2 dataset images, found 1 \(1 files match no dataset image, e.g. 'other.png'/);
    // masks with nothing in common give an empty hull
    mkdirSync(join(dir, 'empty'));
    for (const i of [0, 3])
      writeFileSync(join(dir, 'empty', `frame_${String(i + 1).padStart(5, '0')}.png`), encodePng(createImage(40, 40, 1)));
    await expect(
      loadRegion(`hull:${join(dir, 'empty')}`, { dataset: ds, files: nodeFiles, listDir, bounds: DEMO_SCENE_BOX }),
    ).rejects.toThrow(/visual hull is empty/);
    await expect(loadRegion(`box:5,5,5,6,6,6`, { dataset: ds, files: nodeFiles, bounds: DEMO_SCENE_BOX })).rejects.toThrow(
      /outside the scene box/,
    );
  });
});
