// Gaussian splatting — backward tile rasteriser: ∂L/∂(u, v, conic, opacity, rgb) per Gaussian.
// Prepended with gs_common.wgsl. Same tiling and traversal as gs_render.wgsl (front to back) using the CPU twin's
// formula ∂C/∂α_i = T_i·c_i − (C − P_i)/(1 − α_i), with C the forward output (background included) and
// P_i = Σ_{j≤i} c_j·α_j·T_j; no gradient through a clamped α (= 0.99) except to the colour.
//
// Accumulation (WGSL has no float atomics): each round's per-Gaussian sums are gathered in workgroup memory with
// compare-and-swap float adds on atomic<u32> bit patterns (exact f32 adds, order-dependent rounding only), then one
// thread per Gaussian adds them to global memory with the same CAS add: grad2d[9·id + k], k = 0 u, 1 v, 2 ∂L/∂a,
// 3 ½·∂L/∂b, 4 ∂L/∂c (conic, the CPU twin's symmetric-matrix form), 5 ∂L/∂opacity, 6..8 ∂L/∂rgb.
// dpix: per pixel (∂L/∂R, ∂L/∂G, ∂L/∂B, ∂L/∂alpha).

@group(0) @binding(0) var<uniform> cam: Cam;
@group(0) @binding(1) var<storage, read> ranges: array<u32>;
@group(0) @binding(2) var<storage, read> ids: array<u32>;
@group(0) @binding(3) var<storage, read> proj: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> color: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read> nContrib: array<u32>;
@group(0) @binding(6) var<storage, read> dpix: array<vec4<f32>>;
@group(0) @binding(7) var<storage, read_write> grad2d: array<atomic<u32>>;

const BATCH: u32 = 128u;
const NG: u32 = 9u;

var<workgroup> s_id: array<u32, 128>;
var<workgroup> s_u: array<f32, 128>;
var<workgroup> s_v: array<f32, 128>;
var<workgroup> s_a: array<f32, 128>;
var<workgroup> s_b: array<f32, 128>;
var<workgroup> s_c: array<f32, 128>;
var<workgroup> s_o: array<f32, 128>;
var<workgroup> s_r: array<f32, 128>;
var<workgroup> s_g: array<f32, 128>;
var<workgroup> s_bl: array<f32, 128>;
var<workgroup> acc: array<atomic<u32>, 1152>; // NG × BATCH, [k * BATCH + j]
var<workgroup> doneCount: atomic<u32>;
var<workgroup> shared_u32: u32;
var<workgroup> rangeStart: u32;
var<workgroup> rangeEnd: u32;

fn sharedAdd(idx: u32, v: f32) {
  if (v == 0.0) { return; }
  var old = atomicLoad(&acc[idx]);
  loop {
    let r = atomicCompareExchangeWeak(&acc[idx], old, bitcast<u32>(bitcast<f32>(old) + v));
    if (r.exchanged) { break; }
    old = r.old_value;
  }
}

fn globalAdd(idx: u32, v: f32) {
  if (v == 0.0) { return; }
  var old = atomicLoad(&grad2d[idx]);
  loop {
    let r = atomicCompareExchangeWeak(&grad2d[idx], old, bitcast<u32>(bitcast<f32>(old) + v));
    if (r.exchanged) { break; }
    old = r.old_value;
  }
}

@compute @workgroup_size(16, 16)
fn rasterize_backward_tiles(@builtin(local_invocation_id) lidv: vec3u, @builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u) {
  let tile = wid.y * cam.tilesX + wid.x;
  let px = wid.x * TILE + lidv.x;
  let py = wid.y * TILE + lidv.y;
  let inside = px < cam.width && py < cam.height;
  if (lid == 0u) {
    atomicStore(&doneCount, 0u);
    rangeStart = ranges[2u * tile];
    rangeEnd = ranges[2u * tile + 1u];
  }
  for (var k = lid; k < NG * BATCH; k += 256u) { atomicStore(&acc[k], 0u); }
  let start = workgroupUniformLoad(&rangeStart);
  let end = workgroupUniformLoad(&rangeEnd);
  let pix = py * cam.width + px;
  var last = 0u;
  var dP = vec4<f32>(0.0);
  var rest = vec3<f32>(0.0);
  var restA = 0.0;
  if (inside) {
    last = nContrib[pix];
    dP = dpix[pix];
    let c = color[pix];
    rest = c.xyz;
    restA = 1.0 - c.w;
  }
  var done = !inside || last == 0u || all(dP == vec4<f32>(0.0));
  if (done) { atomicAdd(&doneCount, 1u); }
  let pfx = f32(px) + 0.5;
  let pfy = f32(py) + 0.5;
  var T = 1.0;
  for (var base = start; base < end; base += BATCH) {
    if (lid == 0u) { shared_u32 = atomicLoad(&doneCount); }
    let nd = workgroupUniformLoad(&shared_u32);
    if (nd >= 256u) { break; }
    let cnt = min(BATCH, end - base);
    if (lid < cnt) {
      let id = ids[base + lid];
      let p0 = proj[4u * id];
      let p1 = proj[4u * id + 1u];
      let p2 = proj[4u * id + 2u];
      s_id[lid] = id;
      s_u[lid] = p0.x; s_v[lid] = p0.y;
      s_a[lid] = p1.x; s_b[lid] = p1.y; s_c[lid] = p1.z; s_o[lid] = p1.w;
      s_r[lid] = p2.x; s_g[lid] = p2.y; s_bl[lid] = p2.z;
    }
    workgroupBarrier();
    for (var j = 0u; j < cnt; j++) {
      if (done) { break; }
      if (base - start + j >= last) {
        done = true;
        atomicAdd(&doneCount, 1u);
        break;
      }
      let dx = s_u[j] - pfx;
      let dy = s_v[j] - pfy;
      let a = s_a[j]; let b = s_b[j]; let c = s_c[j];
      let power = -0.5 * (a * dx * dx + c * dy * dy) - b * dx * dy;
      if (power > 0.0) { continue; }
      let G = exp(power);
      let op = s_o[j];
      var alpha = op * G;
      let clamped = alpha > ALPHA_MAX;
      if (clamped) { alpha = ALPHA_MAX; }
      if (alpha < ALPHA_MIN) { continue; }
      let w = alpha * T;
      let rgb = vec3<f32>(s_r[j], s_g[j], s_bl[j]);
      rest -= rgb * w;
      restA -= w;
      sharedAdd(6u * BATCH + j, dP.x * w);
      sharedAdd(7u * BATCH + j, dP.y * w);
      sharedAdd(8u * BATCH + j, dP.z * w);
      if (!clamped) {
        let inv = 1.0 / (1.0 - alpha);
        let dAl = dot(dP.xyz, rgb * T - rest * inv) + dP.w * (T - restA * inv);
        let dPow = dAl * op * G;
        sharedAdd(5u * BATCH + j, dAl * G);
        sharedAdd(0u * BATCH + j, -dPow * (a * dx + b * dy));
        sharedAdd(1u * BATCH + j, -dPow * (b * dx + c * dy));
        sharedAdd(2u * BATCH + j, -0.5 * dPow * dx * dx);
        sharedAdd(3u * BATCH + j, -0.5 * dPow * dx * dy);
        sharedAdd(4u * BATCH + j, -0.5 * dPow * dy * dy);
      }
      T *= 1.0 - alpha;
    }
    workgroupBarrier();
    if (lid < cnt) {
      let id = s_id[lid];
      for (var k = 0u; k < NG; k++) {
        let v = bitcast<f32>(atomicLoad(&acc[k * BATCH + lid]));
        atomicStore(&acc[k * BATCH + lid], 0u);
        globalAdd(NG * id + k, v);
      }
    }
    workgroupBarrier();
  }
}
