// CLIP embeddings and row moves (twin: src/edit/clip/cpu/clip-embed.ts), all 1D over output elements.
// im2col: cols[(b·G² + gy·G + gx), (c·P + ky)·P + kx] = pixels[b, c, gy·P + ky, gx·P + kx] (patch convolution).
// col2im: its adjoint (pixels outside the G×G grid of patches get 0).
// vision_tokens: x[b, 0] = cls + pos[0], x[b, 1 + p] = patches[b·G² + p] + pos[1 + p].
// vision_tokens_backward: dpatches[b·G² + p] = dx[b, 1 + p].
// gather_rows: out[r] = x[rows[r]]. scatter_rows: dx[t] = dout[inv[t]] where inv[t] ≥ 0, else 0.

override WG: u32 = 64;

struct Params {
  batch: u32,
  channels: u32,
  size: u32,
  psize: u32,
  grid: u32,
  D: u32,
  n: u32,
  _p0: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read> src2: array<f32>;
@group(0) @binding(3) var<storage, read> src3: array<f32>;
@group(0) @binding(4) var<storage, read> idx: array<i32>;
@group(0) @binding(5) var<storage, read_write> dst: array<f32>;

fn linearId(gid: vec3u, nwg: vec3u) -> u32 {
  return gid.x + gid.y * nwg.x * WG;
}

@compute @workgroup_size(WG)
fn im2col(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let e = linearId(gid, nwg);
  if (e >= p.n) {
    return;
  }
  let P = p.psize;
  let KC = p.channels * P * P;
  let row = e / KC;
  let col = e % KC;
  let G = p.grid;
  let b = row / (G * G);
  let gy = (row / G) % G;
  let gx = row % G;
  let c = col / (P * P);
  let ky = (col / P) % P;
  let kx = col % P;
  dst[e] = src[((b * p.channels + c) * p.size + gy * P + ky) * p.size + gx * P + kx];
}

@compute @workgroup_size(WG)
fn col2im(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let e = linearId(gid, nwg);
  if (e >= p.n) {
    return;
  }
  let S = p.size;
  let P = p.psize;
  let G = p.grid;
  let x = e % S;
  let y = (e / S) % S;
  let c = (e / (S * S)) % p.channels;
  let b = e / (S * S * p.channels);
  let gy = y / P;
  let gx = x / P;
  if (gy >= G || gx >= G) {
    dst[e] = 0.0;
    return;
  }
  let KC = p.channels * P * P;
  dst[e] = src[(b * G * G + gy * G + gx) * KC + (c * P + y - gy * P) * P + x - gx * P];
}

// src = patches [batch·G², D], src2 = cls [D], src3 = pos [G² + 1, D]
@compute @workgroup_size(WG)
fn vision_tokens(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let e = linearId(gid, nwg);
  if (e >= p.n) {
    return;
  }
  let NP = p.grid * p.grid;
  let T = NP + 1u;
  let i = e % p.D;
  let t = (e / p.D) % T;
  let b = e / (p.D * T);
  var v = src3[t * p.D + i];
  if (t == 0u) {
    v += src2[i];
  } else {
    v += src[(b * NP + t - 1u) * p.D + i];
  }
  dst[e] = v;
}

// src = dx [batch·(G² + 1), D] → dst = dpatches [batch·G², D]
@compute @workgroup_size(WG)
fn vision_tokens_backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let e = linearId(gid, nwg);
  if (e >= p.n) {
    return;
  }
  let NP = p.grid * p.grid;
  let i = e % p.D;
  let r = e / p.D;
  let b = r / NP;
  let t = r % NP + 1u;
  dst[e] = src[(b * (NP + 1u) + t) * p.D + i];
}

// idx = source row of each output row
@compute @workgroup_size(WG)
fn gather_rows(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let e = linearId(gid, nwg);
  if (e >= p.n) {
    return;
  }
  let r = e / p.D;
  dst[e] = src[u32(idx[r]) * p.D + e % p.D];
}

// idx = for each output row, the row of src it takes, or −1
@compute @workgroup_size(WG)
fn scatter_rows(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let e = linearId(gid, nwg);
  if (e >= p.n) {
    return;
  }
  let k = idx[e / p.D];
  if (k < 0) {
    dst[e] = 0.0;
  } else {
    dst[e] = src[u32(k) * p.D + e % p.D];
  }
}
