/**
 * out[m,n] = Σ_k a[m,k]·b[n,k] (A·Bᵀ: a Linear layer's x·Wᵀ, both operands read contiguously along k), in 4×4
 * register tiles whose sums stay in float64 locals; edge rows and columns by plain dot products. The CPU twins of
 * CLIP's matmul (src/edit/clip/cpu/clip-matmul.ts) and of the mesh style field's layers (style-field-cpu.ts) use it.
 */
export function matmulABt(out: Float32Array, a: Float32Array, b: Float32Array, M: number, N: number, K: number): void {
  const M4 = M - (M % 4),
    N4 = N - (N % 4);
  for (let i = 0; i < M4; i += 4) {
    const x0 = i * K,
      x1 = x0 + K,
      x2 = x1 + K,
      x3 = x2 + K;
    for (let j = 0; j < N4; j += 4) {
      const w0 = j * K,
        w1 = w0 + K,
        w2 = w1 + K,
        w3 = w2 + K;
      let a00 = 0,
        a01 = 0,
        a02 = 0,
        a03 = 0,
        a10 = 0,
        a11 = 0,
        a12 = 0,
        a13 = 0,
        a20 = 0,
        a21 = 0,
        a22 = 0,
        a23 = 0,
        a30 = 0,
        a31 = 0,
        a32 = 0,
        a33 = 0;
      for (let k = 0; k < K; k++) {
        const b0 = b[w0 + k],
          b1 = b[w1 + k],
          b2 = b[w2 + k],
          b3 = b[w3 + k];
        const v0 = a[x0 + k],
          v1 = a[x1 + k],
          v2 = a[x2 + k],
          v3 = a[x3 + k];
        a00 += v0 * b0;
        a01 += v0 * b1;
        a02 += v0 * b2;
        a03 += v0 * b3;
        a10 += v1 * b0;
        a11 += v1 * b1;
        a12 += v1 * b2;
        a13 += v1 * b3;
        a20 += v2 * b0;
        a21 += v2 * b1;
        a22 += v2 * b2;
        a23 += v2 * b3;
        a30 += v3 * b0;
        a31 += v3 * b1;
        a32 += v3 * b2;
        a33 += v3 * b3;
      }
      let o = i * N + j;
      out[o] = a00;
      out[o + 1] = a01;
      out[o + 2] = a02;
      out[o + 3] = a03;
      o += N;
      out[o] = a10;
      out[o + 1] = a11;
      out[o + 2] = a12;
      out[o + 3] = a13;
      o += N;
      out[o] = a20;
      out[o + 1] = a21;
      out[o + 2] = a22;
      out[o + 3] = a23;
      o += N;
      out[o] = a30;
      out[o + 1] = a31;
      out[o + 2] = a32;
      out[o + 3] = a33;
    }
    for (let j = N4; j < N; j++) for (let r = 0; r < 4; r++) out[(i + r) * N + j] = dot(a, (i + r) * K, b, j * K, K);
  }
  for (let i = M4; i < M; i++) for (let j = 0; j < N; j++) out[i * N + j] = dot(a, i * K, b, j * K, K);
}

function dot(a: Float32Array, ao: number, b: Float32Array, bo: number, K: number): number {
  let s = 0;
  for (let k = 0; k < K; k++) s += a[ao + k] * b[bo + k];
  return s;
}
