/**
 * A CLIP model ready to embed texts and images (Radford et al. 2021, as Hugging Face's CLIPModel computes it;
 * docs/clip.md): the folder's config, tokenizer and weights on the CPU twin or on WebGPU. Embeddings returned
 * here are L2-normalised, as CLIPModel's `text_embeds` / `image_embeds`.
 */
import type { Image } from '../../core/image';
import { basename } from '../../core/paths';
import type { FileSource } from '../../io/files/files';
import type { ClipTokenizer } from '../diffusion/tokenizer/tokenizer';
import type { ClipConfig } from './clip-config';
import { createCpuClipEncoder, type ClipBackendKind, type ClipEncoder } from './clip-encoder';
import { loadClipFolder } from './clip-folder';
import { clipPixelValues } from './clip-preprocess';
import type { ClipWeights, Tower } from './clip-weights';

export interface ClipLoadOptions {
  backend?: ClipBackendKind;
  /** towers to load (default both); the Text2Mesh loss needs the text tower only for its prompt */
  towers?: Tower[];
}

export function l2Normalize(v: Float32Array): Float32Array {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  const inv = 1 / Math.max(Math.sqrt(s), 1e-12);
  return v.map((x) => x * inv);
}

export class ClipModel {
  private constructor(
    readonly name: string,
    readonly config: ClipConfig,
    readonly tokenizer: ClipTokenizer,
    readonly encoder: ClipEncoder,
    readonly logitScale: number,
    private readonly ownsWeights: boolean,
  ) {}

  /** Loads a Hugging Face CLIP folder (config.json, model.safetensors, vocab.json + merges.txt). */
  static async load(dir: string, files: FileSource, opts: ClipLoadOptions = {}): Promise<ClipModel> {
    const { config, weights, tokenizer } = await loadClipFolder(dir, files, opts.towers ?? ['vision', 'text']);
    // the model owns these weights: on WebGPU their host copies go once uploaded
    return ClipModel.fromWeights(basename(dir), config, weights, tokenizer, opts.backend ?? 'cpu', true);
  }

  /**
   * A model over weights already in memory (random-weight models in tests and benchmarks). With `ownsWeights`,
   * the encoders may drop the host arrays (WebGPU: once uploaded; releaseTextTower).
   */
  static async fromWeights(
    name: string,
    config: ClipConfig,
    weights: ClipWeights,
    tokenizer: ClipTokenizer,
    backend: ClipBackendKind = 'cpu',
    ownsWeights = false,
  ): Promise<ClipModel> {
    let encoder: ClipEncoder;
    if (backend === 'webgpu') {
      const { createWebGpuClipEncoder } = await import('./gpu/clip-encoder-webgpu');
      encoder = await createWebGpuClipEncoder(config, weights, { releaseHostWeights: ownsWeights });
    } else encoder = createCpuClipEncoder(config, weights);
    return new ClipModel(name, config, tokenizer, encoder, weights.logitScale, ownsWeights);
  }

  get imageSize(): number {
    return this.config.vision.imageSize;
  }

  /**
   * Token ids of a text up to and including its first end-of-text token, the one CLIP pools at: the
   * tokenizer's 77 ids (truncated with EOS kept), cut after the first EOS (49407 in the CLIP vocabulary).
   */
  tokenize(text: string): number[] {
    const ids = this.tokenizer.encodeForModel(text).slice(0, this.config.text.maxPositions);
    let p = ids.indexOf(this.tokenizer.eosId);
    if (p < 0) ids[(p = ids.length - 1)] = this.tokenizer.eosId;
    return ids.slice(0, p + 1);
  }

  /** The projected text embedding before normalisation. */
  async textFeatures(text: string): Promise<Float32Array> {
    return this.encoder.encodeText(this.tokenize(text));
  }

  /** L2-normalised text embeddings, in order. */
  async embedTexts(texts: string[]): Promise<Float32Array[]> {
    const out: Float32Array[] = [];
    for (const t of texts) out.push(l2Normalize(await this.textFeatures(t)));
    return out;
  }

  /** Pixel values [3, S, S] of an image: CLIP's preprocessing (see clip-preprocess.ts). */
  pixelValues(img: Image): Float32Array {
    return clipPixelValues(img, this.imageSize);
  }

  /** L2-normalised image embeddings, in order. */
  async embedImages(images: Image[]): Promise<Float32Array[]> {
    const S = this.imageSize,
      E = this.config.projectionDim,
      per = 3 * S * S;
    const out: Float32Array[] = [];
    const chunk = 8;
    for (let i = 0; i < images.length; i += chunk) {
      const part = images.slice(i, i + chunk);
      const pixels = new Float32Array(part.length * per);
      part.forEach((img, j) => pixels.set(this.pixelValues(img), j * per));
      const f = await this.encoder.encodeImages(pixels, part.length);
      for (let j = 0; j < part.length; j++) out.push(l2Normalize(f.slice(j * E, (j + 1) * E)));
    }
    return out;
  }

  /**
   * Frees the text tower when the model owns its weights (loaded from a folder): for users that embed their
   * texts once, such as the Text2Mesh loss. Texts cannot be embedded afterwards.
   */
  releaseTextTower(): void {
    if (this.ownsWeights) this.encoder.releaseText();
  }

  dispose(): void {
    this.encoder.dispose();
  }
}
