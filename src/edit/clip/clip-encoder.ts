/**
 * The CLIP encoders seen by the model, the Text2Mesh loss and the metrics: one interface, two backends —
 * the CPU twin (cpu/clip-encoder-cpu.ts) and WebGPU (gpu/clip-encoder-webgpu.ts). Embeddings here are the
 * projected ones, before L2 normalisation (callers normalise; the loss differentiates through it).
 */
import type { ClipConfig } from './clip-config';
import type { ClipWeights, LayerWeights } from './clip-weights';
import { textForwardCpu, visionBackwardCpu, visionForwardCpu } from './cpu/clip-encoder-cpu';

export type ClipBackendKind = 'cpu' | 'webgpu';

export interface ImageGradPass {
  /** projected embeddings [batch, projection_dim] */
  readonly embeds: Float32Array;
  /**
   * Gradient of the pixel values [batch, 3, S, S] from the gradient of the embeddings; with `weightGradLayer`
   * also that vision layer's weight gradients. Call once; it frees what the forward kept.
   */
  backward(dEmbeds: Float32Array, opts?: { weightGradLayer?: number }): Promise<{ dPixels: Float32Array; layerGrads?: LayerWeights }>;
  /** Frees what the forward kept without running the backward. */
  release(): void;
}

export interface ClipEncoder {
  readonly backend: ClipBackendKind;
  readonly config: ClipConfig;
  /** Projected image embeddings [batch, projection_dim] of normalised pixel values [batch, 3, S, S]. */
  encodeImages(pixels: Float32Array, batch: number): Promise<Float32Array>;
  /** The same, keeping what the backward with respect to the pixels needs. */
  encodeImagesForGrad(pixels: Float32Array, batch: number): Promise<ImageGradPass>;
  /** The projected embedding of one token sequence that ends at its pooled (first end-of-text) token. */
  encodeText(ids: ArrayLike<number>): Promise<Float32Array>;
  /** Frees the text tower (its weights must not be used by anyone else); encodeText fails afterwards. */
  releaseText(): void;
  dispose(): void;
}

const IMAGE_CHUNK = 4;

/** The CPU twin as an encoder: readable TypeScript over typed arrays, one thread. */
export function createCpuClipEncoder(config: ClipConfig, weights: ClipWeights): ClipEncoder {
  const E = config.projectionDim,
    S = config.vision.imageSize;
  const vision = () => {
    if (!weights.vision) throw new Error('the vision tower was not loaded');
    return weights.vision;
  };
  return {
    backend: 'cpu',
    config,
    async encodeImages(pixels, batch) {
      // a few images at a time: activations stay small for any batch
      const out = new Float32Array(batch * E),
        per = 3 * S * S;
      for (let b = 0; b < batch; b += IMAGE_CHUNK) {
        const n = Math.min(IMAGE_CHUNK, batch - b);
        out.set(visionForwardCpu(vision(), config.vision, E, pixels.subarray(b * per, (b + n) * per), n).embeds, b * E);
      }
      return out;
    },
    async encodeImagesForGrad(pixels, batch) {
      const w = vision();
      const r = visionForwardCpu(w, config.vision, E, pixels, batch, true);
      const embeds = r.embeds;
      let tape = r.tape;
      return {
        embeds,
        async backward(dEmbeds, opts = {}) {
          if (!tape) throw new Error('backward called twice');
          const r = visionBackwardCpu(w, config.vision, E, tape, dEmbeds, opts.weightGradLayer);
          tape = undefined;
          return r;
        },
        release() {
          tape = undefined;
        },
      };
    },
    async encodeText(ids) {
      if (!weights.text) throw new Error('the text tower was not loaded');
      return textForwardCpu(weights.text, config.text, E, ids);
    },
    releaseText() {
      weights.text = undefined;
    },
    dispose() {},
  };
}
