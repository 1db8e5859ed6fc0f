import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildClipOnnx, randomClipTensors, tinyClipConfig, weightsFromTensors } from '../models/build/clip-graphs';
import { ClipTokenizer } from '../src/edit/diffusion/tokenizer/tokenizer';
import { createImage } from '../src/core/image';
import { Rng } from '../src/core/rng';
import { ClipModel } from '../src/edit/clip/clip-model';
import { nodeFiles } from '../src/io/node/node-files';
import { maxAbsDiff, ortEmbeddings, randomImages, tinyClipFolder, type TinyClip } from './helpers/clip-models';

/**
 * The project's CLIP (CPU twin) against ONNX Runtime on the ONNX form of the same random weights: image and
 * text embeddings equal to 1e-4 (float32). The WebGPU encoder is held to the same bound in clip-webgpu.test.ts.
 */

const TEXTS = [
  'a photo of a cat',
  'make it gold',
  '',
  'red red red red red red red red red red red red red red red red red red red red red red red red red red red red red red red red red red red red red red red red red red red red red red red red red red red red red red red red red red red red red red red red red red red red red red red red red red red red',
];

describe.each(['quick_gelu', 'gelu', 'gelu_new'] as const)('CLIP CPU twin = ONNX Runtime (%s)', (act) => {
  let m: TinyClip;
  let model: ClipModel;
  beforeAll(async () => {
    m = await tinyClipFolder({ act });
    model = await ClipModel.load(m.dir, nodeFiles);
  });

  it('text and image embeddings agree to 1e-4', async () => {
    // two images at the model's size, one larger and not square (resized and centre-cropped by both)
    const images = [...randomImages(2, 32, 3), { ...randomImages(1, 64, 4)[0] }];
    const wide = createImage(50, 37, 3);
    const rng = new Rng(9);
    for (let i = 0; i < wide.data.length; i++) wide.data[i] = rng.next();
    images.push(wide);
    const ref = await ortEmbeddings(m, model, TEXTS, images);
    const text = await model.embedTexts(TEXTS);
    const image = await model.embedImages(images);
    const dt = maxAbsDiff(text, ref.text),
      di = maxAbsDiff(image, ref.image);
    console.log(`${act}: max |Δ| text ${dt.toExponential(2)}, image ${di.toExponential(2)}`);
    expect(dt).toBeLessThanOrEqual(1e-4);
    expect(di).toBeLessThanOrEqual(1e-4);
    // the embeddings are not degenerate: different inputs give clearly different directions
    const cos = (a: Float32Array, b: Float32Array) => a.reduce((s, v, i) => s + v * b[i], 0);
    expect(cos(text[0], text[1])).toBeLessThan(0.99);
    expect(cos(image[0], image[1])).toBeLessThan(0.99);
  });
});

describe('CLIP with the original vocabulary (../shared/data/clip)', () => {
  const gz = join(__dirname, '../../shared/data/clip/bpe_simple_vocab_16e6.txt.gz');
  const have = existsSync(gz);
  if (!have) console.log(`skipping the original-vocabulary case: ${gz} is not here (it exists only in the project's shared data)`);
  it.skipIf(!have)('pools at the first end-of-text token 49407 as ONNX Runtime’s ArgMax does', async () => {
    const tokenizer = ClipTokenizer.fromOriginalBpe(new Uint8Array(readFileSync(gz)), gz);
    expect(tokenizer.eosId).toBe(49407);
    const base = tinyClipConfig();
    const config = { ...base, text: { ...base.text, vocabSize: 49408 } };
    const tensors = randomClipTensors(config, 3);
    const dir = mkdtempSync(join(tmpdir(), 'clip-vocab-'));
    const onnx = join(dir, 'model.onnx');
    writeFileSync(onnx, buildClipOnnx(config, tensors));
    const model = await ClipModel.fromWeights('vocab', config, await weightsFromTensors(config, tensors), tokenizer);
    const texts = ['a photo of a bear', 'a photo of a polar bear', 'make it look like a Fauvism painting'];
    expect(model.tokenize(texts[0])).toEqual([49406, 320, 1125, 539, 320, 4298, 49407]);
    const ref = await ortEmbeddings({ dir, config, tensors, onnx }, model, texts, randomImages(1, 32, 5));
    const d = maxAbsDiff(await model.embedTexts(texts), ref.text);
    expect(d).toBeLessThanOrEqual(1e-4);
  });
});
