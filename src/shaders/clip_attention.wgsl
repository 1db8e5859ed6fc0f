// CLIP multi-head attention (twin: src/edit/clip/cpu/clip-attention.ts). q, k, v, out: [batch·seq, heads·headDim];
// probabilities P and score gradients dS: [batch, heads, seq, seq]. One 64-thread workgroup per (batch, head, row):
// workgroup id = wg.x + wg.y·nwg.x over batch·heads·seq rows. Sequences up to 1024 tokens.
// attention: S_ij = scale·q_i·k_j (j ≤ i when causal), P = softmax_j(S), out_i = Σ_j P_ij v_j.
// attention_backward_q (per query row i): dS_ij = P_ij·(dO_i·v_j − dO_i·O_i), dq_i = scale·Σ_j dS_ij k_j.
// attention_backward_kv (per key row j): dk_j = scale·Σ_i dS_ij q_i, dv_j = Σ_i P_ij dO_i.

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

// attention
@group(0) @binding(1) var<storage, read> fq: array<f32>;
@group(0) @binding(2) var<storage, read> fk: array<f32>;
@group(0) @binding(3) var<storage, read> fv: array<f32>;
@group(0) @binding(4) var<storage, read_write> fout: array<f32>;
@group(0) @binding(5) var<storage, read_write> fprobs: array<f32>;

// attention_backward_q
@group(0) @binding(1) var<storage, read> qdout: array<f32>;
@group(0) @binding(2) var<storage, read> qout: array<f32>;
@group(0) @binding(3) var<storage, read> qprobs: array<f32>;
@group(0) @binding(4) var<storage, read> qk: array<f32>;
@group(0) @binding(5) var<storage, read> qv: array<f32>;
@group(0) @binding(6) var<storage, read_write> qdq: array<f32>;
@group(0) @binding(7) var<storage, read_write> qdscores: array<f32>;

// attention_backward_kv
@group(0) @binding(1) var<storage, read> kdscores: array<f32>;
@group(0) @binding(2) var<storage, read> kprobs: array<f32>;
@group(0) @binding(3) var<storage, read> kq: array<f32>;
@group(0) @binding(4) var<storage, read> kdout: array<f32>;
@group(0) @binding(5) var<storage, read_write> kdk: array<f32>;
@group(0) @binding(6) var<storage, read_write> kdv: array<f32>;

var<workgroup> sc: array<f32, 1024>;
var<workgroup> red: array<f32, 64>;

struct Row {
  valid: bool,
  b: u32,
  h: u32,
  i: u32,
  // offset of this row's head slice in q/k/v/out, and of its row in P
  base: u32,
  prow: u32,
  last: u32,
}

fn rowOf(wg: vec3u, nwg: vec3u) -> Row {
  let id = wg.x + wg.y * nwg.x;
  var r: Row;
  r.valid = id < p.batch * p.heads * p.seq;
  r.i = id % p.seq;
  r.h = (id / p.seq) % p.heads;
  r.b = id / (p.seq * p.heads);
  let D = p.heads * p.headDim;
  r.base = (r.b * p.seq + r.i) * D + r.h * p.headDim;
  r.prow = ((r.b * p.heads + r.h) * p.seq + r.i) * p.seq;
  r.last = select(p.seq - 1u, r.i, p.causal != 0u);
  return r;
}

// offset of token j's head slice
fn tok(r: Row, j: u32) -> u32 {
  return (r.b * p.seq + j) * p.heads * p.headDim + r.h * p.headDim;
}

fn reduceMax(t: u32) {
  for (var s = 32u; s > 0u; s >>= 1u) {
    workgroupBarrier();
    if (t < s) {
      red[t] = max(red[t], red[t + s]);
    }
  }
  workgroupBarrier();
}

fn reduceSum(t: u32) {
  for (var s = 32u; s > 0u; s >>= 1u) {
    workgroupBarrier();
    if (t < s) {
      red[t] += red[t + s];
    }
  }
  workgroupBarrier();
}

@compute @workgroup_size(64)
fn attention(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) t: u32) {
  let r = rowOf(wg, nwg);
  var mx = -3.0e38;
  if (r.valid) {
    for (var j = t; j <= r.last; j += 64u) {
      let kb = tok(r, j);
      var s = 0.0;
      for (var d = 0u; d < p.headDim; d++) {
        s += fq[r.base + d] * fk[kb + d];
      }
      s *= p.scale;
      sc[j] = s;
      mx = max(mx, s);
    }
  }
  red[t] = mx;
  reduceMax(t);
  mx = red[0];
  workgroupBarrier();
  var sum = 0.0;
  if (r.valid) {
    for (var j = t; j <= r.last; j += 64u) {
      let e = exp(sc[j] - mx);
      sc[j] = e;
      sum += e;
    }
  }
  red[t] = sum;
  reduceSum(t);
  let inv = 1.0 / red[0];
  if (r.valid) {
    for (var j = t; j < p.seq; j += 64u) {
      var pj = 0.0;
      if (j <= r.last) {
        pj = sc[j] * inv;
      }
      sc[j] = pj;
      fprobs[r.prow + j] = pj;
    }
  }
  workgroupBarrier();
  if (!r.valid) {
    return;
  }
  for (var d = t; d < p.headDim; d += 64u) {
    var o = 0.0;
    for (var j = 0u; j <= r.last; j++) {
      o += sc[j] * fv[tok(r, j) + d];
    }
    fout[r.base + d] = o;
  }
}

@compute @workgroup_size(64)
fn attention_backward_q(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) t: u32) {
  let r = rowOf(wg, nwg);
  var di = 0.0;
  if (r.valid) {
    for (var d = t; d < p.headDim; d += 64u) {
      di += qdout[r.base + d] * qout[r.base + d];
    }
  }
  red[t] = di;
  reduceSum(t);
  di = red[0];
  if (r.valid) {
    for (var j = t; j < p.seq; j += 64u) {
      var ds = 0.0;
      if (j <= r.last) {
        let vb = tok(r, j);
        var dp = 0.0;
        for (var d = 0u; d < p.headDim; d++) {
          dp += qdout[r.base + d] * qv[vb + d];
        }
        ds = qprobs[r.prow + j] * (dp - di);
      }
      sc[j] = ds;
      qdscores[r.prow + j] = ds;
    }
  }
  workgroupBarrier();
  if (!r.valid) {
    return;
  }
  for (var d = t; d < p.headDim; d += 64u) {
    var s = 0.0;
    for (var j = 0u; j <= r.last; j++) {
      s += sc[j] * qk[tok(r, j) + d];
    }
    qdq[r.base + d] = s * p.scale;
  }
}

@compute @workgroup_size(64)
fn attention_backward_kv(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) t: u32) {
  // here the row is a key row j
  let r = rowOf(wg, nwg);
  if (!r.valid) {
    return;
  }
  let j = r.i;
  let first = select(0u, j, p.causal != 0u);
  let pcol = (r.b * p.heads + r.h) * p.seq * p.seq + j;
  for (var d = t; d < p.headDim; d += 64u) {
    var sk = 0.0;
    var sv = 0.0;
    for (var i = first; i < p.seq; i++) {
      let pij = pcol + i * p.seq;
      let qb = tok(r, i) + d;
      sk += kdscores[pij] * kq[qb];
      sv += kprobs[pij] * kdout[qb];
    }
    kdk[r.base + d] = sk * p.scale;
    kdv[r.base + d] = sv;
  }
}
