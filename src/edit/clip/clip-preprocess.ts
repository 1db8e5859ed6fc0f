/**
 * CLIP's image preprocessing (Radford et al. 2021; Hugging Face's CLIPImageProcessor): resize the shorter side
 * to the model's image size with bicubic filtering (PIL's: Keys' cubic a = −0.5, widened by the scale factor
 * when shrinking, weights normalised per output pixel; horizontal pass, then vertical), centre crop, RGB in
 * [0, 1], normalise with CLIP's mean and std. Works in float: no 8-bit rounding between the passes (values are
 * clamped to [0, 1] after each, as PIL's clipping does), so results differ from PIL's by at most ~1/255.
 */
import type { Image } from '../../core/image';

export const CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073] as const;
export const CLIP_STD = [0.26862954, 0.26130258, 0.27577711] as const;

function cubic(x: number): number {
  const a = -0.5;
  x = Math.abs(x);
  if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
  return 0;
}

/** For each output index: the first input index and the normalised weights (PIL's precompute_coeffs). */
function resampleCoeffs(inSize: number, outSize: number): { first: Int32Array; count: Int32Array; weights: Float64Array; taps: number } {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = 2 * filterScale;
  const taps = Math.ceil(support) * 2 + 1;
  const first = new Int32Array(outSize),
    count = new Int32Array(outSize),
    weights = new Float64Array(outSize * taps);
  for (let o = 0; o < outSize; o++) {
    const center = (o + 0.5) * scale;
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize);
    let sum = 0;
    const n = xmax - xmin;
    for (let j = 0; j < n; j++) {
      const w = cubic((j + xmin - center + 0.5) / filterScale);
      weights[o * taps + j] = w;
      sum += w;
    }
    if (sum !== 0) for (let j = 0; j < n; j++) weights[o * taps + j] /= sum;
    first[o] = xmin;
    count[o] = n;
  }
  return { first, count, weights, taps };
}

const clamp01 = (v: number) => (v < 0 ? 0 : v > 1 ? 1 : v);

/** Bicubic resize of an RGB(A/grey) image to w×h (channels kept), PIL's two-pass resampling. */
export function resizeBicubic(img: Image, w: number, h: number): Image {
  const C = img.channels;
  let cur = img;
  if (w !== img.width) {
    const { first, count, weights, taps } = resampleCoeffs(img.width, w);
    const out = new Float32Array(w * img.height * C);
    for (let y = 0; y < img.height; y++)
      for (let x = 0; x < w; x++)
        for (let c = 0; c < C; c++) {
          let s = 0;
          for (let j = 0; j < count[x]; j++) s += weights[x * taps + j] * img.data[(y * img.width + first[x] + j) * C + c];
          out[(y * w + x) * C + c] = clamp01(s);
        }
    cur = { width: w, height: img.height, channels: C, data: out };
  }
  if (h !== cur.height) {
    const { first, count, weights, taps } = resampleCoeffs(cur.height, h);
    const out = new Float32Array(w * h * C);
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++)
        for (let c = 0; c < C; c++) {
          let s = 0;
          for (let j = 0; j < count[y]; j++) s += weights[y * taps + j] * cur.data[((first[y] + j) * w + x) * C + c];
          out[(y * w + x) * C + c] = clamp01(s);
        }
    cur = { width: w, height: h, channels: C, data: out };
  }
  return cur;
}

/** The size after resizing the shorter side to `size` (the longer one truncated, as transformers computes it). */
export function shorterSideSize(width: number, height: number, size: number): [number, number] {
  if (width <= height) return [size, Math.trunc((size * height) / width)];
  return [Math.trunc((size * width) / height), size];
}

/**
 * Pixel values [3, S, S] (planar, normalised) for one image: used as is when it is already S×S, else resized
 * (shorter side to S, bicubic) and centre-cropped. RGBA drops alpha (as PIL's convert('RGB')), grey is repeated.
 */
export function clipPixelValues(img: Image, S: number): Float32Array {
  let src = img;
  if (img.width !== S || img.height !== S) {
    const [w, h] = shorterSideSize(img.width, img.height, S);
    src = resizeBicubic(img, w, h);
  }
  const top = Math.floor((src.height - S) / 2),
    left = Math.floor((src.width - S) / 2);
  const out = new Float32Array(3 * S * S);
  const C = src.channels;
  for (let y = 0; y < S; y++)
    for (let x = 0; x < S; x++) {
      const p = ((y + top) * src.width + x + left) * C;
      for (let c = 0; c < 3; c++) {
        const v = src.data[p + (C === 1 ? 0 : c)];
        out[(c * S + y) * S + x] = (v - CLIP_MEAN[c]) / CLIP_STD[c];
      }
    }
  return out;
}
