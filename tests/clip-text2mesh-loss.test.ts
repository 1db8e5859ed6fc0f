import { beforeAll, describe, expect, it } from 'vitest';
import { createImage, type Image } from '../src/core/image';
import { Rng } from '../src/core/rng';
import {
  PerspectiveWarp,
  perspectiveCoeffs,
  randomPerspectiveParams,
  randomResizedCropParams,
  resizedCrop,
  resizedCropBackward,
} from '../src/edit/clip/clip-augment';
import { ClipModel } from '../src/edit/clip/clip-model';
import { createText2MeshLoss, loadText2MeshLoss } from '../src/edit/clip/text2mesh-loss';
import type { ImageLoss } from '../src/edit/loops/image-loss';
import { nodeFiles } from '../src/io/node/node-files';
import { tinyClipFolder, type TinyClip } from './helpers/clip-models';

/**
 * Text2Mesh's CLIP loss: its augmentations (adjoint backward passes, torchvision's parameter distributions) and
 * the whole loss's gradient with respect to the render pixels against finite differences.
 */

const rand = (n: number, rng: Rng) => Float32Array.from({ length: n }, () => rng.normal());
const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
};

describe('Text2Mesh augmentations', () => {
  it('resized crops cover the requested area fraction inside the frame; scale 1 is the whole frame', () => {
    const rng = new Rng(1);
    for (let t = 0; t < 200; t++) {
      const b = randomResizedCropParams(rng, 224, 224, [0.1, 0.1]);
      expect(b.top).toBeGreaterThanOrEqual(0);
      expect(b.left + b.width).toBeLessThanOrEqual(224);
      expect(b.top + b.height).toBeLessThanOrEqual(224);
      expect((b.width * b.height) / 224 ** 2).toBeCloseTo(0.1, 1);
      expect(b.width / b.height).toBeGreaterThan(0.7);
      expect(b.width / b.height).toBeLessThan(1.4);
    }
    expect(randomResizedCropParams(rng, 224, 224, [1, 1])).toEqual({ top: 0, left: 0, height: 224, width: 224 });
  });

  it('perspective corners: moved inwards by at most distortion × half the side; the homography maps end to start points', () => {
    const rng = new Rng(2);
    for (let t = 0; t < 50; t++) {
      const { start, end } = randomPerspectiveParams(rng, 224, 224, 0.5);
      const [tl, tr, br, bl] = end;
      for (const v of [tl[0], tl[1], tr[1], bl[0]]) expect(v).toBeLessThanOrEqual(56);
      for (const v of [tr[0], br[0], br[1], bl[1]]) expect(v).toBeGreaterThanOrEqual(224 - 57);
      const [a, b, c, d, e, f, g, h] = perspectiveCoeffs(start, end);
      end.forEach(([x, y], i) => {
        const den = g * x + h * y + 1;
        expect((a * x + b * y + c) / den).toBeCloseTo(start[i][0], 2);
        expect((d * x + e * y + f) / den).toBeCloseTo(start[i][1], 2);
      });
    }
  });

  it('crop-resize and perspective warp have exact adjoints (the gradients the loss carries back)', () => {
    const rng = new Rng(3);
    const C = 3,
      H = 30,
      W = 41,
      S = 16;
    const img = rand(C * H * W, rng),
      y = rand(C * S * S, rng);
    const box = randomResizedCropParams(rng, H, W, [0.1, 0.1]);
    const out = new Float32Array(C * S * S),
      back = new Float32Array(img.length);
    resizedCrop(out, img, C, H, W, box, S, S);
    resizedCropBackward(back, y, C, H, W, box, S, S);
    expect(dot(out, y)).toBeCloseTo(dot(img, back), 3);
    // the warp with fill 0 is linear; fill adds a constant that does not depend on the image
    const { start, end } = randomPerspectiveParams(rng, S, S, 0.5);
    const warp = new PerspectiveWarp(S, S, perspectiveCoeffs(start, end), 0);
    const x = rand(C * S * S, rng),
      wx = new Float32Array(x.length),
      wty = new Float32Array(x.length);
    warp.apply(wx, x, C);
    warp.backward(wty, y, C);
    expect(dot(wx, y)).toBeCloseTo(dot(x, wty), 3);
    // with white fill, the corners that leave the frame are white
    const white = new PerspectiveWarp(
      S,
      S,
      perspectiveCoeffs(start, [
        [4, 4],
        [S - 5, 3],
        [S - 4, S - 4],
        [3, S - 5],
      ]),
      1,
    );
    const ones = new Float32Array(C * S * S);
    white.apply(ones, new Float32Array(C * S * S), C);
    expect(ones[0]).toBeCloseTo(1, 5);
    expect(ones[(S / 2) * S + S / 2]).toBeCloseTo(0, 5);
  });
});

describe('Text2Mesh CLIP loss', () => {
  let m: TinyClip;
  let model: ClipModel;
  let loss: ImageLoss;
  beforeAll(async () => {
    m = await tinyClipFolder();
    model = await ClipModel.load(m.dir, nodeFiles);
    loss = await createText2MeshLoss(model, 'a vase made of colorful crochet');
  });

  const renders = (n: number, w: number, h: number, seed: number, channels: 1 | 3 | 4 = 3): Image[] => {
    const rng = new Rng(seed);
    return Array.from({ length: n }, () => {
      const img = createImage(w, h, channels);
      img.data.forEach((_, i) => (img.data[i] = rng.next()));
      return img;
    });
  };

  it('its gradient with respect to the render pixels matches finite differences (colour and geometry kinds)', async () => {
    const views = renders(3, 40, 40, 4);
    for (const kind of ['color', 'geometry'] as const) {
      const r = await loss.evaluate(views, new Rng(99), kind);
      expect(r.grads).toHaveLength(3);
      r.grads.forEach((g, i) => expect(g.length).toBe(views[i].data.length));
      const rng = new Rng(5);
      const dirs = views.map((v) => rand(v.data.length, rng));
      const at = async (t: number) => {
        const shifted = views.map((v, i) => ({ ...v, data: v.data.map((x, j) => x + t * dirs[i][j]) }));
        return (await loss.evaluate(shifted, new Rng(99), kind)).loss; // same seed: same augmentations
      };
      // the random model is strongly non-linear in the pixels: a small step keeps the truncation error of the
      // central difference below the bound (measured: 1e-2 → 4e-3 relative, 3e-3 → 3e-4)
      const eps = 3e-3;
      const fd = ((await at(eps)) - (await at(-eps))) / (2 * eps);
      const an = r.grads.reduce((s, g, i) => s + dot(g, dirs[i]), 0);
      expect(Math.abs(fd - an), `${kind}: fd ${fd}, analytic ${an}`).toBeLessThan(2e-3 * Math.max(Math.abs(fd), 1e-2));
      // a step against the gradient lowers the loss
      const step = 1e-2 / Math.sqrt(r.grads.reduce((s, g) => s + dot(g, g), 0));
      const lower = await loss.evaluate(
        views.map((v, i) => ({ ...v, data: v.data.map((x, j) => x - step * r.grads[i][j]) })),
        new Rng(99),
        kind,
      );
      expect(lower.loss).toBeLessThan(r.loss);
    }
  });

  it('runs 1 global + 4 local views for colour renders and 4 local views for geometry renders, views batched per augmentation', async () => {
    const calls: number[] = [];
    const enc = model.encoder;
    const orig = enc.encodeImagesForGrad.bind(enc);
    enc.encodeImagesForGrad = async (px, batch) => {
      calls.push(batch);
      return orig(px, batch);
    };
    try {
      const views = renders(5, 32, 32, 6);
      const c = await loss.evaluate(views, new Rng(1), 'color');
      expect(calls).toEqual([5, 5, 5, 5, 5]);
      expect(c.loss).toBeGreaterThan(0);
      expect(c.loss).toBeLessThan(10);
      calls.length = 0;
      const g = await loss.evaluate(views, new Rng(1), 'geometry');
      expect(calls).toEqual([5, 5, 5, 5]);
      expect(g.loss).toBeLessThan(8);
    } finally {
      enc.encodeImagesForGrad = orig;
    }
  });

  it('takes RGBA and grey renders (alpha gets no gradient) and is reproducible from the seed', async () => {
    const rgba = renders(2, 36, 36, 7, 4);
    const a = await loss.evaluate(rgba, new Rng(3));
    const b = await loss.evaluate(rgba, new Rng(3));
    expect(a.loss).toBe(b.loss);
    expect(a.grads[0]).toEqual(b.grads[0]);
    for (let i = 3; i < a.grads[0].length; i += 4) expect(a.grads[0][i]).toBe(0);
    expect(Math.max(...a.grads[0].map(Math.abs))).toBeGreaterThan(0);
    const c = await loss.evaluate(rgba, new Rng(4));
    expect(c.loss).not.toBe(a.loss);
    const grey = await loss.evaluate(renders(2, 32, 32, 8, 1), new Rng(3), 'geometry');
    expect(grey.grads[0]).toHaveLength(32 * 32);
  });

  it('loads from a folder for stylize (id names the model and the prompt)', async () => {
    const l = await loadText2MeshLoss(m.dir, nodeFiles, 'a golden vase');
    expect(l.id).toMatch(/^clip:clip-model-\w+ "a golden vase"$/);
    expect(l.imageSize).toBe(32);
    // the text tower is freed once the prompt is embedded; the image tower keeps working
    const r = await l.evaluate(renders(2, 32, 32, 9), new Rng(2));
    expect(Number.isFinite(r.loss)).toBe(true);
    l.dispose?.();
  });
});
