// Mesh rasteriser, backward of the shading/interpolation pass (prepended with mesh_common.wgsl). CPU twin:
// rasterBackward in src/nerf/mesh/mesh-raster-cpu.ts. Per pixel, from ∂L/∂pre: vertex colours and face shading
// (dCS: ∂L/∂colour at [0, 3·nv), ∂L/∂s at 3·nv + face) and the vertices' (u, v, w) through the perspective-correct
// barycentrics (dScreen, 4 per vertex), all by CAS float adds.

@group(0) @binding(0) var<uniform> cam: Cam;
@group(0) @binding(1) var<storage, read> screen: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> topo: array<u32>;
@group(0) @binding(3) var<storage, read> colors: array<f32>;
@group(0) @binding(4) var<storage, read> faceInfo: array<vec2<f32>>;
@group(0) @binding(5) var<storage, read> pix: array<vec2<u32>>;
@group(0) @binding(6) var<storage, read> dPre: array<vec4<f32>>;
@group(0) @binding(7) var<storage, read_write> dScreen: array<atomic<u32>>;
@group(0) @binding(8) var<storage, read_write> dCS: array<atomic<u32>>;

override WG: u32 = 64;

fn add_dscreen(i: u32, v: f32) {
  if (v == 0.0) { return; }
  var old = atomicLoad(&dScreen[i]);
  loop {
    let r = atomicCompareExchangeWeak(&dScreen[i], old, bitcast<u32>(bitcast<f32>(old) + v));
    if (r.exchanged) { break; }
    old = r.old_value;
  }
}

fn add_dcs(i: u32, v: f32) {
  if (v == 0.0) { return; }
  var old = atomicLoad(&dCS[i]);
  loop {
    let r = atomicCompareExchangeWeak(&dCS[i], old, bitcast<u32>(bitcast<f32>(old) + v));
    if (r.exchanged) { break; }
    old = r.old_value;
  }
}

@compute @workgroup_size(WG)
fn raster_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let p = gid.x + gid.y * nwg.x * WG;
  if (p >= cam.width * cam.height) { return; }
  let f = pix[p].x;
  if (f == NONE) { return; }
  let g = dPre[p].xyz;
  if (all(g == vec3<f32>(0.0))) { return; }
  var vi: array<u32, 3>;
  vi[0] = topo[6u * f];
  vi[1] = topo[6u * f + 1u];
  vi[2] = topo[6u * f + 2u];
  var s: array<vec4<f32>, 3>;
  s[0] = screen[vi[0]];
  s[1] = screen[vi[1]];
  s[2] = screen[vi[2]];
  let P = vec2<f32>(f32(p % cam.width) + 0.5, f32(p / cam.width) + 0.5);
  let area = edge_fn(s[0].xy, s[1].xy, s[2].xy);
  let lam = vec3<f32>(edge_fn(s[1].xy, s[2].xy, P), edge_fn(s[2].xy, s[0].xy, P), edge_fn(s[0].xy, s[1].xy, P)) / area;
  let w = vec3<f32>(s[0].w, s[1].w, s[2].w);
  let S = dot(lam, w);
  let b = lam * w / S;
  let shade = faceInfo[f].x;
  var ds = 0.0;
  var gb = vec3<f32>(0.0);
  for (var k = 0u; k < 3u; k++) {
    let v = vi[k];
    let c = vec3<f32>(colors[3u * v], colors[3u * v + 1u], colors[3u * v + 2u]);
    let dc = g * shade * b[k];
    add_dcs(3u * v, dc.x);
    add_dcs(3u * v + 1u, dc.y);
    add_dcs(3u * v + 2u, dc.z);
    ds += b[k] * dot(g, c);
    gb[k] = shade * dot(g, c);
  }
  add_dcs(3u * cam.nv + f, ds);
  // b_i = λ_i w_i / S
  let gbar = dot(gb, b);
  let gl = w * (gb - gbar) / S;
  let gw = lam * (gb - gbar) / S;
  for (var k = 0u; k < 3u; k++) { add_dscreen(4u * vi[k] + 3u, gw[k]); }
  // λ_k = E_k / A
  let glam = dot(gl, lam);
  for (var k = 0u; k < 3u; k++) {
    let gE = (gl[k] - glam) / area;
    if (gE == 0.0) { continue; }
    let a = vi[(k + 1u) % 3u];
    let bb = vi[(k + 2u) % 3u];
    let A = s[(k + 1u) % 3u].xy;
    let B = s[(k + 2u) % 3u].xy;
    add_dscreen(4u * a, gE * (B.y - P.y));
    add_dscreen(4u * a + 1u, gE * (P.x - B.x));
    add_dscreen(4u * bb, gE * (P.y - A.y));
    add_dscreen(4u * bb + 1u, gE * (A.x - P.x));
  }
}
