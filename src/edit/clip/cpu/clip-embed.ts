/**
 * CPU twin of src/shaders/clip_embed.wgsl: the vision tower's patch embedding as im2col (the convolution with
 * kernel = stride = patch and no bias then is one matmul with the weight [D, 3·P·P]), its adjoint, the token
 * assembly (class token first, position embeddings added) and row gathers for pooling.
 * Pixels are planar [batch, 3, S, S] (as `pixel_values`); patches are numbered row-major over the G×G grid.
 */

export interface PatchShape {
  batch: number;
  channels: number;
  size: number;
  patch: number;
}

export const gridOf = (s: PatchShape) => Math.floor(s.size / s.patch);

/** cols[(b·G² + gy·G + gx), (c·P + ky)·P + kx] = pixels[b, c, gy·P + ky, gx·P + kx] */
export function clipIm2col(cols: Float32Array, pixels: Float32Array, s: PatchShape): void {
  const { batch, channels: C, size: S, patch: P } = s;
  const G = gridOf(s),
    KC = C * P * P;
  for (let b = 0; b < batch; b++)
    for (let gy = 0; gy < G; gy++)
      for (let gx = 0; gx < G; gx++) {
        const row = (b * G * G + gy * G + gx) * KC;
        for (let c = 0; c < C; c++)
          for (let ky = 0; ky < P; ky++) {
            const src = ((b * C + c) * S + gy * P + ky) * S + gx * P;
            const dst = row + (c * P + ky) * P;
            for (let kx = 0; kx < P; kx++) cols[dst + kx] = pixels[src + kx];
          }
      }
}

/** The adjoint of clipIm2col: each pixel takes its column's gradient (pixels outside the patch grid get 0). */
export function clipCol2im(dpixels: Float32Array, dcols: Float32Array, s: PatchShape): void {
  const { batch, channels: C, size: S, patch: P } = s;
  const G = gridOf(s),
    KC = C * P * P;
  for (let b = 0; b < batch; b++)
    for (let c = 0; c < C; c++)
      for (let y = 0; y < S; y++)
        for (let x = 0; x < S; x++) {
          const gy = Math.floor(y / P),
            gx = Math.floor(x / P);
          dpixels[((b * C + c) * S + y) * S + x] =
            gy < G && gx < G ? dcols[(b * G * G + gy * G + gx) * KC + (c * P + (y - gy * P)) * P + (x - gx * P)] : 0;
        }
}

/** x[b, 0] = cls + pos[0]; x[b, 1 + p] = patches[b·G² + p] + pos[1 + p] (x: [batch·(G²+1), D]). */
export function clipVisionTokens(
  x: Float32Array,
  patches: Float32Array,
  cls: Float32Array,
  pos: Float32Array,
  batch: number,
  patchesPer: number,
  D: number,
): void {
  const T = patchesPer + 1;
  for (let b = 0; b < batch; b++)
    for (let t = 0; t < T; t++) {
      const o = (b * T + t) * D;
      for (let i = 0; i < D; i++) x[o + i] = (t === 0 ? cls[i] : patches[(b * patchesPer + t - 1) * D + i]) + pos[t * D + i];
    }
}

/** The patch rows' part of the gradient of clipVisionTokens: dpatches[b·G² + p] = dx[b, 1 + p]. */
export function clipVisionTokensBackward(dpatches: Float32Array, dx: Float32Array, batch: number, patchesPer: number, D: number): void {
  const T = patchesPer + 1;
  for (let b = 0; b < batch; b++) dpatches.set(dx.subarray((b * T + 1) * D, (b * T + T) * D), b * patchesPer * D);
}

/** out[r] = x[rows[r]] (pooling: the class token of each image, the EOS token of each text). */
export function clipGatherRows(out: Float32Array, x: Float32Array, rows: ArrayLike<number>, D: number): void {
  for (let r = 0; r < rows.length; r++) out.set(x.subarray(rows[r] * D, rows[r] * D + D), r * D);
}

/** The adjoint of clipGatherRows into a zeroed dx. */
export function clipScatterRows(dx: Float32Array, dout: Float32Array, rows: ArrayLike<number>, D: number): void {
  dx.fill(0);
  for (let r = 0; r < rows.length; r++) for (let i = 0; i < D; i++) dx[rows[r] * D + i] += dout[r * D + i];
}
