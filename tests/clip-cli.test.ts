import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { createImage } from '../src/core/image';
import { Rng } from '../src/core/rng';
import { ClipModel } from '../src/edit/clip/clip-model';
import { readSafetensors, tensorAsF32, writeSafetensors } from '../src/edit/clip/safetensors';
import { clipDirectionMetrics } from '../src/edit/eval/clip-direction';
import { decodeImage, encodePng } from '../src/io/images/image-codec';
import { nodeFiles } from '../src/io/node/node-files';
import { saveVoxelScene } from '../src/io/scenes/load-scene';
import { cli } from './helpers/cli';
import { demoVoxelGrid, writeTinyDemo } from './helpers/edit-demo';
import { maxAbsDiff, ortEmbeddings, tinyClipFolder, type TinyClip } from './helpers/clip-models';

/** The CLIP commands end to end (child processes): clip embed, models check on CLIP folders, diff --clip. */

let root = '';
let m: TinyClip;
beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'clip-cli-'));
  m = await tinyClipFolder();
});

describe('clip embed', () => {
  it('prints one JSON object whose embeddings equal ONNX Runtime’s on the same images and texts', async () => {
    const rng = new Rng(1);
    const files = [
      [32, 32],
      [50, 37],
    ].map(([w, h], i) => {
      const img = createImage(w, h, 3);
      img.data.forEach((_, k) => (img.data[k] = rng.next()));
      const f = join(root, `img${i}.png`);
      writeFileSync(f, encodePng(img));
      return f;
    });
    const texts = ['a photo of a cat', 'a vase made of colorful crochet'];
    const r = cli([
      'clip',
      'embed',
      '--model',
      m.dir,
      ...files.flatMap((f) => ['--image', f]),
      ...texts.flatMap((t) => ['--text', t]),
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(Object.keys(out).sort()).toEqual(['image_embeds', 'text_embeds']);
    expect(out.image_embeds).toHaveLength(2);
    expect(out.text_embeds[0]).toHaveLength(m.config.projectionDim);
    for (const e of [...out.image_embeds, ...out.text_embeds]) expect(Math.hypot(...e)).toBeCloseTo(1, 5);
    const model = await ClipModel.load(m.dir, nodeFiles);
    const images = files.map((f) => decodeImage(new Uint8Array(readFileSync(f)), f));
    const ref = await ortEmbeddings(m, model, texts, images);
    expect(
      maxAbsDiff(
        out.image_embeds.map((e: number[]) => Float32Array.from(e)),
        ref.image,
      ),
    ).toBeLessThanOrEqual(1e-4);
    expect(
      maxAbsDiff(
        out.text_embeds.map((e: number[]) => Float32Array.from(e)),
        ref.text,
      ),
    ).toBeLessThanOrEqual(1e-4);
    // the readable form: similarities and CLIP's softmax over the texts
    const t = cli(['clip', 'embed', '--model', m.dir, '--image', files[0], ...texts.flatMap((x) => ['--text', x])]);
    expect(t.code, t.stderr).toBe(0);
    expect(t.stdout).toMatch(/p=0\.\d{3} {2}"a photo of a cat"/);
  });

  it('bad input: one line naming the problem, exit 1', () => {
    const cases: [string[], RegExp][] = [
      [['clip', 'embed', '--model', root, '--text', 'x'], /not a CLIP model folder/],
      [['clip', 'embed', '--model', m.dir], /nothing to embed/],
      [['clip', 'embed', '--model', m.dir, '--image', join(root, 'missing.png')], /missing\.png: no such file/],
      [['clip', 'encode', '--model', m.dir], /unknown subcommand 'encode'/],
    ];
    for (const [args, re] of cases) {
      const r = cli(args);
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1);
      expect(r.stderr).toMatch(re);
    }
  });
});

describe('models check on a CLIP folder', () => {
  it('passes a good folder (with --run) and lists every broken tensor', async () => {
    const ok = cli(['models', 'check', m.dir, '--run', '--json']);
    expect(ok.code, ok.stderr).toBe(0);
    const j = JSON.parse(ok.stdout);
    expect(j).toMatchObject({ ok: true, kind: 'clip', problems: [], run: { ok: true } });
    expect(j.config.vision).toMatchObject({ hidden_size: 48, image_size: 32, patch_size: 8 });
    const bad = await tinyClipFolder();
    const file = join(bad.dir, 'model.safetensors');
    const st = readSafetensors(new Uint8Array(readFileSync(file)), file);
    const tensors = [...st.entries.values()]
      .filter((e) => e.name !== 'text_model.final_layer_norm.bias')
      .map((e) => ({ name: e.name, shape: e.name === 'visual_projection.weight' ? [48, 24] : e.shape, data: tensorAsF32(st, e).slice() }));
    writeFileSync(file, writeSafetensors(tensors));
    const r = cli(['models', 'check', bad.dir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`problem: ${file}: tensor 'text_model.final_layer_norm.bias' is missing (expected shape [32])`);
    expect(r.stderr).toContain(
      `problem: ${file}: tensor 'visual_projection.weight' has shape [48, 24], expected [24, 48] (projection_dim 24, vision_config.hidden_size 48)`,
    );
  });
});

describe('diff --clip', () => {
  it('adds the CLIP direction similarity and consistency; swapping the texts flips the similarity', async () => {
    const { scene, data } = await writeTinyDemo(join(root, 'demo'), { size: 32, views: 6, res: 32 });
    // the edited scene: every colour pushed towards red
    const grid = demoVoxelGrid(32);
    for (let v = 0; v < grid.density.length; v++) {
      grid.color[v * 3] += 2;
      grid.color[v * 3 + 2] -= 1;
    }
    const red = join(root, 'red');
    await saveVoxelScene(red, { grid, background: [1, 1, 1], render: { stepRatio: 0.5, near: 0 }, meta: {} }, nodeFiles);
    const run = (a: string, b: string, s: string, e: string) => {
      const r = cli(['diff', a, b, '--dataset', data, '--split', 'all', '--clip', m.dir, '--source-text', s, '--edit-text', e, '--json']);
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(r.stdout);
    };
    const d = run(scene, red, 'a photo of a vase', 'a photo of a red vase');
    expect(d.psnr).toBeLessThan(30);
    expect(Math.abs(d.clip_direction_similarity)).toBeGreaterThan(1e-4);
    expect(Math.abs(d.clip_direction_similarity)).toBeLessThanOrEqual(1);
    expect(d.clip_direction_consistency).toBeGreaterThan(0); // nearby views change alike
    expect(d.clip_views).toHaveLength(6);
    const swapped = run(scene, red, 'a photo of a red vase', 'a photo of a vase');
    expect(swapped.clip_direction_similarity).toBeCloseTo(-d.clip_direction_similarity, 6);
    expect(swapped.clip_direction_consistency).toBeCloseTo(d.clip_direction_consistency, 6);
    // a scene against itself: no image direction, both metrics 0
    const same = run(scene, scene, 'a photo of a vase', 'a photo of a red vase');
    expect(same.clip_direction_similarity).toBe(0);
    expect(same.clip_direction_consistency).toBe(0);
    const r = cli(['diff', scene, red, '--dataset', data, '--clip', m.dir, '--source-text', 'x']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--edit-text is required/);
  });

  it('the metrics on known vectors', () => {
    const v = (...x: number[]) => Float32Array.from(x);
    const r = clipDirectionMetrics([v(1, 0, 0), v(1, 0, 0), v(0, 1, 0)], [v(0, 1, 0), v(1, 1, 0), v(0, 1, 1)], v(0, 0, 1), v(0, 1, 1));
    // directions: (−1, 1, 0), (0, 1, 0), (0, 0, 1); text direction (0, 1, 0)
    expect(r.clip_views.map((x) => x.similarity)).toEqual([1 / Math.SQRT2, 1, 0].map((x) => expect.closeTo(x, 6)));
    expect(r.clip_direction_similarity).toBeCloseTo((1 / Math.SQRT2 + 1) / 3, 6);
    expect(r.clip_direction_consistency).toBeCloseTo((1 / Math.SQRT2 + 0) / 2, 6);
    expect(clipDirectionMetrics([v(1, 0)], [v(0, 1)], v(1, 0), v(0, 1)).clip_direction_consistency).toBeNull();
  });
});
