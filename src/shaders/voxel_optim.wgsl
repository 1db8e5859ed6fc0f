// GPU-resident optimisation of the voxel grid (the fit never copies the grid or its gradients to the host):
// `regularize` adds the total-variation and density-sparsity gradients into the ray gradients, then `adam`
// updates one parameter group in place. GPU twins of src/nerf/voxel/voxel-regularizers.ts (totalVariation with
// onlyOccupied, densitySparsity) and src/nerf/common/adam.ts (skip-zero-grad Adam with per-entry step counts).
//
// Gradient buffer: [density: nV][colour: nV·K] as f32 (the bits voxel_render.wgsl accumulated atomically).
// `regularize` is a gather (each thread writes only its own entry, reads only values), so it needs no atomics
// and must run in its own dispatch before `adam` (which rewrites the values it reads).

struct RegParams {
  nx: u32, ny: u32, nz: u32, K: u32,
  // s = weight / (count of TV terms' normaliser): density TV, colour TV (base colour only), sparsity
  sTvD: f32, sTvC: f32, sSparse: f32, densityShift: f32,
}

struct AdamParams {
  n: u32, offset: u32, lr: f32, beta1: f32,
  beta2: f32, eps: f32, pad0: u32, pad1: u32,
}

override WG: u32 = 64;

@group(0) @binding(0) var<uniform> R: RegParams;
@group(0) @binding(1) var<storage, read> density: array<f32>;
@group(0) @binding(2) var<storage, read> color: array<f32>;
@group(0) @binding(3) var<storage, read> occ: array<u32>;
@group(0) @binding(4) var<storage, read_write> grads: array<f32>;

// A vertex is regularised when its (clamped) cell is occupied (voxel-regularizers.ts).
fn vertexOccupied(i: u32, j: u32, k: u32) -> bool {
  let cx = R.nx - 1u;
  let cy = R.ny - 1u;
  let c = min(i, cx - 1u) + cx * (min(j, cy - 1u) + cy * min(k, R.nz - 2u));
  return ((occ[c >> 5u] >> (c & 31u)) & 1u) != 0u;
}

fn valueAt(isColor: bool, v: u32, ch: u32) -> f32 {
  if (isColor) { return color[v * R.K + ch]; }
  return density[v];
}

@compute @workgroup_size(WG)
fn regularize(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let e = gid.x + gid.y * nwg.x * WG;
  let nV = R.nx * R.ny * R.nz;
  if (e >= nV * (1u + R.K)) { return; }
  let isColor = e >= nV;
  var v = e;
  var ch = 0u;
  var s = R.sTvD;
  if (isColor) {
    v = (e - nV) / R.K;
    ch = (e - nV) % R.K;
    s = R.sTvC;
    if (ch >= 3u) { return; } // TV on the base colour only
  }
  let i = v % R.nx;
  let j = (v / R.nx) % R.ny;
  let k = v / (R.nx * R.ny);
  let a = valueAt(isColor, v, ch);
  var g = 0.0;
  if (s > 0.0) {
    let strides = array<u32, 3>(1u, R.nx, R.nx * R.ny);
    let idx = array<u32, 3>(i, j, k);
    let lim = array<u32, 3>(R.nx, R.ny, R.nz);
    let selfOcc = vertexOccupied(i, j, k);
    for (var ax = 0u; ax < 3u; ax++) {
      // pair (v, v + stride) is counted when v is occupied: +2s(a − next)
      if (selfOcc && idx[ax] + 1u < lim[ax]) { g += 2.0 * s * (a - valueAt(isColor, v + strides[ax], ch)); }
      // pair (v − stride, v) is counted when v − stride is occupied: −2s(prev − a)
      if (idx[ax] > 0u) {
        var pi = i;
        var pj = j;
        var pk = k;
        if (ax == 0u) { pi = i - 1u; } else if (ax == 1u) { pj = j - 1u; } else { pk = k - 1u; }
        if (vertexOccupied(pi, pj, pk)) { g -= 2.0 * s * (valueAt(isColor, v - strides[ax], ch) - a); }
      }
    }
  }
  if (!isColor && R.sSparse > 0.0 && vertexOccupied(i, j, k)) {
    g += R.sSparse / (1.0 + exp(-(a + R.densityShift)));
  }
  if (g != 0.0) { grads[e] = grads[e] + g; }
}

@group(0) @binding(0) var<uniform> A: AdamParams;
@group(0) @binding(1) var<storage, read_write> param: array<f32>;
@group(0) @binding(2) var<storage, read_write> agrads: array<f32>;
@group(0) @binding(3) var<storage, read_write> m1: array<f32>;
@group(0) @binding(4) var<storage, read_write> m2: array<f32>;
@group(0) @binding(5) var<storage, read_write> steps: array<u32>;

@compute @workgroup_size(WG)
fn adam(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= A.n) { return; }
  let q = A.offset + i;
  let g = agrads[q];
  if (g == 0.0) { return; } // skip-zero-grad: untouched entries keep value and moments
  agrads[q] = 0.0;
  let t = steps[q] + 1u;
  steps[q] = t;
  let m = A.beta1 * m1[q] + (1.0 - A.beta1) * g;
  let v = A.beta2 * m2[q] + (1.0 - A.beta2) * g * g;
  m1[q] = m;
  m2[q] = v;
  let mh = m / (1.0 - pow(A.beta1, f32(t)));
  let vh = v / (1.0 - pow(A.beta2, f32(t)));
  param[i] = param[i] - A.lr * mh / (sqrt(vh) + A.eps);
}
