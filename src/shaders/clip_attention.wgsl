// CLIP multi-head attention (twin: src/edit/clip/cpu/clip-attention.ts), as six 1D kernels without workgroup
// memory or barriers (barriers are what software adapters such as SwiftShader are slowest at).
// q, k, v, out, dq, dk, dv: [batch·seq, heads·headDim]; P (scores, then probabilities) and dS: [batch, heads, seq, seq].
// attention_scores (per score):          P_ij = scale·q_i·k_j, −∞ for j > i when causal
// attention_softmax (per row):           P_i· = softmax(P_i·), in place
// attention_output (per out element):    out_i = Σ_j P_ij v_j
// attention_backward_scores (per score): dS_ij = P_ij·(dO_i·v_j − dO_i·O_i)
// attention_backward_q (per element):    dq_i = scale·Σ_j dS_ij k_j
// attention_backward_kv (per element):   dk_j = scale·Σ_i dS_ij q_i, dv_j = Σ_i P_ij dO_i

override WG: u32 = 64;

struct Params {
  batch: u32,
  seq: u32,
  heads: u32,
  headDim: u32,
  causal: u32,
  scale: f32,
  _p0: u32,
  _p1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x1: array<f32>;
@group(0) @binding(2) var<storage, read> x2: array<f32>;
@group(0) @binding(3) var<storage, read> x3: array<f32>;
@group(0) @binding(4) var<storage, read> x4: array<f32>;
@group(0) @binding(5) var<storage, read_write> y1: array<f32>;
@group(0) @binding(6) var<storage, read_write> y2: array<f32>;

fn linearId(gid: vec3u, nwg: vec3u) -> u32 {
  return gid.x + gid.y * nwg.x * WG;
}

// offset of token t's slice for head h
fn tok(b: u32, h: u32, t: u32) -> u32 {
  return (b * p.seq + t) * p.heads * p.headDim + h * p.headDim;
}

// (b, h, i, j) of a score index
fn scoreIndex(e: u32) -> vec4u {
  let j = e % p.seq;
  let i = (e / p.seq) % p.seq;
  let h = (e / (p.seq * p.seq)) % p.heads;
  let b = e / (p.seq * p.seq * p.heads);
  return vec4u(b, h, i, j);
}

// (b, h, t, d) of an element of a [batch·seq, heads·headDim] array
fn elemIndex(e: u32) -> vec4u {
  let D = p.heads * p.headDim;
  let c = e % D;
  let row = e / D;
  return vec4u(row / p.seq, c / p.headDim, row % p.seq, c % p.headDim);
}

// x1 = q, x2 = k → y1 = P
@compute @workgroup_size(WG)
fn attention_scores(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let e = linearId(gid, nwg);
  if (e >= p.batch * p.heads * p.seq * p.seq) {
    return;
  }
  let s = scoreIndex(e);
  if (p.causal != 0u && s.w > s.z) {
    y1[e] = -3.0e38;
    return;
  }
  let qo = tok(s.x, s.y, s.z);
  let ko = tok(s.x, s.y, s.w);
  var acc = 0.0;
  for (var d = 0u; d < p.headDim; d++) {
    acc += x1[qo + d] * x2[ko + d];
  }
  y1[e] = acc * p.scale;
}

// y1 = P (in place)
@compute @workgroup_size(WG)
fn attention_softmax(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let r = linearId(gid, nwg);
  if (r >= p.batch * p.heads * p.seq) {
    return;
  }
  let o = r * p.seq;
  var mx = -3.0e38;
  for (var j = 0u; j < p.seq; j++) {
    mx = max(mx, y1[o + j]);
  }
  var sum = 0.0;
  for (var j = 0u; j < p.seq; j++) {
    sum += exp(y1[o + j] - mx);
  }
  let inv = 1.0 / sum;
  for (var j = 0u; j < p.seq; j++) {
    y1[o + j] = exp(y1[o + j] - mx) * inv;
  }
}

// x1 = P, x2 = v → y1 = out
@compute @workgroup_size(WG)
fn attention_output(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let e = linearId(gid, nwg);
  if (e >= p.batch * p.seq * p.heads * p.headDim) {
    return;
  }
  let t = elemIndex(e);
  let po = ((t.x * p.heads + t.y) * p.seq + t.z) * p.seq;
  var last = p.seq;
  if (p.causal != 0u) {
    last = t.z + 1u;
  }
  var acc = 0.0;
  for (var j = 0u; j < last; j++) {
    acc += x1[po + j] * x2[tok(t.x, t.y, j) + t.w];
  }
  y1[e] = acc;
}

// x1 = dO, x2 = O, x3 = P, x4 = v → y1 = dS
@compute @workgroup_size(WG)
fn attention_backward_scores(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let e = linearId(gid, nwg);
  if (e >= p.batch * p.heads * p.seq * p.seq) {
    return;
  }
  let s = scoreIndex(e);
  if (p.causal != 0u && s.w > s.z) {
    y1[e] = 0.0;
    return;
  }
  let qo = tok(s.x, s.y, s.z);
  let vo = tok(s.x, s.y, s.w);
  var di = 0.0;
  var dp = 0.0;
  for (var d = 0u; d < p.headDim; d++) {
    let g = x1[qo + d];
    di += g * x2[qo + d];
    dp += g * x4[vo + d];
  }
  y1[e] = x3[e] * (dp - di);
}

// x1 = dS, x2 = k → y1 = dq
@compute @workgroup_size(WG)
fn attention_backward_q(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let e = linearId(gid, nwg);
  if (e >= p.batch * p.seq * p.heads * p.headDim) {
    return;
  }
  let t = elemIndex(e);
  let po = ((t.x * p.heads + t.y) * p.seq + t.z) * p.seq;
  var last = p.seq;
  if (p.causal != 0u) {
    last = t.z + 1u;
  }
  var acc = 0.0;
  for (var j = 0u; j < last; j++) {
    acc += x1[po + j] * x2[tok(t.x, t.y, j) + t.w];
  }
  y1[e] = acc * p.scale;
}

// x1 = dS, x2 = P, x3 = q, x4 = dO → y1 = dk, y2 = dv
@compute @workgroup_size(WG)
fn attention_backward_kv(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let e = linearId(gid, nwg);
  if (e >= p.batch * p.seq * p.heads * p.headDim) {
    return;
  }
  let t = elemIndex(e); // t.z is the key row j
  let pcol = (t.x * p.heads + t.y) * p.seq * p.seq + t.z;
  var first = 0u;
  if (p.causal != 0u) {
    first = t.z;
  }
  var sk = 0.0;
  var sv = 0.0;
  for (var i = first; i < p.seq; i++) {
    let pij = pcol + i * p.seq;
    let qo = tok(t.x, t.y, i) + t.w;
    sk += x1[pij] * x3[qo];
    sv += x2[pij] * x4[qo];
  }
  y1[e] = sk * p.scale;
  y2[e] = sv;
}
