// Mesh rasteriser, backward of the face shading and the projection (prepended with mesh_common.wgsl). CPU twin:
// shadeBackward / projectBackward in src/nerf/mesh/mesh-raster-cpu.ts. shade_backward scatters each face's
// ∂L/∂s to its vertices through the face normal (CAS float adds into dPos); project_backward then adds each
// vertex's ∂L/∂(u, v, w) through the projection (one thread per vertex, after shade_backward).

@group(0) @binding(0) var<uniform> cam: Cam;
@group(0) @binding(1) var<storage, read> positions: array<f32>;
@group(0) @binding(2) var<storage, read> topo: array<u32>;
@group(0) @binding(3) var<storage, read> faceInfo: array<vec2<f32>>;
@group(0) @binding(4) var<storage, read> screen: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read> dCS: array<f32>;
@group(0) @binding(6) var<storage, read> dScreen: array<f32>;
@group(0) @binding(7) var<storage, read_write> dPos: array<atomic<u32>>;

override WG: u32 = 64;

fn position(i: u32) -> vec3<f32> {
  return vec3<f32>(positions[3u * i], positions[3u * i + 1u], positions[3u * i + 2u]);
}

fn add_dpos(i: u32, v: f32) {
  if (v == 0.0) { return; }
  var old = atomicLoad(&dPos[i]);
  loop {
    let r = atomicCompareExchangeWeak(&dPos[i], old, bitcast<u32>(bitcast<f32>(old) + v));
    if (r.exchanged) { break; }
    old = r.old_value;
  }
}

@compute @workgroup_size(WG)
fn shade_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let f = gid.x + gid.y * nwg.x * WG;
  if (f >= cam.nf) { return; }
  let g = dCS[3u * cam.nv + f];
  let sign = faceInfo[f].y;
  if (g == 0.0 || sign == 0.0) { return; }
  let ia = topo[6u * f];
  let ib = topo[6u * f + 1u];
  let ic = topo[6u * f + 2u];
  let a = position(ia);
  let e1 = position(ib) - a;
  let e2 = position(ic) - a;
  let m = cross(e1, e2);
  let len = length(m);
  let n = m / len;
  let dn = cam.diffuse * sign * g * cam.light.xyz;
  let dm = (dn - n * dot(n, dn)) / len;
  let de1 = cross(e2, dm);
  let de2 = cross(dm, e1);
  for (var q = 0u; q < 3u; q++) {
    add_dpos(3u * ib + q, de1[q]);
    add_dpos(3u * ic + q, de2[q]);
    add_dpos(3u * ia + q, -(de1[q] + de2[q]));
  }
}

@compute @workgroup_size(WG)
fn project_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= cam.nv) { return; }
  let du = dScreen[4u * i];
  let dv = dScreen[4u * i + 1u];
  let dw = dScreen[4u * i + 3u];
  if (du == 0.0 && dv == 0.0 && dw == 0.0) { return; }
  let d = screen[i].z;
  if (d < NEAR) { return; }
  let rel = position(i) - cam.o.xyz;
  let xc = dot(rel, cam.ax.xyz);
  let yc = dot(rel, cam.ay.xyz);
  let id = 1.0 / d;
  let gd = du * (-cam.fx * xc * id * id) + dv * (cam.fy * yc * id * id) - dw * id * id;
  let g = (du * cam.fx * id) * cam.ax.xyz + (-dv * cam.fy * id) * cam.ay.xyz + (-gd) * cam.az.xyz;
  for (var a = 0u; a < 3u; a++) {
    let k = 3u * i + a;
    atomicStore(&dPos[k], bitcast<u32>(bitcast<f32>(atomicLoad(&dPos[k])) + g[a]));
  }
}
