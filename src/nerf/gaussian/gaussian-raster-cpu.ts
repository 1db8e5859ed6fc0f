import type { Camera } from '../../core/camera';
import type { Gaussians } from './gaussians';
import { SH_STRIDE } from './gaussians';

/**
 * CPU reference ("twin") of the 3DGS tile rasteriser, forward and analytic backward. The WGSL kernels in
 * `src/shaders/gaussian_*.wgsl` implement the same steps with the same conventions; keep them in sync.
 *
 * CONVENTIONS (shared with the GPU twin)
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
 * - Compositing, per pixel front to back: G = exp(power) (skip when power > 0); α = min(0.99, opacity·G);
 *   skip α < 1/255; stop (without this Gaussian) when T·(1 − α) < 1e-4; C += rgb·α·T; T ·= (1 − α).
 *   Output colour = C + T·background; alpha = 1 − T; depth = Σ α·T·z / (1 − T) (0 where 1 − T = 0).
 * - Backward: exact derivative of the forward above, including the α clamp (no gradient where α = 0.99
 *   was clamped) and the colour clamp (no gradient where rgb was clamped to 0). The depth output has no
 *   gradient. The per-pixel backward runs front to back using ∂C/∂α_i = T_i·c_i − (C − P_i)/(1 − α_i),
 *   P_i = Σ_{j≤i} c_j·α_j·T_j (the back-to-front recursion of 3DGS gives the same numbers).
 *   `grads.xy` is ∂L/∂(u, v) per Gaussian (pixels) — its norm drives densification;
 *   `dConic` internally is (∂L/∂a, ½·∂L/∂b, ∂L/∂c) (the symmetric-matrix gradient).
 *
 * TWO CPU PATHS, SAME RESULT: `rasterizeForwardTiles`/`rasterizeBackwardTiles` follow the GPU algorithm
 * literally (tile lists, every pixel of a tile against its list). `rasterizeForward`/`rasterizeBackward`
 * (the default) splat each Gaussian in global depth order over only the pixels where α ≥ 1/255 is possible
 * (per-row ellipse spans inside its tile rectangle), with per-pixel transmittance and termination flags,
 * and evaluate exp(power) along a row by a multiplicative recurrence. The pixel/Gaussian pairs, their order
 * and every decision are those of the tile path (a test checks images and gradients agree), at a fraction
 * of the cost.
 */

export const TILE = 16;
export const NEAR = 0.01;
export const DILATION = 0.3;
export const ALPHA_MAX = 0.99;
export const ALPHA_MIN = 1 / 255;
export const T_MIN = 1e-4;

export const SH_C1 = 0.4886025119029199;
export const SH_C2 = [1.0925484305920792, -1.0925484305920792, 0.31539156525252005, -1.0925484305920792, 0.5462742152960396];
export const SH_C3 = [
  -0.5900435899266435, 2.890611442640554, -0.4570457994644658, 0.3731763325901154, -0.4570457994644658, 1.445305721320277,
  -0.5900435899266435,
];
const C0 = 0.28209479177387814;

/** Number of SH coefficients used at a degree: (deg + 1)². */
export function shCount(deg: number): number {
  return (deg + 1) * (deg + 1);
}

/** SH basis Y_k(d) for k < (deg+1)², d a unit vector, into `Y`; with `dY` (48 values: k·3 + axis) also ∂Y_k/∂d. */
export function shBasis(deg: number, x: number, y: number, z: number, Y: Float64Array, dY?: Float64Array): void {
  Y[0] = C0;
  if (dY) dY.fill(0);
  if (deg < 1) return;
  Y[1] = -SH_C1 * y;
  Y[2] = SH_C1 * z;
  Y[3] = -SH_C1 * x;
  if (dY) {
    dY[3 + 1] = -SH_C1;
    dY[6 + 2] = SH_C1;
    dY[9 + 0] = -SH_C1;
  }
  if (deg < 2) return;
  const xx = x * x,
    yy = y * y,
    zz = z * z,
    xy = x * y,
    yz = y * z,
    xz = x * z;
  Y[4] = SH_C2[0] * xy;
  Y[5] = SH_C2[1] * yz;
  Y[6] = SH_C2[2] * (2 * zz - xx - yy);
  Y[7] = SH_C2[3] * xz;
  Y[8] = SH_C2[4] * (xx - yy);
  if (dY) {
    dY[12] = SH_C2[0] * y;
    dY[13] = SH_C2[0] * x;
    dY[16] = SH_C2[1] * z;
    dY[17] = SH_C2[1] * y;
    dY[18] = -2 * SH_C2[2] * x;
    dY[19] = -2 * SH_C2[2] * y;
    dY[20] = 4 * SH_C2[2] * z;
    dY[21] = SH_C2[3] * z;
    dY[23] = SH_C2[3] * x;
    dY[24] = 2 * SH_C2[4] * x;
    dY[25] = -2 * SH_C2[4] * y;
  }
  if (deg < 3) return;
  Y[9] = SH_C3[0] * y * (3 * xx - yy);
  Y[10] = SH_C3[1] * xy * z;
  Y[11] = SH_C3[2] * y * (4 * zz - xx - yy);
  Y[12] = SH_C3[3] * z * (2 * zz - 3 * xx - 3 * yy);
  Y[13] = SH_C3[4] * x * (4 * zz - xx - yy);
  Y[14] = SH_C3[5] * z * (xx - yy);
  Y[15] = SH_C3[6] * x * (xx - 3 * yy);
  if (dY) {
    dY[27] = SH_C3[0] * 6 * xy;
    dY[28] = SH_C3[0] * (3 * xx - 3 * yy);
    dY[30] = SH_C3[1] * yz;
    dY[31] = SH_C3[1] * xz;
    dY[32] = SH_C3[1] * xy;
    dY[33] = SH_C3[2] * (-2 * xy);
    dY[34] = SH_C3[2] * (4 * zz - xx - 3 * yy);
    dY[35] = SH_C3[2] * 8 * yz;
    dY[36] = SH_C3[3] * (-6 * xz);
    dY[37] = SH_C3[3] * (-6 * yz);
    dY[38] = SH_C3[3] * (6 * zz - 3 * xx - 3 * yy);
    dY[39] = SH_C3[4] * (4 * zz - 3 * xx - yy);
    dY[40] = SH_C3[4] * (-2 * xy);
    dY[41] = SH_C3[4] * 8 * xz;
    dY[42] = SH_C3[5] * 2 * xz;
    dY[43] = SH_C3[5] * (-2 * yz);
    dY[44] = SH_C3[5] * (xx - yy);
    dY[45] = SH_C3[6] * (3 * xx - 3 * yy);
    dY[46] = SH_C3[6] * (-6 * xy);
  }
}

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

/** Tile bins: Gaussians of tile t are ids[ranges[2t] .. ranges[2t+1]), front to back. */
export interface TileBins {
  tilesX: number;
  tilesY: number;
  ranges: Uint32Array;
  ids: Uint32Array;
}

export interface ForwardResult {
  width: number;
  height: number;
  /** RGB, row-major, top row first (Image layout) */
  image: Float32Array;
  /** 1 − final transmittance */
  alpha: Float32Array;
  /** alpha-normalised expected depth */
  depth: Float32Array;
  /** final transmittance (background weight) */
  finalT: Float32Array;
  background: [number, number, number];
  projected: Projected;
  /** tile path: number of tile-list entries processed up to and including the last contributor */
  nContrib: Uint32Array | null;
  /** tile path: the tile bins */
  bins: TileBins | null;
  /** scatter path: visible Gaussians, front to back */
  order: Uint32Array | null;
  /** scatter path: final colour per pixel in float64 (r, g, b) before float32 rounding */
  color64: Float64Array | null;
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

function zeroGrads(g: GaussianGrads, n: number): void {
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

/** Projection step: EWA splatting, SH colours, tile rectangles. */
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
  const limXn = cx / fx + (0.3 * width) / fx,
    limXp = (width - cx) / fx + (0.3 * width) / fx;
  const limYn = cy / fy + (0.3 * height) / fy,
    limYp = (height - cy) / fy + (0.3 * height) / fy;
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
    const ux = Math.min(limXp, Math.max(-limXn, tx / tz)),
      uy = Math.min(limYp, Math.max(-limYn, ty / tz));
    const J00 = fx / tz,
      J02 = (-fx * ux) / tz,
      J11 = fy / tz,
      J12 = (-fy * uy) / tz;
    // T = J·W (2×3)
    const T0 = J00 * W[0] + J02 * W[6],
      T1 = J00 * W[1] + J02 * W[7],
      T2 = J00 * W[2] + J02 * W[8];
    const T3 = J11 * W[3] + J12 * W[6],
      T4 = J11 * W[4] + J12 * W[7],
      T5 = J11 * W[5] + J12 * W[8];
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
    p.opacity[i] = 1 / (1 + Math.exp(-g.opacityLogits[i]));
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

/** Stable LSD radix sort of `vals` by unsigned 32-bit `keys` (both length n; both permuted in place). */
export function radixSortU32(keys: Uint32Array, vals: Uint32Array, n: number): void {
  let k0: Uint32Array = keys,
    v0: Uint32Array = vals;
  let k1: Uint32Array = new Uint32Array(n),
    v1: Uint32Array = new Uint32Array(n);
  const count = new Uint32Array(65536 + 1);
  for (let shift = 0; shift < 32; shift += 16) {
    count.fill(0);
    for (let i = 0; i < n; i++) count[((k0[i] >>> shift) & 0xffff) + 1]++;
    for (let b = 0; b < 65536; b++) count[b + 1] += count[b];
    for (let i = 0; i < n; i++) {
      const b = (k0[i] >>> shift) & 0xffff;
      const d = count[b]++;
      k1[d] = k0[i];
      v1[d] = v0[i];
    }
    const tk = k0;
    k0 = k1;
    k1 = tk;
    const tv = v0;
    v0 = v1;
    v1 = tv;
  }
  // two passes: the result is back in the original arrays
}

/** Bins visible Gaussians into tiles, each tile's list sorted front to back. */
export function binGaussians(p: Projected, width: number, height: number): TileBins {
  const tilesX = Math.ceil(width / TILE),
    tilesY = Math.ceil(height / TILE),
    nt = tilesX * tilesY;
  let nv = 0;
  for (let i = 0; i < p.count; i++) if (p.radius[i] > 0) nv++;
  const keys = new Uint32Array(nv),
    order = new Uint32Array(nv);
  const f32 = new Float32Array(1),
    u32 = new Uint32Array(f32.buffer);
  nv = 0;
  for (let i = 0; i < p.count; i++)
    if (p.radius[i] > 0) {
      f32[0] = p.depth[i]; // positive floats sort like their bit patterns
      keys[nv] = u32[0];
      order[nv++] = i;
    }
  radixSortU32(keys, order, nv);
  const ranges = new Uint32Array(2 * nt);
  const counts = new Uint32Array(nt + 1);
  const rect = p.rect;
  for (let j = 0; j < nv; j++) {
    const i = order[j];
    for (let ty = rect[4 * i + 1]; ty < rect[4 * i + 3]; ty++)
      for (let tx = rect[4 * i]; tx < rect[4 * i + 2]; tx++) counts[ty * tilesX + tx + 1]++;
  }
  for (let t = 0; t < nt; t++) counts[t + 1] += counts[t];
  const ids = new Uint32Array(counts[nt]);
  for (let t = 0; t < nt; t++) {
    ranges[2 * t] = counts[t];
    ranges[2 * t + 1] = counts[t];
  }
  for (let j = 0; j < nv; j++) {
    const i = order[j];
    for (let ty = rect[4 * i + 1]; ty < rect[4 * i + 3]; ty++)
      for (let tx = rect[4 * i]; tx < rect[4 * i + 2]; tx++) ids[ranges[2 * (ty * tilesX + tx) + 1]++] = i;
  }
  return { tilesX, tilesY, ranges, ids };
}

const STRIDE = 10; // staged per-Gaussian data: u, v, a, b, c, opacity, r, g, b, depth

function stageTile(p: Projected, ids: Uint32Array, start: number, end: number, stage: Float64Array): void {
  for (let j = start, o = 0; j < end; j++, o += STRIDE) {
    const i = ids[j];
    stage[o] = p.xy[2 * i];
    stage[o + 1] = p.xy[2 * i + 1];
    stage[o + 2] = p.conic[3 * i];
    stage[o + 3] = p.conic[3 * i + 1];
    stage[o + 4] = p.conic[3 * i + 2];
    stage[o + 5] = p.opacity[i];
    stage[o + 6] = p.rgb[3 * i];
    stage[o + 7] = p.rgb[3 * i + 1];
    stage[o + 8] = p.rgb[3 * i + 2];
    stage[o + 9] = p.depth[i];
  }
}

function maxTileLength(bins: TileBins): number {
  let m = 0;
  for (let t = 0; t < bins.ranges.length / 2; t++) m = Math.max(m, bins.ranges[2 * t + 1] - bins.ranges[2 * t]);
  return m;
}

/**
 * Forward rasterisation with per-tile lists (the GPU algorithm, kept as the reference for parity tests).
 * `rasterizeForward` gives the same images faster on a CPU.
 */
export function rasterizeForwardTiles(g: Gaussians, cam: Camera, background: readonly [number, number, number]): ForwardResult {
  const { width, height } = cam;
  const p = projectGaussians(g, cam);
  const bins = binGaussians(p, width, height);
  const npx = width * height;
  const image = new Float32Array(npx * 3),
    alphaOut = new Float32Array(npx),
    depthOut = new Float32Array(npx);
  const finalT = new Float32Array(npx),
    nContrib = new Uint32Array(npx);
  const stage = new Float64Array(Math.max(1, maxTileLength(bins)) * STRIDE);
  const [bgR, bgG, bgB] = background;
  for (let ty = 0; ty < bins.tilesY; ty++)
    for (let tx = 0; tx < bins.tilesX; tx++) {
      const t = ty * bins.tilesX + tx;
      const start = bins.ranges[2 * t],
        end = bins.ranges[2 * t + 1],
        n = end - start;
      stageTile(p, bins.ids, start, end, stage);
      const yEnd = Math.min(height, (ty + 1) * TILE),
        xEnd = Math.min(width, (tx + 1) * TILE);
      for (let py = ty * TILE; py < yEnd; py++) {
        const pfy = py + 0.5;
        for (let px = tx * TILE; px < xEnd; px++) {
          const pfx = px + 0.5;
          let T = 1,
            cr = 0,
            cg = 0,
            cb = 0,
            dep = 0,
            last = 0;
          for (let j = 0, o = 0; j < n; j++, o += STRIDE) {
            const dx = stage[o] - pfx,
              dy = stage[o + 1] - pfy;
            const power = -0.5 * (stage[o + 2] * dx * dx + stage[o + 4] * dy * dy) - stage[o + 3] * dx * dy;
            if (power > 0) continue;
            let alpha = stage[o + 5] * Math.exp(power);
            if (alpha > ALPHA_MAX) alpha = ALPHA_MAX;
            if (alpha < ALPHA_MIN) continue;
            const testT = T * (1 - alpha);
            if (testT < T_MIN) break;
            const w = alpha * T;
            cr += stage[o + 6] * w;
            cg += stage[o + 7] * w;
            cb += stage[o + 8] * w;
            dep += stage[o + 9] * w;
            T = testT;
            last = j + 1;
          }
          const pi = py * width + px;
          image[3 * pi] = cr + T * bgR;
          image[3 * pi + 1] = cg + T * bgG;
          image[3 * pi + 2] = cb + T * bgB;
          alphaOut[pi] = 1 - T;
          depthOut[pi] = T < 1 ? dep / (1 - T) : 0;
          finalT[pi] = T;
          nContrib[pi] = last;
        }
      }
    }
  return {
    width,
    height,
    image,
    alpha: alphaOut,
    depth: depthOut,
    finalT,
    nContrib,
    background: [bgR, bgG, bgB],
    projected: p,
    bins,
    order: null,
    color64: null,
  };
}

/** Backward of `rasterizeForwardTiles` (reference for the GPU algorithm); see `rasterizeBackward`. */
export function rasterizeBackwardTiles(
  g: Gaussians,
  cam: Camera,
  fwd: ForwardResult,
  dImage: Float32Array,
  dAlpha?: Float32Array | null,
  out?: GaussianGrads,
): GaussianGrads {
  const n = g.count;
  const grads = out ?? createGrads(n);
  zeroGrads(grads, n);
  const { width, height, projected: p } = fwd;
  const bins = fwd.bins!;
  if (!bins || !fwd.nContrib) throw new Error('rasterizeBackwardTiles needs the result of rasterizeForwardTiles');
  const [bgR, bgG, bgB] = fwd.background;
  // per-Gaussian 2D gradients: u, v, conic (3, matrix form), opacity, rgb (3)
  const G2 = new Float64Array(n * 9);
  const maxLen = Math.max(1, maxTileLength(bins));
  const stage = new Float64Array(maxLen * STRIDE);
  const acc = new Float64Array(maxLen * 9);
  for (let ty = 0; ty < bins.tilesY; ty++)
    for (let tx = 0; tx < bins.tilesX; tx++) {
      const t = ty * bins.tilesX + tx;
      const start = bins.ranges[2 * t],
        end = bins.ranges[2 * t + 1],
        nt = end - start;
      if (nt === 0) continue;
      stageTile(p, bins.ids, start, end, stage);
      acc.fill(0, 0, nt * 9);
      const yEnd = Math.min(height, (ty + 1) * TILE),
        xEnd = Math.min(width, (tx + 1) * TILE);
      for (let py = ty * TILE; py < yEnd; py++) {
        const pfy = py + 0.5;
        for (let px = tx * TILE; px < xEnd; px++) {
          const pfx = px + 0.5;
          const pi = py * width + px;
          const last = fwd.nContrib![pi];
          if (last === 0) continue;
          const gr = dImage[3 * pi],
            gg = dImage[3 * pi + 1],
            gb = dImage[3 * pi + 2];
          const ga = dAlpha ? dAlpha[pi] : 0;
          if (gr === 0 && gg === 0 && gb === 0 && ga === 0) continue;
          const Tf = fwd.finalT[pi];
          // C − P_i per channel, starting with P = 0: rest = Σ_j c_j w_j + T_N·bg; alpha channel: 1 − T_N
          let restR = fwd.image[3 * pi],
            restG = fwd.image[3 * pi + 1],
            restB = fwd.image[3 * pi + 2];
          let restA = 1 - Tf;
          // recompute from the colours to avoid float32 rounding of the stored image
          {
            let T = 1,
              cr = 0,
              cg = 0,
              cb = 0;
            for (let j = 0, o = 0; j < last; j++, o += STRIDE) {
              const dx = stage[o] - pfx,
                dy = stage[o + 1] - pfy;
              const power = -0.5 * (stage[o + 2] * dx * dx + stage[o + 4] * dy * dy) - stage[o + 3] * dx * dy;
              if (power > 0) continue;
              let alpha = stage[o + 5] * Math.exp(power);
              if (alpha > ALPHA_MAX) alpha = ALPHA_MAX;
              if (alpha < ALPHA_MIN) continue;
              const w = alpha * T;
              cr += stage[o + 6] * w;
              cg += stage[o + 7] * w;
              cb += stage[o + 8] * w;
              T *= 1 - alpha;
            }
            restR = cr + T * bgR;
            restG = cg + T * bgG;
            restB = cb + T * bgB;
            restA = 1 - T;
          }
          let T = 1;
          for (let j = 0, o = 0; j < last; j++, o += STRIDE) {
            const dx = stage[o] - pfx,
              dy = stage[o + 1] - pfy;
            const a = stage[o + 2],
              b = stage[o + 3],
              c = stage[o + 4];
            const power = -0.5 * (a * dx * dx + c * dy * dy) - b * dx * dy;
            if (power > 0) continue;
            const G = Math.exp(power);
            const op = stage[o + 5];
            let alpha = op * G;
            const clamped = alpha > ALPHA_MAX;
            if (clamped) alpha = ALPHA_MAX;
            if (alpha < ALPHA_MIN) continue;
            const w = alpha * T;
            const r = stage[o + 6],
              gc = stage[o + 7],
              bc = stage[o + 8];
            restR -= r * w;
            restG -= gc * w;
            restB -= bc * w;
            restA -= w;
            const ao = j * 9;
            // colour gradient
            acc[ao + 6] += gr * w;
            acc[ao + 7] += gg * w;
            acc[ao + 8] += gb * w;
            if (!clamped) {
              const inv = 1 / (1 - alpha);
              const dAl = gr * (r * T - restR * inv) + gg * (gc * T - restG * inv) + gb * (bc * T - restB * inv) + ga * (T - restA * inv);
              acc[ao + 5] += dAl * G; // ∂α/∂opacity = G
              const dPow = dAl * op * G; // ∂α/∂power = opacity·G
              acc[ao] += dPow * -(a * dx + b * dy);
              acc[ao + 1] += dPow * -(b * dx + c * dy);
              acc[ao + 2] += -0.5 * dPow * dx * dx;
              acc[ao + 3] += -0.5 * dPow * dx * dy;
              acc[ao + 4] += -0.5 * dPow * dy * dy;
            }
            T *= 1 - alpha;
          }
        }
      }
      for (let j = 0; j < nt; j++) {
        const i = bins.ids[start + j];
        for (let k = 0; k < 9; k++) G2[i * 9 + k] += acc[j * 9 + k];
      }
    }
  projectBackward(g, cam, p, G2, grads);
  return grads;
}

/** Backward of the projection step: from per-Gaussian 2D gradients to parameter gradients. */
function projectBackward(g: Gaussians, cam: Camera, p: Projected, G2: Float64Array, grads: GaussianGrads): void {
  const { W, C } = viewMatrix(cam);
  const { fx, fy, cx, cy, width, height } = cam;
  const limXn = cx / fx + (0.3 * width) / fx,
    limXp = (width - cx) / fx + (0.3 * width) / fx;
  const limYn = cy / fy + (0.3 * height) / fy,
    limYp = (height - cy) / fy + (0.3 * height) / fy;
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
    const rx = tx / tz,
      ry = ty / tz;
    const clampX = rx < -limXn || rx > limXp,
      clampY = ry < -limYn || ry > limYp;
    const ux = Math.min(limXp, Math.max(-limXn, rx)),
      uy = Math.min(limYp, Math.max(-limYn, ry));
    const J00 = fx / tz,
      J02 = (-fx * ux) / tz,
      J11 = fy / tz,
      J12 = (-fy * uy) / tz;
    const T0 = J00 * W[0] + J02 * W[6],
      T1 = J00 * W[1] + J02 * W[7],
      T2 = J00 * W[2] + J02 * W[8];
    const T3 = J11 * W[3] + J12 * W[6],
      T4 = J11 * W[4] + J12 * W[7],
      T5 = J11 * W[5] + J12 * W[8];
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

/** Visible Gaussians (radius > 0) sorted front to back (stable). */
export function depthOrder(p: Projected): Uint32Array {
  let nv = 0;
  for (let i = 0; i < p.count; i++) if (p.radius[i] > 0) nv++;
  const keys = new Uint32Array(nv),
    order = new Uint32Array(nv);
  const f32 = new Float32Array(1),
    u32 = new Uint32Array(f32.buffer);
  nv = 0;
  for (let i = 0; i < p.count; i++)
    if (p.radius[i] > 0) {
      f32[0] = p.depth[i]; // positive floats sort like their bit patterns
      keys[nv] = u32[0];
      order[nv++] = i;
    }
  radixSortU32(keys, order, nv);
  return order;
}

/**
 * The pixel box a Gaussian can reach with α ≥ 1/255, clipped to its tile rectangle and the image:
 * [x0, x1) × [y0, y1). Outside the square of half-size √(2·ln(255·opacity)·λmax) around the mean,
 * opacity·exp(power) < 1/255 (since dᵀ·conic·d ≥ |d|²/λmax), so such pairs are skipped by the tile
 * rasteriser too: iterating over this box gives exactly the tile rasteriser's result.
 */
function footprint(p: Projected, i: number, width: number, height: number, box: Int32Array): boolean {
  const op = p.opacity[i];
  if (op * 255 < 1) return false;
  const c00 = p.cov2d[3 * i],
    c01 = p.cov2d[3 * i + 1],
    c11 = p.cov2d[3 * i + 2];
  const mid = 0.5 * (c00 + c11);
  const lam = mid + Math.sqrt(Math.max(0.1, mid * mid - (c00 * c11 - c01 * c01)));
  const r = Math.sqrt(2 * Math.log(255 * op) * lam) + 0.5; // margin for rounding
  const u = p.xy[2 * i],
    v = p.xy[2 * i + 1];
  box[0] = Math.max(p.rect[4 * i] * TILE, Math.ceil(u - r - 0.5));
  box[1] = Math.max(p.rect[4 * i + 1] * TILE, Math.ceil(v - r - 0.5));
  box[2] = Math.min(p.rect[4 * i + 2] * TILE, width, Math.floor(u + r - 0.5) + 1);
  box[3] = Math.min(p.rect[4 * i + 3] * TILE, height, Math.floor(v + r - 0.5) + 1);
  return box[2] > box[0] && box[3] > box[1];
}

/**
 * Forward rasterisation of `g` seen from `cam` over `background`. Gaussians are splatted one at a time in
 * global depth order over their footprints, with per-pixel transmittance and early termination: the same
 * pixel/Gaussian pairs in the same order as the tile rasteriser (`rasterizeForwardTiles`), hence the same
 * image, but without the work of testing every pixel of a tile against every Gaussian of its list.
 */
export function rasterizeForward(g: Gaussians, cam: Camera, background: readonly [number, number, number]): ForwardResult {
  const { width, height } = cam;
  const p = projectGaussians(g, cam);
  const order = depthOrder(p);
  const npx = width * height;
  const Tb = new Float64Array(npx).fill(1);
  const col = new Float64Array(npx * 3),
    dep = new Float64Array(npx);
  const done = new Uint8Array(npx);
  const box = new Int32Array(4);
  for (let oi = 0; oi < order.length; oi++) {
    const i = order[oi];
    if (!footprint(p, i, width, height, box)) continue;
    const u = p.xy[2 * i],
      v = p.xy[2 * i + 1];
    const a = p.conic[3 * i],
      b = p.conic[3 * i + 1],
      c = p.conic[3 * i + 2];
    const op = p.opacity[i],
      z = p.depth[i];
    const r = p.rgb[3 * i],
      gc = p.rgb[3 * i + 1],
      bc = p.rgb[3 * i + 2];
    const k2 = 2 * Math.log(255 * op); // α ≥ 1/255 ⟺ a·dx² + 2b·dx·dy + c·dy² ≤ k2
    const q = Math.exp(-a);
    for (let py = box[1]; py < box[3]; py++) {
      const dy = v - (py + 0.5);
      // the row's span inside that ellipse (one pixel of margin; the tests below decide)
      const D = b * b * dy * dy - a * (c * dy * dy - k2);
      if (D < 0) continue;
      const sq = Math.sqrt(D);
      const x0 = Math.max(box[0], Math.ceil(u - (-b * dy + sq) / a - 0.5) - 1);
      const x1 = Math.min(box[2], Math.floor(u - (-b * dy - sq) / a - 0.5) + 2);
      const row = py * width;
      // exp(power) along the row by recurrence: G(x+1) = G(x)·r(x), r(x+1) = r(x)·e^(−a)
      const dx0 = u - (x0 + 0.5);
      let G = Math.exp(-0.5 * a * dx0 * dx0 - b * dx0 * dy - 0.5 * c * dy * dy);
      let rr = Math.exp(a * dx0 - 0.5 * a + b * dy);
      for (let px = x0; px < x1; px++, G *= rr, rr *= q) {
        const pi = row + px;
        if (done[pi]) continue;
        let alpha = op * G;
        if (alpha > ALPHA_MAX) alpha = ALPHA_MAX;
        if (alpha < ALPHA_MIN) continue;
        const T = Tb[pi];
        const testT = T * (1 - alpha);
        if (testT < T_MIN) {
          done[pi] = 1;
          continue;
        }
        const w = alpha * T;
        col[3 * pi] += r * w;
        col[3 * pi + 1] += gc * w;
        col[3 * pi + 2] += bc * w;
        dep[pi] += z * w;
        Tb[pi] = testT;
      }
    }
  }
  const [bgR, bgG, bgB] = background;
  const image = new Float32Array(npx * 3),
    alphaOut = new Float32Array(npx),
    depthOut = new Float32Array(npx),
    finalT = new Float32Array(npx);
  for (let pi = 0; pi < npx; pi++) {
    const T = Tb[pi];
    col[3 * pi] += T * bgR;
    col[3 * pi + 1] += T * bgG;
    col[3 * pi + 2] += T * bgB;
    image[3 * pi] = col[3 * pi];
    image[3 * pi + 1] = col[3 * pi + 1];
    image[3 * pi + 2] = col[3 * pi + 2];
    alphaOut[pi] = 1 - T;
    depthOut[pi] = T < 1 ? dep[pi] / (1 - T) : 0;
    finalT[pi] = T;
  }
  return {
    width,
    height,
    image,
    alpha: alphaOut,
    depth: depthOut,
    finalT,
    background: [bgR, bgG, bgB],
    projected: p,
    nContrib: null,
    bins: null,
    order,
    color64: col,
  };
}

/**
 * Backward pass: gradients of a loss L with respect to every parameter of `g`, given ∂L/∂image (RGB,
 * image layout) and optionally ∂L/∂alpha. `out` (if given) is overwritten. Uses the state saved by
 * `rasterizeForward` for the same `g` and `cam` (a result of `rasterizeForwardTiles` is passed on to
 * `rasterizeBackwardTiles`). Replays the forward front to back, so each pixel's transmittance and
 * termination are recomputed exactly.
 */
export function rasterizeBackward(
  g: Gaussians,
  cam: Camera,
  fwd: ForwardResult,
  dImage: Float32Array,
  dAlpha?: Float32Array | null,
  out?: GaussianGrads,
): GaussianGrads {
  if (!fwd.order || !fwd.color64) return rasterizeBackwardTiles(g, cam, fwd, dImage, dAlpha, out);
  const n = g.count;
  const grads = out ?? createGrads(n);
  zeroGrads(grads, n);
  const { width, height, projected: p, order } = fwd;
  const npx = width * height;
  const Tb = new Float64Array(npx).fill(1);
  // rest = C − P_i per pixel and channel (4th: alpha channel, C = 1 − T_final)
  const rest = new Float64Array(npx * 4);
  for (let pi = 0; pi < npx; pi++) {
    rest[4 * pi] = fwd.color64[3 * pi];
    rest[4 * pi + 1] = fwd.color64[3 * pi + 1];
    rest[4 * pi + 2] = fwd.color64[3 * pi + 2];
    rest[4 * pi + 3] = 1 - fwd.finalT[pi];
  }
  const done = new Uint8Array(npx);
  const G2 = new Float64Array(n * 9);
  const box = new Int32Array(4);
  for (let oi = 0; oi < order.length; oi++) {
    const i = order[oi];
    if (!footprint(p, i, width, height, box)) continue;
    const u = p.xy[2 * i],
      v = p.xy[2 * i + 1];
    const a = p.conic[3 * i],
      b = p.conic[3 * i + 1],
      c = p.conic[3 * i + 2];
    const op = p.opacity[i];
    const r = p.rgb[3 * i],
      gc = p.rgb[3 * i + 1],
      bc = p.rgb[3 * i + 2];
    let gU = 0,
      gV = 0,
      gA = 0,
      gB = 0,
      gC = 0,
      gOp = 0,
      gR = 0,
      gG = 0,
      gBl = 0;
    const k2 = 2 * Math.log(255 * op);
    const q = Math.exp(-a);
    for (let py = box[1]; py < box[3]; py++) {
      const dy = v - (py + 0.5);
      const D = b * b * dy * dy - a * (c * dy * dy - k2);
      if (D < 0) continue;
      const sq = Math.sqrt(D);
      const x0 = Math.max(box[0], Math.ceil(u - (-b * dy + sq) / a - 0.5) - 1);
      const x1 = Math.min(box[2], Math.floor(u - (-b * dy - sq) / a - 0.5) + 2);
      const row = py * width;
      // same recurrence as the forward (identical decisions)
      const dx0 = u - (x0 + 0.5);
      let G = Math.exp(-0.5 * a * dx0 * dx0 - b * dx0 * dy - 0.5 * c * dy * dy);
      let rr = Math.exp(a * dx0 - 0.5 * a + b * dy);
      for (let px = x0; px < x1; px++, G *= rr, rr *= q) {
        const pi = row + px;
        if (done[pi]) continue;
        const dx = u - (px + 0.5);
        let alpha = op * G;
        const clamped = alpha > ALPHA_MAX;
        if (clamped) alpha = ALPHA_MAX;
        if (alpha < ALPHA_MIN) continue;
        const T = Tb[pi];
        const nT = T * (1 - alpha);
        if (nT < T_MIN) {
          done[pi] = 1;
          continue;
        }
        const w = alpha * T;
        const q = 4 * pi;
        const rR = (rest[q] -= r * w),
          rG = (rest[q + 1] -= gc * w),
          rB = (rest[q + 2] -= bc * w),
          rA = (rest[q + 3] -= w);
        Tb[pi] = nT;
        const dr = dImage[3 * pi],
          dg = dImage[3 * pi + 1],
          db = dImage[3 * pi + 2];
        const da = dAlpha ? dAlpha[pi] : 0;
        gR += dr * w;
        gG += dg * w;
        gBl += db * w;
        if (!clamped) {
          const inv = 1 / (1 - alpha);
          const dAl = dr * (r * T - rR * inv) + dg * (gc * T - rG * inv) + db * (bc * T - rB * inv) + da * (T - rA * inv);
          gOp += dAl * G;
          const dPow = dAl * op * G;
          gU -= dPow * (a * dx + b * dy);
          gV -= dPow * (b * dx + c * dy);
          gA -= 0.5 * dPow * dx * dx;
          gB -= 0.5 * dPow * dx * dy;
          gC -= 0.5 * dPow * dy * dy;
        }
      }
    }
    const o = 9 * i;
    G2[o] = gU;
    G2[o + 1] = gV;
    G2[o + 2] = gA;
    G2[o + 3] = gB;
    G2[o + 4] = gC;
    G2[o + 5] = gOp;
    G2[o + 6] = gR;
    G2[o + 7] = gG;
    G2[o + 8] = gBl;
  }
  projectBackward(g, cam, p, G2, grads);
  return grads;
}

/** Convenience: render to an RGB image + alpha + depth. */
export function renderGaussiansCpu(g: Gaussians, cam: Camera, background: readonly [number, number, number]) {
  const f = rasterizeForward(g, cam, background);
  return { image: { width: f.width, height: f.height, channels: 3 as const, data: f.image }, alpha: f.alpha, depth: f.depth };
}
