// Gaussian splatting — projection (`project_gaussians`; CPU twin `projectGaussians` in
// src/nerf/gaussian/gaussian-project-cpu.ts). Prepended with gs_common.wgsl.
// Host: src/nerf/gaussian/gaussian-raster-webgpu.ts (class WebGpuGaussianProjector).
//
// project_gaussians: one thread per Gaussian → proj[4i..4i+4) (layout in gs_common.wgsl), touched[i] = number of
//              tiles covered (0 when culled), depthKey[i] = depth bits (positive f32 sort like their bit patterns;
//              0xffffffff when culled), radii[i] (pixel radius, 0 when culled) and order[i] = i, ready for a stable 32-bit sort of (depthKey, order):
//              the global front-to-back order of the CPU twin (ties by index). The viewer can stop here.
// Then (gs_bin.wgsl): touched is gathered in depth order and scanned, each Gaussian writes one (tile id, Gaussian)
// entry per covered tile at its slot, and a stable sort by tile id keeps each tile's list in depth order.

@group(0) @binding(0) var<uniform> cam: Cam;
@group(0) @binding(1) var<storage, read> params: array<f32>;
@group(0) @binding(2) var<storage, read_write> proj: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> touched: array<u32>;
@group(0) @binding(4) var<storage, read_write> depthKey: array<u32>;
@group(0) @binding(5) var<storage, read_write> order: array<u32>;
@group(0) @binding(6) var<storage, read_write> radii: array<i32>;

override WG: u32 = 256;

fn pf(i: u32, k: u32) -> f32 { return params[i * PARAM_STRIDE + k]; }

@compute @workgroup_size(WG)
fn project_gaussians(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= cam.count) { return; }
  touched[i] = 0u;
  depthKey[i] = 0xffffffffu;
  order[i] = i;
  radii[i] = 0;
  proj[4u * i] = vec4<f32>(0.0);
  let m = vec3<f32>(pf(i, 0u), pf(i, 1u), pf(i, 2u));
  let d = m - cam.center.xyz;
  let W = viewMat(cam);
  let t = W * d;
  if (!(t.z > NEAR)) { return; }
  // 3D covariance Σ = R S Sᵀ Rᵀ
  let R = quatToMat(vec4<f32>(pf(i, 6u), pf(i, 7u), pf(i, 8u), pf(i, 9u)));
  let s = exp(vec3<f32>(pf(i, 3u), pf(i, 4u), pf(i, 5u)));
  let M = R * mat3x3<f32>(vec3<f32>(s.x, 0.0, 0.0), vec3<f32>(0.0, s.y, 0.0), vec3<f32>(0.0, 0.0, s.z));
  let Sigma = M * transpose(M);
  // EWA: J with clamped x/z, y/z
  let fx = cam.intr.x; let fy = cam.intr.y; let cx = cam.intr.z; let cy = cam.intr.w;
  let ux = clamp(t.x / t.z, -cam.lim.x, cam.lim.y);
  let uy = clamp(t.y / t.z, -cam.lim.z, cam.lim.w);
  // J (2×3) as the first two rows of a 3×3 (third row zero)
  let J = transpose(mat3x3<f32>(vec3<f32>(fx / t.z, 0.0, -fx * ux / t.z), vec3<f32>(0.0, fy / t.z, -fy * uy / t.z), vec3<f32>(0.0)));
  let T = J * W;
  let cov = T * Sigma * transpose(T);
  let c00 = cov[0][0] + DILATION;
  let c01 = cov[1][0];
  let c11 = cov[1][1] + DILATION;
  let det = c00 * c11 - c01 * c01;
  if (!(det > 0.0)) { return; }
  let mid = 0.5 * (c00 + c11);
  let lam = mid + sqrt(max(0.1, mid * mid - det));
  let r = ceil(3.0 * sqrt(lam));
  let u = fx * t.x / t.z + cx;
  let v = fy * t.y / t.z + cy;
  let tx = f32(cam.tilesX); let ty = f32(cam.tilesY);
  let x0 = u32(clamp(floor((u - r - 0.5) / f32(TILE)), 0.0, tx));
  let x1 = u32(clamp(floor((u + r - 0.5) / f32(TILE)) + 1.0, 0.0, tx));
  let y0 = u32(clamp(floor((v - r - 0.5) / f32(TILE)), 0.0, ty));
  let y1 = u32(clamp(floor((v + r - 0.5) / f32(TILE)) + 1.0, 0.0, ty));
  if (x1 <= x0 || y1 <= y0) { return; }
  let idet = 1.0 / det;
  let opacity = 1.0 / (1.0 + exp(-pf(i, 10u)));
  // colour from SH along the viewing direction
  let dir = d / length(d);
  var Y: array<f32, 16>;
  shBasis(cam.shDegree, dir, &Y);
  let K = shCount(cam.shDegree);
  var rgb = vec3<f32>(0.5);
  for (var k = 0u; k < K; k++) {
    let o = i * PARAM_STRIDE + 11u + 3u * k;
    rgb += Y[k] * vec3<f32>(params[o], params[o + 1u], params[o + 2u]);
  }
  var clampBits = 0u;
  if (rgb.x < 0.0) { clampBits |= 1u; }
  if (rgb.y < 0.0) { clampBits |= 2u; }
  if (rgb.z < 0.0) { clampBits |= 4u; }
  rgb = max(rgb, vec3<f32>(0.0));
  proj[4u * i] = vec4<f32>(u, v, t.z, r);
  proj[4u * i + 1u] = vec4<f32>(c11 * idet, -c01 * idet, c00 * idet, opacity);
  proj[4u * i + 2u] = vec4<f32>(rgb, bitcast<f32>(clampBits));
  proj[4u * i + 3u] = bitcast<vec4<f32>>(vec4<u32>(x0, y0, x1, y1));
  touched[i] = (x1 - x0) * (y1 - y0);
  depthKey[i] = bitcast<u32>(t.z);
  radii[i] = i32(r);
}
