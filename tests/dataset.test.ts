import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync, readFileSync, existsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadDataset, loadFrameImage, loadViews, framesOf } from '../src/io/datasets/dataset';
import { nodeFiles } from '../src/io/node/node-files';
import { encodePng } from '../src/io/images/image-codec';
import { createImage } from '../src/core/image';
import { projectPoint } from '../src/core/camera';
import { UserError } from '../src/core/errors';

let dir: string;
const eye = (x: number) => [
  [1, 0, 0, x],
  [0, 1, 0, 0],
  [0, 0, 1, 4],
  [0, 0, 0, 1],
];

function write(rel: string, data: string | Uint8Array) {
  const p = join(dir, rel);
  mkdirSync(join(p, '..'), { recursive: true });
  writeFileSync(p, data);
  return p;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'is-dataset-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('nerfstudio transforms.json', () => {
  it('reads top-level and per-frame intrinsics, splits every 8th frame, sorts by path', async () => {
    const frames: Record<string, unknown>[] = [];
    for (let i = 15; i >= 0; i--) frames.push({ file_path: `images/f${String(i).padStart(2, '0')}.png`, transform_matrix: eye(i) });
    frames[0].fl_x = 99;
    write(
      'ns/transforms.json',
      JSON.stringify({
        camera_model: 'OPENCV',
        w: 8,
        h: 6,
        fl_x: 10,
        fl_y: 11,
        cx: 4,
        cy: 3,
        k1: 0.1,
        frames,
        ply_file_path: 'sparse.ply',
        applied_transform: [
          [1, 0, 0, 0],
          [0, 1, 0, 0],
          [0, 0, 1, 0],
        ],
      }),
    );
    const ds = await loadDataset(join(dir, 'ns'), nodeFiles);
    expect(ds.format).toBe('nerfstudio');
    expect(ds.frames.map((f) => f.file)[0]).toBe('images/f00.png');
    expect(framesOf(ds, 'test').map((f) => f.file)).toEqual(['images/f00.png', 'images/f08.png']);
    expect(framesOf(ds, 'train')).toHaveLength(14);
    expect(ds.frames[15].camera.fx).toBe(99); // per-frame override (f15 was first in the file)
    expect(ds.frames[0].camera.fy).toBe(11);
    expect(ds.frames[0].camera.distortion?.k1).toBe(0.1);
    expect(ds.plyPath).toBe(join(dir, 'ns/sparse.ply'));
    expect(ds.frames[3].camera.c2w[12]).toBe(3); // translation in column-major slot
  });
  it('explicit split lists win; downscale and max-images apply', async () => {
    const frames = Array.from({ length: 10 }, (_, i) => ({ file_path: `im/${i}.png`, transform_matrix: eye(i) }));
    write(
      'split/transforms.json',
      JSON.stringify({
        w: 64,
        h: 32,
        fl_x: 40,
        fl_y: 40,
        cx: 32,
        cy: 16,
        camera_model: 'PINHOLE',
        frames,
        test_filenames: ['im/3.png'],
        val_filenames: ['im/4.png'],
      }),
    );
    const ds = await loadDataset(join(dir, 'split'), nodeFiles, { downscale: 2, maxImages: 4 });
    expect(framesOf(ds, 'test').map((f) => f.file)).toEqual(['im/3.png']);
    expect(framesOf(ds, 'val').map((f) => f.file)).toEqual(['im/4.png']);
    expect(framesOf(ds, 'train')).toHaveLength(4);
    expect(ds.frames[0].camera).toMatchObject({ width: 32, height: 16, fx: 20, cx: 16 });
  });
  it('composites RGBA on the background, downscales images, skips missing ones', async () => {
    const img = createImage(4, 4, 4);
    for (let i = 0; i < 16; i++) img.data.set([1, 0, 0, 0.5], i * 4);
    write('rgba/a.png', encodePng(img));
    write(
      'rgba/transforms.json',
      JSON.stringify({
        w: 4,
        h: 4,
        fl_x: 4,
        fl_y: 4,
        background: [0, 0, 1],
        frames: [
          { file_path: 'a.png', transform_matrix: eye(0) },
          { file_path: 'gone.png', transform_matrix: eye(1) },
        ],
      }),
    );
    const ds = await loadDataset(join(dir, 'rgba'), nodeFiles, { downscale: 2 });
    const im = (await loadFrameImage(ds, ds.frames[0], nodeFiles))!;
    expect([im.width, im.height, im.channels]).toEqual([2, 2, 3]);
    expect(im.data[0]).toBeCloseTo(0.5, 2);
    expect(im.data[2]).toBeCloseTo(0.5, 2);
    const { views, missing } = await loadViews(ds, 'all', nodeFiles);
    expect(views).toHaveLength(1);
    expect(missing).toEqual([join(dir, 'rgba/gone.png')]);
  });
});

describe('Blender and instant-ngp', () => {
  it('reads transforms_{train,val,test}.json with camera_angle_x and extension-less paths over white', async () => {
    const img = createImage(10, 10, 4); // fully transparent → white
    write('bl/train/r_0.png', encodePng(img));
    const angle = 0.6911112070083618;
    for (const s of ['train', 'val', 'test'])
      write(
        `bl/transforms_${s}.json`,
        JSON.stringify({ camera_angle_x: angle, frames: [{ file_path: `./${s}/r_0`, transform_matrix: eye(0) }] }),
      );
    const ds = await loadDataset(join(dir, 'bl'), nodeFiles);
    expect(ds.format).toBe('blender');
    expect(ds.frames.map((f) => f.split)).toEqual(['train', 'val', 'test']);
    const f = ds.frames[0];
    expect(f.camera.width).toBe(10); // Blender files carry no size: taken from the first image's header
    expect(f.camera.fx).toBeCloseTo((0.5 * 10) / Math.tan(0.5 * angle), 6);
    const im = (await loadFrameImage(ds, f, nodeFiles))!;
    expect(im.width).toBe(10); // never resized
    expect(im.data[0]).toBeCloseTo(1);
  });
  it('reads instant-ngp files (aabb_scale, camera_angle_x, w/h)', async () => {
    write(
      'ngp/transforms.json',
      JSON.stringify({
        camera_angle_x: 1.0,
        w: 20,
        h: 10,
        aabb_scale: 4,
        frames: [{ file_path: 'x.jpg', transform_matrix: eye(0), sharpness: 30 }],
      }),
    );
    const ds = await loadDataset(join(dir, 'ngp'), nodeFiles);
    expect(ds.format).toBe('instant-ngp');
    expect(ds.frames[0].camera.fx).toBeCloseTo(10 / Math.tan(0.5), 6);
  });
});

describe('bad input gets one clear UserError naming the file', () => {
  const cases: [string, string, RegExp][] = [
    ['broken', '{"frames": [', /transforms\.json: broken JSON/],
    [
      'nan',
      '{"w":4,"h":4,"fl_x":4,"frames":[{"file_path":"a.png","transform_matrix":[[1,0,0,NaN],[0,1,0,0],[0,0,1,0],[0,0,0,1]]}]}',
      /broken JSON/,
    ],
    [
      'nullpose',
      '{"w":4,"h":4,"fl_x":4,"frames":[{"file_path":"a.png","transform_matrix":[[1,0,0,null],[0,1,0,0],[0,0,1,0],[0,0,0,1]]}]}',
      /transform_matrix\[0\]\[3\] must be a finite number/,
    ],
    ['noframes', '{"w":4}', /"frames" must be an array/],
    [
      'nofocal',
      '{"w":4,"h":4,"frames":[{"file_path":"a.png","transform_matrix":[[1,0,0,0],[0,1,0,0],[0,0,1,0],[0,0,0,1]]}]}',
      /no focal length/,
    ],
    [
      'badtype',
      '{"w":"big","h":4,"fl_x":2,"frames":[{"file_path":"a.png","transform_matrix":[[1,0,0,0],[0,1,0,0],[0,0,1,0],[0,0,0,1]]}]}',
      /w must be a finite number/,
    ],
    [
      'badmodel',
      '{"w":4,"h":4,"fl_x":2,"camera_model":"EQUIRECTANGULAR","frames":[{"file_path":"a.png","transform_matrix":[[1,0,0,0],[0,1,0,0],[0,0,1,0],[0,0,0,1]]}]}',
      /not supported/,
    ],
  ];
  for (const [name, text, re] of cases)
    it(name, async () => {
      const p = write(`bad-${name}/transforms.json`, text);
      const before = readFileSync(p, 'utf8');
      await expect(loadDataset(join(dir, `bad-${name}`), nodeFiles)).rejects.toThrow(re);
      await expect(loadDataset(join(dir, `bad-${name}`), nodeFiles)).rejects.toBeInstanceOf(UserError);
      expect(readFileSync(p, 'utf8')).toBe(before); // input untouched
    });
  it('a nonexistent path or a folder without transforms', async () => {
    await expect(loadDataset(join(dir, 'nope'), nodeFiles)).rejects.toThrow(/nope: no such file or folder/);
    mkdirSync(join(dir, 'empty'));
    await expect(loadDataset(join(dir, 'empty'), nodeFiles)).rejects.toThrow(/no transforms\.json/);
  });
  it('an undecodable image names the file', async () => {
    write('garbage/a.png', 'not an image');
    write('garbage/transforms.json', JSON.stringify({ w: 4, h: 4, fl_x: 4, frames: [{ file_path: 'a.png', transform_matrix: eye(0) }] }));
    const ds = await loadDataset(join(dir, 'garbage'), nodeFiles);
    await expect(loadFrameImage(ds, ds.frames[0], nodeFiles)).rejects.toThrow(/a\.png: not a PNG or JPEG image/);
  });
});

const BEAR = join(__dirname, '../../shared/data/bear');
describe.runIf(existsSync(BEAR))('the bear capture (../shared/data/bear)', () => {
  it('loads with OPENCV distortion, a test split and sparse points that project into the views', async () => {
    const ds = await loadDataset(BEAR, nodeFiles, { downscale: 4 });
    expect(ds.frames).toHaveLength(96);
    expect(framesOf(ds, 'test')).toHaveLength(12);
    expect(ds.frames[0].camera.width).toBe(128);
    expect(ds.frames[0].camera.distortion?.k1).toBeCloseTo(0.0146, 4);
    expect(statSync(ds.plyPath!).size).toBeGreaterThan(1000);
    // sparse points are in the poses' frame: most project inside the image of a view, in front of it
    const text = readFileSync(ds.plyPath!, 'utf8');
    const body = text
      .slice(text.indexOf('end_header') + 11)
      .trim()
      .split('\n')
      .slice(0, 2000);
    const cam = ds.frames[10].camera;
    let inside = 0;
    for (const line of body) {
      const [x, y, z] = line.split(' ').map(Number);
      const uv = projectPoint(cam, [x, y, z]);
      if (uv && uv[0] >= 0 && uv[0] < cam.width && uv[1] >= 0 && uv[1] < cam.height) inside++;
    }
    expect(inside / body.length).toBeGreaterThan(0.3);
    const img = (await loadFrameImage(ds, ds.frames[0], nodeFiles))!;
    expect([img.width, img.height]).toEqual([128, 128]);
  });
});
if (!existsSync(BEAR)) console.log(`skipping bear dataset checks: ${BEAR} not found (only the project's machines have ../shared)`);
