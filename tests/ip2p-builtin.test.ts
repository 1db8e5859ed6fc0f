import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { createImage, type Image } from '../src/core/image';
import { UserError } from '../src/core/errors';
import { nodeFiles } from '../src/io/node/node-files';
import { nodeRuntime } from '../src/io/node/node-ort';
import { InstructPix2Pix } from '../src/edit/diffusion/pipeline';
import { loadTokenizer } from '../src/edit/diffusion/tokenizer/tokenizer';
import { buildBuiltin, builtinVocabulary } from '../models/build-builtin';

const BUILTIN = join(__dirname, '../models/builtin');

/** A small "photo": smooth gradients, a few coloured patches, some texture. */
function testImage(w = 48, h = 40): Image {
  const img = createImage(w, h, 3);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 3;
      const tex = ((x ^ y) & 1) * 0.05;
      img.data[i] = 0.2 + 0.6 * (x / w) + tex;
      img.data[i + 1] = 0.3 + 0.4 * (y / h) + tex;
      img.data[i + 2] = x < w / 2 && y < h / 2 ? 0.8 : 0.3;
    }
  return img;
}

function stats(img: Image) {
  let r = 0,
    g = 0,
    b = 0,
    sat = 0;
  const n = img.width * img.height;
  for (let i = 0; i < n; i++) {
    const R = img.data[i * 3],
      G = img.data[i * 3 + 1],
      B = img.data[i * 3 + 2];
    r += R;
    g += G;
    b += B;
    sat += Math.max(R, G, B) - Math.min(R, G, B);
  }
  r /= n;
  g /= n;
  b /= n;
  return {
    r,
    g,
    b,
    lum: 0.299 * r + 0.587 * g + 0.114 * b,
    sat: sat / n,
    redness: r - (g + b) / 2,
    blueness: b - (r + g) / 2,
    greenness: g - (r + b) / 2,
  };
}

describe('built-in stand-in model', () => {
  let pipe: InstructPix2Pix;
  const src = testImage();
  const s0 = stats(src);
  const edit = (ins: string) => pipe.edit(src, ins, { steps: 10, seed: 1 });
  beforeAll(async () => {
    pipe = await InstructPix2Pix.load(BUILTIN, nodeFiles, nodeRuntime());
  });
  afterAll(() => pipe?.dispose());

  it('is what models/build-builtin.ts generates (committed files up to date, deterministic)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'builtin-'));
    try {
      await buildBuiltin(dir);
      const list = (d: string): string[] =>
        readdirSync(d).flatMap((f) => (statSync(join(d, f)).isDirectory() ? list(join(d, f)) : [join(d, f)]));
      const files = list(dir)
        .map((f) => relative(dir, f))
        .sort();
      expect(files).toEqual(
        list(BUILTIN)
          .map((f) => relative(BUILTIN, f))
          .sort(),
      );
      for (const f of files) expect(readFileSync(join(BUILTIN, f)).equals(readFileSync(join(dir, f))), f).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('ships standard HF tokenizer files in which every word it knows is one token', async () => {
    const tok = await loadTokenizer(join(BUILTIN, 'tokenizer'), nodeFiles);
    const { words } = builtinVocabulary();
    for (const w of words) expect(tok.tokenize(w)).toEqual([`${w}</w>`]);
    const ids = tok.encodeForModel('make it red');
    expect(ids.length).toBe(77);
    expect(ids[0]).toBe(tok.bosId);
    expect(ids[4]).toBe(tok.eosId);
  });

  it('says honestly what it is', () => {
    expect(pipe.info.builtin).toBe(true);
    expect(pipe.info.name).toMatch(/stand-in/);
    expect(pipe.info.name).toMatch(/not a learned model/);
  });

  it('red / green / blue make the image redder / greener / bluer', async () => {
    const red = stats(await edit('make it red'));
    const green = stats(await edit('make it green'));
    const blue = stats(await edit('make it blue'));
    expect(red.redness).toBeGreaterThan(s0.redness + 0.3);
    expect(green.greenness).toBeGreaterThan(s0.greenness + 0.3);
    expect(blue.blueness).toBeGreaterThan(s0.blueness + 0.3);
    const slightly = stats(await edit('make it slightly red'));
    expect(slightly.redness).toBeGreaterThan(s0.redness + 0.1);
    expect(slightly.redness).toBeLessThan(red.redness - 0.1);
  });

  it('darker / brighter / night / black and white / sepia / gold move tone and colour the right way', async () => {
    const dark = stats(await edit('Make it darker.'));
    expect(dark.lum).toBeLessThan(s0.lum * 0.7);
    const bright = stats(await edit('make it brighter'));
    expect(bright.lum).toBeGreaterThan(s0.lum + 0.1);
    const night = stats(await edit('turn it into night'));
    expect(night.lum).toBeLessThan(s0.lum * 0.5);
    expect(night.b).toBeGreaterThan(night.r);
    const bw = stats(await edit('make it black and white'));
    expect(bw.sat).toBeLessThan(0.01);
    expect(Math.abs(bw.lum - s0.lum)).toBeLessThan(0.03); // grey, not black or white
    const black = stats(await edit('make it black'));
    expect(black.lum).toBeLessThan(0.15);
    const sepia = stats(await edit('sepia'));
    expect(sepia.r).toBeGreaterThan(sepia.g);
    expect(sepia.g).toBeGreaterThan(sepia.b);
    const gold = stats(await edit('make it gold'));
    expect(gold.r).toBeGreaterThan(gold.g);
    expect(gold.g - gold.b).toBeGreaterThan(0.15);
  });

  it('rejects instructions it does not understand with what it knows and how to get InstructPix2Pix', async () => {
    const err = await edit('turn him into a clown').catch((e) => e);
    expect(err).toBeInstanceOf(UserError);
    expect(err.message).toMatch(/does not understand 'clown'/);
    expect(err.message).toMatch(/red, green, blue/);
    expect(err.message).toMatch(/optimum-cli/);
    const none = await edit('make it').catch((e) => e);
    expect(none).toBeInstanceOf(UserError);
    expect(none.message).toMatch(/names no edit/);
    const partial = await edit('make it reddish').catch((e) => e);
    expect(partial.message).toMatch(/'reddish'/);
  });

  it('ignores (and reports) the object in "make the vase gold": it edits the whole image or the region', async () => {
    expect(pipe.checkInstruction('make the vase gold')).toEqual(['vase']);
    expect(pipe.checkInstruction('make it gold')).toEqual([]);
    const gold = stats(await edit('make the vase gold'));
    expect(gold.r).toBeGreaterThan(gold.g);
    expect(gold.g - gold.b).toBeGreaterThan(0.15);
  });

  it('restoreLumaDetail gives back exactly the detail the VAE loses (grey images: all of it)', async () => {
    const grey = createImage(32, 16, 3);
    for (let i = 0; i < 32 * 16; i++) grey.data.fill(((i * 7919) % 97) / 96, i * 3, i * 3 + 3);
    const blurred = await pipe.decode(await pipe.encode(grey));
    let before = 0,
      after = 0;
    const back = await pipe.restoreLumaDetail(blurred, grey);
    for (let i = 0; i < grey.data.length; i++) {
      before = Math.max(before, Math.abs(blurred.data[i] - grey.data[i]));
      after = Math.max(after, Math.abs(back.data[i] - grey.data[i]));
    }
    expect(before).toBeGreaterThan(0.3);
    expect(after).toBeLessThan(1e-5);
  });

  it('keeps the input size and, with restoreLuma, its texture', async () => {
    const out = await pipe.edit(src, 'make it darker', { steps: 4, seed: 1 });
    expect([out.width, out.height]).toEqual([src.width, src.height]);
    const flat = await pipe.edit(src, 'make it darker', { steps: 4, seed: 1, restoreLuma: false });
    const texture = (im: Image) => {
      let t = 0;
      for (let y = 8; y < 32; y++)
        for (let x = 8; x < 40; x++) t += Math.abs(im.data[(y * im.width + x) * 3 + 1] - im.data[(y * im.width + x + 1) * 3 + 1]);
      return t;
    };
    expect(texture(out)).toBeGreaterThan(texture(flat) * 1.5);
  });
});
