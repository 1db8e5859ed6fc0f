/**
 * Text2Mesh's CLIP loss (Michel et al. 2022, with the settings of its demo scripts) as an ImageLoss: for each
 * augmentation, every view of the step is augmented with the same random parameters (as torchvision does on a
 * batch), encoded by CLIP's image tower, the embeddings are averaged over the views, and the loss is
 * 1 − cos(mean, E_T(prompt)); the losses of the augmentations are summed, as Text2Mesh sums its terms before one
 * optimiser step.
 *
 * - 'color' renders: 1 global view (random perspective, distortion 0.5, p 0.8, white fill, on the full frame)
 *   and 4 local views (the same after a random resized crop covering 10 % of the frame).
 * - 'geometry' renders (every colour grey): 4 local views, the displacement term.
 *
 * The gradient with respect to each render's pixels runs back through CLIP's image tower, the normalisation and
 * the augmentations (bilinear resampling, see clip-augment.ts). See docs/clip.md.
 */
import type { Image } from '../../core/image';
import type { Rng } from '../../core/rng';
import type { ImageLoss, ImageLossResult } from '../loops/image-loss';
import {
  PerspectiveWarp,
  perspectiveCoeffs,
  randomPerspectiveParams,
  randomResizedCropParams,
  resizedCrop,
  resizedCropBackward,
  type CropBox,
} from './clip-augment';
import type { FileSource } from '../../io/files/files';
import type { ClipBackendKind } from './clip-encoder';
import { ClipModel } from './clip-model';
import { CLIP_MEAN, CLIP_STD } from './clip-preprocess';

export interface Text2MeshLossOptions {
  /** global views per 'color' step (Text2Mesh n_augs) */
  globalViews?: number;
  /** local crops per 'color' step (n_normaugs) */
  localViews?: number;
  /** local crops per 'geometry' step */
  geometryViews?: number;
  /** area fraction of the local crops (normmincrop = normmaxcrop) */
  localScale?: number;
  /** RandomPerspective distortion_scale */
  distortion?: number;
  /** RandomPerspective probability */
  perspectiveP?: number;
  /** fill value outside the warped image (1 = white, as the demos' background) */
  fill?: number;
}

export const TEXT2MESH_DEFAULTS: Required<Text2MeshLossOptions> = {
  globalViews: 1,
  localViews: 4,
  geometryViews: 4,
  localScale: 0.1,
  distortion: 0.5,
  perspectiveP: 0.8,
  fill: 1,
};

/** One augmentation's parameters, shared by all views of a step. */
interface Augmentation {
  crop: (H: number, W: number) => CropBox;
  warp: PerspectiveWarp | null;
}

/** Planar RGB [3, H, W] of a render (RGBA: RGB only; grey: repeated). */
function planarRgb(img: Image): Float32Array {
  const n = img.width * img.height,
    C = img.channels;
  const out = new Float32Array(3 * n);
  for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) out[c * n + i] = img.data[i * C + (C === 1 ? 0 : c)];
  return out;
}

/** The gradient of planarRgb, in the render's own layout. */
function fromPlanarGrad(g: Float32Array, img: Image): Float32Array {
  const n = img.width * img.height,
    C = img.channels;
  const out = new Float32Array(img.data.length);
  for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) out[i * C + (C === 1 ? 0 : c)] += g[c * n + i];
  return out;
}

/** loss = 1 − cos(m, t̂) and ∂loss/∂m. */
export function cosineLoss(m: Float32Array, t: Float32Array): { loss: number; grad: Float32Array } {
  let mm = 0,
    mt = 0,
    tt = 0;
  for (let i = 0; i < m.length; i++) {
    mm += m[i] * m[i];
    mt += m[i] * t[i];
    tt += t[i] * t[i];
  }
  const nm = Math.sqrt(mm),
    nt = Math.sqrt(tt);
  const cos = mt / (nm * nt);
  const grad = new Float32Array(m.length);
  for (let i = 0; i < m.length; i++) grad[i] = -(t[i] / (nm * nt) - (cos * m[i]) / mm);
  return { loss: 1 - cos, grad };
}

/**
 * The Text2Mesh CLIP loss for `prompt`. Renders may have any size (the crops are resized to the model's image
 * size); `imageSize` tells loops the size Text2Mesh renders at.
 */
export async function createText2MeshLoss(model: ClipModel, prompt: string, options: Text2MeshLossOptions = {}): Promise<ImageLoss> {
  const o = { ...TEXT2MESH_DEFAULTS, ...options };
  const S = model.imageSize,
    E = model.config.projectionDim;
  const text = await model.textFeatures(prompt);

  const draw = (rng: Rng, scale: number): Augmentation => {
    const box = (H: number, W: number) => randomResizedCropParams(rng, H, W, [scale, scale]);
    // the crop is drawn per step from the first view's size (all views of a step share their size)
    let crop: CropBox | null = null;
    const cropOnce = (H: number, W: number) => (crop ??= box(H, W));
    let warp: PerspectiveWarp | null = null;
    if (rng.next() < o.perspectiveP) {
      const { start, end } = randomPerspectiveParams(rng, S, S, o.distortion);
      warp = new PerspectiveWarp(S, S, perspectiveCoeffs(start, end), o.fill);
    }
    return { crop: cropOnce, warp };
  };

  const evaluate = async (renders: Image[], rng: Rng, kind: 'color' | 'geometry' = 'color'): Promise<ImageLossResult> => {
    const V = renders.length;
    if (!V) return { loss: 0, grads: [] };
    const { width: W, height: H } = renders[0];
    for (const r of renders)
      if (r.width !== W || r.height !== H)
        throw new Error(`text2mesh loss: views of one step must share their size (${W}×${H} and ${r.width}×${r.height})`);
    const planar = renders.map(planarRgb);
    const dPlanar = renders.map(() => new Float32Array(3 * H * W));
    const scales =
      kind === 'color'
        ? [...Array(o.globalViews).fill(1), ...Array(o.localViews).fill(o.localScale)]
        : Array(o.geometryViews).fill(o.localScale);
    const per = 3 * S * S;
    let total = 0;
    for (const scale of scales) {
      const aug = draw(rng, scale);
      const box = aug.crop(H, W);
      const pixels = new Float32Array(V * per);
      const cropped = new Float32Array(per),
        warped = new Float32Array(per);
      for (let v = 0; v < V; v++) {
        resizedCrop(cropped, planar[v], 3, H, W, box, S, S);
        const src = aug.warp ? (aug.warp.apply(warped, cropped, 3), warped) : cropped;
        for (let c = 0; c < 3; c++)
          for (let i = 0; i < S * S; i++) pixels[v * per + c * S * S + i] = (src[c * S * S + i] - CLIP_MEAN[c]) / CLIP_STD[c];
      }
      const pass = await model.encoder.encodeImagesForGrad(pixels, V);
      const mean = new Float32Array(E);
      for (let v = 0; v < V; v++) for (let i = 0; i < E; i++) mean[i] += pass.embeds[v * E + i] / V;
      const { loss, grad } = cosineLoss(mean, text);
      total += loss;
      const dE = new Float32Array(V * E);
      for (let v = 0; v < V; v++) for (let i = 0; i < E; i++) dE[v * E + i] = grad[i] / V;
      const { dPixels } = await pass.backward(dE);
      const dWarped = new Float32Array(per),
        dCropped = new Float32Array(per);
      for (let v = 0; v < V; v++) {
        for (let c = 0; c < 3; c++) for (let i = 0; i < S * S; i++) dWarped[c * S * S + i] = dPixels[v * per + c * S * S + i] / CLIP_STD[c];
        let dc = dWarped;
        if (aug.warp) {
          dCropped.fill(0);
          aug.warp.backward(dCropped, dWarped, 3);
          dc = dCropped;
        }
        resizedCropBackward(dPlanar[v], dc, 3, H, W, box, S, S);
      }
    }
    return { loss: total, grads: renders.map((r, v) => fromPlanarGrad(dPlanar[v], r)) };
  };

  return { id: `clip:${model.name} "${prompt}"`, imageSize: S, evaluate };
}

/**
 * Loads a CLIP folder and makes the Text2Mesh loss for `prompt` (what `stylize --prompt … --clip DIR` needs);
 * the loss owns the model and frees it on dispose().
 */
export async function loadText2MeshLoss(
  dir: string,
  files: FileSource,
  prompt: string,
  opts: Text2MeshLossOptions & { backend?: ClipBackendKind } = {},
): Promise<ImageLoss> {
  const model = await ClipModel.load(dir, files, { backend: opts.backend });
  try {
    const loss = await createText2MeshLoss(model, prompt, opts);
    model.releaseTextTower(); // the prompt's embedding is all the loss needs of it
    return { ...loss, dispose: () => model.dispose() };
  } catch (e) {
    model.dispose();
    throw e;
  }
}
