/**
 * Real spherical harmonics up to degree 3: the one table of constants every renderer uses (the CPU twins, the
 * WGSL kernels through `shConstantsWgsl`, the viewer's TSL materials), and the CPU evaluation of the basis and
 * its gradient. Sign convention and constants as in 3D Gaussian Splatting (Kerbl et al. 2023), itself following
 * Plenoxels (Fridovich-Keil et al. 2022); see docs/gaussians.md § Colour.
 *
 * Basis for a unit direction d = (x, y, z), index k = l² + l + m:
 *   Y₀ = C0
 *   Y₁ = −C1·y, Y₂ = C1·z, Y₃ = −C1·x
 *   Y₄ = C2[0]·xy, Y₅ = C2[1]·yz, Y₆ = C2[2]·(2z² − x² − y²), Y₇ = C2[3]·xz, Y₈ = C2[4]·(x² − y²)
 *   Y₉ = C3[0]·y(3x² − y²), Y₁₀ = C3[1]·xyz, Y₁₁ = C3[2]·y(4z² − x² − y²), Y₁₂ = C3[3]·z(2z² − 3x² − 3y²),
 *   Y₁₃ = C3[4]·x(4z² − x² − y²), Y₁₄ = C3[5]·z(x² − y²), Y₁₅ = C3[6]·x(x² − 3y²)
 */

export const SH_C0 = 0.28209479177387814;
export const SH_C1 = 0.4886025119029199;
export const SH_C2: readonly number[] = [
  1.0925484305920792, -1.0925484305920792, 0.31539156525252005, -1.0925484305920792, 0.5462742152960396,
];
export const SH_C3: readonly number[] = [
  -0.5900435899266435, 2.890611442640554, -0.4570457994644658, 0.3731763325901154, -0.4570457994644658, 1.445305721320277,
  -0.5900435899266435,
];

/** Number of SH coefficients used at a degree: (deg + 1)². */
export function shCount(deg: number): number {
  return (deg + 1) * (deg + 1);
}

/**
 * The table as WGSL `const` declarations (SH_C0, SH_C1, SH_C2_0..4, SH_C3_0..6), prepended by the hosts to the
 * kernels that evaluate SH (gs_common.wgsl, voxel_render.wgsl) so the GPU uses exactly these numbers.
 */
export function shConstantsWgsl(): string {
  const line = (name: string, v: number) => `const ${name}: f32 = ${String(v)};`;
  return [
    '// SH constants, generated from src/nerf/common/sh.ts',
    line('SH_C0', SH_C0),
    line('SH_C1', SH_C1),
    ...SH_C2.map((v, i) => line(`SH_C2_${i}`, v)),
    ...SH_C3.map((v, i) => line(`SH_C3_${i}`, v)),
    '',
  ].join('\n');
}

/** SH basis Y_k(d) for k < (deg+1)², d a unit vector, into `Y`; with `dY` (48 values: k·3 + axis) also ∂Y_k/∂d. */
export function shBasis(deg: number, x: number, y: number, z: number, Y: Float64Array, dY?: Float64Array): void {
  Y[0] = SH_C0;
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
