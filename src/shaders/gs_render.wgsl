// Gaussian splatting — forward tile rasteriser: one 16×16 workgroup per tile, one thread per pixel.
// Prepended with gs_common.wgsl. Each round loads up to 256 of the tile's (depth-sorted) Gaussians into
// workgroup memory; every pixel composites them front to back exactly as the CPU twin does and stops when its
// transmittance would drop below T_MIN; the workgroup leaves once every pixel is done.
// Outputs per pixel: color = (C + T·background, T) (T = final transmittance), nContrib = number of tile-list
// entries up to and including the last one that contributed (the backward pass stops there), depth = Σ α·T·z / (1 − T).

@group(0) @binding(0) var<uniform> cam: Cam;
@group(0) @binding(1) var<storage, read> ranges: array<u32>;
@group(0) @binding(2) var<storage, read> ids: array<u32>;
@group(0) @binding(3) var<storage, read> proj: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> color: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> nContrib: array<u32>;
@group(0) @binding(6) var<storage, read_write> depthOut: array<f32>;

const BATCH: u32 = 256u;

// (separate scalar arrays: arrays of vec4 in workgroup memory misbehave on SwiftShader)
var<workgroup> s_u: array<f32, 256>;
var<workgroup> s_v: array<f32, 256>;
var<workgroup> s_a: array<f32, 256>;
var<workgroup> s_b: array<f32, 256>;
var<workgroup> s_c: array<f32, 256>;
var<workgroup> s_o: array<f32, 256>;
var<workgroup> s_r: array<f32, 256>;
var<workgroup> s_g: array<f32, 256>;
var<workgroup> s_bl: array<f32, 256>;
var<workgroup> s_z: array<f32, 256>;
var<workgroup> doneCount: atomic<u32>;
var<workgroup> shared_u32: u32;
var<workgroup> rangeStart: u32;
var<workgroup> rangeEnd: u32;

@compute @workgroup_size(16, 16)
fn rasterize_forward_tiles(@builtin(local_invocation_id) lidv: vec3u, @builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u) {
  let tile = wid.y * cam.tilesX + wid.x;
  let px = wid.x * TILE + lidv.x;
  let py = wid.y * TILE + lidv.y;
  let inside = px < cam.width && py < cam.height;
  if (lid == 0u) {
    atomicStore(&doneCount, 0u);
    rangeStart = ranges[2u * tile];
    rangeEnd = ranges[2u * tile + 1u];
  }
  let start = workgroupUniformLoad(&rangeStart);
  let end = workgroupUniformLoad(&rangeEnd);
  var done = !inside;
  if (done) { atomicAdd(&doneCount, 1u); }
  let pfx = f32(px) + 0.5;
  let pfy = f32(py) + 0.5;
  var T = 1.0;
  var C = vec3<f32>(0.0);
  var D = 0.0;
  var last = 0u;
  for (var base = start; base < end; base += BATCH) {
    if (lid == 0u) { shared_u32 = atomicLoad(&doneCount); }
    let nd = workgroupUniformLoad(&shared_u32);
    if (nd >= 256u) { break; }
    let k = base + lid;
    if (k < end) {
      let id = ids[k];
      let p0 = proj[4u * id];
      let p1 = proj[4u * id + 1u];
      let p2 = proj[4u * id + 2u];
      s_u[lid] = p0.x; s_v[lid] = p0.y; s_z[lid] = p0.z;
      s_a[lid] = p1.x; s_b[lid] = p1.y; s_c[lid] = p1.z; s_o[lid] = p1.w;
      s_r[lid] = p2.x; s_g[lid] = p2.y; s_bl[lid] = p2.z;
    }
    workgroupBarrier();
    let cnt = min(BATCH, end - base);
    for (var j = 0u; j < cnt; j++) {
      if (done) { break; }
      let dx = s_u[j] - pfx;
      let dy = s_v[j] - pfy;
      let power = -0.5 * (s_a[j] * dx * dx + s_c[j] * dy * dy) - s_b[j] * dx * dy;
      if (power > 0.0) { continue; }
      let alpha = min(ALPHA_MAX, s_o[j] * exp(power));
      if (alpha < ALPHA_MIN) { continue; }
      let testT = T * (1.0 - alpha);
      if (testT < T_MIN) {
        done = true;
        atomicAdd(&doneCount, 1u);
        break;
      }
      let w = alpha * T;
      C += vec3<f32>(s_r[j], s_g[j], s_bl[j]) * w;
      D += s_z[j] * w;
      T = testT;
      last = base - start + j + 1u;
    }
  }
  if (inside) {
    let pix = py * cam.width + px;
    color[pix] = vec4<f32>(C + T * cam.bg.xyz, T);
    nContrib[pix] = last;
    depthOut[pix] = select(0.0, D / (1.0 - T), T < 1.0);
  }
}
