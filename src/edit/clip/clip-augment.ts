/**
 * Text2Mesh's image augmentations (Michel et al. 2022; torchvision's RandomResizedCrop and RandomPerspective as its
 * code composes them), written as bilinear resampling so that gradients flow back to the render's pixels: each
 * forward has an adjoint that accumulates the gradient of its input. Images here are planar float arrays
 * [C, H, W]. Parameters are drawn from the project's Rng (the same distributions as torchvision's, not its
 * random stream). See docs/clip.md.
 */
import type { Rng } from '../../core/rng';

export interface CropBox {
  top: number;
  left: number;
  height: number;
  width: number;
}

/** torchvision RandomResizedCrop.get_params: area fraction in `scale`, log-uniform aspect ratio, 10 tries, centre-crop fallback. */
export function randomResizedCropParams(
  rng: Rng,
  H: number,
  W: number,
  scale: [number, number],
  ratio: [number, number] = [3 / 4, 4 / 3],
): CropBox {
  const area = H * W;
  const lr = [Math.log(ratio[0]), Math.log(ratio[1])];
  for (let t = 0; t < 10; t++) {
    const target = area * rng.uniform(scale[0], scale[1]);
    const ar = Math.exp(rng.uniform(lr[0], lr[1]));
    const w = Math.round(Math.sqrt(target * ar)),
      h = Math.round(Math.sqrt(target / ar));
    if (w > 0 && w <= W && h > 0 && h <= H) return { top: rng.int(H - h + 1), left: rng.int(W - w + 1), height: h, width: w };
  }
  const inRatio = W / H;
  let w = W,
    h = H;
  if (inRatio < ratio[0]) h = Math.round(w / ratio[0]);
  else if (inRatio > ratio[1]) w = Math.round(h * ratio[1]);
  return { top: Math.floor((H - h) / 2), left: Math.floor((W - w) / 2), height: h, width: w };
}

/** Source index and weight of one output coordinate under torch's bilinear resize (align_corners = False). */
function linearTap(o: number, inSize: number, outSize: number): [number, number, number] {
  const s = Math.max((o + 0.5) * (inSize / outSize) - 0.5, 0);
  const i0 = Math.min(Math.floor(s), inSize - 1);
  const i1 = Math.min(i0 + 1, inSize - 1);
  return [i0, i1, s - i0];
}

/** Crop `box` of img [C, H, W] and resize it to [C, outH, outW] bilinearly (torchvision resized_crop on tensors). */
export function resizedCrop(
  out: Float32Array,
  img: Float32Array,
  C: number,
  H: number,
  W: number,
  box: CropBox,
  outH: number,
  outW: number,
): void {
  for (let y = 0; y < outH; y++) {
    const [y0, y1, ly] = linearTap(y, box.height, outH);
    for (let x = 0; x < outW; x++) {
      const [x0, x1, lx] = linearTap(x, box.width, outW);
      for (let c = 0; c < C; c++) {
        const r0 = (c * H + box.top + y0) * W + box.left,
          r1 = (c * H + box.top + y1) * W + box.left;
        out[(c * outH + y) * outW + x] =
          (1 - ly) * ((1 - lx) * img[r0 + x0] + lx * img[r0 + x1]) + ly * ((1 - lx) * img[r1 + x0] + lx * img[r1 + x1]);
      }
    }
  }
}

/** Adjoint of resizedCrop: dimg += Rᵀ·dout. */
export function resizedCropBackward(
  dimg: Float32Array,
  dout: Float32Array,
  C: number,
  H: number,
  W: number,
  box: CropBox,
  outH: number,
  outW: number,
): void {
  for (let y = 0; y < outH; y++) {
    const [y0, y1, ly] = linearTap(y, box.height, outH);
    for (let x = 0; x < outW; x++) {
      const [x0, x1, lx] = linearTap(x, box.width, outW);
      for (let c = 0; c < C; c++) {
        const g = dout[(c * outH + y) * outW + x];
        if (g === 0) continue;
        const r0 = (c * H + box.top + y0) * W + box.left,
          r1 = (c * H + box.top + y1) * W + box.left;
        dimg[r0 + x0] += (1 - ly) * (1 - lx) * g;
        dimg[r0 + x1] += (1 - ly) * lx * g;
        dimg[r1 + x0] += ly * (1 - lx) * g;
        dimg[r1 + x1] += ly * lx * g;
      }
    }
  }
}

/** [x, y] corners: top-left, top-right, bottom-right, bottom-left. */
export type Corners = [number, number][];

/** torchvision RandomPerspective.get_params: each corner moves inwards by up to distortion × half the side. */
export function randomPerspectiveParams(rng: Rng, W: number, H: number, distortion: number): { start: Corners; end: Corners } {
  const hw = Math.floor(W / 2),
    hh = Math.floor(H / 2);
  const dx = Math.trunc(distortion * hw),
    dy = Math.trunc(distortion * hh);
  const randint = (lo: number, hi: number) => lo + rng.int(hi - lo); // [lo, hi)
  const tl: [number, number] = [randint(0, dx + 1), randint(0, dy + 1)];
  const tr: [number, number] = [randint(W - dx - 1, W), randint(0, dy + 1)];
  const br: [number, number] = [randint(W - dx - 1, W), randint(H - dy - 1, H)];
  const bl: [number, number] = [randint(0, dx + 1), randint(H - dy - 1, H)];
  return {
    start: [
      [0, 0],
      [W - 1, 0],
      [W - 1, H - 1],
      [0, H - 1],
    ],
    end: [tl, tr, br, bl],
  };
}

/**
 * The homography (a, b, c, d, e, f, g, h) taking output coordinates (the end points) to input coordinates (the
 * start points): u = (a·x + b·y + c)/(g·x + h·y + 1), v = (d·x + e·y + f)/(g·x + h·y + 1); solved exactly in
 * float64, then rounded to float32 as torchvision's are.
 */
export function perspectiveCoeffs(start: Corners, end: Corners): number[] {
  const A: number[][] = [];
  for (let i = 0; i < 4; i++) {
    const [x, y] = end[i],
      [u, v] = start[i];
    A.push([x, y, 1, 0, 0, 0, -u * x, -u * y, u]);
    A.push([0, 0, 0, x, y, 1, -v * x, -v * y, v]);
  }
  for (let c = 0; c < 8; c++) {
    let piv = c;
    for (let r = c + 1; r < 8; r++) if (Math.abs(A[r][c]) > Math.abs(A[piv][c])) piv = r;
    [A[c], A[piv]] = [A[piv], A[c]];
    if (Math.abs(A[c][c]) < 1e-12) throw new Error('perspective: degenerate corners');
    for (let r = 0; r < 8; r++) {
      if (r === c) continue;
      const f = A[r][c] / A[c][c];
      for (let k = c; k < 9; k++) A[r][k] -= f * A[c][k];
    }
  }
  return A.map((row, i) => Math.fround(row[8] / row[i]));
}

/**
 * For each output pixel, its four bilinear taps in the input (flat index per channel plane, or −1 outside) and
 * weights, and the in-image weight sum m: torchvision samples the image and a ones-mask with zero padding at
 * pixel centres mapped through the homography (grid_sample, align_corners = False), then
 * out = sample·m + (1 − m)·fill.
 */
interface WarpTaps {
  idx: Int32Array;
  w: Float32Array;
  mask: Float32Array;
}

function warpTaps(H: number, W: number, coeffs: number[]): WarpTaps {
  const [a, b, c, d, e, f, g, h] = coeffs;
  const n = H * W;
  const idx = new Int32Array(4 * n),
    w = new Float32Array(4 * n),
    mask = new Float32Array(n);
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) {
      const X = x + 0.5,
        Y = y + 0.5;
      const den = g * X + h * Y + 1;
      const u = (a * X + b * Y + c) / den - 0.5,
        v = (d * X + e * Y + f) / den - 0.5;
      const x0 = Math.floor(u),
        y0 = Math.floor(v);
      const fx = u - x0,
        fy = v - y0;
      const o = y * W + x;
      let m = 0;
      const taps: [number, number, number][] = [
        [x0, y0, (1 - fx) * (1 - fy)],
        [x0 + 1, y0, fx * (1 - fy)],
        [x0, y0 + 1, (1 - fx) * fy],
        [x0 + 1, y0 + 1, fx * fy],
      ];
      taps.forEach(([tx, ty, tw], k) => {
        const inside = tx >= 0 && tx < W && ty >= 0 && ty < H;
        idx[4 * o + k] = inside ? ty * W + tx : -1;
        w[4 * o + k] = inside ? tw : 0;
        if (inside) m += tw;
      });
      mask[o] = m;
    }
  return { idx, w, mask };
}

/** A perspective warp, ready to apply to images [C, H, W] and to carry gradients back. */
export class PerspectiveWarp {
  private readonly taps: WarpTaps;
  constructor(
    readonly H: number,
    readonly W: number,
    readonly coeffs: number[],
    readonly fill: number,
  ) {
    this.taps = warpTaps(H, W, coeffs);
  }

  apply(out: Float32Array, img: Float32Array, C: number): void {
    const { idx, w, mask } = this.taps;
    const n = this.H * this.W;
    for (let c = 0; c < C; c++) {
      const base = c * n;
      for (let o = 0; o < n; o++) {
        let s = 0;
        for (let k = 0; k < 4; k++) {
          const i = idx[4 * o + k];
          if (i >= 0) s += w[4 * o + k] * img[base + i];
        }
        out[base + o] = s * mask[o] + (1 - mask[o]) * this.fill;
      }
    }
  }

  /** dimg += ∂out/∂img ᵀ · dout (each tap's weight times the mask). */
  backward(dimg: Float32Array, dout: Float32Array, C: number): void {
    const { idx, w, mask } = this.taps;
    const n = this.H * this.W;
    for (let c = 0; c < C; c++) {
      const base = c * n;
      for (let o = 0; o < n; o++) {
        const g = dout[base + o] * mask[o];
        if (g === 0) continue;
        for (let k = 0; k < 4; k++) {
          const i = idx[4 * o + k];
          if (i >= 0) dimg[base + i] += w[4 * o + k] * g;
        }
      }
    }
  }
}
