import type { Image } from '../../core/image';
import type { Rng } from '../../core/rng';

/**
 * A differentiable loss on rendered images: the guidance of loops that optimise a scene directly against a
 * loss on its renders, as Text2Mesh does with CLIP (Michel et al., CVPR 2022; see docs/). The loop renders the
 * views, asks for the loss and its gradient with respect to every pixel, and backpropagates that gradient
 * through its differentiable renderer.
 */
export interface ImageLoss {
  /** Names the loss and its model in logs (e.g. `clip:ViT-B/32 "a vase made of crochet"`). */
  readonly id: string;
  /** The square render size the loss is made for (CLIP: `vision_config.image_size`); loops render at this size. */
  readonly imageSize: number;
  /**
   * The loss over one step's renders (the views of that step) and its gradient with respect to each render's
   * pixels: `grads[i]` has the length and layout of `renders[i].data`. `kind` says what the renders show:
   * `'color'` the shaded, coloured renders; `'geometry'` renders with every colour set to grey (Text2Mesh's
   * displacement term). Random augmentations draw from `rng`, so a seed reproduces a run.
   */
  evaluate(renders: Image[], rng: Rng, kind?: 'color' | 'geometry'): Promise<ImageLossResult>;
  /** Frees device memory (GPU backends). */
  dispose?(): void;
}

export interface ImageLossResult {
  loss: number;
  grads: Float32Array[];
}
