// Mesh rasteriser: analytic antialiasing of silhouette edges, forward and backward (prepended with
// mesh_common.wgsl). CPU twin: aaPair / antialias / antialiasBackward in src/nerf/mesh/mesh-raster-cpu.ts.
// Each pixel gathers its four neighbour pairs; a pair (p < q) is decided the same way by both pixels' threads.
// Backward: ∂L/∂pre is gathered per pixel; the edge-crossing gradient of a pair is scattered (CAS float adds) by
// the thread of the pixel the pair blends, so each pair adds it once.

@group(0) @binding(0) var<uniform> cam: Cam;
@group(0) @binding(1) var<storage, read> screen: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> topo: array<u32>;
@group(0) @binding(3) var<storage, read> faceInfo: array<vec2<f32>>;
@group(0) @binding(4) var<storage, read> pix: array<vec2<u32>>;
@group(0) @binding(5) var<storage, read> pre: array<vec4<f32>>;
// forward: the antialiased output (rgb, coverage); backward: ∂L/∂output (rgb, .w unused)
@group(0) @binding(6) var<storage, read_write> io: array<vec4<f32>>;
@group(0) @binding(7) var<storage, read_write> dPre: array<vec4<f32>>;
@group(0) @binding(8) var<storage, read_write> dScreen: array<atomic<u32>>;

override WG: u32 = 64;

struct Pair {
  ok: bool,
  target_: u32,
  source: u32,
  weight: f32,
  dWdt: f32,
  a: u32,
  b: u32,
  front: u32,
  back: u32,
  sF: f32,
  sB: f32,
  sgn: f32,
}

fn centre(p: u32) -> vec2<f32> {
  return vec2<f32>(f32(p % cam.width) + 0.5, f32(p / cam.width) + 0.5);
}

fn aa_pair(p: u32, q: u32) -> Pair {
  var r: Pair;
  r.ok = false;
  let fp = pix[p].x;
  let fq = pix[q].x;
  if (fp == fq) { return r; }
  var front = p;
  if (fq == NONE) {
    front = p;
  } else if (fp == NONE) {
    front = q;
  } else {
    let dp = bitcast<f32>(pix[p].y);
    let dq = bitcast<f32>(pix[q].y);
    front = select(q, p, dp < dq || (dp == dq && fp < fq));
  }
  let back = select(p, q, front == p);
  let F = centre(front);
  let B = centre(back);
  var cur = pix[front].x;
  var enteredFrom = NONE;
  for (var step = 0u; step < MAX_WALK; step++) {
    let s0 = screen[topo[6u * cur]].xy;
    let s1 = screen[topo[6u * cur + 1u]].xy;
    let s2 = screen[topo[6u * cur + 2u]].xy;
    let sgn = select(-1.0, 1.0, edge_fn(s0, s1, s2) >= 0.0);
    var best = 3u;
    var bestT = 3.4e38;
    var bestF = 0.0;
    var bestB = 0.0;
    for (var k = 0u; k < 3u; k++) {
      let nb = topo[6u * cur + 3u + k];
      if (nb != NONE && nb == enteredFrom) { continue; }
      let ua = screen[topo[6u * cur + (k + 1u) % 3u]].xy;
      let ub = screen[topo[6u * cur + (k + 2u) % 3u]].xy;
      let sF = sgn * edge_fn(ua, ub, F);
      let sB = sgn * edge_fn(ua, ub, B);
      if (!(sB < 0.0) || !(sF >= 0.0)) { continue; }
      let t = sF / (sF - sB);
      if (t < bestT) {
        bestT = t;
        best = k;
        bestF = sF;
        bestB = sB;
      }
    }
    if (best == 3u) { return r; }
    let nb = topo[6u * cur + 3u + best];
    if (nb != NONE && faceInfo[nb].y != 0.0 && faceInfo[nb].y == faceInfo[cur].y) {
      enteredFrom = cur;
      cur = nb;
      continue;
    }
    let a = topo[6u * cur + (best + 1u) % 3u];
    let b = topo[6u * cur + (best + 2u) % 3u];
    let du = abs(screen[b].x - screen[a].x);
    let dv = abs(screen[b].y - screen[a].y);
    let horizontal = q == p + 1u;
    if ((horizontal && dv < du) || (!horizontal && dv >= du)) { return r; }
    r.ok = true;
    r.a = a;
    r.b = b;
    r.front = front;
    r.back = back;
    r.sF = bestF;
    r.sB = bestB;
    r.sgn = sgn;
    if (bestT > 0.5) {
      r.target_ = back;
      r.source = front;
      r.weight = bestT - 0.5;
      r.dWdt = 1.0;
    } else {
      r.target_ = front;
      r.source = back;
      r.weight = 0.5 - bestT;
      r.dWdt = -1.0;
    }
    return r;
  }
  return r;
}

// the neighbour pairs of p as (lower, higher) pixel indices; n = how many
struct Pairs {
  n: u32,
  lo: array<u32, 4>,
  hi: array<u32, 4>,
}

fn neighbour_pairs(p: u32) -> Pairs {
  var r: Pairs;
  r.n = 0u;
  let x = p % cam.width;
  let y = p / cam.width;
  if (x > 0u) { r.lo[r.n] = p - 1u; r.hi[r.n] = p; r.n++; }
  if (x + 1u < cam.width) { r.lo[r.n] = p; r.hi[r.n] = p + 1u; r.n++; }
  if (y > 0u) { r.lo[r.n] = p - cam.width; r.hi[r.n] = p; r.n++; }
  if (y + 1u < cam.height) { r.lo[r.n] = p; r.hi[r.n] = p + cam.width; r.n++; }
  return r;
}

@compute @workgroup_size(WG)
fn antialias(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let p = gid.x + gid.y * nwg.x * WG;
  if (p >= cam.width * cam.height) { return; }
  var acc = pre[p];
  let np = neighbour_pairs(p);
  for (var k = 0u; k < np.n; k++) {
    let d = aa_pair(np.lo[k], np.hi[k]);
    if (!d.ok || d.target_ != p) { continue; }
    acc += d.weight * (pre[d.source] - pre[p]);
  }
  io[p] = acc;
}

fn add_dscreen(i: u32, v: f32) {
  if (v == 0.0) { return; }
  var old = atomicLoad(&dScreen[i]);
  loop {
    let r = atomicCompareExchangeWeak(&dScreen[i], old, bitcast<u32>(bitcast<f32>(old) + v));
    if (r.exchanged) { break; }
    old = r.old_value;
  }
}

fn add_edge_grad(d: Pair, dt: f32) {
  if (dt == 0.0) { return; }
  let den = d.sF - d.sB;
  let dsF = (-d.sB / (den * den)) * dt;
  let dsB = (d.sF / (den * den)) * dt;
  let A = screen[d.a].xy;
  let Bv = screen[d.b].xy;
  for (var k = 0u; k < 2u; k++) {
    let X = centre(select(d.back, d.front, k == 0u));
    let g = select(dsB, dsF, k == 0u) * d.sgn;
    // E = (ub−ua)(y−va) − (vb−va)(x−ua)
    add_dscreen(4u * d.a, g * (Bv.y - X.y));
    add_dscreen(4u * d.a + 1u, g * (X.x - Bv.x));
    add_dscreen(4u * d.b, g * (X.y - A.y));
    add_dscreen(4u * d.b + 1u, g * (A.x - X.x));
  }
}

@compute @workgroup_size(WG)
fn antialias_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let p = gid.x + gid.y * nwg.x * WG;
  if (p >= cam.width * cam.height) { return; }
  let gp = io[p].xyz;
  var g = gp;
  let np = neighbour_pairs(p);
  for (var k = 0u; k < np.n; k++) {
    let d = aa_pair(np.lo[k], np.hi[k]);
    if (!d.ok) { continue; }
    if (d.target_ == p) {
      g -= d.weight * gp;
      add_edge_grad(d, d.dWdt * dot(gp, pre[d.source].xyz - pre[p].xyz));
    } else {
      g += d.weight * io[d.target_].xyz;
    }
  }
  dPre[p] = vec4<f32>(g, 0.0);
}
