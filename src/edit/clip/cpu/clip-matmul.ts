import { matmulABt } from '../../../core/matmul';

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
