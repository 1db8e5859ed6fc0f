/**
 * Random-weight CLIP folders for the tests (models/build/clip-graphs.ts): the Hugging Face layout on disk
 * and the ONNX graph of the same weights beside it (`model.onnx`).
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildClipOnnx, randomClipTensors, tinyClipConfig, writeClipFolder, type NamedTensor } from '../../models/build/clip-graphs';
import type { Activation, ClipConfig } from '../../src/edit/clip/clip-config';
import { nodeFiles } from '../../src/io/node/node-files';
import { nodeRuntime } from '../../src/io/node/node-ort';
import { createImage, type Image } from '../../src/core/image';
import { Rng } from '../../src/core/rng';
import type { ClipModel } from '../../src/edit/clip/clip-model';

export interface TinyClip {
  dir: string;
  config: ClipConfig;
  tensors: NamedTensor[];
  onnx: string;
}

export async function tinyClipFolder(
  opts: { act?: Activation; dtype?: 'F32' | 'F16' | 'BF16'; seed?: number; imageSize?: number; patchSize?: number } = {},
): Promise<TinyClip> {
  const dir = mkdtempSync(join(tmpdir(), 'clip-model-'));
  const config = tinyClipConfig(opts);
  const tensors = randomClipTensors(config, opts.seed ?? 7);
  await writeClipFolder(dir, config, tensors, nodeFiles, { dtype: opts.dtype });
  const onnx = join(dir, 'model.onnx');
  writeFileSync(onnx, buildClipOnnx(config, tensors));
  return { dir, config, tensors, onnx };
}

export function randomImages(n: number, S: number, seed: number): Image[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => {
    const img = createImage(S, S, 3);
    for (let i = 0; i < img.data.length; i++) img.data[i] = rng.next();
    return img;
  });
}

/** text_embeds and image_embeds of ONNX Runtime on the folder's model.onnx (same tokenizer and preprocessing). */
export async function ortEmbeddings(m: TinyClip, model: ClipModel, texts: string[], images: Image[]) {
  const rt = nodeRuntime();
  const session = await rt.createSession({ path: m.onnx, bytes: new Uint8Array(readFileSync(m.onnx)), externalData: [] });
  const L = m.config.text.maxPositions,
    S = m.config.vision.imageSize;
  const ids = new BigInt64Array(texts.length * L);
  texts.forEach((t, i) => model.tokenizer.encodeForModel(t).forEach((id, j) => (ids[i * L + j] = BigInt(id))));
  const pixels = new Float32Array(images.length * 3 * S * S);
  images.forEach((img, i) => pixels.set(model.pixelValues(img), i * 3 * S * S));
  const out = await session.run({
    input_ids: rt.tensor('int64', ids, [texts.length, L]),
    pixel_values: rt.tensor('float32', pixels, [images.length, 3, S, S]),
  });
  await session.release();
  const rows = (t: { data: unknown; dims: readonly number[] }) => {
    const d = t.data as Float32Array,
      E = t.dims[1];
    return Array.from({ length: t.dims[0] }, (_, i) => d.slice(i * E, (i + 1) * E));
  };
  return { text: rows(out.text_embeds), image: rows(out.image_embeds), logits: out.logits_per_image.data as Float32Array };
}

export function maxAbsDiff(a: Float32Array[], b: Float32Array[]): number {
  let m = 0;
  a.forEach((r, i) => r.forEach((v, j) => (m = Math.max(m, Math.abs(v - b[i][j])))));
  return m;
}
