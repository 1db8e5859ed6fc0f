// CLIP layer normalisation over the last axis (twin: src/edit/clip/cpu/clip-layernorm.ts).
// layernorm: one 64-thread workgroup per row; out = (x − μ)·r·w + b with r = 1/√(σ² + ε) (biased variance);
//   keeps stats[2·row] = μ, stats[2·row + 1] = r for the backward.
// layernorm_backward: one workgroup per row; dx = dres + r·(g − mean(g) − x̂·mean(g·x̂)), g = dy·w.
// layernorm_backward_params: 1D over columns; dwb[i] = Σ_rows dy·x̂, dwb[D + i] = Σ_rows dy.

struct Params {
  rows: u32,
  D: u32,
  eps: f32,
  hasRes: u32,
}

@group(0) @binding(0) var<uniform> p: Params;

// layernorm
@group(0) @binding(1) var<storage, read> fx: array<f32>;
@group(0) @binding(2) var<storage, read> fw: array<f32>;
@group(0) @binding(3) var<storage, read> fb: array<f32>;
@group(0) @binding(4) var<storage, read_write> fout: array<f32>;
@group(0) @binding(5) var<storage, read_write> fstats: array<f32>;

// layernorm_backward
@group(0) @binding(1) var<storage, read> bdy: array<f32>;
@group(0) @binding(2) var<storage, read> bx: array<f32>;
@group(0) @binding(3) var<storage, read> bw: array<f32>;
@group(0) @binding(4) var<storage, read> bstats: array<f32>;
@group(0) @binding(5) var<storage, read> bdres: array<f32>;
@group(0) @binding(6) var<storage, read_write> bdx: array<f32>;

// layernorm_backward_params
@group(0) @binding(1) var<storage, read> pdy: array<f32>;
@group(0) @binding(2) var<storage, read> px: array<f32>;
@group(0) @binding(3) var<storage, read> pstats: array<f32>;
@group(0) @binding(4) var<storage, read_write> pdwb: array<f32>;

var<workgroup> red0: array<f32, 64>;
var<workgroup> red1: array<f32, 64>;

// Sums red0 and red1 over the workgroup (all 64 threads call it); the result is in red0[0], red1[0].
fn reduce2(t: u32) {
  for (var s = 32u; s > 0u; s >>= 1u) {
    workgroupBarrier();
    if (t < s) {
      red0[t] += red0[t + s];
      red1[t] += red1[t + s];
    }
  }
  workgroupBarrier();
}

@compute @workgroup_size(64)
fn layernorm(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) t: u32) {
  let row = wg.x + wg.y * nwg.x;
  let valid = row < p.rows;
  let o = row * p.D;
  var s = 0.0;
  if (valid) {
    for (var i = t; i < p.D; i += 64u) {
      s += fx[o + i];
    }
  }
  red0[t] = s;
  red1[t] = 0.0;
  reduce2(t);
  let mu = red0[0] / f32(p.D);
  workgroupBarrier();
  var v = 0.0;
  if (valid) {
    for (var i = t; i < p.D; i += 64u) {
      let d = fx[o + i] - mu;
      v += d * d;
    }
  }
  red0[t] = v;
  reduce2(t);
  let r = 1.0 / sqrt(red0[0] / f32(p.D) + p.eps);
  if (!valid) {
    return;
  }
  for (var i = t; i < p.D; i += 64u) {
    fout[o + i] = (fx[o + i] - mu) * r * fw[i] + fb[i];
  }
  if (t == 0u) {
    fstats[2u * row] = mu;
    fstats[2u * row + 1u] = r;
  }
}

@compute @workgroup_size(64)
fn layernorm_backward(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) t: u32) {
  let row = wg.x + wg.y * nwg.x;
  let valid = row < p.rows;
  let o = row * p.D;
  var mu = 0.0;
  var r = 0.0;
  var sg = 0.0;
  var sgx = 0.0;
  if (valid) {
    mu = bstats[2u * row];
    r = bstats[2u * row + 1u];
    for (var i = t; i < p.D; i += 64u) {
      let g = bdy[o + i] * bw[i];
      sg += g;
      sgx += g * (bx[o + i] - mu) * r;
    }
  }
  red0[t] = sg;
  red1[t] = sgx;
  reduce2(t);
  let mg = red0[0] / f32(p.D);
  let mgx = red1[0] / f32(p.D);
  if (!valid) {
    return;
  }
  for (var i = t; i < p.D; i += 64u) {
    let xh = (bx[o + i] - mu) * r;
    var d = r * (bdy[o + i] * bw[i] - mg - xh * mgx);
    if (p.hasRes != 0u) {
      d += bdres[o + i];
    }
    bdx[o + i] = d;
  }
}

@compute @workgroup_size(64)
fn layernorm_backward_params(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 64u;
  if (i >= p.D) {
    return;
  }
  var sw = 0.0;
  var sb = 0.0;
  for (var row = 0u; row < p.rows; row++) {
    let g = pdy[row * p.D + i];
    sw += g * (px[row * p.D + i] - pstats[2u * row]) * pstats[2u * row + 1u];
    sb += g;
  }
  pdwb[i] = sw;
  pdwb[p.D + i] = sb;
}
