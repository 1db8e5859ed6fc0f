import { softplus } from '../../core/math';
import type { VoxelGrid } from './voxel-grid';
import { colorDims } from './voxel-grid';

/**
 * Total variation on the grid: L = weight · mean over vertex pairs along x, y, z of (a − b)² (per channel).
 * Adds ∂L/∂values into `grad` and returns L. `stride`/`channels` describe interleaved channels (density:
 * 1/1; colour: K/3 to regularise only the base colour). Cells whose occupancy is 0 are skipped when
 * `onlyOccupied` is set (they get no ray gradient either), which keeps this cheap on sparse scenes.
 */
export function totalVariation(
  values: Float32Array,
  grad: Float32Array,
  grid: VoxelGrid,
  weight: number,
  stride = 1,
  channels = 1,
  onlyOccupied = true,
): number {
  const [nx, ny, nz] = grid.res;
  const cx = nx - 1,
    cy = ny - 1;
  const occ = grid.occupancy;
  const n = nx * ny * nz * channels * 3;
  const s = weight / n;
  let loss = 0;
  for (let k = 0; k < nz; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++) {
        if (onlyOccupied) {
          // a vertex is regularised when its cell (clamped) is occupied
          const ci = i < cx ? i : cx - 1,
            cj = j < cy ? j : cy - 1,
            ck = k < nz - 1 ? k : nz - 2;
          if (!occ[ci + cx * (cj + cy * ck)]) continue;
        }
        const v = i + nx * (j + ny * k);
        for (let c = 0; c < channels; c++) {
          const a = values[v * stride + c];
          if (i + 1 < nx) {
            const q = (v + 1) * stride + c,
              d = a - values[q];
            loss += d * d;
            grad[v * stride + c] += 2 * s * d;
            grad[q] -= 2 * s * d;
          }
          if (j + 1 < ny) {
            const q = (v + nx) * stride + c,
              d = a - values[q];
            loss += d * d;
            grad[v * stride + c] += 2 * s * d;
            grad[q] -= 2 * s * d;
          }
          if (k + 1 < nz) {
            const q = (v + nx * ny) * stride + c,
              d = a - values[q];
            loss += d * d;
            grad[v * stride + c] += 2 * s * d;
            grad[q] -= 2 * s * d;
          }
        }
      }
  return loss * s;
}

/** TV on density and base colour of a grid, adding into the gradient arrays. */
export function gridTotalVariation(
  grid: VoxelGrid,
  grads: { density: Float32Array; color: Float32Array },
  wDensity: number,
  wColor: number,
): number {
  let l = 0;
  if (wDensity > 0) l += totalVariation(grid.density, grads.density, grid, wDensity, 1, 1);
  if (wColor > 0) l += totalVariation(grid.color, grads.color, grid, wColor, colorDims(grid.shDegree), 3);
  return l;
}

/**
 * Density sparsity: L = weight · mean over vertices of σ = softplus(raw + shift), restricted to occupied cells.
 * Without it, free space in front of surfaces keeps whatever density the photometric loss is indifferent to
 * (its colour can match the target), so empty-space skipping never prunes it; with it, density that no view
 * needs decays and the occupancy grid can drop those cells.
 */
export function densitySparsity(grid: VoxelGrid, grad: Float32Array, weight: number): number {
  const [nx, ny, nz] = grid.res;
  const cx = nx - 1,
    cy = ny - 1;
  const occ = grid.occupancy,
    d = grid.density,
    shift = grid.densityShift;
  const s = weight / d.length;
  let loss = 0;
  for (let k = 0; k < nz; k++) {
    const ck = k < nz - 1 ? k : nz - 2;
    for (let j = 0; j < ny; j++) {
      const cj = j < cy ? j : cy - 1;
      for (let i = 0; i < nx; i++) {
        const ci = i < cx ? i : cx - 1;
        if (!occ[ci + cx * (cj + cy * ck)]) continue;
        const v = i + nx * (j + ny * k);
        const z = d[v] + shift;
        loss += softplus(z);
        grad[v] += s / (1 + Math.exp(-z)); // s·sigmoid(z)
      }
    }
  }
  return loss * s;
}
