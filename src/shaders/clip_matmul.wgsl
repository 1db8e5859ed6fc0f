// CLIP matrix products (twin: src/edit/clip/cpu/clip-matmul.ts).
// matmul: C[M,N] = op(A)·op(B) (+ bias[N]) (+ addend[M,N]); op(A) = A [M,K] or, with TRANS_A, Aᵀ (A stored
// [K,M]); op(B) = Bᵀ with TRANS_B (B stored [N,K], a Linear weight) or B (stored [K,N]). The layouts are
// pipeline constants, so each variant compiles without branches in the inner loop. Each thread computes a 4×4
// block of C in registers, reading A and B straight from storage (the caches serve the reuse between
// neighbouring threads); an 8×8 workgroup covers 32×32. Dispatch [⌈N/32⌉, ⌈M/32⌉, 1]. (A 64×64 tiled version
// through workgroup memory was 10× slower on SwiftShader, whose barriers switch between fibers.)
// column_sum: out[n] = Σ_r A[r, n] for A [M, N] (bias gradients); 1D over N.

override TRANS_A: bool = false;
override TRANS_B: bool = true;

struct Params {
  M: u32,
  N: u32,
  K: u32,
  hasBias: u32,
  hasAdd: u32,
  _p0: u32,
  _p1: u32,
  _p2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> A: array<f32>;
@group(0) @binding(2) var<storage, read> B: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read> addend: array<f32>;
@group(0) @binding(5) var<storage, read_write> C: array<f32>;

fn ia(r: u32, k: u32) -> u32 {
  if (TRANS_A) {
    return k * p.M + r;
  }
  return r * p.K + k;
}

fn ib(k: u32, c: u32) -> u32 {
  if (TRANS_B) {
    return c * p.K + k;
  }
  return k * p.N + c;
}

fn store(r: u32, c: u32, v: f32) {
  if (r >= p.M || c >= p.N) {
    return;
  }
  var o = v;
  if (p.hasBias != 0u) {
    o += bias[c];
  }
  if (p.hasAdd != 0u) {
    o += addend[r * p.N + c];
  }
  C[r * p.N + c] = o;
}

@compute @workgroup_size(8, 8)
fn matmul(@builtin(global_invocation_id) gid: vec3u) {
  let r0 = gid.y * 4u;
  let c0 = gid.x * 4u;
  if (r0 >= p.M || c0 >= p.N) {
    return;
  }
  // rows and columns past the edge read the last one (their results are not stored)
  let r1 = min(r0 + 1u, p.M - 1u);
  let r2 = min(r0 + 2u, p.M - 1u);
  let r3 = min(r0 + 3u, p.M - 1u);
  let c1 = min(c0 + 1u, p.N - 1u);
  let c2 = min(c0 + 2u, p.N - 1u);
  let c3 = min(c0 + 3u, p.N - 1u);
  var s00 = 0.0;
  var s01 = 0.0;
  var s02 = 0.0;
  var s03 = 0.0;
  var s10 = 0.0;
  var s11 = 0.0;
  var s12 = 0.0;
  var s13 = 0.0;
  var s20 = 0.0;
  var s21 = 0.0;
  var s22 = 0.0;
  var s23 = 0.0;
  var s30 = 0.0;
  var s31 = 0.0;
  var s32 = 0.0;
  var s33 = 0.0;
  for (var k = 0u; k < p.K; k++) {
    let a0 = A[ia(r0, k)];
    let a1 = A[ia(r1, k)];
    let a2 = A[ia(r2, k)];
    let a3 = A[ia(r3, k)];
    let b0 = B[ib(k, c0)];
    let b1 = B[ib(k, c1)];
    let b2 = B[ib(k, c2)];
    let b3 = B[ib(k, c3)];
    s00 += a0 * b0;
    s01 += a0 * b1;
    s02 += a0 * b2;
    s03 += a0 * b3;
    s10 += a1 * b0;
    s11 += a1 * b1;
    s12 += a1 * b2;
    s13 += a1 * b3;
    s20 += a2 * b0;
    s21 += a2 * b1;
    s22 += a2 * b2;
    s23 += a2 * b3;
    s30 += a3 * b0;
    s31 += a3 * b1;
    s32 += a3 * b2;
    s33 += a3 * b3;
  }
  store(r0, c0, s00);
  store(r0, c0 + 1u, s01);
  store(r0, c0 + 2u, s02);
  store(r0, c0 + 3u, s03);
  store(r0 + 1u, c0, s10);
  store(r0 + 1u, c0 + 1u, s11);
  store(r0 + 1u, c0 + 2u, s12);
  store(r0 + 1u, c0 + 3u, s13);
  store(r0 + 2u, c0, s20);
  store(r0 + 2u, c0 + 1u, s21);
  store(r0 + 2u, c0 + 2u, s22);
  store(r0 + 2u, c0 + 3u, s23);
  store(r0 + 3u, c0, s30);
  store(r0 + 3u, c0 + 1u, s31);
  store(r0 + 3u, c0 + 2u, s32);
  store(r0 + 3u, c0 + 3u, s33);
}

@compute @workgroup_size(64)
fn column_sum(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let n = gid.x + gid.y * nwg.x * 64u;
  if (n >= p.N) {
    return;
  }
  var s = 0.0;
  for (var r = 0u; r < p.M; r++) {
    s += A[r * p.N + n];
  }
  C[n] = s;
}
