// The viewer's splat projection (docs/viewer.md): one thread per packed splat (or level-of-detail node) computes
// once per frame what the draw needs, instead of every vertex of every quad doing it.
// CPU twin: src/viewer/three/splat-project.ts (same function names in camelCase); record layout: splat-record.ts.
//
//   splat_lod_bins    each merged tree node's screen-space size bin and whether its sphere is in view (`lodbins`),
//                     and the histograms of the size bins of the visible nodes and of their parents
//   splat_lod_select  picks the finest size bin whose cut through the tree draws at most `budget` nodes
//   splat_project     culls (frustum, level-of-detail cut, α < 1/255 everywhere), projects with the EWA
//                     Jacobian of the 3DGS rasteriser, evaluates SH, and appends one 32-byte draw record,
//                     a 16-bit back-to-front depth key and its count in the depth histogram
//
// Conventions follow the CPU rasteriser (src/nerf/gaussian/gaussian-project-cpu.ts and gaussian-render-cpu.ts): camera frame t = (x, −y, −z)
// of three's view space, pixel (u, v) = (fx·tx/tz + cx, fy·ty/tz + cy) with v down, tx/tz and ty/tz clamped to
// the image plus 0.3 of its size on each side inside the Jacobian, a 0.3 px² low-pass on the 2D covariance.

struct Params {
  view0: vec4f,      // rows of the model-view matrix (object → three's view space)
  view1: vec4f,
  view2: vec4f,
  proj_z: vec4f,     // rows 2 and 3 of the projection matrix (NDC depth of the centre)
  proj_w: vec4f,
  cam: vec4f,        // camera centre in object space; w: near cull distance (0.01)
  intr: vec4f,       // fx, fy, cx, cy in pixels
  screen: vec4f,     // width, height, lowest and highest NDC depth
  lims: vec4f,       // x/z ≥ −lims.x, x/z ≤ lims.y, y/z ≥ −lims.z, y/z ≤ lims.w
  depth: vec4f,      // near and far of the depth keys (view depth), focal length for node sizes, unused
  region_min: vec4f,
  region_max: vec4f,
  counts: vec4u,     // nodes, leaves, capacity (records), lod (1 = a tree is used)
  opts: vec4u,       // budget, smallest size bin, render mode (0 colour, 1 depth, 2 region), SH degree
  planes: vec4f,     // lengths of the frustum side planes' normals (fx, 0, cx) (fx, 0, w − cx) (0, fy, cy) (0, fy, h − cy)
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> data: array<u32>;
@group(0) @binding(2) var<storage, read> sh: array<u32>;
@group(0) @binding(3) var<storage, read> lod: array<u32>;
// state[0] records appended, [1] chosen size bin, [2] nodes its cut draws, [3] records kept (splat_offsets),
// [4 .. 4+LOD_BINS) nodes per size bin, [4+LOD_BINS .. 4+2·LOD_BINS) parents per size bin. The kernels that read
// the counters clear them for the next frame (splat_lod_select, splat_offsets).
@group(0) @binding(4) var<storage, read_write> state: array<atomic<u32>>;
@group(0) @binding(5) var<storage, read_write> records: array<u32>;
@group(0) @binding(6) var<storage, read_write> keys: array<u32>;
@group(0) @binding(7) var<storage, read_write> hist: array<atomic<u32>>;
// per merged node (level-of-detail frames): its size bin | (its sphere is in view) << 9
@group(0) @binding(8) var<storage, read_write> lodbins: array<u32>;

override WG: u32 = 256;
const WORDS: u32 = 8u;
// lod[2n]: parent (low 28 bits; NONE at the root) | leaf children << 28; lod[2n+1]: sphere radius (f32 bits)
const NONE: u32 = 0x0fffffffu;
const PARENT: u32 = 0x0fffffffu;
const LOD_BINS: u32 = 256u;
const DEPTH_BINS: u32 = 65536u;
const DILATION: f32 = 0.3;
const ALPHA_MIN: f32 = 1.0 / 255.0;

fn center_of(n: u32) -> vec3f {
  let o = n * WORDS;
  return vec3f(bitcast<f32>(data[o]), bitcast<f32>(data[o + 1u]), bitcast<f32>(data[o + 2u]));
}

// the camera frame of a point in object space (t.z > 0 in front)
fn to_camera(p: vec3f) -> vec3f {
  let p4 = vec4f(p, 1.0);
  return vec3f(dot(P.view0, p4), -dot(P.view1, p4), -dot(P.view2, p4));
}

// conservative: false only when the sphere lies entirely outside one plane of the view frustum
fn sphere_visible(c: vec3f, r: f32) -> bool {
  let t = to_camera(c);
  if (t.z + r <= P.cam.w) { return false; }
  let fx = P.intr.x;
  let fy = P.intr.y;
  let cx = P.intr.z;
  let cy = P.intr.w;
  if ((fx * t.x + cx * t.z) < -r * P.planes.x) { return false; }
  if (((P.screen.x - cx) * t.z - fx * t.x) < -r * P.planes.y) { return false; }
  if ((fy * t.y + cy * t.z) < -r * P.planes.z) { return false; }
  if (((P.screen.y - cy) * t.z - fy * t.y) < -r * P.planes.w) { return false; }
  return true;
}

// projected radius in pixels of the sphere as seen from its nearest point (never smaller for an enclosing sphere)
fn sphere_size(c: vec3f, r: f32) -> f32 {
  let d = distance(c, P.cam.xyz) - r;
  if (d <= 0.0) { return 3.0e38; }
  return P.depth.z * r / d;
}

// 8 bins per octave from 2⁻⁸ px (bin 0 holds everything smaller)
fn size_bin(s: f32) -> u32 {
  if (s <= 0.00390625) { return 0u; }
  return u32(clamp(floor((log2(s) + 8.0) * 8.0), 0.0, f32(LOD_BINS - 1u)));
}

fn radius_of(n: u32) -> f32 {
  return bitcast<f32>(lod[2u * n + 1u]);
}

// One thread per merged node (leaves are nodes 0..leaves−1; they have no size, they are the finest level).
// Histograms: the node counts once in its own size bin and once in its parent's; its leaf children count in bin 0
// and, as children, in its bin — a leaf is in view when its parent's sphere is (its quad is culled exactly later),
// which spares a thread, a frustum test and a contended atomic per splat.
@compute @workgroup_size(WG)
fn splat_lod_bins(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let n = P.counts.y + gid.x + gid.y * nwg.x * WG;
  if (n >= P.counts.x) { return; }
  let c = center_of(n);
  let r = radius_of(n);
  let bn = size_bin(sphere_size(c, r));
  let visible = sphere_visible(c, r);
  lodbins[n] = bn | (select(0u, 1u, visible) << 9u);
  if (!visible) { return; }
  let w = lod[2u * n];
  let p = w & PARENT;
  atomicAdd(&state[4u + bn], 1u);
  if (p != NONE) { atomicAdd(&state[4u + LOD_BINS + size_bin(sphere_size(center_of(p), radius_of(p)))], 1u); }
  let kids = w >> 28u;
  if (kids > 0u) {
    atomicAdd(&state[4u], kids);
    atomicAdd(&state[4u + LOD_BINS + bn], kids);
  }
}

// (size bin, parent's size bin, in view) of node n, after splat_lod_bins
fn node_lod(n: u32) -> vec3u {
  let p = lod[2u * n] & PARENT;
  var bn = 0u;
  var vis = 0u;
  var bp = LOD_BINS;
  if (n >= P.counts.y) {
    let b = lodbins[n];
    bn = b & 511u;
    vis = b >> 9u;
  }
  if (p != NONE) {
    let b = lodbins[p];
    bp = b & 511u;
    if (n < P.counts.y) { vis = b >> 9u; }
  }
  return vec3u(bn, bp, vis);
}

var<workgroup> scan: array<i32, 256>;
var<workgroup> best: atomic<u32>;

// one workgroup of LOD_BINS threads: drawn(b) = Σ_{i≤b} (nodes in bin i − parents in bin i) is the number of
// nodes on the cut "node bin ≤ b < parent bin"; it only falls as b grows (the cut moves towards the root)
@compute @workgroup_size(256)
fn splat_lod_select(@builtin(local_invocation_index) i: u32) {
  if (i == 0u) { atomicStore(&best, LOD_BINS - 1u); }
  scan[i] = i32(atomicLoad(&state[4u + i])) - i32(atomicLoad(&state[4u + LOD_BINS + i]));
  // cleared for the next frame (no separate clear pass)
  atomicStore(&state[4u + i], 0u);
  atomicStore(&state[4u + LOD_BINS + i], 0u);
  workgroupBarrier();
  for (var s = 1u; s < LOD_BINS; s = s << 1u) {
    var v = scan[i];
    if (i >= s) { v = v + scan[i - s]; }
    workgroupBarrier();
    scan[i] = v;
    workgroupBarrier();
  }
  if (scan[i] <= i32(P.opts.x)) { atomicMin(&best, i); }
  workgroupBarrier();
  if (i == 0u) {
    let b = max(atomicLoad(&best), P.opts.y);
    atomicStore(&state[1], b);
    atomicStore(&state[2], u32(max(scan[b], 0)));
  }
}

fn sh_coeff(base: u32, k: u32, c: u32) -> f32 {
  let h = 3u * (k - 1u) + c;
  let w = unpack2x16float(sh[base + h / 2u]);
  return select(w.x, w.y, (h & 1u) == 1u);
}

// colour = max(0, rgb₀ + Σ_{k≥1} Y_k(d)·sh_k), d = normalise(centre − camera), the 3DGS basis and constants
fn sh_color(n: u32, rgb0: vec3f, d: vec3f) -> vec3f {
  let deg = P.opts.w;
  var rgb = rgb0;
  if (deg == 0u) { return rgb; }
  var Y: array<f32, 16>;
  let x = d.x;
  let y = d.y;
  let z = d.z;
  Y[1] = -0.4886025119029199 * y;
  Y[2] = 0.4886025119029199 * z;
  Y[3] = -0.4886025119029199 * x;
  if (deg >= 2u) {
    let xx = x * x;
    let yy = y * y;
    let zz = z * z;
    Y[4] = 1.0925484305920792 * x * y;
    Y[5] = -1.0925484305920792 * y * z;
    Y[6] = 0.31539156525252005 * (2.0 * zz - xx - yy);
    Y[7] = -1.0925484305920792 * x * z;
    Y[8] = 0.5462742152960396 * (xx - yy);
    if (deg >= 3u) {
      Y[9] = -0.5900435899266435 * y * (3.0 * xx - yy);
      Y[10] = 2.890611442640554 * x * y * z;
      Y[11] = -0.4570457994644658 * y * (4.0 * zz - xx - yy);
      Y[12] = 0.3731763325901154 * z * (2.0 * zz - 3.0 * xx - 3.0 * yy);
      Y[13] = -0.4570457994644658 * x * (4.0 * zz - xx - yy);
      Y[14] = 1.445305721320277 * z * (xx - yy);
      Y[15] = -0.5900435899266435 * x * (xx - 3.0 * yy);
    }
  }
  let coeffs = (deg + 1u) * (deg + 1u);
  let words = (3u * (coeffs - 1u) + 1u) / 2u;
  let base = n * words;
  for (var k = 1u; k < coeffs; k = k + 1u) {
    rgb = rgb + Y[k] * vec3f(sh_coeff(base, k, 0u), sh_coeff(base, k, 1u), sh_coeff(base, k, 2u));
  }
  return rgb;
}

// the draw record and depth key of node n; false when it draws nothing
fn project_node(n: u32, rec: ptr<function, array<u32, 8>>, key: ptr<function, u32>) -> bool {
  let o = n * WORDS;
  let c = center_of(n);
  if (P.counts.w == 1u) {
    // level of detail: only the nodes on the chosen cut (node bin ≤ b < parent bin), and not those outside the view
    let b = atomicLoad(&state[1]);
    let l = node_lod(n);
    if (l.z == 0u || l.x > b || l.y <= b) { return false; }
  }
  let w7 = data[o + 7u];
  let opacity = unpack2x16unorm(w7).y;
  // α = min(0.99, o·G) ≥ 1/255 needs o > 1/255
  if (opacity * 255.0 <= 1.0) { return false; }
  let t = to_camera(c);
  if (!(t.z > P.cam.w)) { return false; }
  let s01 = unpack2x16float(data[o + 3u]);
  let s2r = unpack2x16float(data[o + 4u]);
  let gb = unpack2x16float(data[o + 5u]);
  let r01 = unpack2x16snorm(data[o + 6u]);
  let r2 = unpack2x16snorm(w7).x;
  let sx = s01.x;
  let sy = s01.y;
  let sz = s2r.x;
  // world covariance Σ
  let S = mat3x3f(
    vec3f(sx * sx, r01.x * sx * sy, r01.y * sx * sz),
    vec3f(r01.x * sx * sy, sy * sy, r2 * sy * sz),
    vec3f(r01.y * sx * sz, r2 * sy * sz, sz * sz),
  );
  // rows of W (object → camera frame rotation)
  let w0 = P.view0.xyz;
  let w1 = -P.view1.xyz;
  let w2 = -P.view2.xyz;
  let fx = P.intr.x;
  let fy = P.intr.y;
  let ux = clamp(t.x / t.z, -P.lims.x, P.lims.y);
  let uy = clamp(t.y / t.z, -P.lims.z, P.lims.w);
  let j00 = fx / t.z;
  let j02 = -fx * ux / t.z;
  let j11 = fy / t.z;
  let j12 = -fy * uy / t.z;
  // T = J·W (2×3); cov2D = T Σ Tᵀ + 0.3 I
  let T0 = j00 * w0 + j02 * w2;
  let T1 = j11 * w1 + j12 * w2;
  let ST0 = S * T0;
  let ST1 = S * T1;
  let a = dot(T0, ST0) + DILATION;
  let b = dot(T0, ST1);
  let cc = dot(T1, ST1) + DILATION;
  let det = a * cc - b * b;
  if (!(det > 0.0)) { return false; }
  // the quad: the ellipse where α = o·exp(−½ dᵀΣ⁻¹d) can reach 1/255, Mahalanobis radius k = √(2 ln(255·o)),
  // as a rectangle along the eigenvectors of the 2D covariance (faint splats get small quads)
  let k2 = 2.0 * log(opacity * 255.0);
  let k = sqrt(k2);
  // eigen decomposition written to avoid cancellation in f32 (nearly round and very thin splats alike):
  // disc = √(((a−c)/2)² + b²) rather than √(mid² − det), λ₂ = det/λ₁, and of the two eigenvector formulas
  // (λ₁ − c, b) and (b, λ₁ − a) the one without a difference of near-equal numbers
  let mid = 0.5 * (a + cc);
  let hd = 0.5 * (a - cc);
  let disc = sqrt(hd * hd + b * b);
  let l1 = mid + disc;
  let l2 = max(det / l1, 1e-6);
  var e1 = vec2f(1.0, 0.0);
  let v = select(vec2f(b, disc - hd), vec2f(hd + disc, b), hd >= 0.0);
  if (dot(v, v) > 1e-24) { e1 = normalize(v); }
  let a1 = e1 * (k * sqrt(l1));
  let a2len = k * sqrt(l2);
  let u = fx * t.x / t.z + P.intr.z;
  let vv = fy * t.y / t.z + P.intr.w;
  // outside the image: no pixel of the quad is drawn
  let ex = abs(a1.x) + a2len * abs(e1.y);
  let ey = abs(a1.y) + a2len * abs(e1.x);
  if (u + ex < 0.0 || u - ex > P.screen.x || vv + ey < 0.0 || vv - ey > P.screen.y) { return false; }
  let view4 = vec4f(dot(P.view0, vec4f(c, 1.0)), dot(P.view1, vec4f(c, 1.0)), dot(P.view2, vec4f(c, 1.0)), 1.0);
  let zn = dot(P.proj_z, view4) / dot(P.proj_w, view4);
  if (zn > P.screen.w) { return false; }
  let ndc_z = max(zn, P.screen.z);
  // colour: SH, then the render mode
  let dir = normalize(c - P.cam.xyz);
  var shown = max(sh_color(n, vec3f(s2r.y, gb.x, gb.y), dir), vec3f(0.0));
  let dn = clamp((t.z - P.depth.x) / max(P.depth.y - P.depth.x, 1e-6), 0.0, 1.0);
  if (P.opts.z == 1u) { shown = vec3f(dn); }
  if (P.opts.z == 2u) {
    let inside = all(c >= P.region_min.xyz) && all(c <= P.region_max.xyz);
    shown = select(shown * 0.35, shown * 0.5 + vec3f(0.5, 0.4, 0.0), inside);
  }

  (*rec)[0] = bitcast<u32>(u);
  (*rec)[1] = bitcast<u32>(vv);
  (*rec)[2] = bitcast<u32>(ndc_z);
  (*rec)[3] = bitcast<u32>(a1.x);
  (*rec)[4] = bitcast<u32>(a1.y);
  (*rec)[5] = pack2x16float(vec2f(a2len, k2));
  (*rec)[6] = pack2x16float(shown.xy);
  (*rec)[7] = pack2x16float(vec2f(shown.z, opacity));
  *key = (DEPTH_BINS - 1u) - u32(dn * f32(DEPTH_BINS - 1u));
  return true;
}

@compute @workgroup_size(WG)
fn splat_project(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let n = gid.x + gid.y * nwg.x * WG;
  if (n >= P.counts.x) { return; }
  var rec: array<u32, 8>;
  var key = 0u;
  if (!project_node(n, &rec, &key)) { return; }
  // (one global atomic per record: workgroup aggregation needs barriers, which software adapters run slowly)
  let slot = atomicAdd(&state[0], 1u);
  if (slot >= P.counts.z) { return; }
  for (var k = 0u; k < WORDS; k = k + 1u) { records[slot * WORDS + k] = rec[k]; }
  keys[slot] = key;
  atomicAdd(&hist[key], 1u);
}
