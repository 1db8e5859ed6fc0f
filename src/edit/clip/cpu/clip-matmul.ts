/**
 * CPU twin of src/shaders/clip_matmul.wgsl: out[M,N] = op(A)·op(B) (+ bias[N]) (+ add[M,N]).
 * op(A) is A stored [M,K] or, with transA, Aᵀ of A stored [K,M]; op(B) is, with transB, Bᵀ of B stored [N,K]
 * (a Linear layer's weight: y = x·Wᵀ + b) or B stored [K,N]. Sums run in float64 registers.
 *
 * The Linear case (transB) is register-blocked 4×4 over rows of A and B, both read contiguously along K;
 * the plain case is an axpy over rows of B; transA (weight gradients, for tests) accumulates in float64.
 */
export interface MatmulOptions {
  transA?: boolean;
  transB?: boolean;
  bias?: Float32Array;
  add?: Float32Array;
}

export function clipMatmul(
  out: Float32Array,
  a: Float32Array,
  b: Float32Array,
  M: number,
  N: number,
  K: number,
  opts: MatmulOptions = {},
): Float32Array {
  const { transA = false, transB = false, bias, add } = opts;
  if (transA && transB) throw new Error('clipMatmul: transA with transB is not implemented');
  if (!transA && transB) matmulABt(out, a, b, M, N, K);
  else if (!transA) matmulAB(out, a, b, M, N, K);
  else matmulAtB(out, a, b, M, N, K);
  if (bias || add)
    for (let m = 0; m < M; m++) {
      const r = m * N;
      for (let n = 0; n < N; n++) out[r + n] += (bias ? bias[n] : 0) + (add ? add[r + n] : 0);
    }
  return out;
}

/** out[m,n] = Σ_k a[m,k]·b[n,k] */
function matmulABt(out: Float32Array, a: Float32Array, b: Float32Array, M: number, N: number, K: number): void {
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

/** out[m,n] = Σ_k a[m,k]·b[k,n], four rows of out at a time accumulated in float64. */
function matmulAB(out: Float32Array, a: Float32Array, b: Float32Array, M: number, N: number, K: number): void {
  const acc = new Float64Array(4 * N);
  for (let i = 0; i < M; i += 4) {
    const rows = Math.min(4, M - i);
    acc.fill(0);
    for (let k = 0; k < K; k++) {
      const br = k * N;
      const c0 = a[i * K + k],
        c1 = rows > 1 ? a[(i + 1) * K + k] : 0,
        c2 = rows > 2 ? a[(i + 2) * K + k] : 0,
        c3 = rows > 3 ? a[(i + 3) * K + k] : 0;
      for (let n = 0; n < N; n++) {
        const v = b[br + n];
        acc[n] += c0 * v;
        acc[N + n] += c1 * v;
        acc[2 * N + n] += c2 * v;
        acc[3 * N + n] += c3 * v;
      }
    }
    for (let r = 0; r < rows; r++) for (let n = 0; n < N; n++) out[(i + r) * N + n] = acc[r * N + n];
  }
}

/** out[m,n] = Σ_k a[k,m]·b[k,n] (a stored [K,M]) */
function matmulAtB(out: Float32Array, a: Float32Array, b: Float32Array, M: number, N: number, K: number): void {
  const acc = new Float64Array(M * N);
  for (let k = 0; k < K; k++) {
    const ar = k * M,
      br = k * N;
    for (let m = 0; m < M; m++) {
      const c = a[ar + m];
      if (c === 0) continue;
      const o = m * N;
      for (let n = 0; n < N; n++) acc[o + n] += c * b[br + n];
    }
  }
  out.set(acc);
}
