// Gaussian splatting — backward of the projection: from the per-Gaussian 2D gradients (gs_backward.wgsl) to
// gradients of every parameter, one thread per Gaussian. Prepended with gs_common.wgsl. The formulas are the CPU
// twin's `projectBackward` (src/nerf/gaussian/gaussian-project-cpu.ts): SH (and the view direction), opacity logit,
// conic → 2D covariance → 3D covariance (log-scales, quaternion through its normalisation) and the mean
// (projection, clamped EWA Jacobian, view direction).
// grads: f32 × PARAM_STRIDE per Gaussian, the params layout (gs_common.wgsl); culled Gaussians get zeros.

@group(0) @binding(0) var<uniform> cam: Cam;
@group(0) @binding(1) var<storage, read> params: array<f32>;
@group(0) @binding(2) var<storage, read> proj: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> g2: array<f32>;
@group(0) @binding(4) var<storage, read_write> grads: array<f32>;

override WG: u32 = 64;

fn pf(i: u32, k: u32) -> f32 { return params[i * PARAM_STRIDE + k]; }

// ∂Y_k/∂d for k < 16 (as the CPU twin's shBasis dY)
fn shBasisGrad(deg: u32, d: vec3<f32>, dY: ptr<function, array<vec3<f32>, 16>>) {
  for (var k = 0u; k < 16u; k++) { (*dY)[k] = vec3<f32>(0.0); }
  if (deg < 1u) { return; }
  (*dY)[1] = vec3<f32>(0.0, -SH_C1, 0.0);
  (*dY)[2] = vec3<f32>(0.0, 0.0, SH_C1);
  (*dY)[3] = vec3<f32>(-SH_C1, 0.0, 0.0);
  if (deg < 2u) { return; }
  let x = d.x; let y = d.y; let z = d.z;
  let xx = x * x; let yy = y * y; let zz = z * z; let xy = x * y; let yz = y * z; let xz = x * z;
  (*dY)[4] = vec3<f32>(SH_C2_0 * y, SH_C2_0 * x, 0.0);
  (*dY)[5] = vec3<f32>(0.0, SH_C2_1 * z, SH_C2_1 * y);
  (*dY)[6] = vec3<f32>(-2.0 * SH_C2_2 * x, -2.0 * SH_C2_2 * y, 4.0 * SH_C2_2 * z);
  (*dY)[7] = vec3<f32>(SH_C2_3 * z, 0.0, SH_C2_3 * x);
  (*dY)[8] = vec3<f32>(2.0 * SH_C2_4 * x, -2.0 * SH_C2_4 * y, 0.0);
  if (deg < 3u) { return; }
  (*dY)[9] = vec3<f32>(SH_C3_0 * 6.0 * xy, SH_C3_0 * (3.0 * xx - 3.0 * yy), 0.0);
  (*dY)[10] = vec3<f32>(SH_C3_1 * yz, SH_C3_1 * xz, SH_C3_1 * xy);
  (*dY)[11] = vec3<f32>(SH_C3_2 * (-2.0 * xy), SH_C3_2 * (4.0 * zz - xx - 3.0 * yy), SH_C3_2 * 8.0 * yz);
  (*dY)[12] = vec3<f32>(SH_C3_3 * (-6.0 * xz), SH_C3_3 * (-6.0 * yz), SH_C3_3 * (6.0 * zz - 3.0 * xx - 3.0 * yy));
  (*dY)[13] = vec3<f32>(SH_C3_4 * (4.0 * zz - 3.0 * xx - yy), SH_C3_4 * (-2.0 * xy), SH_C3_4 * 8.0 * xz);
  (*dY)[14] = vec3<f32>(SH_C3_5 * 2.0 * xz, SH_C3_5 * (-2.0 * yz), SH_C3_5 * (xx - yy));
  (*dY)[15] = vec3<f32>(SH_C3_6 * (3.0 * xx - 3.0 * yy), SH_C3_6 * (-6.0 * xy), 0.0);
}

@compute @workgroup_size(WG)
fn project_backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= cam.count) { return; }
  let gb = i * PARAM_STRIDE;
  for (var k = 0u; k < PARAM_STRIDE; k++) { grads[gb + k] = 0.0; }
  let p0 = proj[4u * i];
  if (p0.w <= 0.0) { return; }
  let p1 = proj[4u * i + 1u];
  let o9 = i * 9u;
  let gu = g2[o9];
  let gv = g2[o9 + 1u];
  // opacity (sigmoid)
  let op = p1.w;
  grads[gb + 10u] = g2[o9 + 5u] * op * (1.0 - op);
  // colour → SH and the view direction
  let m = vec3<f32>(pf(i, 0u), pf(i, 1u), pf(i, 2u));
  let d = m - cam.center.xyz;
  let len = length(d);
  let dl = 1.0 / len;
  let n = d * dl;
  let clampBits = bitcast<u32>(proj[4u * i + 2u].w);
  let gc = vec3<f32>(
    select(g2[o9 + 6u], 0.0, (clampBits & 1u) != 0u),
    select(g2[o9 + 7u], 0.0, (clampBits & 2u) != 0u),
    select(g2[o9 + 8u], 0.0, (clampBits & 4u) != 0u));
  let deg = cam.shDegree;
  var Y: array<f32, 16>;
  var dY: array<vec3<f32>, 16>;
  shBasis(deg, n, &Y);
  shBasisGrad(deg, n, &dY);
  let K = shCount(deg);
  var gdir = vec3<f32>(0.0);
  for (var k = 0u; k < K; k++) {
    let o = gb + 11u + 3u * k;
    grads[o] = Y[k] * gc.x;
    grads[o + 1u] = Y[k] * gc.y;
    grads[o + 2u] = Y[k] * gc.z;
    if (k > 0u) {
      let shk = vec3<f32>(params[o], params[o + 1u], params[o + 2u]);
      gdir += dot(shk, gc) * dY[k];
    }
  }
  var gm = (gdir - dot(gdir, n) * n) * dl;

  // conic → cov2D: G_cov = −Q·G_Q·Q
  let qa = p1.x; let qb = p1.y; let qc = p1.z;
  let ga = g2[o9 + 2u]; let gbq = g2[o9 + 3u]; let gcq = g2[o9 + 4u];
  let m00 = qa * ga + qb * gbq; let m01 = qa * gbq + qb * gcq;
  let m10 = qb * ga + qc * gbq; let m11 = qb * gbq + qc * gcq;
  let G00 = -(m00 * qa + m01 * qb);
  let G01 = -(m00 * qb + m01 * qc);
  let G11 = -(m10 * qb + m11 * qc);

  let W0 = cam.w0.xyz; let W1 = cam.w1.xyz; let W2 = cam.w2.xyz;
  let t = vec3<f32>(dot(W0, d), dot(W1, d), dot(W2, d));
  let fx = cam.intr.x; let fy = cam.intr.y;
  let rx = t.x / t.z; let ry = t.y / t.z;
  let clampX = rx < -cam.lim.x || rx > cam.lim.y;
  let clampY = ry < -cam.lim.z || ry > cam.lim.w;
  let ux = clamp(rx, -cam.lim.x, cam.lim.y);
  let uy = clamp(ry, -cam.lim.z, cam.lim.w);
  let J00 = fx / t.z; let J02 = -fx * ux / t.z; let J11 = fy / t.z; let J12 = -fy * uy / t.z;
  let Ta = J00 * W0 + J02 * W2; // row 0 of T = J·W
  let Tb = J11 * W1 + J12 * W2; // row 1
  // Σ (symmetric; columns = rows)
  let R = quatToMat(vec4<f32>(pf(i, 6u), pf(i, 7u), pf(i, 8u), pf(i, 9u)));
  let s = exp(vec3<f32>(pf(i, 3u), pf(i, 4u), pf(i, 5u)));
  let M = R * mat3x3<f32>(vec3<f32>(s.x, 0.0, 0.0), vec3<f32>(0.0, s.y, 0.0), vec3<f32>(0.0, 0.0, s.z));
  let Sigma = M * transpose(M);
  // h, k: rows of G_cov·T
  let h = G00 * Ta + G01 * Tb;
  let kk = G01 * Ta + G11 * Tb;
  // G_Σ = Tᵀ·G_cov·T: GS[r][c] = Ta[r]·h[c] + Tb[r]·k[c] (upper triangle mirrored, as the CPU twin)
  let gs00 = Ta.x * h.x + Tb.x * kk.x; let gs01 = Ta.x * h.y + Tb.x * kk.y; let gs02 = Ta.x * h.z + Tb.x * kk.z;
  let gs11 = Ta.y * h.y + Tb.y * kk.y; let gs12 = Ta.y * h.z + Tb.y * kk.z; let gs22 = Ta.z * h.z + Tb.z * kk.z;
  let GS = mat3x3<f32>(vec3<f32>(gs00, gs01, gs02), vec3<f32>(gs01, gs11, gs12), vec3<f32>(gs02, gs12, gs22));
  // G_T rows = 2·Σ·h, 2·Σ·k
  let gTa = 2.0 * (Sigma * h);
  let gTb = 2.0 * (Sigma * kk);
  let gJ00 = dot(gTa, W0); let gJ02 = dot(gTa, W2);
  let gJ11 = dot(gTb, W1); let gJ12 = dot(gTb, W2);
  let iz = 1.0 / t.z;
  var gtx = gu * fx * iz;
  var gty = gv * fy * iz;
  var gtz = -gu * fx * t.x * iz * iz - gv * fy * t.y * iz * iz;
  gtz += gJ00 * (-fx * iz * iz) + gJ11 * (-fy * iz * iz);
  if (!clampX) { gtx += gJ02 * (-fx * iz * iz); gtz += gJ02 * (-2.0 * J02 * iz); } else { gtz += gJ02 * (-J02 * iz); }
  if (!clampY) { gty += gJ12 * (-fy * iz * iz); gtz += gJ12 * (-2.0 * J12 * iz); } else { gtz += gJ12 * (-J12 * iz); }
  gm += W0 * gtx + W1 * gty + W2 * gtz;
  grads[gb] = gm.x; grads[gb + 1u] = gm.y; grads[gb + 2u] = gm.z;
  // Σ = M·Mᵀ, M = R·diag(s): G_M = 2·G_Σ·M
  let GM = 2.0 * (GS * M);
  // WGSL matrices are column-major: GM[c][r] = G_M[r][c], R[c][r] = R[r][c]
  let gsc = vec3<f32>(dot(GM[0], R[0]), dot(GM[1], R[1]), dot(GM[2], R[2]));
  grads[gb + 3u] = gsc.x * s.x; grads[gb + 4u] = gsc.y * s.y; grads[gb + 5u] = gsc.z * s.z;
  let GR = mat3x3<f32>(GM[0] * s.x, GM[1] * s.y, GM[2] * s.z);
  // row-major helpers g(r, c) = GR[c][r]
  let g0 = GR[0][0]; let g1 = GR[1][0]; let g2_ = GR[2][0];
  let g3 = GR[0][1]; let g4 = GR[1][1]; let g5 = GR[2][1];
  let g6 = GR[0][2]; let g7 = GR[1][2]; let g8 = GR[2][2];
  let q0 = vec4<f32>(pf(i, 6u), pf(i, 7u), pf(i, 8u), pf(i, 9u));
  let ql = length(q0);
  let il = 1.0 / ql;
  let q = q0 * il;
  let w = q.x; let x = q.y; let y = q.z; let z = q.w;
  let dw = 2.0 * (-z * g1 + y * g2_ + z * g3 - x * g5 - y * g6 + x * g7);
  let dxq = 2.0 * (y * g1 + z * g2_ + y * g3 - 2.0 * x * g4 - w * g5 + z * g6 + w * g7 - 2.0 * x * g8);
  let dyq = 2.0 * (-2.0 * y * g0 + x * g1 + w * g2_ + x * g3 + z * g5 - w * g6 + z * g7 - 2.0 * y * g8);
  let dzq = 2.0 * (-2.0 * z * g0 - w * g1 + x * g2_ + w * g3 - 2.0 * z * g4 + y * g5 + x * g6 + y * g7);
  let qd = dw * w + dxq * x + dyq * y + dzq * z;
  grads[gb + 6u] = (dw - qd * w) * il;
  grads[gb + 7u] = (dxq - qd * x) * il;
  grads[gb + 8u] = (dyq - qd * y) * il;
  grads[gb + 9u] = (dzq - qd * z) * il;
}
