/**
 * CPU twin of src/shaders/clip_layernorm.wgsl: layer normalisation over the last axis (biased variance, ε from
 * the config, as torch.nn.LayerNorm) and its backward.
 */

/** out = (x − μ)/√(σ² + ε)·w + b per row; keeps μ and 1/√(σ² + ε) per row when given arrays. */
export function clipLayernorm(
  out: Float32Array,
  x: Float32Array,
  w: Float32Array,
  b: Float32Array,
  rows: number,
  D: number,
  eps: number,
  mean?: Float32Array,
  rstd?: Float32Array,
): void {
  for (let r = 0; r < rows; r++) {
    const o = r * D;
    let s = 0;
    for (let i = 0; i < D; i++) s += x[o + i];
    const mu = s / D;
    let v = 0;
    for (let i = 0; i < D; i++) {
      const d = x[o + i] - mu;
      v += d * d;
    }
    const rs = 1 / Math.sqrt(v / D + eps);
    for (let i = 0; i < D; i++) out[o + i] = (x[o + i] - mu) * rs * w[i] + b[i];
    if (mean) mean[r] = mu;
    if (rstd) rstd[r] = rs;
  }
}

/**
 * dx = dres + ∂LN/∂x·dy per row: with x̂ = (x − μ)·r and g = dy·w, dx = r·(g − mean(g) − x̂·mean(g·x̂)).
 * `dres` (the gradient arriving along the residual path) may be omitted.
 */
export function clipLayernormBackward(
  dx: Float32Array,
  dy: Float32Array,
  x: Float32Array,
  w: Float32Array,
  mean: Float32Array,
  rstd: Float32Array,
  rows: number,
  D: number,
  dres?: Float32Array,
): void {
  for (let r = 0; r < rows; r++) {
    const o = r * D,
      mu = mean[r],
      rs = rstd[r];
    let sg = 0,
      sgx = 0;
    for (let i = 0; i < D; i++) {
      const g = dy[o + i] * w[i];
      sg += g;
      sgx += g * (x[o + i] - mu) * rs;
    }
    sg /= D;
    sgx /= D;
    for (let i = 0; i < D; i++) {
      const xh = (x[o + i] - mu) * rs;
      dx[o + i] = (dres ? dres[o + i] : 0) + rs * (dy[o + i] * w[i] - sg - xh * sgx);
    }
  }
}

/** Gradients of the layer norm's weight and bias: dw = Σ_rows dy·x̂, db = Σ_rows dy. */
export function clipLayernormBackwardParams(
  dw: Float32Array,
  db: Float32Array,
  dy: Float32Array,
  x: Float32Array,
  mean: Float32Array,
  rstd: Float32Array,
  rows: number,
  D: number,
): void {
  for (let i = 0; i < D; i++) {
    let sw = 0,
      sb = 0;
    for (let r = 0; r < rows; r++) {
      const g = dy[r * D + i];
      sw += g * (x[r * D + i] - mean[r]) * rstd[r];
      sb += g;
    }
    dw[i] = sw;
    db[i] = sb;
  }
}
