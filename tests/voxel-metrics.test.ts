import { describe, expect, it } from 'vitest';
import { Rng } from '../src/core/rng';
import { createImage, type Image } from '../src/core/image';
import { psnr, ssim } from '../src/edit/eval/metrics';

/** PSNR and SSIM (docs/metrics.md) against their definitions. */
function randomImage(rng: Rng, w: number, h: number): Image {
  const img = createImage(w, h, 3);
  for (let i = 0; i < img.data.length; i++) img.data[i] = rng.next();
  return img;
}

/** SSIM by the definition: every 11×11 window (valid region), Gaussian σ 1.5, per channel, direct sums. */
function ssimDirect(a: Image, b: Image): number {
  const g: number[] = [];
  let gs = 0;
  for (let y = 0; y < 11; y++)
    for (let x = 0; x < 11; x++) {
      const v = Math.exp(-((x - 5) ** 2 + (y - 5) ** 2) / (2 * 1.5 * 1.5));
      g.push(v);
      gs += v;
    }
  const C1 = 1e-4,
    C2 = 9e-4;
  let total = 0,
    count = 0;
  for (let c = 0; c < 3; c++)
    for (let y0 = 0; y0 + 11 <= a.height; y0++)
      for (let x0 = 0; x0 + 11 <= a.width; x0++) {
        let mx = 0,
          my = 0,
          xx = 0,
          yy = 0,
          xy = 0;
        for (let y = 0; y < 11; y++)
          for (let x = 0; x < 11; x++) {
            const w = g[y * 11 + x] / gs,
              i = ((y0 + y) * a.width + x0 + x) * 3 + c;
            const u = a.data[i],
              v = b.data[i];
            mx += w * u;
            my += w * v;
            xx += w * u * u;
            yy += w * v * v;
            xy += w * u * v;
          }
        const vx = xx - mx * mx,
          vy = yy - my * my,
          cxy = xy - mx * my;
        total += ((2 * mx * my + C1) * (2 * cxy + C2)) / ((mx * mx + my * my + C1) * (vx + vy + C2));
        count++;
      }
  return total / count;
}

describe('metrics', () => {
  it('psnr: 10·log10(1/MSE), with and without a mask', () => {
    const a = createImage(8, 6, 3, 0.5),
      b = createImage(8, 6, 3, 0.6);
    expect(psnr(a, b)).toBeCloseTo(20, 5);
    expect(psnr(a, a)).toBe(Infinity);
    const mask = createImage(8, 6, 1);
    for (let i = 0; i < 24; i++) mask.data[i] = 1; // top half
    for (let i = 24 * 3; i < b.data.length; i++) b.data[i] = 0.9; // bottom half far off
    expect(psnr(a, b, mask)).toBeCloseTo(20, 5);
    expect(psnr(a, b)).toBeLessThan(15);
  });

  it('ssim equals the windowed definition and is 1 for identical images', () => {
    const rng = new Rng(3);
    const a = randomImage(rng, 23, 17);
    const b = createImage(23, 17, 3);
    for (let i = 0; i < b.data.length; i++) b.data[i] = Math.min(1, Math.max(0, a.data[i] * 0.7 + 0.2 * rng.next()));
    expect(ssim(a, a)).toBeCloseTo(1, 10);
    const s = ssim(a, b);
    expect(s).toBeGreaterThan(0.1);
    expect(s).toBeLessThan(0.99);
    expect(s).toBeCloseTo(ssimDirect(a, b), 8);
    expect(ssim(b, a)).toBeCloseTo(s, 12);
  });
});
