import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { UserError, escapeControls } from '../src/core/errors';
import { limits, resetLimits } from '../src/core/limits';
import { insidePathProblem } from '../src/core/paths';
import { createImage } from '../src/core/image';
import { applyEnvLimits } from '../src/io/node/node-limits';
import { nodeFiles, readRegularFile } from '../src/io/node/node-files';
import { decodeImage, encodeJpeg, encodePng, readImageHeader } from '../src/io/images/image-codec';
import { readGaussianPly, writeGaussianPly } from '../src/io/formats/ply';
import { readSplat, writeSplat } from '../src/io/formats/splat';
import { decodeVoxelScene, encodeVoxelScene } from '../src/io/formats/voxel-format';
import { createGaussians } from '../src/nerf/gaussian/gaussians';
import { createVoxelGrid } from '../src/nerf/voxel/voxel-grid';
import { loadDataset, loadFrameImage } from '../src/io/datasets/dataset';
import { loadScene } from '../src/io/scenes/load-scene';
import { checkOrbitHint, orbitCameras } from '../src/io/export/multiview-export';
import { parseJson } from '../src/io/files/files';
import { oneLine } from '../src/cli/one-line';
import { intFlag } from '../src/cli/args';
import { ssim } from '../src/edit/eval/metrics';

/**
 * The findings of issue 17 ("hostile inputs"), one by one, at the reader level: each must be refused with a
 * UserError naming the file — before any large allocation — or, where the issue found silent garbage, refused
 * or fixed. The CLI-level findings (outputs, the long-instruction crash) are in hostile-cli.test.ts.
 */
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'is-hostile-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => resetLimits());

function put(rel: string, data: string | Uint8Array): string {
  const p = join(dir, rel);
  mkdirSync(join(p, '..'), { recursive: true });
  writeFileSync(p, data);
  return p;
}
const enc = (s: string) => new TextEncoder().encode(s);
/** A UserError whose message is one line and matches `re`. */
function refuses(f: () => unknown, re: RegExp): void {
  let err: unknown;
  try {
    f();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(UserError);
  expect((err as Error).message).toMatch(re);
  expect((err as Error).message).not.toMatch(/[\n\r]/);
}
async function refusesAsync(p: Promise<unknown>, re: RegExp): Promise<void> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(UserError);
  expect((err as Error).message).toMatch(re);
  expect((err as Error).message).not.toMatch(/[\n\r]/);
}

describe('only regular files are read', () => {
  it('a FIFO, /dev/zero behind a symlink, a folder: one line, no hang, no read', async () => {
    const fifo = join(dir, 'pipe.ply');
    execFileSync('mkfifo', [fifo]);
    await refusesAsync(readRegularFile(fifo), /pipe\.ply: is a named pipe \(FIFO\), not a regular file/);
    symlinkSync('/dev/zero', join(dir, 'zero.ply'));
    await refusesAsync(nodeFiles.read(join(dir, 'zero.ply')), /zero\.ply: is a character device/);
    mkdirSync(join(dir, 'afolder.ply'));
    await refusesAsync(nodeFiles.read(join(dir, 'afolder.ply')), /is a folder, expected a file/);
    await refusesAsync(nodeFiles.read(join(dir, 'missing\ufffd.ply')), /not valid UTF-8/);
  });
  it('files over the size cap are refused before reading', async () => {
    const p = put('big.json', '{"a": "' + 'x'.repeat(2000) + '"}');
    await refusesAsync(readRegularFile(p, 1000), /is 2,00\d bytes, more than this reader takes \(at most 1,000 bytes\)/);
  });
});

describe('limits', () => {
  it('environment variables raise or lower them; bad values are one line', () => {
    applyEnvLimits({ INSTRUCT_SCENE_MAX_IMAGE_PIXELS: '100' });
    expect(limits.imagePixels).toBe(100);
    refuses(() => decodeImage(encodePng(createImage(20, 20, 3)), 'x.png'), /400 pixels, over the limit .*INSTRUCT_SCENE_MAX_IMAGE_PIXELS/);
    refuses(() => applyEnvLimits({ INSTRUCT_SCENE_MAX_ELEMENTS: '1e9x' }), /INSTRUCT_SCENE_MAX_ELEMENTS must be a positive integer/);
  });
});

describe('images: headers first, then the decoder', () => {
  const chunk = (type: string, data: Uint8Array) => {
    const out = new Uint8Array(12 + data.length);
    const dv = new DataView(out.buffer);
    dv.setUint32(0, data.length);
    out.set(enc(type), 4);
    out.set(data, 8);
    let c = 0xffffffff;
    for (const b of out.subarray(4, 8 + data.length)) {
      c ^= b;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    }
    dv.setUint32(8 + data.length, (c ^ 0xffffffff) >>> 0);
    return out;
  };
  const png = (w: number, h: number, idat: Uint8Array, ct = 2) => {
    const ihdr = new Uint8Array(13);
    new DataView(ihdr.buffer).setUint32(0, w);
    new DataView(ihdr.buffer).setUint32(4, h);
    ihdr.set([8, ct, 0, 0, 0], 8);
    const parts = [
      Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
      chunk('IHDR', ihdr),
      chunk('IDAT', idat),
      chunk('IEND', new Uint8Array()),
    ];
    return Uint8Array.from(parts.flatMap((p) => [...p]));
  };
  it('a 16384×16384 PNG of a few KB is refused at its header (no 4 GB decode, no silent resize)', () => {
    refuses(
      () => decodeImage(png(16384, 16384, deflateSync(new Uint8Array(1000))), 'huge.png'),
      /16384×16384 = 268,435,456 pixels, over the limit/,
    );
  });
  it('a PNG whose IHDR says 0×0, a CRC error, a zlib bomb, a short stream, a palette index out of range', () => {
    refuses(() => decodeImage(png(0, 0, deflateSync(new Uint8Array(0))), 'zero.png'), /zero\.png: image header says 0×0/);
    const good = encodePng(createImage(6, 4, 3, 0.5));
    expect(decodeImage(good, 'ok.png').width).toBe(6);
    const crc = good.slice();
    crc[crc.length - 20] ^= 0x40; // inside IDAT's data
    refuses(() => decodeImage(crc, 'crc.png'), /crc\.png: not a readable PNG \(CRC error in the IDAT chunk/);
    refuses(
      () => decodeImage(png(4, 4, deflateSync(new Uint8Array(10_000_000))), 'bomb.png'),
      /inflates to more than the 52 bytes the header allows/,
    );
    refuses(() => decodeImage(png(4, 4, deflateSync(new Uint8Array(20))), 'short.png'), /holds 20 bytes, a 4×4 image needs 52/);
    const pal = new Uint8Array(13);
    new DataView(pal.buffer).setUint32(0, 2);
    new DataView(pal.buffer).setUint32(4, 1);
    pal.set([8, 3, 0, 0, 0], 8);
    const body = [
      Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
      chunk('IHDR', pal),
      chunk('PLTE', Uint8Array.from([255, 0, 0])),
      chunk('IDAT', deflateSync(Uint8Array.from([0, 0, 7]))),
      chunk('IEND', new Uint8Array()),
    ];
    refuses(() => decodeImage(Uint8Array.from(body.flatMap((p) => [...p])), 'pal.png'), /palette entry 7, but the palette has 1/);
  });
  it('a JPEG whose frame header says 16000×16000 (1.3 KB) is refused before jpeg-js allocates; so is one too short for its blocks', () => {
    const sof = (w: number, h: number) =>
      Uint8Array.from([
        0xff,
        0xd8,
        0xff,
        0xc0,
        0,
        17,
        8,
        h >> 8,
        h & 255,
        w >> 8,
        w & 255,
        3,
        1,
        0x11,
        0,
        2,
        0x11,
        0,
        3,
        0x11,
        0,
        ...new Uint8Array(1300),
        0xff,
        0xd9,
      ]);
    refuses(() => decodeImage(sof(16000, 16000), 'big.jpg'), /big\.jpg: image is 16000×16000 = 256,000,000 pixels, over the limit/);
    refuses(() => decodeImage(sof(4000, 3000), 'liar.jpg'), /header says 4000×3000, 562,500 blocks, but the file has only 1323 bytes/);
    const arith = sof(8, 8);
    arith[3] = 0xc9;
    refuses(() => decodeImage(arith, 'arith.jpg'), /arithmetic\) is not supported/);
    expect(readImageHeader(encodeJpeg(createImage(9, 5, 3)), 'ok.jpg')).toMatchObject({ width: 9, height: 5 });
  });
});

function gaussians(n: number) {
  const g = createGaussians(n, 0);
  for (let i = 0; i < n; i++) {
    g.means.set([i * 0.1, 0, 0], 3 * i);
    g.logScales.set([-3, -3, -3], 3 * i);
    g.opacityLogits[i] = 1;
  }
  return g;
}
const plyText = (bytes: Uint8Array) => new TextDecoder('latin1').decode(bytes);
const latin1 = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));

describe('PLY: strict headers and values', () => {
  const good = writeGaussianPly(gaussians(5));
  it('a header that lost its opacity line is refused (the body is longer than the header says), not read misaligned', () => {
    refuses(
      () => readGaussianPly(latin1(plyText(good).replace('property float opacity\n', '')), 'noop.ply'),
      /noop\.ply: the PLY body is 20 bytes longer than its header declares/,
    );
  });
  it('trailing bytes, hex counts, integers out of their type, negative list lengths, extra ASCII values', () => {
    refuses(() => readGaussianPly(Uint8Array.from([...good, 0]), 't.ply'), /1 bytes longer than its header declares/);
    refuses(
      () => readGaussianPly(latin1(plyText(good).replace('element vertex 5', 'element vertex 0x5')), 'hex.ply'),
      /bad element line 'element vertex 0x5'/,
    );
    const ascii =
      'ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\nproperty float y\nproperty float z\nproperty uchar red\nproperty uchar green\nproperty uchar blue\nend_header\n';
    refuses(() => readGaussianPly(enc(ascii + '0 0 0 300 0 0\n'), 'u8.ply'), /300 does not fit the property's type uint8/);
    refuses(() => readGaussianPly(enc(ascii + '0 0 0 1 2 3 4\n'), 'extra.ply'), /holds more values than its header declares/);
    const list =
      'ply\nformat binary_little_endian 1.0\nelement face 1\nproperty list char int idx\nelement vertex 0\nproperty float x\nend_header\n';
    refuses(() => readGaussianPly(Uint8Array.from([...enc(list), 0xff]), 'neg.ply'), /negative list length -1/);
  });
  it('log-scales of ±1e30 (scale Infinity / 0) and colours of 3e38 are refused; writers clamp tiny scales so convert output reads back', () => {
    const dv = (b: Uint8Array) => new DataView(b.buffer, b.indexOf(0x0a, plyText(b).indexOf('end_header')) + 1);
    const props = plyText(good)
      .split('\n')
      .filter((l) => l.startsWith('property')).length;
    const at = (name: string) =>
      plyText(good)
        .split('\n')
        .filter((l) => l.startsWith('property'))
        .findIndex((l) => l.endsWith(` ${name}`));
    const big = good.slice();
    dv(big).setFloat32(at('scale_0') * 4, 1e30, true);
    refuses(
      () => readGaussianPly(big, 'scale.ply'),
      /scale\.ply: Gaussian 0 has log-scale .*e\+30 \(scale Infinity\), outside \[-30, 20\]/,
    );
    const col = good.slice();
    dv(col).setFloat32((props + at('f_dc_0')) * 4, 3e38, true);
    refuses(() => readGaussianPly(col, 'dc.ply'), /Gaussian 1 has colour coefficient .* beyond ±10000/);
    const g = gaussians(2);
    g.logScales[0] = -60;
    const back = readSplat(writeSplat(g), 'x.splat');
    expect(Math.min(...back.logScales)).toBeCloseTo(-30, 4); // .splat is sorted: find it by value
    expect(readGaussianPly(writeGaussianPly(g), 'x.ply').logScales[0]).toBe(-30);
    g.means[0] = NaN;
    refuses(() => writeSplat(g), /cannot write Gaussian 0: its position is NaN/);
  });
  it('.splat scales out of range are refused', () => {
    const b = writeSplat(gaussians(2));
    new DataView(b.buffer).setFloat32(12, 1e-30, true);
    refuses(() => readSplat(b, 's.splat'), /s\.splat: splat 0: scale 1\.0+\d*e-30 is outside/);
  });
});

describe('voxel files', () => {
  const grid = createVoxelGrid({ res: [3, 3, 3], box: { min: [-1, -1, -1], max: [1, 1, 1] } });
  const file = (edit: (h: any) => void) => {
    const b = encodeVoxelScene({ grid, background: [1, 1, 1], render: { stepRatio: 0.5, near: 0 } });
    const H = new DataView(b.buffer).getUint32(8, true);
    const h = JSON.parse(new TextDecoder().decode(b.subarray(12, 12 + H)));
    edit(h);
    const js = enc(JSON.stringify(h));
    const P = (12 + H + 3) & ~3,
      P2 = (12 + js.length + 3) & ~3;
    const out = new Uint8Array(P2 + b.length - P);
    out.set(b.subarray(0, 8));
    new DataView(out.buffer).setUint32(8, js.length, true);
    out.set(js, 12);
    out.set(b.subarray(P), P2);
    return out;
  };
  it('versions −1, 0, 1.5 and 2; a box of ±1e308; a background of 2', () => {
    expect(
      decodeVoxelScene(
        file(() => {}),
        'ok.voxel',
      ).grid.res,
    ).toEqual([3, 3, 3]);
    for (const v of [-1, 0, 1.5])
      refuses(
        () =>
          decodeVoxelScene(
            file((h) => (h.version = v)),
            'v.voxel',
          ),
        /version must be a positive integer/,
      );
    refuses(
      () =>
        decodeVoxelScene(
          file((h) => (h.version = 2)),
          'v.voxel',
        ),
      /newer than this program reads/,
    );
    refuses(
      () =>
        decodeVoxelScene(
          file((h) => (h.box.max = [1e308, 1, 1])),
          'b.voxel',
        ),
      /box coordinates must lie within/,
    );
    refuses(
      () =>
        decodeVoxelScene(
          file((h) => (h.background = [2, 0, 0])),
          'bg.voxel',
        ),
      /background must be RGB in \[0, 1\]/,
    );
  });
});

describe('datasets', () => {
  const eye = [
    [1, 0, 0, 0],
    [0, 1, 0, 0],
    [0, 0, 1, 3],
    [0, 0, 0, 1],
  ];
  const ds = (name: string, t: Record<string, unknown>, frame: Record<string, unknown> = {}) => {
    put(`${name}/a.png`, encodePng(createImage(8, 6, 3, 0.5)));
    put(
      `${name}/transforms.json`,
      JSON.stringify({ w: 8, h: 6, fl_x: 7, frames: [{ file_path: 'a.png', transform_matrix: eye, ...frame }], ...t }),
    );
    return join(dir, name);
  };
  it('garbage numbers: all-zero and projective poses, scene_box min = max or ±1e300, background 1e308, angles 0 and π', async () => {
    const z = [0, 0, 0, 0];
    await refusesAsync(
      loadDataset(ds('zero', {}, { transform_matrix: [z, z, z, [0, 0, 0, 1]] }), nodeFiles),
      /transform_matrix: the rotation part is degenerate/,
    );
    await refusesAsync(
      loadDataset(ds('proj', {}, { transform_matrix: [...eye.slice(0, 3), [0, 0, 1, 1]] }), nodeFiles),
      /the last row must be \[0, 0, 0, 1\]/,
    );
    await refusesAsync(
      loadDataset(ds('box0', { scene_box: { min: [0, 0, 0], max: [0, 0, 0] } }), nodeFiles),
      /scene_box: max must exceed min/,
    );
    await refusesAsync(
      loadDataset(ds('box300', { scene_box: { min: [-1e300, 0, 0], max: [1e300, 1, 1] } }), nodeFiles),
      /scene_box min\[0\] must be in/,
    );
    await refusesAsync(loadDataset(ds('bg', { background: [1e308, 0, 0] }), nodeFiles), /background \(RGB\)\[0\] must be in \[0, 1\]/);
    for (const a of [0, Math.PI])
      await refusesAsync(
        loadDataset(ds(`ang${a}`, { fl_x: undefined, camera_angle_x: a }), nodeFiles),
        /camera_angle_x \(radians\) must be in/,
      );
  });
  it('paths named in the file stay inside its folder', async () => {
    await refusesAsync(
      loadDataset(ds('abs', {}, { file_path: '/etc/passwd' }), nodeFiles),
      /frame 0 file_path "\/etc\/passwd" is absolute/,
    );
    await refusesAsync(
      loadDataset(ds('up', {}, { mask_path: '../../m.png' }), nodeFiles),
      /frame 0 mask_path "..\/..\/m.png" leaves its folder/,
    );
    await refusesAsync(loadDataset(ds('ply', { ply_file_path: '/dev/zero' }), nodeFiles), /ply_file_path "\/dev\/zero" is absolute/);
  });
  it('an image whose size disagrees with its camera is refused, never resized; --downscale cannot shrink it to nothing', async () => {
    const p = ds('size', { w: 16, h: 12 });
    const d = await loadDataset(p, nodeFiles);
    await refusesAsync(loadFrameImage(d, d.frames[0], nodeFiles), /a\.png: image is 8×6 but its camera in .* is 16×12/);
    await refusesAsync(loadDataset(ds('ds', {}), nodeFiles, { downscale: 64 }), /--downscale 64 makes the 8×6 images of a\.png 0×0/);
    expect(ssim(createImage(3, 2, 3, 0.2), createImage(3, 2, 3, 0.2))).toBeCloseTo(1, 6); // tiny images have an SSIM
  });
  it('Blender files without w/h take the size of their images (no assumed 800×800)', async () => {
    put('bl/train/r_0.png', encodePng(createImage(32, 32, 4)));
    put('bl/transforms_train.json', JSON.stringify({ camera_angle_x: 0.7, frames: [{ file_path: './train/r_0', transform_matrix: eye }] }));
    const d = await loadDataset(join(dir, 'bl'), nodeFiles);
    expect([d.frames[0].camera.width, d.frames[0].camera.height]).toEqual([32, 32]);
    expect((await loadFrameImage(d, d.frames[0], nodeFiles))!.width).toBe(32);
  });
  it('a frame that is a FIFO is refused in one line', async () => {
    const p = ds('fifo', {});
    rmSync(join(p, 'a.png'));
    execFileSync('mkfifo', [join(p, 'a.png')]);
    const d = await loadDataset(p, nodeFiles);
    await refusesAsync(loadFrameImage(d, d.frames[0], nodeFiles), /a\.png: is a named pipe/);
  });
});

describe('scene folders', () => {
  const scene = (name: string, m: Record<string, unknown>) => {
    put(`${name}/scene.ply`, writeGaussianPly(gaussians(3)));
    put(`${name}/scene.json`, JSON.stringify({ format: 'instruct-scene', version: 1, kind: 'gaussians', file: 'scene.ply', ...m }));
    return join(dir, name);
  };
  it('"file" absolute (/etc/passwd, /dev/zero) or escaping with ..; other versions; backgrounds out of [0, 1]', async () => {
    await refusesAsync(
      loadScene(scene('s1', { file: '/etc/passwd' }), nodeFiles),
      /scene\.json: "file" must name a file inside the scene folder: it is absolute/,
    );
    await refusesAsync(loadScene(scene('s2', { file: '../s1/scene.ply' }), nodeFiles), /it leaves its folder/);
    await refusesAsync(loadScene(scene('s3', { version: 2 }), nodeFiles), /manifest version 2 is not supported/);
    await refusesAsync(
      loadScene(scene('s4', { background: [1e308, 0, 0] }), nodeFiles),
      /background must be RGB, three numbers in \[0, 1\]/,
    );
    expect((await loadScene(scene('s5', {}), nodeFiles)).kind).toBe('gaussians');
  });
  it('orbit hints: zero up, a string centre, radius 1e308, {}, fovY 0 — refused; a good one gives finite cameras', () => {
    const good = { center: [0, 0, 0], up: [0, 2, 0], radius: 3, elevation: 1.5707963, fovY: 0.7 };
    for (const [bad, re] of [
      [{ ...good, up: [0, 0, 0] }, /up must not be the zero vector/],
      [{ ...good, center: 'x' }, /center must be 3 finite numbers/],
      [{ ...good, radius: 1e308 }, /radius must be a number in/],
      [{}, /center must be/],
      [{ ...good, fovY: 0 }, /fovY must be radians in/],
    ] as const)
      refuses(() => checkOrbitHint(bad, 'scene'), re);
    for (const c of orbitCameras(checkOrbitHint(good, 'scene'), 4, 8, 8)) expect(Array.from(c.c2w).every(Number.isFinite)).toBe(true);
  });
});

describe('messages and JSON', () => {
  it('JSON: one line for syntax errors (no quoted newlines), not UTF-8, nested 10,000 deep', () => {
    refuses(
      () => parseJson('{"frames": [\n{"a": 1,\n}]}', 't.json'),
      /^t\.json: broken JSON \(Expected double-quoted property name in JSON at position \d+\)$/,
    );
    refuses(() => parseJson(Uint8Array.from([0x7b, 0xff, 0x7d]), 'u.json'), /not valid UTF-8/);
    refuses(() => parseJson('['.repeat(10_000) + ']'.repeat(10_000), 'deep.json'), /nested more than 256 levels deep/);
  });
  it('control characters are escaped, UTF-8 is kept, long messages are cut in the middle', () => {
    expect(escapeControls('a\nb\r\tc\u001b[31md\u2028')).toBe('a\\nb\\r\\tc\\x1b[31md\\u2028');
    expect(new UserError('bad', 'x\ny.ply').message).toBe('x\\ny.ply: bad');
    expect(oneLine('make it réd 熊')).toBe('make it réd 熊');
    const long = oneLine('x'.repeat(60_000));
    expect(long.length).toBeLessThan(1100);
    expect(long).toMatch(/characters cut/);
  });
  it('paths inside files', () => {
    expect(insidePathProblem('images/a.png')).toBeNull();
    expect(insidePathProblem('./a/../b.png')).toBeNull();
    for (const p of ['/etc/passwd', '../x', 'a/../../x', 'C:\\x', 'file:///etc/passwd', '', '.', 'a\u0000b'])
      expect(insidePathProblem(p), p).not.toBeNull();
  });
  it('flags: --iters 1e12 and --batch 1e8 are over their bounds; hex, blanks and empty strings are not numbers', () => {
    refuses(() => intFlag('1e12', 'iters', 1), /--iters must be at most 1,000,000/);
    refuses(() => intFlag('100000000', 'batch', 1), /--batch must be at most 65,536/);
    for (const v of ['0x10', '', ' ', '1.5']) refuses(() => intFlag(v, 'seed', 0, 0), /--seed must be an integer/);
    expect(intFlag('1e3', 'iters', 1)).toBe(1000);
    expect(readFileSync(join(dir, '..', dir.split('/').pop()!, 'bl/train/r_0.png')).length).toBeGreaterThan(0);
  });
});
