import { describe, expect, it } from 'vitest';
import { createImage } from '../src/core/image';
import { CLIP_MEAN, CLIP_STD, clipPixelValues, resizeBicubic, shorterSideSize } from '../src/edit/clip/clip-preprocess';

/** CLIP's preprocessing: used as is at the model's size, else shorter side to S (bicubic), centre crop, mean/std. */

describe('CLIP preprocessing', () => {
  it('uses an S×S image as is: only the mean/std normalisation, planar RGB', () => {
    const img = createImage(4, 4, 3);
    img.data.forEach((_, i) => (img.data[i] = (i % 7) / 7));
    const px = clipPixelValues(img, 4);
    for (let y = 0; y < 4; y++)
      for (let x = 0; x < 4; x++)
        for (let c = 0; c < 3; c++)
          expect(px[(c * 4 + y) * 4 + x]).toBeCloseTo((img.data[(y * 4 + x) * 3 + c] - CLIP_MEAN[c]) / CLIP_STD[c], 6);
  });

  it('resizes the shorter side as transformers computes the size, and crops the centre', () => {
    expect(shorterSideSize(50, 37, 32)).toEqual([43, 32]);
    expect(shorterSideSize(640, 480, 224)).toEqual([298, 224]);
    expect(shorterSideSize(224, 400, 224)).toEqual([224, 400]);
    // a tall image whose only bright rows are its middle third: the crop keeps them in the middle
    const img = createImage(8, 24, 1);
    for (let y = 8; y < 16; y++) for (let x = 0; x < 8; x++) img.data[y * 8 + x] = 1;
    const px = clipPixelValues(img, 8);
    const v = (y: number) => px[y * 8 + 3] * CLIP_STD[0] + CLIP_MEAN[0];
    expect(v(4)).toBeCloseTo(1, 5); // grey images repeat into RGB
    expect(px[(2 * 8 + 4) * 8 + 3] * CLIP_STD[2] + CLIP_MEAN[2]).toBeCloseTo(1, 5);
    expect(v(0)).toBeCloseTo(1, 5);
    expect(v(7)).toBeCloseTo(1, 5);
  });

  it('bicubic (Keys a = −0.5, support widened when shrinking) keeps constants and interior ramps at pixel centres', () => {
    const flat = createImage(30, 20, 3, 0.3);
    const r = resizeBicubic(flat, 13, 7);
    r.data.forEach((v) => expect(v).toBeCloseTo(0.3, 6));
    const ramp = createImage(64, 2, 1);
    for (let x = 0; x < 64; x++) ramp.data[x] = ramp.data[64 + x] = x / 63;
    for (const w of [32, 100]) {
      const out = resizeBicubic(ramp, w, 2);
      const scale = 64 / w;
      for (let o = 4; o < w - 4; o++) expect(out.data[o]).toBeCloseTo(((o + 0.5) * scale - 0.5) / 63, 5);
    }
    // overshoot at a step is clipped to [0, 1] as PIL does
    const step = createImage(8, 1, 1);
    for (let x = 4; x < 8; x++) step.data[x] = 1;
    const up = resizeBicubic(step, 32, 1);
    expect(Math.max(...up.data)).toBe(1);
    expect(Math.min(...up.data)).toBe(0);
  });
});
