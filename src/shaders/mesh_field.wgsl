// Text2Mesh's neural style field on the GPU: the MLP's linear layers, forward and backward. CPU twin:
// src/nerf/mesh/style-field-cpu.ts (linearForward, linearBackwardInput, linearBackwardWeights; the Fourier features
// are computed once on the CPU, fourierEncode, and uploaded). Matrices are row-major: activations [rows][features], weights [in][out] at offset `w` of
// the flat parameter buffer, biases [out] at offset `b`. The matrix products are 16×16 tiles in workgroup memory.

struct Mm {
  rows: u32,
  inF: u32,
  outF: u32,
  w: u32,
  b: u32,
  // forward: ReLU on the output; backward-input: mask dX where the layer's input X is 0 (the ReLU before it)
  relu: u32,
  // backward-input: add into dX instead of writing (the trunk's output gradient sums both branches)
  accumulate: u32,
  _pad: u32,
}

@group(0) @binding(0) var<uniform> mm: Mm;
// linear_forward: a = X, b = params, out = Y.
// linear_backward_input: a = dY, b = params, c = X (mask), out = dX.
// linear_backward_weights / bias_backward: a = X, c = dY, out = grads (the layer's slots).
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read> c: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

const T: u32 = 16u;
var<workgroup> tileA: array<f32, 256>;
var<workgroup> tileB: array<f32, 256>;

// Y[r][o] = b[o] + Σ_i X[r][i]·W[i][o]   (grid: x over output columns, y over rows)
@compute @workgroup_size(16, 16)
fn linear_forward(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let r = wg.y * T + lid.y;
  let o = wg.x * T + lid.x;
  var acc = 0.0;
  for (var k0 = 0u; k0 < mm.inF; k0 += T) {
    var x = 0.0;
    if (r < mm.rows && k0 + lid.x < mm.inF) { x = a[r * mm.inF + k0 + lid.x]; }
    tileA[lid.y * T + lid.x] = x;
    var wv = 0.0;
    if (k0 + lid.y < mm.inF && o < mm.outF) { wv = b[mm.w + (k0 + lid.y) * mm.outF + o]; }
    tileB[lid.y * T + lid.x] = wv;
    workgroupBarrier();
    for (var k = 0u; k < T; k++) { acc += tileA[lid.y * T + k] * tileB[k * T + lid.x]; }
    workgroupBarrier();
  }
  if (r < mm.rows && o < mm.outF) {
    var y = acc + b[mm.b + o];
    if (mm.relu != 0u) { y = max(y, 0.0); }
    out[r * mm.outF + o] = y;
  }
}

// dX[r][i] = Σ_o dY[r][o]·W[i][o], 0 where X[r][i] ≤ 0 when masked   (grid: x over input columns, y over rows)
@compute @workgroup_size(16, 16)
fn linear_backward_input(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let r = wg.y * T + lid.y;
  let i = wg.x * T + lid.x;
  var acc = 0.0;
  for (var k0 = 0u; k0 < mm.outF; k0 += T) {
    var g = 0.0;
    if (r < mm.rows && k0 + lid.x < mm.outF) { g = a[r * mm.outF + k0 + lid.x]; }
    tileA[lid.y * T + lid.x] = g;
    // tileB[k][col] = W[i0 + col][k0 + k]
    var wv = 0.0;
    let ii = wg.x * T + lid.x;
    if (ii < mm.inF && k0 + lid.y < mm.outF) { wv = b[mm.w + ii * mm.outF + k0 + lid.y]; }
    tileB[lid.y * T + lid.x] = wv;
    workgroupBarrier();
    for (var k = 0u; k < T; k++) { acc += tileA[lid.y * T + k] * tileB[k * T + lid.x]; }
    workgroupBarrier();
  }
  if (r < mm.rows && i < mm.inF) {
    let idx = r * mm.inF + i;
    if (mm.relu != 0u && c[idx] <= 0.0) { acc = 0.0; }
    if (mm.accumulate != 0u) { acc += out[idx]; }
    out[idx] = acc;
  }
}

// dW[i][o] = Σ_r X[r][i]·dY[r][o]   (grid: x over output columns, y over input rows of W)
@compute @workgroup_size(16, 16)
fn linear_backward_weights(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = wg.y * T + lid.y;
  let o = wg.x * T + lid.x;
  var acc = 0.0;
  for (var r0 = 0u; r0 < mm.rows; r0 += T) {
    // tileA[row i][k] = X[r0 + k][i0 + row]; loaded as (lid.y = k, lid.x = column of X)
    var x = 0.0;
    let xi = wg.y * T + lid.x;
    if (r0 + lid.y < mm.rows && xi < mm.inF) { x = a[(r0 + lid.y) * mm.inF + xi]; }
    tileA[lid.x * T + lid.y] = x;
    var g = 0.0;
    if (r0 + lid.y < mm.rows && o < mm.outF) { g = c[(r0 + lid.y) * mm.outF + o]; }
    tileB[lid.y * T + lid.x] = g;
    workgroupBarrier();
    for (var k = 0u; k < T; k++) { acc += tileA[lid.y * T + k] * tileB[k * T + lid.x]; }
    workgroupBarrier();
  }
  if (i < mm.inF && o < mm.outF) { out[mm.w + i * mm.outF + o] = acc; }
}

// db[o] = Σ_r dY[r][o]: one workgroup per output column, a tree sum over its 64 threads
var<workgroup> partial: array<f32, 64>;
@compute @workgroup_size(64)
fn bias_backward(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let o = wg.x;
  var s = 0.0;
  for (var r = lid.x; r < mm.rows; r += 64u) { s += c[r * mm.outF + o]; }
  partial[lid.x] = s;
  workgroupBarrier();
  for (var h = 32u; h > 0u; h >>= 1u) {
    if (lid.x < h) { partial[lid.x] += partial[lid.x + h]; }
    workgroupBarrier();
  }
  if (lid.x == 0u) { out[mm.b + o] = partial[0]; }
}
