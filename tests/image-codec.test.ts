import { describe, expect, it } from 'vitest';
import { decodeImage, encodeJpeg, encodePng } from '../src/io/images/image-codec';
import { createImage, compositeOver, downscaleImage } from '../src/core/image';
import { UserError } from '../src/core/errors';

describe('image codecs', () => {
  it('PNG round-trips RGB and RGBA exactly at 8 bits', () => {
    for (const C of [3, 4] as const) {
      const img = createImage(5, 3, C);
      for (let i = 0; i < img.data.length; i++) img.data[i] = ((i * 37) % 256) / 255;
      const back = decodeImage(encodePng(img), 'x.png');
      expect(back.channels).toBe(C);
      expect([back.width, back.height]).toEqual([5, 3]);
      for (let i = 0; i < img.data.length; i++) expect(back.data[i]).toBeCloseTo(img.data[i], 5);
    }
  });
  it('JPEG round-trips approximately', () => {
    const img = createImage(16, 16, 3, 0.5);
    const back = decodeImage(encodeJpeg(img, 95), 'x.jpg');
    expect(back.channels).toBe(3);
    for (let i = 0; i < img.data.length; i++) expect(Math.abs(back.data[i] - 0.5)).toBeLessThan(0.02);
  });
  it('rejects garbage with the file name', () => {
    expect(() => decodeImage(new Uint8Array([1, 2, 3, 4, 5]), 'bad.png')).toThrow(/bad\.png: not a PNG or JPEG/);
    const png = encodePng(createImage(4, 4, 3));
    expect(() => decodeImage(png.slice(0, 30), 'cut.png')).toThrow(UserError);
  });
  it('composites RGBA over the background and downscales by area', () => {
    const img = createImage(2, 2, 4);
    img.data.set([1, 0, 0, 0.5, 1, 0, 0, 0.5, 1, 0, 0, 0.5, 1, 0, 0, 0.5]);
    const rgb = compositeOver(img, [0, 0, 1]);
    expect(Array.from(rgb.data.slice(0, 3))).toEqual([0.5, 0, 0.5]);
    const small = downscaleImage(rgb, 2);
    expect(small.width).toBe(1);
    expect(small.data[0]).toBeCloseTo(0.5);
  });
});
