// Mesh rasteriser, forward: vertex projection and face shading (prepended with mesh_common.wgsl).
// CPU twin: projectVertices / shadeFaces in src/nerf/mesh/mesh-raster-cpu.ts.

@group(0) @binding(0) var<uniform> cam: Cam;
@group(0) @binding(1) var<storage, read> positions: array<f32>;
@group(0) @binding(2) var<storage, read> topo: array<u32>;
@group(0) @binding(3) var<storage, read_write> screen: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> faceInfo: array<vec2<f32>>;

override WG: u32 = 64;

fn position(i: u32) -> vec3<f32> {
  return vec3<f32>(positions[3u * i], positions[3u * i + 1u], positions[3u * i + 2u]);
}

@compute @workgroup_size(WG)
fn project_vertices(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= cam.nv) { return; }
  let d = position(i) - cam.o.xyz;
  let xc = dot(d, cam.ax.xyz);
  let yc = dot(d, cam.ay.xyz);
  let depth = -dot(d, cam.az.xyz);
  if (depth < NEAR) {
    screen[i] = vec4<f32>(0.0, 0.0, depth, 0.0);
    return;
  }
  screen[i] = vec4<f32>(cam.cx + cam.fx * xc / depth, cam.cy - cam.fy * yc / depth, depth, 1.0 / depth);
}

@compute @workgroup_size(WG)
fn shade_faces(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let f = gid.x + gid.y * nwg.x * WG;
  if (f >= cam.nf) { return; }
  let a = position(topo[6u * f]);
  let b = position(topo[6u * f + 1u]);
  let c = position(topo[6u * f + 2u]);
  let m = cross(b - a, c - a);
  let len = length(m);
  if (!(len > 0.0)) {
    faceInfo[f] = vec2<f32>(cam.ambient, 0.0);
    return;
  }
  let v = cam.o.xyz - (a + b + c) / 3.0;
  let s = select(-1.0, 1.0, dot(m, v) >= 0.0);
  faceInfo[f] = vec2<f32>(cam.ambient + cam.diffuse * s * dot(m, cam.light.xyz) / len, s);
}
