import { beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Camera } from '../src/core/camera';
import { Rng } from '../src/core/rng';
import { UserError } from '../src/core/errors';
import { DEMO_GROUND, DEMO_OBJECTS, demoCameras, demoTransforms, renderDemoScene } from '../src/io/datasets/demo-scene';
import { framesOf, loadDataset, loadViews, type Dataset } from '../src/io/datasets/dataset';
import { encodePng } from '../src/io/images/image-codec';
import { nodeFiles } from '../src/io/node/node-files';
import { createGaussians, SH_STRIDE } from '../src/nerf/gaussian/gaussians';
import { writeGaussianPly } from '../src/io/formats/ply';
import { fitGaussians } from '../src/nerf/gaussian/fit-gaussians';
import { GaussianScene } from '../src/nerf/gaussian/gaussian-scene';
import { psnr } from '../src/edit/eval/metrics';
import { downscaleImage } from '../src/core/image';
import { colmapModel, type ColmapCameraSpec } from './helpers/colmap-writer';

const SIZE = 64;
const VIEWS = 24;
const ITERS = 500;

/** Points on the demo objects and ground, with their colours (the "sparse points" of the capture). */
function demoPoints(n: number) {
  const rng = new Rng(5);
  const xyz: number[] = [],
    rgb: number[] = [];
  for (let i = 0; i < n; i++) {
    const k = i % (DEMO_OBJECTS.length + 1);
    if (k === DEMO_OBJECTS.length) {
      xyz.push(rng.uniform(-DEMO_GROUND.half, DEMO_GROUND.half), 0, rng.uniform(-DEMO_GROUND.half, DEMO_GROUND.half));
      rgb.push(...DEMO_GROUND.color);
    } else {
      const o = DEMO_OBJECTS[k];
      xyz.push(...[0, 1, 2].map((a) => rng.uniform(o.min[a], o.max[a])));
      rgb.push(...o.color);
    }
  }
  // colours as 8-bit values, as points3D stores them, so both forms of a capture start from the same points
  return { xyz: Float32Array.from(xyz), rgb: Float32Array.from(rgb, (v) => Math.round(v * 255) / 255) };
}

let root: string;
const name = (i: number) => `frame_${String(i + 1).padStart(5, '0')}.png`;
const pts = demoPoints(1500);

/** Writes a capture: images (rendered through `cams`, so distorted cameras give distorted photos). */
function writeImages(dir: string, cams: Camera[], sub = 'images') {
  mkdirSync(join(dir, sub), { recursive: true });
  cams.forEach((c, i) => writeFileSync(join(dir, sub, name(i)), encodePng(renderDemoScene(c))));
}
function writeModel(dir: string, cams: Camera[], spec: ColmapCameraSpec, fmt: 'bin' | 'txt') {
  mkdirSync(join(dir, 'sparse/0'), { recursive: true });
  for (const [f, b] of Object.entries(
    colmapModel(
      cams,
      cams.map((_, i) => name(i)),
      spec,
      pts,
      fmt,
    ),
  ))
    writeFileSync(join(dir, 'sparse/0', f), b);
}

const fitted = new Map<string, number>();
async function fitAndTest(ds: Dataset): Promise<number> {
  if (fitted.has(ds.root)) return fitted.get(ds.root)!;
  const { views } = await loadViews(ds, 'train', nodeFiles);
  const r = await fitGaussians(
    ds,
    views.map((v) => ({ camera: v.frame.camera, image: v.image })),
    { iters: ITERS, seed: 1, shEvery: 200, files: nodeFiles },
  );
  const scene = new GaussianScene(r.gaussians, ds.background);
  const { views: test } = await loadViews(ds, 'test', nodeFiles);
  let s = 0;
  for (const v of test) s += psnr((await scene.render(v.frame.camera)).image, v.image);
  fitted.set(ds.root, s / test.length);
  return s / test.length;
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'is-colmap-'));
  const cams = demoCameras(VIEWS, SIZE, 3);
  const f = cams[0].fx;
  // the same capture three times: transforms.json (+ sparse_pc.ply), COLMAP binary, COLMAP text
  writeImages(join(root, 'ns'), cams);
  writeFileSync(
    join(root, 'ns/transforms.json'),
    JSON.stringify({ ...demoTransforms(cams, (i) => `images/${name(i)}`), scene_box: undefined, ply_file_path: 'sparse_pc.ply' }),
  );
  const g = createGaussians(pts.xyz.length / 3);
  g.means.set(pts.xyz);
  for (let i = 0; i < g.count; i++) for (let c = 0; c < 3; c++) g.sh[i * SH_STRIDE + c] = (pts.rgb[3 * i + c] - 0.5) / 0.28209479177387814;
  writeFileSync(join(root, 'ns/sparse_pc.ply'), writeGaussianPly(g, { shDegree: 0 }));
  const pinhole: ColmapCameraSpec = { model: 'PINHOLE', params: [f, f, SIZE / 2, SIZE / 2] };
  writeImages(join(root, 'cm'), cams);
  writeModel(join(root, 'cm'), cams, pinhole, 'bin');
  // 3DGS's downscaled copies: images_2 holds half-size photos
  mkdirSync(join(root, 'cm/images_2'));
  cams.forEach((c, i) => writeFileSync(join(root, 'cm/images_2', name(i)), encodePng(downscaleImage(renderDemoScene(c), 2))));
  writeImages(join(root, 'cmtxt'), cams.slice(0, 3));
  writeModel(join(root, 'cmtxt'), cams.slice(0, 3), pinhole, 'txt');
  // a lens with distortion: photos rendered through it
  const opencv: ColmapCameraSpec = { model: 'OPENCV', params: [f, f, SIZE / 2, SIZE / 2, -0.12, 0.02, 0.002, -0.001] };
  const dcams = cams.map((c) => ({ ...c, distortion: { k1: -0.12, k2: 0.02, k3: 0, k4: 0, p1: 0.002, p2: -0.001 } }));
  writeImages(join(root, 'dist'), dcams);
  writeModel(join(root, 'dist'), dcams, opencv, 'bin');
});

describe('COLMAP captures', () => {
  it('read as the same cameras, split and points as the transforms.json of the same capture', async () => {
    const a = await loadDataset(join(root, 'ns'), nodeFiles);
    const b = await loadDataset(join(root, 'cm'), nodeFiles);
    const t = await loadDataset(join(root, 'cmtxt'), nodeFiles);
    expect(b.format).toBe('colmap');
    expect(b.frames.length).toBe(VIEWS);
    expect(b.frames.map((f) => f.split)).toEqual(a.frames.map((f) => f.split));
    expect(framesOf(b, 'test').length).toBe(3);
    a.frames.forEach((fa, i) => {
      const fb = b.frames[i];
      expect(fb.file).toBe(name(i));
      for (let k = 0; k < 16; k++) expect(Math.abs(fb.camera.c2w[k] - fa.camera.c2w[k])).toBeLessThan(1e-5);
      expect([fb.camera.fx, fb.camera.fy, fb.camera.cx, fb.camera.cy]).toEqual([fa.camera.fx, fa.camera.fy, fa.camera.cx, fa.camera.cy]);
    });
    expect(b.points!.xyz.length).toBe(pts.xyz.length);
    for (let k = 0; k < 16; k++) expect(Math.abs(t.frames[2].camera.c2w[k] - b.frames[2].camera.c2w[k])).toBeLessThan(1e-5);
    expect(Math.abs(t.points!.rgb[5] - b.points!.rgb[5])).toBeLessThan(1e-6);
  });

  it('--downscale uses images_K when present (not downscaled twice)', async () => {
    const ds = await loadDataset(join(root, 'cm'), nodeFiles, { downscale: 2 });
    expect(ds.frames[0].path).toContain('images_2');
    const { views } = await loadViews(ds, 'train', nodeFiles);
    expect(views[0].image.width).toBe(SIZE / 2);
  });

  it('fitting the COLMAP model or the transforms.json gives the same test PSNR within 0.5 dB', async () => {
    const a = await fitAndTest(await loadDataset(join(root, 'ns'), nodeFiles));
    const b = await fitAndTest(await loadDataset(join(root, 'cm'), nodeFiles));
    console.log(`test PSNR: transforms.json ${a.toFixed(2)} dB, COLMAP ${b.toFixed(2)} dB`);
    expect(a).toBeGreaterThan(20);
    expect(Math.abs(a - b)).toBeLessThan(0.5);
  }, 600_000);

  it('a distorted (OPENCV) capture is undistorted for the pinhole rasteriser and renders back into its lens', async () => {
    const ds = await loadDataset(join(root, 'dist'), nodeFiles);
    expect(ds.frames[0].camera.distortion?.k1).toBeCloseTo(-0.12);
    const d = await fitAndTest(ds);
    const p = await fitAndTest(await loadDataset(join(root, 'cm'), nodeFiles));
    console.log(`test PSNR: distorted capture ${d.toFixed(2)} dB, pinhole capture ${p.toFixed(2)} dB`);
    expect(d).toBeGreaterThan(p - 1.5);
  }, 600_000);
});

describe('malformed COLMAP models get one line', () => {
  const one = async (files: Record<string, Uint8Array | string>, re: RegExp) => {
    const dir = mkdtempSync(join(tmpdir(), 'is-colmap-bad-'));
    mkdirSync(join(dir, 'sparse/0'), { recursive: true });
    for (const [f, b] of Object.entries(files)) writeFileSync(join(dir, 'sparse/0', f), b);
    const e = await loadDataset(dir, nodeFiles).then(
      () => null,
      (x) => x,
    );
    expect(e).toBeInstanceOf(UserError);
    expect(e.message.split('\n').length).toBe(1);
    expect(e.message).toMatch(re);
  };
  const cams = demoCameras(3, 32, 1);
  const good = colmapModel(cams, ['a.png', 'b.png', 'c.png'], { model: 'PINHOLE', params: [30, 30, 16, 16] }, demoPoints(10), 'bin');
  const lie = (b: Uint8Array, at: number, v: bigint) => {
    const c = b.slice();
    new DataView(c.buffer).setBigUint64(at, v, true);
    return c;
  };

  it('truncated files', async () => {
    await one(
      { ...good, 'cameras.bin': good['cameras.bin'].subarray(0, 30) },
      /cameras\.bin: COLMAP header promises 1 cameras|ends inside/,
    );
    await one({ ...good, 'images.bin': good['images.bin'].subarray(0, good['images.bin'].length - 10) }, /images\.bin: COLMAP.*truncated/);
    await one({ ...good, 'points3D.bin': good['points3D.bin'].subarray(0, 50) }, /points3D\.bin: COLMAP .*(truncated|promises)/);
  });

  it('lying counts and lengths are refused before allocating', async () => {
    await one({ ...good, 'points3D.bin': lie(good['points3D.bin'], 0, 0xffffffffn) }, /promises 4294967295 points/);
    await one({ ...good, 'images.bin': lie(good['images.bin'], 0, 2n ** 40n) }, /promises 1099511627776 images/);
    await one({ ...good, 'images.bin': lie(good['images.bin'], 0, 2n ** 63n) }, /not a sane count/);
    // the first image's 2D point count (after id, pose, camera id and the name "a.png\0")
    await one({ ...good, 'images.bin': lie(good['images.bin'], 8 + 4 + 56 + 4 + 6, 2n ** 33n) }, /image 1 promises 8589934592 2D points/);
  });

  it('unsupported camera models, unknown cameras and broken text', async () => {
    const fish = colmapModel(
      cams,
      ['a.png', 'b.png', 'c.png'],
      { model: 'OPENCV_FISHEYE', params: [30, 30, 16, 16, 0, 0, 0, 0] },
      demoPoints(4),
      'bin',
    );
    await one(fish, /camera 1 uses the OPENCV_FISHEYE model, which is not supported/);
    const txt = colmapModel(cams, ['a.png', 'b.png', 'c.png'], { model: 'PINHOLE', params: [30, 30, 16, 16] }, demoPoints(4), 'txt');
    await one({ ...txt, 'cameras.txt': '1 FOV 32 32 30 16 16 0.1 0.2\n' }, /camera 1 uses the FOV model/);
    await one({ ...txt, 'cameras.txt': '2 PINHOLE 32 32 30 30 16 16\n' }, /names camera 1, which is not in the model/);
    await one({ ...txt, 'cameras.txt': '1 PINHOLE 32 32 30 30 16\n' }, /has 3 parameters, expected 4/);
    await one({ ...txt, 'images.txt': '1 1 0 0 0 0 0 nan 1 a.png\n\n' }, /'nan' is not a number/);
  });
});

describe('pinhole ↔ distorted resampling (src/core/undistort.ts)', () => {
  const cam = { ...demoCameras(1, 64, 4)[0], distortion: { k1: -0.15, k2: 0.03, k3: 0, k4: 0, p1: 0.002, p2: -0.001 } };

  it("'crop' sees only inside the photo and 'cover' sees all of it; resampled renders match direct renders", async () => {
    const { pinholeFor, remapImage, undistortView } = await import('../src/core/undistort');
    const crop = pinholeFor(cam, 'crop'),
      cover = pinholeFor(cam, 'cover');
    expect(crop.distortion).toBeUndefined();
    // barrel distortion (k1 < 0) squeezes a wider field into the photo: the pinhole that fits inside it is already
    // wider than the lens's focal length says, and the one that covers all of it wider still
    expect(crop.fx).toBeLessThan(cam.fx);
    expect(cover.fx).toBeLessThan(crop.fx);
    // a distorted photo resampled into the crop camera ≈ a pinhole render of that camera
    const photo = renderDemoScene(cam);
    const v = undistortView({ camera: cam, image: photo });
    expect(v.camera).toEqual(crop);
    const a = psnr(v.image, renderDemoScene(crop));
    // a pinhole render of the cover camera resampled into the lens ≈ the distorted photo
    const b = psnr(remapImage(renderDemoScene(cover), cover, cam), photo);
    console.log(`resampling: undistorted photo ${a.toFixed(1)} dB, re-distorted render ${b.toFixed(1)} dB`);
    expect(a).toBeGreaterThan(24);
    expect(b).toBeGreaterThan(24);
    // and the identity: a camera without distortion is left alone
    expect(pinholeFor({ ...cam, distortion: undefined }, 'crop').fx).toBe(cam.fx);
  });

  it('GaussianScene renders a distorted camera into its lens (the label on an exported OPENCV frame is true)', async () => {
    const { transformsFor } = await import('../src/io/export/multiview-export');
    const t = transformsFor(
      [
        { camera: cam, file: 'a.png' },
        { camera: { ...cam, distortion: undefined }, file: 'b.png' },
      ],
      [1, 1, 1],
    ) as {
      frames: { camera_model: string; k1?: number }[];
    };
    expect(t.frames.map((f) => f.camera_model)).toEqual(['OPENCV', 'PINHOLE']);
    const g = createGaussians(1);
    g.means.set([0.3, 0.2, 0]);
    g.logScales.fill(Math.log(0.05));
    g.opacityLogits[0] = 6;
    const scene = new GaussianScene(g, [1, 1, 1]);
    const d = await scene.render(cam);
    const p = await scene.render({ ...cam, distortion: undefined });
    // the blob's centre moves the way the lens moves it: find the darkest pixel of each render
    const argmin = (img: Float32Array) => {
      let best = 0;
      for (let i = 0; i < img.length / 3; i++) if (img[3 * i] < img[3 * best]) best = i;
      return [best % 64, Math.floor(best / 64)];
    };
    const [pu, pv] = argmin(p.image.data),
      [du, dv] = argmin(d.image.data);
    const { distort } = await import('../src/core/rays');
    const [xd, yd] = distort(cam.distortion, (pu + 0.5 - cam.cx) / cam.fx, (pv + 0.5 - cam.cy) / cam.fy);
    expect(Math.abs(cam.cx + cam.fx * xd - 0.5 - du)).toBeLessThanOrEqual(1.5);
    expect(Math.abs(cam.cy + cam.fy * yd - 0.5 - dv)).toBeLessThanOrEqual(1.5);
  });
});
