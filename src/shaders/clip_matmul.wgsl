// CLIP matrix products (twin: src/edit/clip/cpu/clip-matmul.ts).
// matmul: C[M,N] = op(A)·op(B) (+ bias[N]) (+ addend[M,N]); op(A) = A [M,K] or Aᵀ (A stored [K,M]);
// op(B) = Bᵀ (B stored [N,K], a Linear weight) or B (stored [K,N]). 64×64 output tiles per 16×16 workgroup,
// 4×4 outputs per thread, K in steps of 16 through workgroup memory. Dispatch [⌈N/64⌉, ⌈M/64⌉, 1].
// column_sum: out[n] = Σ_r A[r, n] for A [M, N] (bias gradients); 1D over N.

struct Params {
  M: u32,
  N: u32,
  K: u32,
  transA: u32,
  transB: u32,
  hasBias: u32,
  hasAdd: u32,
  _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> A: array<f32>;
@group(0) @binding(2) var<storage, read> B: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read> addend: array<f32>;
@group(0) @binding(5) var<storage, read_write> C: array<f32>;

var<workgroup> As: array<f32, 1024>; // [16 k][64 rows]
var<workgroup> Bs: array<f32, 1024>; // [16 k][64 cols]

fn loadA(r: u32, k: u32) -> f32 {
  if (r >= p.M || k >= p.K) {
    return 0.0;
  }
  if (p.transA != 0u) {
    return A[k * p.M + r];
  }
  return A[r * p.K + k];
}

fn loadB(k: u32, c: u32) -> f32 {
  if (c >= p.N || k >= p.K) {
    return 0.0;
  }
  if (p.transB != 0u) {
    return B[c * p.K + k];
  }
  return B[k * p.N + c];
}

@compute @workgroup_size(16, 16)
fn matmul(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let row0 = wg.y * 64u;
  let col0 = wg.x * 64u;
  let t = lid.y * 16u + lid.x;
  var acc: array<f32, 16>;
  for (var i = 0u; i < 16u; i++) {
    acc[i] = 0.0;
  }
  for (var k0 = 0u; k0 < p.K; k0 += 16u) {
    for (var i = 0u; i < 4u; i++) {
      let idx = t + i * 256u;
      // read along the contiguous axis of each layout
      var r = idx / 16u;
      var ka = idx % 16u;
      if (p.transA != 0u) {
        r = idx % 64u;
        ka = idx / 64u;
      }
      As[ka * 64u + r] = loadA(row0 + r, k0 + ka);
      var c = idx % 64u;
      var kb = idx / 64u;
      if (p.transB != 0u) {
        c = idx / 16u;
        kb = idx % 16u;
      }
      Bs[kb * 64u + c] = loadB(k0 + kb, col0 + c);
    }
    workgroupBarrier();
    for (var kk = 0u; kk < 16u; kk++) {
      var a: array<f32, 4>;
      var b: array<f32, 4>;
      for (var i = 0u; i < 4u; i++) {
        a[i] = As[kk * 64u + lid.y + 16u * i];
        b[i] = Bs[kk * 64u + lid.x + 16u * i];
      }
      for (var i = 0u; i < 4u; i++) {
        for (var j = 0u; j < 4u; j++) {
          acc[i * 4u + j] = acc[i * 4u + j] + a[i] * b[j];
        }
      }
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < 4u; i++) {
    let r = row0 + lid.y + 16u * i;
    if (r >= p.M) {
      continue;
    }
    for (var j = 0u; j < 4u; j++) {
      let c = col0 + lid.x + 16u * j;
      if (c >= p.N) {
        continue;
      }
      var v = acc[i * 4u + j];
      if (p.hasBias != 0u) {
        v += bias[c];
      }
      if (p.hasAdd != 0u) {
        v += addend[r * p.N + c];
      }
      C[r * p.N + c] = v;
    }
  }
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
