// Shared declarations of the Gaussian-splatting kernels (prepended to gs_project, gs_bin, gs_render, gs_backward and
// gs_project_backward by src/nerf/gaussian/gaussian-raster-webgpu.ts). Conventions are those of the CPU twins,
// src/nerf/gaussian/gaussian-*-cpu.ts (listed in gaussian-project-cpu.ts; method in docs/gaussians.md): OpenCV
// camera frame t = W·(p − C), pixel centres at +0.5, NEAR 0.01, dilation 0.3, 16×16 tiles, α = min(0.99, o·G),
// skip α < 1/255, stop before T < 1e-4.
//
// Buffers
// - params: f32 × PARAM_STRIDE per Gaussian: mean xyz [0..3), log-scale [3..6), quaternion wxyz [6..10),
//   opacity logit [10], SH [11..59) as coefficient k, channel c at 11 + 3k + c (the `Gaussians.sh` layout).
// - proj: 4 × vec4<f32> per Gaussian (the projection result; the viewer can draw from it directly):
//   [0] = (u, v, depth t.z, radius px; radius 0 = culled), [1] = (conic a, b, c, opacity),
//   [2] = (r, g, b, bitcast clamp bits (bit c: channel c clamped at 0)),
//   [3] = bitcast<u32> tile rectangle (x0, y0, x1, y1), half-open.

const PARAM_STRIDE: u32 = 59u;
const TILE: u32 = 16u;
const NEAR: f32 = 0.01;
const DILATION: f32 = 0.3;
const ALPHA_MAX: f32 = 0.99;
const ALPHA_MIN: f32 = 0.003921568627450980; // 1/255
const T_MIN: f32 = 0.0001;

// SH_C0, SH_C1, SH_C2_0..4, SH_C3_0..6: prepended by the host from src/nerf/common/sh.ts (shConstantsWgsl).

// Camera and frame constants (host: packCamera in gaussian-raster-webgpu.ts).
struct Cam {
  w0: vec4<f32>,          // rows of W (world → OpenCV camera rotation); .w unused
  w1: vec4<f32>,
  w2: vec4<f32>,
  center: vec4<f32>,      // camera centre C (xyz)
  intr: vec4<f32>,        // fx, fy, cx, cy
  lim: vec4<f32>,         // x/z clamp: −limXn, limXp; y/z: −limYn, limYp (stored as limXn, limXp, limYn, limYp)
  bg: vec4<f32>,          // background rgb
  width: u32,
  height: u32,
  tilesX: u32,
  tilesY: u32,
  count: u32,             // Gaussians
  shDegree: u32,
  _p0: u32,
  _p1: u32,
}

fn quatToMat(q: vec4<f32>) -> mat3x3<f32> {
  // rows as in the CPU twin (quatToMat), returned as a WGSL (column-major) matrix whose [c][r] = R[r][c]
  let n = q / length(q);
  let w = n.x; let x = n.y; let y = n.z; let z = n.w;
  let r0 = vec3<f32>(1.0 - 2.0 * (y * y + z * z), 2.0 * (x * y - w * z), 2.0 * (x * z + w * y));
  let r1 = vec3<f32>(2.0 * (x * y + w * z), 1.0 - 2.0 * (x * x + z * z), 2.0 * (y * z - w * x));
  let r2 = vec3<f32>(2.0 * (x * z - w * y), 2.0 * (y * z + w * x), 1.0 - 2.0 * (x * x + y * y));
  return transpose(mat3x3<f32>(r0, r1, r2));
}

fn viewMat(c: Cam) -> mat3x3<f32> {
  // W as a WGSL matrix: W * v = (dot(w0, v), dot(w1, v), dot(w2, v))
  return transpose(mat3x3<f32>(c.w0.xyz, c.w1.xyz, c.w2.xyz));
}

// SH basis Y_k(d) for k < 16 (unused entries zero above the degree).
fn shBasis(deg: u32, d: vec3<f32>, Y: ptr<function, array<f32, 16>>) {
  (*Y)[0] = SH_C0;
  if (deg < 1u) { return; }
  let x = d.x; let y = d.y; let z = d.z;
  (*Y)[1] = -SH_C1 * y; (*Y)[2] = SH_C1 * z; (*Y)[3] = -SH_C1 * x;
  if (deg < 2u) { return; }
  let xx = x * x; let yy = y * y; let zz = z * z; let xy = x * y; let yz = y * z; let xz = x * z;
  (*Y)[4] = SH_C2_0 * xy;
  (*Y)[5] = SH_C2_1 * yz;
  (*Y)[6] = SH_C2_2 * (2.0 * zz - xx - yy);
  (*Y)[7] = SH_C2_3 * xz;
  (*Y)[8] = SH_C2_4 * (xx - yy);
  if (deg < 3u) { return; }
  (*Y)[9] = SH_C3_0 * y * (3.0 * xx - yy);
  (*Y)[10] = SH_C3_1 * xy * z;
  (*Y)[11] = SH_C3_2 * y * (4.0 * zz - xx - yy);
  (*Y)[12] = SH_C3_3 * z * (2.0 * zz - 3.0 * xx - 3.0 * yy);
  (*Y)[13] = SH_C3_4 * x * (4.0 * zz - xx - yy);
  (*Y)[14] = SH_C3_5 * z * (xx - yy);
  (*Y)[15] = SH_C3_6 * x * (xx - 3.0 * yy);
}

fn shCount(deg: u32) -> u32 { return (deg + 1u) * (deg + 1u); }
