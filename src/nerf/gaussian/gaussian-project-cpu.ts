import type { Camera } from '../../core/camera';
import { sigmoid } from '../../core/math';
import { shBasis, shCount } from '../common/sh';
import type { Gaussians } from './gaussians';
import { SH_STRIDE } from './gaussians';

/**
 * CPU twin of the 3DGS projection kernels (Kerbl et al. 2023, "3D Gaussian Splatting for Real-Time Radiance
 * Field Rendering", with the EWA splatting of Zwicker et al. 2001): per Gaussian, its 2D footprint, colour and
 * tile rectangle, and the backward pass from per-Gaussian 2D gradients to every parameter. The method is
 * described in docs/gaussians.md; the WebGPU host of the kernels is `gaussian-raster-webgpu.ts`.
 *
 * | CPU function (this file) | WGSL kernel entry point                                   |
 * | ------------------------ | --------------------------------------------------------- |
 * | `projectGaussians`       | `project_gaussians` (src/shaders/gs_project.wgsl)         |
 * | `projectBackward`        | `project_backward` (src/shaders/gs_project_backward.wgsl) |
 * | `viewMatrix`             | `viewMat` (helper, src/shaders/gs_common.wgsl)            |
 * | `quatToMat`              | `quatToMat` (helper, src/shaders/gs_common.wgsl)          |
 * | `shBasis` (../common/sh) | `shBasis` (gs_common.wgsl), `shBasisGrad` (gs_project_backward.wgsl) |
 *
 * A CPU function loops over the Gaussians where the kernel runs one thread per Gaussian. The CPU computes in
 * float64 and stores float32 (the kernels compute in f32): values agree to f32 rounding, and culling, radii, tile
 * rectangles and clamp flags agree exactly (tests/gaussian-webgpu.test.ts).
 *
 * CONVENTIONS (shared by every Gaussian twin: gaussian-*-cpu.ts and src/shaders/gs_*.wgsl)
 * - Camera: `Camera.c2w` is OpenGL (looks down −Z, +Y up). Projection uses the OpenCV camera frame
 *   t = W·(p − C) with W's rows = (c2w col0, −c2w col1, −c2w col2), C = c2w col3, so t.z > 0 in front.
 *   Pixel coordinates: u = fx·t.x/t.z + cx, v = fy·t.y/t.z + cy; pixel (px, py) is evaluated at its centre
 *   (px + 0.5, py + 0.5). Lens distortion is ignored (pinhole), as in 3DGS.
 * - Culling: t.z ≤ NEAR (0.01), det(cov2D) ≤ 0, or an empty tile rectangle → radius 0 (not drawn, no gradient).
 * - EWA: Σ = M·Mᵀ, M = R(q/|q|)·diag(exp(logScale)); J = [[fx/z, 0, −fx·x'/z²], [0, fy/z, −fy·y'/z²]]
 *   where x' = z·clamp(x/z, −(cx/fx + 0.3·w/fx), (w−cx)/fx + 0.3·w/fx) (same for y' with cy, h, fy);
 *   cov2D = J·W·Σ·Wᵀ·Jᵀ + 0.3·I (low-pass dilation). Gradients treat the clamp exactly (no flow through a
 *   clamped x/z or y/z).
 * - conic = cov2D⁻¹ stored as (a, b, c): power = −½(a·dx² + c·dy²) − b·dx·dy, with (dx, dy) = mean2D − pixel centre.
 * - radius = ceil(3·√λmax), λmax = mid + √max(0.1, mid² − det), mid = ½(cov2D₀₀ + cov2D₁₁).
 * - Tiles are TILE×TILE (16) pixels; a Gaussian covers tiles
 *   x ∈ [clamp(floor((u − r − 0.5)/16), 0, tilesX), clamp(floor((u + r − 0.5)/16) + 1, 0, tilesX)) (same for y).
 * - Order: visible Gaussians sorted by depth t.z ascending (ties by index: stable), then each tile's list
 *   keeps that order (equivalent to sorting the (tile, depth) keys).
 * - Colour: rgb = max(0, 0.5 + Σ_k Y_k(d)·sh_k), d = normalise(mean − C), SH degree = `g.shDegree`;
 *   SH basis and constants as in 3DGS (`shBasis`). Opacity = sigmoid(logit).
 * - Backward: exact derivative, including the colour clamp (no gradient through a channel clamped to 0) and the
 *   EWA clamp above. `grads.xy` is ∂L/∂(u, v) per Gaussian (pixels) — its norm drives densification; the conic
 *   gradient is carried as (∂L/∂a, ½·∂L/∂b, ∂L/∂c) (the symmetric-matrix gradient).
 */

/** Tile side in pixels. */
export const TILE = 16;
/** Gaussians with camera-space depth t.z ≤ NEAR are culled. */
export const NEAR = 0.01;
/** Low-pass dilation added to the diagonal of every 2D covariance. */
export const DILATION = 0.3;
/** x/z and y/z are clamped to the field of view plus this fraction of the image on each side (`clampLimits`). */
export const FOV_MARGIN = 0.3;

/** World → OpenCV camera rotation (row-major 3×3) and camera centre. */
export function viewMatrix(cam: Camera): { W: Float64Array; C: [number, number, number] } {
  const m = cam.c2w;
  const W = new Float64Array(9);
  for (let k = 0; k < 3; k++) {
    W[k] = m[k];
    W[3 + k] = -m[4 + k];
    W[6 + k] = -m[8 + k];
  }
  return { W, C: [m[12], m[13], m[14]] };
}

/** Per-Gaussian results of the projection step (arrays indexed by Gaussian). */
export interface Projected {
  count: number;
  /** mean in pixels (u, v) */
  xy: Float32Array;
  /** camera-space depth t.z */
  depth: Float32Array;
  /** inverse 2D covariance (a, b, c) */
  conic: Float32Array;
  /** 2D covariance (00, 01, 11), dilation included */
  cov2d: Float32Array;
  /** pixel radius; 0 = culled */
  radius: Int32Array;
  /** colour after SH evaluation and clamp */
  rgb: Float32Array;
  /** bit c set when channel c was clamped at 0 */
  rgbClamped: Uint8Array;
  opacity: Float32Array;
  /** tile rectangle [x0, y0, x1, y1) */
  rect: Int32Array;
}

export interface GaussianGrads {
  means: Float32Array;
  logScales: Float32Array;
  rotations: Float32Array;
  opacityLogits: Float32Array;
  sh: Float32Array;
  /** ∂L/∂(u, v) of the projected mean, pixels (view-space gradient for densification) */
  xy: Float32Array;
}

export function createGrads(n: number): GaussianGrads {
  return {
    means: new Float32Array(n * 3),
    logScales: new Float32Array(n * 3),
    rotations: new Float32Array(n * 4),
    opacityLogits: new Float32Array(n),
    sh: new Float32Array(n * SH_STRIDE),
    xy: new Float32Array(n * 2),
  };
}

/** Zeroes the first `n` Gaussians' gradients. */
export function zeroGrads(g: GaussianGrads, n: number): void {
  g.means.fill(0, 0, n * 3);
  g.logScales.fill(0, 0, n * 3);
  g.rotations.fill(0, 0, n * 4);
  g.opacityLogits.fill(0, 0, n);
  g.sh.fill(0, 0, n * SH_STRIDE);
  g.xy.fill(0, 0, n * 2);
}

/** Rotation matrix (row-major 3×3) of a quaternion (w, x, y, z), normalised first. */
export function quatToMat(w: number, x: number, y: number, z: number, R: Float64Array): void {
  const n = 1 / Math.sqrt(w * w + x * x + y * y + z * z);
  w *= n;
  x *= n;
  y *= n;
  z *= n;
  R[0] = 1 - 2 * (y * y + z * z);
  R[1] = 2 * (x * y - w * z);
  R[2] = 2 * (x * z + w * y);
  R[3] = 2 * (x * y + w * z);
  R[4] = 1 - 2 * (x * x + z * z);
  R[5] = 2 * (y * z - w * x);
  R[6] = 2 * (x * z - w * y);
  R[7] = 2 * (y * z + w * x);
  R[8] = 1 - 2 * (x * x + y * y);
}

/** 3D covariance (row-major 3×3) of Gaussian i. */
export function covariance3D(g: Gaussians, i: number, out: Float64Array, R = new Float64Array(9)): void {
  const q = g.rotations;
  quatToMat(q[4 * i], q[4 * i + 1], q[4 * i + 2], q[4 * i + 3], R);
  const s0 = Math.exp(g.logScales[3 * i]),
    s1 = Math.exp(g.logScales[3 * i + 1]),
    s2 = Math.exp(g.logScales[3 * i + 2]);
  // M = R·S; Σ = M·Mᵀ
  for (let r = 0; r < 3; r++)
    for (let c = r; c < 3; c++) {
      const v = R[r * 3] * R[c * 3] * s0 * s0 + R[r * 3 + 1] * R[c * 3 + 1] * s1 * s1 + R[r * 3 + 2] * R[c * 3 + 2] * s2 * s2;
      out[r * 3 + c] = v;
      out[c * 3 + r] = v;
    }
}

/**
 * Where x/z and y/z are clamped in the EWA Jacobian (the field of view plus 0.3 of the image on each side, as 3DGS):
 * [limXn, limXp, limYn, limYp] with x/z ∈ [−limXn, limXp], y/z ∈ [−limYn, limYp].
 */
export function clampLimits(cam: Camera): Float64Array {
  const { fx, fy, cx, cy, width, height } = cam;
  return Float64Array.of(
    cx / fx + (FOV_MARGIN * width) / fx,
    (width - cx) / fx + (FOV_MARGIN * width) / fx,
    cy / fy + (FOV_MARGIN * height) / fy,
    (height - cy) / fy + (FOV_MARGIN * height) / fy,
  );
}

/**
 * The Jacobian of the pinhole projection at camera-space point t, with x/z and y/z clamped to `lim`, times the view
 * rotation: out[0..6) = T = J·W (2×3, row-major), out[6] = J₀₂ = −fx·x'/z², out[7] = J₁₂ = −fy·y'/z². Returns which
 * ratios were clamped (bit 0: x/z, bit 1: y/z); no gradient flows through a clamped one.
 */
function ewaJacobian(
  W: Float64Array,
  tx: number,
  ty: number,
  tz: number,
  fx: number,
  fy: number,
  lim: Float64Array,
  out: Float64Array,
): number {
  const rx = tx / tz,
    ry = ty / tz;
  const ux = Math.min(lim[1], Math.max(-lim[0], rx)),
    uy = Math.min(lim[3], Math.max(-lim[2], ry));
  const J00 = fx / tz,
    J02 = (-fx * ux) / tz,
    J11 = fy / tz,
    J12 = (-fy * uy) / tz;
  out[0] = J00 * W[0] + J02 * W[6];
  out[1] = J00 * W[1] + J02 * W[7];
  out[2] = J00 * W[2] + J02 * W[8];
  out[3] = J11 * W[3] + J12 * W[6];
  out[4] = J11 * W[4] + J12 * W[7];
  out[5] = J11 * W[5] + J12 * W[8];
  out[6] = J02;
  out[7] = J12;
  return (rx < -lim[0] || rx > lim[1] ? 1 : 0) | (ry < -lim[2] || ry > lim[3] ? 2 : 0);
}

/** Projection (`project_gaussians`): EWA splatting, SH colours, tile rectangles. */
export function projectGaussians(g: Gaussians, cam: Camera): Projected {
  const n = g.count;
  const p: Projected = {
    count: n,
    xy: new Float32Array(2 * n),
    depth: new Float32Array(n),
    conic: new Float32Array(3 * n),
    cov2d: new Float32Array(3 * n),
    radius: new Int32Array(n),
    rgb: new Float32Array(3 * n),
    rgbClamped: new Uint8Array(n),
    opacity: new Float32Array(n),
    rect: new Int32Array(4 * n),
  };
  const { W, C } = viewMatrix(cam);
  const { fx, fy, cx, cy, width, height } = cam;
  const tilesX = Math.ceil(width / TILE),
    tilesY = Math.ceil(height / TILE);
  const lim = clampLimits(cam),
    JT = new Float64Array(8);
  const S = new Float64Array(9),
    R = new Float64Array(9),
    Y = new Float64Array(16);
  const deg = g.shDegree,
    K = shCount(deg);
  const means = g.means,
    sh = g.sh;
  for (let i = 0; i < n; i++) {
    const mx = means[3 * i],
      my = means[3 * i + 1],
      mz = means[3 * i + 2];
    const dx = mx - C[0],
      dy = my - C[1],
      dz = mz - C[2];
    const tx = W[0] * dx + W[1] * dy + W[2] * dz;
    const ty = W[3] * dx + W[4] * dy + W[5] * dz;
    const tz = W[6] * dx + W[7] * dy + W[8] * dz;
    if (!(tz > NEAR)) continue;
    covariance3D(g, i, S, R);
    ewaJacobian(W, tx, ty, tz, fx, fy, lim, JT);
    const T0 = JT[0],
      T1 = JT[1],
      T2 = JT[2],
      T3 = JT[3],
      T4 = JT[4],
      T5 = JT[5];
    // cov2D = T Σ Tᵀ
    const a0 = T0 * S[0] + T1 * S[3] + T2 * S[6],
      a1 = T0 * S[1] + T1 * S[4] + T2 * S[7],
      a2 = T0 * S[2] + T1 * S[5] + T2 * S[8];
    const b0 = T3 * S[0] + T4 * S[3] + T5 * S[6],
      b1 = T3 * S[1] + T4 * S[4] + T5 * S[7],
      b2 = T3 * S[2] + T4 * S[5] + T5 * S[8];
    const c00 = a0 * T0 + a1 * T1 + a2 * T2 + DILATION;
    const c01 = a0 * T3 + a1 * T4 + a2 * T5;
    const c11 = b0 * T3 + b1 * T4 + b2 * T5 + DILATION;
    const det = c00 * c11 - c01 * c01;
    if (!(det > 0)) continue;
    const mid = 0.5 * (c00 + c11);
    const lam = mid + Math.sqrt(Math.max(0.1, mid * mid - det));
    const r = Math.ceil(3 * Math.sqrt(lam));
    const u = (fx * tx) / tz + cx,
      v = (fy * ty) / tz + cy;
    const x0 = Math.min(tilesX, Math.max(0, Math.floor((u - r - 0.5) / TILE)));
    const x1 = Math.min(tilesX, Math.max(0, Math.floor((u + r - 0.5) / TILE) + 1));
    const y0 = Math.min(tilesY, Math.max(0, Math.floor((v - r - 0.5) / TILE)));
    const y1 = Math.min(tilesY, Math.max(0, Math.floor((v + r - 0.5) / TILE) + 1));
    if (x1 <= x0 || y1 <= y0) continue;
    p.radius[i] = r;
    p.rect[4 * i] = x0;
    p.rect[4 * i + 1] = y0;
    p.rect[4 * i + 2] = x1;
    p.rect[4 * i + 3] = y1;
    p.xy[2 * i] = u;
    p.xy[2 * i + 1] = v;
    p.depth[i] = tz;
    p.cov2d[3 * i] = c00;
    p.cov2d[3 * i + 1] = c01;
    p.cov2d[3 * i + 2] = c11;
    const id = 1 / det;
    p.conic[3 * i] = c11 * id;
    p.conic[3 * i + 1] = -c01 * id;
    p.conic[3 * i + 2] = c00 * id;
    p.opacity[i] = sigmoid(g.opacityLogits[i]);
    // colour from SH along the viewing direction
    const dl = 1 / Math.sqrt(dx * dx + dy * dy + dz * dz);
    shBasis(deg, dx * dl, dy * dl, dz * dl, Y);
    const o = i * SH_STRIDE;
    let clamp = 0;
    for (let c = 0; c < 3; c++) {
      let s = 0.5;
      for (let k = 0; k < K; k++) s += Y[k] * sh[o + 3 * k + c];
      if (s < 0) {
        s = 0;
        clamp |= 1 << c;
      }
      p.rgb[3 * i + c] = s;
    }
    p.rgbClamped[i] = clamp;
  }
  return p;
}

/**
 * Backward of the projection (`project_backward`): from the per-Gaussian 2D gradients `G2` (9 per Gaussian:
 * ∂L/∂u, ∂L/∂v, ∂L/∂a, ½·∂L/∂b, ∂L/∂c, ∂L/∂opacity, ∂L/∂rgb, as the tile or span backward accumulates them) to the
 * gradients of every parameter, written into `grads` (culled Gaussians are left untouched).
 */
export function projectBackward(g: Gaussians, cam: Camera, p: Projected, G2: Float64Array, grads: GaussianGrads): void {
  const { W, C } = viewMatrix(cam);
  const { fx, fy } = cam;
  const lim = clampLimits(cam),
    JT = new Float64Array(8);
  const R = new Float64Array(9),
    S = new Float64Array(9),
    Y = new Float64Array(16),
    dY = new Float64Array(48);
  const GS = new Float64Array(9),
    M = new Float64Array(9),
    GM = new Float64Array(9),
    GR = new Float64Array(9);
  const deg = g.shDegree,
    K = shCount(deg);
  for (let i = 0; i < g.count; i++) {
    if (p.radius[i] === 0) continue;
    const o9 = i * 9;
    const gu = G2[o9],
      gv = G2[o9 + 1];
    grads.xy[2 * i] = gu;
    grads.xy[2 * i + 1] = gv;
    // opacity
    const op = p.opacity[i];
    grads.opacityLogits[i] = G2[o9 + 5] * op * (1 - op);
    // colour → SH (and view direction)
    const mx = g.means[3 * i],
      my = g.means[3 * i + 1],
      mz = g.means[3 * i + 2];
    const dx = mx - C[0],
      dy = my - C[1],
      dz = mz - C[2];
    const len = Math.sqrt(dx * dx + dy * dy + dz * dz),
      dl = 1 / len;
    const nx = dx * dl,
      ny = dy * dl,
      nz = dz * dl;
    const clamp = p.rgbClamped[i];
    const gc0 = clamp & 1 ? 0 : G2[o9 + 6],
      gc1 = clamp & 2 ? 0 : G2[o9 + 7],
      gc2 = clamp & 4 ? 0 : G2[o9 + 8];
    shBasis(deg, nx, ny, nz, Y, deg > 0 ? dY : undefined);
    const so = i * SH_STRIDE;
    let gdx = 0,
      gdy = 0,
      gdz = 0;
    for (let k = 0; k < K; k++) {
      grads.sh[so + 3 * k] = Y[k] * gc0;
      grads.sh[so + 3 * k + 1] = Y[k] * gc1;
      grads.sh[so + 3 * k + 2] = Y[k] * gc2;
      if (k > 0) {
        const gk = g.sh[so + 3 * k] * gc0 + g.sh[so + 3 * k + 1] * gc1 + g.sh[so + 3 * k + 2] * gc2;
        gdx += gk * dY[3 * k];
        gdy += gk * dY[3 * k + 1];
        gdz += gk * dY[3 * k + 2];
      }
    }
    // through the normalisation of the direction
    const dot = gdx * nx + gdy * ny + gdz * nz;
    let gmx = (gdx - dot * nx) * dl,
      gmy = (gdy - dot * ny) * dl,
      gmz = (gdz - dot * nz) * dl;

    // conic → cov2D: G_cov = −Q·G_Q·Q
    const qa = p.conic[3 * i],
      qb = p.conic[3 * i + 1],
      qc = p.conic[3 * i + 2];
    const ga = G2[o9 + 2],
      gb = G2[o9 + 3],
      gcq = G2[o9 + 4];
    // Q·G_Q
    const m00 = qa * ga + qb * gb,
      m01 = qa * gb + qb * gcq,
      m10 = qb * ga + qc * gb,
      m11 = qb * gb + qc * gcq;
    // −(Q·G_Q)·Q
    const G00 = -(m00 * qa + m01 * qb),
      G01 = -(m00 * qb + m01 * qc),
      G11 = -(m10 * qb + m11 * qc);
    // camera-space mean and Jacobian
    const tx = W[0] * dx + W[1] * dy + W[2] * dz;
    const ty = W[3] * dx + W[4] * dy + W[5] * dz;
    const tz = W[6] * dx + W[7] * dy + W[8] * dz;
    const clamped = ewaJacobian(W, tx, ty, tz, fx, fy, lim, JT);
    const clampX = (clamped & 1) !== 0,
      clampY = (clamped & 2) !== 0;
    const T0 = JT[0],
      T1 = JT[1],
      T2 = JT[2],
      T3 = JT[3],
      T4 = JT[4],
      T5 = JT[5];
    const J02 = JT[6],
      J12 = JT[7];
    covariance3D(g, i, S, R);
    // G_Σ = Tᵀ·G_cov·T (3×3 symmetric)
    const h0 = G00 * T0 + G01 * T3,
      h1 = G00 * T1 + G01 * T4,
      h2 = G00 * T2 + G01 * T5; // row 0 of G_cov·T
    const k0 = G01 * T0 + G11 * T3,
      k1 = G01 * T1 + G11 * T4,
      k2 = G01 * T2 + G11 * T5; // row 1
    GS[0] = T0 * h0 + T3 * k0;
    GS[1] = T0 * h1 + T3 * k1;
    GS[2] = T0 * h2 + T3 * k2;
    GS[4] = T1 * h1 + T4 * k1;
    GS[5] = T1 * h2 + T4 * k2;
    GS[8] = T2 * h2 + T5 * k2;
    GS[3] = GS[1];
    GS[6] = GS[2];
    GS[7] = GS[5];
    // G_T = 2·G_cov·T·Σ  (2×3)
    const gT0 = 2 * (h0 * S[0] + h1 * S[3] + h2 * S[6]),
      gT1 = 2 * (h0 * S[1] + h1 * S[4] + h2 * S[7]),
      gT2 = 2 * (h0 * S[2] + h1 * S[5] + h2 * S[8]);
    const gT3 = 2 * (k0 * S[0] + k1 * S[3] + k2 * S[6]),
      gT4 = 2 * (k0 * S[1] + k1 * S[4] + k2 * S[7]),
      gT5 = 2 * (k0 * S[2] + k1 * S[5] + k2 * S[8]);
    // G_J = G_T·Wᵀ
    const gJ00 = gT0 * W[0] + gT1 * W[1] + gT2 * W[2];
    const gJ02 = gT0 * W[6] + gT1 * W[7] + gT2 * W[8];
    const gJ11 = gT3 * W[3] + gT4 * W[4] + gT5 * W[5];
    const gJ12 = gT3 * W[6] + gT4 * W[7] + gT5 * W[8];
    // camera-space mean gradient
    const iz = 1 / tz;
    let gtx = gu * fx * iz,
      gty = gv * fy * iz;
    let gtz = -gu * fx * tx * iz * iz - gv * fy * ty * iz * iz;
    gtz += gJ00 * (-fx * iz * iz) + gJ11 * (-fy * iz * iz);
    if (!clampX) {
      gtx += gJ02 * (-fx * iz * iz);
      gtz += gJ02 * (-2 * J02 * iz);
    } else gtz += gJ02 * (-J02 * iz);
    if (!clampY) {
      gty += gJ12 * (-fy * iz * iz);
      gtz += gJ12 * (-2 * J12 * iz);
    } else gtz += gJ12 * (-J12 * iz);
    // world: Wᵀ·g_t
    gmx += W[0] * gtx + W[3] * gty + W[6] * gtz;
    gmy += W[1] * gtx + W[4] * gty + W[7] * gtz;
    gmz += W[2] * gtx + W[5] * gty + W[8] * gtz;
    grads.means[3 * i] = gmx;
    grads.means[3 * i + 1] = gmy;
    grads.means[3 * i + 2] = gmz;
    // Σ = M·Mᵀ, M = R·diag(s): G_M = 2·G_Σ·M
    const s = [Math.exp(g.logScales[3 * i]), Math.exp(g.logScales[3 * i + 1]), Math.exp(g.logScales[3 * i + 2])];
    for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) M[r * 3 + c] = R[r * 3 + c] * s[c];
    for (let r = 0; r < 3; r++)
      for (let c = 0; c < 3; c++) GM[r * 3 + c] = 2 * (GS[r * 3] * M[c] + GS[r * 3 + 1] * M[3 + c] + GS[r * 3 + 2] * M[6 + c]);
    for (let c = 0; c < 3; c++) {
      const gs = GM[c] * R[c] + GM[3 + c] * R[3 + c] + GM[6 + c] * R[6 + c];
      grads.logScales[3 * i + c] = gs * s[c];
      for (let r = 0; r < 3; r++) GR[r * 3 + c] = GM[r * 3 + c] * s[c];
    }
    // rotation matrix → normalised quaternion → raw quaternion
    const q = g.rotations;
    const qw0 = q[4 * i],
      qx0 = q[4 * i + 1],
      qy0 = q[4 * i + 2],
      qz0 = q[4 * i + 3];
    const ql = Math.sqrt(qw0 * qw0 + qx0 * qx0 + qy0 * qy0 + qz0 * qz0),
      il = 1 / ql;
    const w = qw0 * il,
      x = qx0 * il,
      y = qy0 * il,
      z = qz0 * il;
    const dw = 2 * (-z * GR[1] + y * GR[2] + z * GR[3] - x * GR[5] - y * GR[6] + x * GR[7]);
    const dxq = 2 * (y * GR[1] + z * GR[2] + y * GR[3] - 2 * x * GR[4] - w * GR[5] + z * GR[6] + w * GR[7] - 2 * x * GR[8]);
    const dyq = 2 * (-2 * y * GR[0] + x * GR[1] + w * GR[2] + x * GR[3] + z * GR[5] - w * GR[6] + z * GR[7] - 2 * y * GR[8]);
    const dzq = 2 * (-2 * z * GR[0] - w * GR[1] + x * GR[2] + w * GR[3] - 2 * z * GR[4] + y * GR[5] + x * GR[6] + y * GR[7]);
    const qd = dw * w + dxq * x + dyq * y + dzq * z;
    grads.rotations[4 * i] = (dw - qd * w) * il;
    grads.rotations[4 * i + 1] = (dxq - qd * x) * il;
    grads.rotations[4 * i + 2] = (dyq - qd * y) * il;
    grads.rotations[4 * i + 3] = (dzq - qd * z) * il;
  }
}
