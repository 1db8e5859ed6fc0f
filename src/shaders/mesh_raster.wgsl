// Mesh rasteriser, forward: z-buffer (two passes over each face's pixels) and shading of the nearest face
// (prepended with mesh_common.wgsl). CPU twin: rasterDepth / rasterResolve / rasterShade in
// src/nerf/mesh/mesh-raster-cpu.ts. raster_shade also packs (face, depth bits) per pixel for the antialiasing.
// One thread per face walks the face's pixel bounds (meshes of many small faces);
// depth is an atomicMin of the f32 bits, then the lowest face index with exactly that depth wins (atomicMin).

@group(0) @binding(0) var<uniform> cam: Cam;
@group(0) @binding(1) var<storage, read> screen: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> topo: array<u32>;
@group(0) @binding(3) var<storage, read> colors: array<f32>;
@group(0) @binding(4) var<storage, read> faceInfo: array<vec2<f32>>;
@group(0) @binding(5) var<storage, read_write> zbuf: array<atomic<u32>>;
@group(0) @binding(6) var<storage, read_write> fid: array<atomic<u32>>;
@group(0) @binding(7) var<storage, read_write> pre: array<vec4<f32>>;
@group(0) @binding(8) var<storage, read_write> pix: array<vec2<u32>>;

override WG: u32 = 64;

struct Bounds {
  ok: bool,
  x0: u32,
  x1: u32,
  y0: u32,
  y1: u32,
}

fn face_bounds(s0: vec4<f32>, s1: vec4<f32>, s2: vec4<f32>) -> Bounds {
  var r = Bounds(false, 0u, 0u, 0u, 0u);
  if (s0.z < NEAR || s1.z < NEAR || s2.z < NEAR) { return r; }
  let W = f32(cam.width);
  let H = f32(cam.height);
  let fx0 = max(0.0, ceil(min(min(s0.x, s1.x), s2.x) - 0.5));
  let fx1 = min(W - 1.0, floor(max(max(s0.x, s1.x), s2.x) - 0.5));
  let fy0 = max(0.0, ceil(min(min(s0.y, s1.y), s2.y) - 0.5));
  let fy1 = min(H - 1.0, floor(max(max(s0.y, s1.y), s2.y) - 0.5));
  if (fx0 > fx1 || fy0 > fy1) { return r; }
  let area = edge_fn(s0.xy, s1.xy, s2.xy);
  if (abs(area) < 1e-12) { return r; }
  r.ok = true;
  r.x0 = u32(fx0);
  r.x1 = u32(fx1);
  r.y0 = u32(fy0);
  r.y1 = u32(fy1);
  return r;
}

// λ (screen barycentrics), perspective-correct b, depth; .ok false when the point is outside
struct Bary {
  ok: bool,
  lam: vec3<f32>,
  b: vec3<f32>,
  depth: f32,
}

fn bary_at(s0: vec4<f32>, s1: vec4<f32>, s2: vec4<f32>, p: vec2<f32>) -> Bary {
  let area = edge_fn(s0.xy, s1.xy, s2.xy);
  let lam = vec3<f32>(edge_fn(s1.xy, s2.xy, p), edge_fn(s2.xy, s0.xy, p), edge_fn(s0.xy, s1.xy, p)) / area;
  let w = vec3<f32>(s0.w, s1.w, s2.w);
  let S = dot(lam, w);
  return Bary(lam.x >= 0.0 && lam.y >= 0.0 && lam.z >= 0.0, lam, lam * w / S, 1.0 / S);
}

@compute @workgroup_size(WG)
fn raster_depth(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let f = gid.x + gid.y * nwg.x * WG;
  if (f >= cam.nf) { return; }
  let s0 = screen[topo[6u * f]];
  let s1 = screen[topo[6u * f + 1u]];
  let s2 = screen[topo[6u * f + 2u]];
  let bb = face_bounds(s0, s1, s2);
  if (!bb.ok) { return; }
  for (var y = bb.y0; y <= bb.y1; y++) {
    for (var x = bb.x0; x <= bb.x1; x++) {
      let bc = bary_at(s0, s1, s2, vec2<f32>(f32(x) + 0.5, f32(y) + 0.5));
      if (!bc.ok) { continue; }
      atomicMin(&zbuf[y * cam.width + x], bitcast<u32>(bc.depth));
    }
  }
}

@compute @workgroup_size(WG)
fn raster_resolve(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let f = gid.x + gid.y * nwg.x * WG;
  if (f >= cam.nf) { return; }
  let s0 = screen[topo[6u * f]];
  let s1 = screen[topo[6u * f + 1u]];
  let s2 = screen[topo[6u * f + 2u]];
  let bb = face_bounds(s0, s1, s2);
  if (!bb.ok) { return; }
  for (var y = bb.y0; y <= bb.y1; y++) {
    for (var x = bb.x0; x <= bb.x1; x++) {
      let bc = bary_at(s0, s1, s2, vec2<f32>(f32(x) + 0.5, f32(y) + 0.5));
      if (!bc.ok) { continue; }
      let p = y * cam.width + x;
      if (bitcast<u32>(bc.depth) == atomicLoad(&zbuf[p])) { atomicMin(&fid[p], f); }
    }
  }
}

@compute @workgroup_size(WG)
fn raster_shade(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let p = gid.x + gid.y * nwg.x * WG;
  if (p >= cam.width * cam.height) { return; }
  let f = atomicLoad(&fid[p]);
  pix[p] = vec2<u32>(f, atomicLoad(&zbuf[p]));
  if (f == NONE) {
    pre[p] = vec4<f32>(cam.bg.xyz, 0.0);
    return;
  }
  let i0 = topo[6u * f];
  let i1 = topo[6u * f + 1u];
  let i2 = topo[6u * f + 2u];
  let x = p % cam.width;
  let y = p / cam.width;
  let bc = bary_at(screen[i0], screen[i1], screen[i2], vec2<f32>(f32(x) + 0.5, f32(y) + 0.5));
  let c0 = vec3<f32>(colors[3u * i0], colors[3u * i0 + 1u], colors[3u * i0 + 2u]);
  let c1 = vec3<f32>(colors[3u * i1], colors[3u * i1 + 1u], colors[3u * i1 + 2u]);
  let c2 = vec3<f32>(colors[3u * i2], colors[3u * i2 + 1u], colors[3u * i2 + 2u]);
  pre[p] = vec4<f32>(faceInfo[f].x * (bc.b.x * c0 + bc.b.y * c1 + bc.b.z * c2), 1.0);
}
