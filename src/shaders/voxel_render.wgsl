// Voxel radiance grid: forward ray marching (`render_rays`) and forward + analytic backward (`train_rays`).
// GPU twin of src/nerf/voxel/voxel-render-cpu.ts (`renderRaysCpu`, `trainRaysCpu`); the marching rule, activations,
// contraction, occupancy skipping and compositing are specified in src/nerf/voxel/voxel-backend.ts and the memory
// layout in src/nerf/voxel/voxel-grid.ts (method: docs/voxels.md).
//
// One thread per ray. `train_rays` marches its ray twice with the same function: the first pass gives the colour C,
// the second walks the same samples again and, with Sᵢ = C − Σ_{j≤i} wⱼcⱼ, adds
//   ∂L/∂xᵢ = ∂L/∂C · (T_{i+1}cᵢ − Sᵢ)      (xᵢ = σᵢ·δ·densityScale, αᵢ = 1 − e^{−xᵢ})
//   ∂L/∂zᵢ = ∂L/∂C · wᵢ cᵢ(1 − cᵢ)          (z = pre-sigmoid colour)
// through softplus / SH / trilinear weights into `grads` (no per-sample storage).
//
// Loss (TrainOptions / TrainBatch in voxel-backend.ts): per channel e² (MSE) or |e| (l1 ≠ 0, ∂/∂e = sign(e),
// sign(0) = 0); lossNorm = lossScale·(2 or 1)/(3n) scales only the gradient. Opacity targets (alphaWeight ≠ 0,
// α* at alphaOffset, 1 per ray): the loss gets + w·(α − α*)² per ray with α = 1 − T_final, and since
// T_final = e^{−Σxⱼ}, ∂α/∂xᵢ = T_final for every sample: ∂L/∂xᵢ += alphaGrad·(α − α*)·T_final with
// alphaGrad = lossScale·2w/n.
//
// Gradient accumulation: WGSL has no float atomics, so `addGrad` is a compare-and-swap loop on the f32 bit
// pattern held in an atomic<u32> (exact f32 additions; only their order varies between runs, so results match
// the CPU to f32 rounding of sums, not bit for bit).
//
// Precision: sample positions of bounded rays are t₀ + (i + ½)·δ computed from the index (no drift); unbounded
// rays accumulate t with Kahan summation. softplus uses an accurate log1p and α an accurate 1 − e^{−x}, so the
// near-empty start of a fit (x ~ 1e-4) matches the CPU's float64 to ~1e-7.

struct Params {
  nx: u32, ny: u32, nz: u32, K: u32,
  count: u32, maxSamples: u32, dirOffset: u32, unbounded: u32,
  bgLen: f32, densityShift: f32, densityScale: f32, stepSize: f32,
  near: f32, farNorm: f32, stopT: f32, lossNorm: f32,
  minX: f32, minY: f32, minZ: f32, maxX: f32,
  maxY: f32, maxZ: f32, bgR: f32, bgG: f32,
  bgB: f32, colorOffset: u32, blockWords: u32, bx: u32,
  by: u32, targetOffset: u32, distLambda: f32, distScale: f32,
  l1: u32, alphaOffset: u32, alphaWeight: f32, alphaGrad: f32,
}

// Cells per side of the coarse skip blocks (as voxel-render-cpu.ts): a sample in an empty cell of an empty block
// jumps to the last sample position before the block's exit (one short of the CPU's jump, so f32 rounding can
// never skip a position the CPU evaluates); the samples evaluated are exactly those of plain stepping.
const BLOCK: u32 = 4u;

override WG: u32 = 64;
// SH_C1 (and the other SH constants): prepended by the host from src/nerf/common/sh.ts (shConstantsWgsl).

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> density: array<f32>;
@group(0) @binding(2) var<storage, read> color: array<f32>;
// 1 bit per cell (cell c → bit c & 31 of word c >> 5), 1 = occupied; then, from word blockWords, 1 bit per
// BLOCK³ block (block b → bit b & 31 of word blockWords + (b >> 5)), 1 = some cell of it occupied
@group(0) @binding(3) var<storage, read> occ: array<u32>;
// origins (3 per ray), then unit directions from dirOffset, then (train) target rgb from targetOffset and
// (train, alphaWeight ≠ 0) target opacity from alphaOffset (1 per ray)
@group(0) @binding(4) var<storage, read> rays: array<f32>;
// render: rgb (3 per ray), then alpha, depth, samples (count each); train: the ray's loss terms (the host sums them and divides by 3n), samples (2 per ray)
@group(0) @binding(5) var<storage, read_write> outv: array<f32>;
// train: ∂L/∂density[v] at v, ∂L/∂color[v·K + c] at colorOffset + v·K + c (f32 bit patterns)
@group(0) @binding(6) var<storage, read_write> grads: array<atomic<u32>>;

fn addGrad(i: u32, v: f32) {
  if (v == 0.0) { return; }
  var old = atomicLoad(&grads[i]);
  loop {
    let r = atomicCompareExchangeWeak(&grads[i], old, bitcast<u32>(bitcast<f32>(old) + v));
    if (r.exchanged) { break; }
    old = r.old_value;
  }
}

fn log1p_(x: f32) -> f32 {
  let u = 1.0 + x;
  if (u == 1.0) { return x; }
  return log(u) * (x / (u - 1.0));
}

fn softplus(z: f32) -> f32 {
  if (z > 20.0) { return z; }
  return log1p_(exp(z));
}

fn sigmoid(z: f32) -> f32 {
  return 1.0 / (1.0 + exp(-z));
}

// 1 − e^{−x} for x ≥ 0, accurate for small x
fn oneMinusExpNeg(x: f32) -> f32 {
  if (x < 1e-3) { return x * (1.0 - x * 0.5 * (1.0 - x / 3.0)); }
  return 1.0 - exp(-x);
}

struct RayOut {
  rgb: vec3f,
  T: f32,
  dsum: f32,
  samples: u32,
  // distortion (when distLambda > 0): Σw, Σw·m, L_dist = Σᵢⱼ wᵢwⱼ|mᵢ − mⱼ| + ⅓Σw²δ (m = (k + ½)·δ)
  W: f32,
  MW: f32,
  Ldist: f32,
}

// Marches ray q. backward = false: returns the composite (without background). backward = true: walks the
// same samples and adds the gradients for ∂L/∂C = dLdC, given the ray's final colour C (with background)
// and, with the distortion regulariser, its forward sums `fw` (W, MW, Ldist); `gaT` (the opacity term's
// ∂L/∂xᵢ, the same for every sample of the ray) is added to each sample's ∂L/∂x.
//
// Distortion (MarchParams.distortion, mip-NeRF 360 form, O(n) per ray as in voxel-render-cpu.ts): with kᵢ the
// step index of sample i (skipped positions counted) and mᵢ = (kᵢ + ½)δ, ∂L/∂wᵢ = gᵢ = 2·pairᵢ + ⅔wᵢδ where
// pairᵢ = Σⱼ wⱼ|mᵢ − mⱼ| (from running prefix sums), Σᵢ gᵢwᵢ = 2·L_dist, and
// ∂L/∂xᵢ += λ/n · (gᵢT_{i+1} − Σ_{j>i} gⱼwⱼ).
fn march(q: u32, backward: bool, dLdC: vec3f, C: vec3f, fw: RayOut, gaT: f32) -> RayOut {
  let ob = q * 3u;
  let db = P.dirOffset + q * 3u;
  let o = vec3f(rays[ob], rays[ob + 1u], rays[ob + 2u]);
  let d = vec3f(rays[db], rays[db + 1u], rays[db + 2u]);
  var basis = array<f32, 4>(1.0, 0.0, 0.0, 0.0);
  if (P.K == 12u) {
    basis[1] = -SH_C1 * d.y;
    basis[2] = SH_C1 * d.z;
    basis[3] = -SH_C1 * d.x;
  }
  let nb = P.K / 3u;
  let bmin = vec3f(P.minX, P.minY, P.minZ);
  let bmax = vec3f(P.maxX, P.maxY, P.maxZ);
  let ctr = (bmin + bmax) * 0.5;
  let ih = 2.0 / (bmax - bmin);
  let E = 1.0 + P.bgLen;
  let rmax = vec3f(f32(P.nx - 1u), f32(P.ny - 1u), f32(P.nz - 1u));
  let gs = rmax / (2.0 * E);
  let step = P.stepSize;
  let xscale = step * P.densityScale;
  let shift = P.densityShift;
  let unbounded = P.unbounded != 0u;
  let sy = P.nx;
  let sz = P.nx * P.ny;
  let cx = P.nx - 1u;
  let cy = P.ny - 1u;

  var res: RayOut;
  res.rgb = vec3f(0.0);
  res.T = 1.0;
  res.dsum = 0.0;
  res.samples = 0u;

  var t0 = P.near;
  var t1 = 3.0e38;
  if (!unbounded) {
    // slab test (axes with a zero direction component constrain only by containment)
    var a0 = -3.0e38;
    var a1 = 3.0e38;
    for (var a = 0u; a < 3u; a++) {
      if (d[a] == 0.0) {
        if (o[a] < bmin[a] || o[a] > bmax[a]) { return res; }
      } else {
        let inv = 1.0 / d[a];
        var ta = (bmin[a] - o[a]) * inv;
        var tb = (bmax[a] - o[a]) * inv;
        if (ta > tb) { let s = ta; ta = tb; tb = s; }
        a0 = max(a0, ta);
        a1 = min(a1, tb);
      }
    }
    if (a0 < P.near) { a0 = P.near; }
    if (!(a1 > a0)) { return res; }
    t0 = a0;
    t1 = a1;
  }

  // grid coordinates are affine in t inside the inner box: g = gA + t·gB (block exits)
  let gA = ((o - ctr) * ih + E) * gs;
  let gB = d * ih * gs;
  var tInnerExit = 3.0e38;
  if (unbounded) {
    for (var a = 0u; a < 3u; a++) {
      if (d[a] != 0.0) { tInnerExit = min(tInnerExit, (select(bmin[a], bmax[a], d[a] > 0.0) - o[a]) / d[a]); }
    }
  }

  var T = 1.0;
  var S = C;
  var t = t0;     // unbounded: running t (Kahan-compensated)
  var comp = 0.0;
  var si = 0u;    // bounded: index of the sample position (block jumps advance it by more than one)
  var kst = 0u;   // positions stepped so far, the current one included (distortion's step index + 1)
  let dist = P.distLambda > 0.0;
  var Wb = 0.0;   // distortion: Σ w and Σ w·m over the samples before the current one
  var MWb = 0.0;
  var Pd = 0.0;   // forward: Σᵢ wᵢ(mᵢWbᵢ − MWbᵢ) (each pair once); Σ w²
  var Qd = 0.0;
  var gwSuffix = 2.0 * fw.Ldist;
  for (var it = 0u; it < P.maxSamples; it++) {
    var tHere = t;
    if (!unbounded) {
      tHere = t0 + (f32(si) + 0.5) * step;
      si += 1u;
      if (tHere >= t1) { break; }
    }
    let p = o + tHere * d;
    var u = (p - ctr) * ih;
    var dt = step;
    if (unbounded) {
      let au = abs(u);
      let n = max(au.x, max(au.y, au.z));
      if (n > 1.0) {
        if (n > P.farNorm) { break; }
        dt = step * n * n / P.bgLen;
        u = u * ((E - P.bgLen / n) / n);
      }
      let y = dt - comp;
      let tn = t + y;
      comp = (tn - t) - y;
      t = tn;
    }
    kst += 1u;
    let g = (u + E) * gs;
    if (!(all(g >= vec3f(0.0)) && all(g <= rmax))) { continue; }
    let i = min(u32(g.x), P.nx - 2u);
    let j = min(u32(g.y), P.ny - 2u);
    let k = min(u32(g.z), P.nz - 2u);
    let cell = i + cx * (j + cy * k);
    if (((occ[cell >> 5u] >> (cell & 31u)) & 1u) == 0u) {
      let bi = i / BLOCK;
      let bj = j / BLOCK;
      let bk = k / BLOCK;
      let blk = bi + P.bx * (bj + P.by * bk);
      if (dt == step && ((occ[P.blockWords + (blk >> 5u)] >> (blk & 31u)) & 1u) == 0u) {
        var te = tInnerExit;
        let lo = vec3f(f32(bi * BLOCK), f32(bj * BLOCK), f32(bk * BLOCK));
        let hi = min(lo + f32(BLOCK), rmax);
        for (var a = 0u; a < 3u; a++) {
          if (gB[a] != 0.0) { te = min(te, (select(lo[a], hi[a], gB[a] > 0.0) - gA[a]) / gB[a]); }
        }
        // the next position is tNext; jump over all but the last position before te
        let tNext = select(t0 + (f32(si) + 0.5) * step, t, unbounded);
        if (te > tNext && te < 3.0e38) {
          let skip = ceil((te - tNext) / step) - 1.0;
          if (skip >= 1.0) {
            if (unbounded) {
              let y = skip * step - comp;
              let tn = t + y;
              comp = (tn - t) - y;
              t = tn;
            } else {
              si += u32(skip);
            }
            kst += u32(skip);
          }
        }
      }
      continue;
    }
    let f = g - vec3f(f32(i), f32(j), f32(k));
    let v = i + P.nx * (j + P.ny * k);
    var vv: array<u32, 8>;
    var tw: array<f32, 8>;
    var raw = 0.0;
    for (var c8 = 0u; c8 < 8u; c8++) {
      let ex = c8 & 1u;
      let ey = (c8 >> 1u) & 1u;
      let ez = c8 >> 2u;
      let wx = select(1.0 - f.x, f.x, ex == 1u);
      let wy = select(1.0 - f.y, f.y, ey == 1u);
      let wz = select(1.0 - f.z, f.z, ez == 1u);
      tw[c8] = wx * wy * wz;
      vv[c8] = v + ex + ey * sy + ez * sz;
      raw += tw[c8] * density[vv[c8]];
    }
    let z = raw + shift;
    let x = softplus(z) * xscale;
    let alpha = oneMinusExpNeg(x);
    var lin = vec3f(0.0);
    for (var b = 0u; b < nb; b++) {
      var acc = vec3f(0.0);
      for (var c8 = 0u; c8 < 8u; c8++) {
        let q3 = vv[c8] * P.K + b * 3u;
        acc += tw[c8] * vec3f(color[q3], color[q3 + 1u], color[q3 + 2u]);
      }
      lin += basis[b] * acc;
    }
    let c = vec3f(sigmoid(lin.x), sigmoid(lin.y), sigmoid(lin.z));
    let w = T * alpha;
    T = T * (1.0 - alpha);
    res.samples += 1u;
    let m = (f32(kst) - 0.5) * step;
    if (!backward) {
      res.rgb += w * c;
      res.dsum += w * tHere;
      if (dist) {
        Pd += w * (m * Wb - MWb);
        Qd += w * w;
        Wb += w;
        MWb += w * m;
      }
    } else {
      S -= w * c;
      var dLdx = dot(dLdC, T * c - S) + gaT;
      if (dist) {
        let Wa = fw.W - Wb - w;
        let MWa = fw.MW - MWb - w * m;
        let pair = m * Wb - MWb + MWa - m * Wa;
        let gw = 2.0 * pair + (2.0 / 3.0) * w * step;
        gwSuffix -= gw * w;
        dLdx += P.distScale * (gw * T - gwSuffix);
        Wb += w;
        MWb += w * m;
      }
      let dRaw = dLdx * sigmoid(z) * xscale;
      let zc = dLdC * w * c * (vec3f(1.0) - c);
      for (var c8 = 0u; c8 < 8u; c8++) {
        addGrad(vv[c8], tw[c8] * dRaw);
        for (var b = 0u; b < nb; b++) {
          let fb = tw[c8] * basis[b];
          let gi = P.colorOffset + vv[c8] * P.K + b * 3u;
          addGrad(gi, fb * zc.x);
          addGrad(gi + 1u, fb * zc.y);
          addGrad(gi + 2u, fb * zc.z);
        }
      }
    }
    if (T < P.stopT) { break; }
  }
  res.T = T;
  res.W = Wb;
  res.MW = MWb;
  res.Ldist = 2.0 * Pd + Qd * step / 3.0;
  return res;
}

@compute @workgroup_size(WG)
fn render_rays(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let q = gid.x + gid.y * nwg.x * WG;
  if (q >= P.count) { return; }
  var none: RayOut;
  let r = march(q, false, vec3f(0.0), vec3f(0.0), none, 0.0);
  let rgb = r.rgb + r.T * vec3f(P.bgR, P.bgG, P.bgB);
  let a = 1.0 - r.T;
  var depth = 0.0;
  if (a >= 1e-6) { depth = r.dsum / max(a, 1e-10); }
  outv[q * 3u] = rgb.x;
  outv[q * 3u + 1u] = rgb.y;
  outv[q * 3u + 2u] = rgb.z;
  outv[3u * P.count + q] = a;
  outv[4u * P.count + q] = depth;
  outv[5u * P.count + q] = f32(r.samples);
}

@compute @workgroup_size(WG)
fn train_rays(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let q = gid.x + gid.y * nwg.x * WG;
  if (q >= P.count) { return; }
  var none: RayOut;
  let r = march(q, false, vec3f(0.0), vec3f(0.0), none, 0.0);
  let C = r.rgb + r.T * vec3f(P.bgR, P.bgG, P.bgB);
  let tb = P.targetOffset + q * 3u;
  let e = C - vec3f(rays[tb], rays[tb + 1u], rays[tb + 2u]);
  var loss = dot(e, e);
  var dLdC = P.lossNorm * e;
  if (P.l1 != 0u) {
    loss = dot(abs(e), vec3f(1.0));
    dLdC = P.lossNorm * sign(e);
  }
  var gaT = 0.0;
  if (P.alphaWeight != 0.0) {
    let ea = (1.0 - r.T) - rays[P.alphaOffset + q];
    loss += 3.0 * P.alphaWeight * ea * ea;
    gaT = P.alphaGrad * ea * r.T;
  }
  // the host divides by 3n: this adds λ·L_dist/n, the mean over rays (as voxel-render-cpu.ts)
  outv[q * 2u] = loss + 3.0 * P.distLambda * r.Ldist;
  outv[q * 2u + 1u] = f32(r.samples);
  if (r.samples > 0u && (any(dLdC != vec3f(0.0)) || P.distLambda > 0.0 || gaT != 0.0)) {
    _ = march(q, true, dLdC, C, r, gaT);
  }
}
