import { sigmoid, softplus } from '../../core/math';
import type { VoxelGrid } from './voxel-grid';
import { colorDims } from './voxel-grid';

/**
 * Total variation on the grid: L = weight · mean over vertex pairs along x, y, z of (a − b)² (per channel).
 * Adds ∂L/∂values into `grad` and returns L. `stride`/`channels` describe interleaved channels (density:
 * 1/1; colour: K/3 to regularise only the base colour). Cells whose occupancy is 0 are skipped when
 * `onlyOccupied` is set (they get no ray gradient either), which keeps this cheap on sparse scenes.
 *
 * With a vertex `mask`, only pairs of two masked vertices count and the mean is over the masked vertices
 * (3 pairs each): the edits' TV on the colour of a region.
 */
export function totalVariation(
  values: Float32Array,
  grad: Float32Array,
  grid: VoxelGrid,
  weight: number,
  stride = 1,
  channels = 1,
  onlyOccupied = true,
  mask: Uint8Array | null = null,
): number {
  const [nx, ny, nz] = grid.res;
  const cx = nx - 1,
    cy = ny - 1;
  const occ = grid.occupancy;
  let vertices = nx * ny * nz;
  if (mask) {
    vertices = 0;
    for (let v = 0; v < mask.length; v++) if (mask[v]) vertices++;
  }
  const n = Math.max(1, vertices * channels * 3);
  const s = weight / n;
  let loss = 0;
  for (let k = 0; k < nz; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++) {
        const v = i + nx * (j + ny * k);
        if (mask && !mask[v]) continue;
        if (onlyOccupied) {
          // a vertex is regularised when its cell (clamped) is occupied
          const ci = i < cx ? i : cx - 1,
            cj = j < cy ? j : cy - 1,
            ck = k < nz - 1 ? k : nz - 2;
          if (!occ[ci + cx * (cj + cy * ck)]) continue;
        }
        const px = i + 1 < nx && (!mask || mask[v + 1]),
          py = j + 1 < ny && (!mask || mask[v + nx]),
          pz = k + 1 < nz && (!mask || mask[v + nx * ny]);
        for (let c = 0; c < channels; c++) {
          const a = values[v * stride + c];
          if (px) {
            const q = (v + 1) * stride + c,
              d = a - values[q];
            loss += d * d;
            grad[v * stride + c] += 2 * s * d;
            grad[q] -= 2 * s * d;
          }
          if (py) {
            const q = (v + nx) * stride + c,
              d = a - values[q];
            loss += d * d;
            grad[v * stride + c] += 2 * s * d;
            grad[q] -= 2 * s * d;
          }
          if (pz) {
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

/**
 * Vox-E's volumetric regulariser (Sella et al., ICCV 2023): L = 1 − Pearson(σ_orig, σ_edit) over voxels. Adds
 * weight·∂L/∂σ_edit into `grad` (when given) and returns L.
 */
export function pearsonLoss(orig: ArrayLike<number>, edit: ArrayLike<number>, weight = 1, grad?: Float32Array): number {
  const n = orig.length;
  let ma = 0,
    mb = 0;
  for (let i = 0; i < n; i++) {
    ma += orig[i];
    mb += edit[i];
  }
  ma /= n;
  mb /= n;
  let cov = 0,
    va = 0,
    vb = 0;
  for (let i = 0; i < n; i++) {
    const da = orig[i] - ma,
      db = edit[i] - mb;
    cov += da * db;
    va += da * da;
    vb += db * db;
  }
  if (va <= 1e-20 || vb <= 1e-20) return 0;
  const sa = Math.sqrt(va),
    sb = Math.sqrt(vb);
  const r = cov / (sa * sb);
  if (grad) {
    // dr/db_j = (a_j − ma)/(sa·sb) − r·(b_j − mb)/vb   (the mean terms cancel)
    for (let i = 0; i < n; i++) grad[i] -= weight * ((orig[i] - ma) / (sa * sb) - (r * (edit[i] - mb)) / vb);
  }
  return 1 - r;
}

/**
 * Vox-E's Pearson term on a grid under edit, weight·(1 − Pearson(σ_orig, σ_edit)) over every vertex, with
 * σ = softplus(raw + shift), its gradient added into the raw density's. When only the vertices of `movable`
 * can change (a gated edit), the sums over the others are computed once and only the movable vertices are
 * revisited each call: the same value and gradient as `pearsonLoss` over the whole grid, at a fraction of the
 * cost. Make a new one when the grids change shape.
 */
export class PearsonDensityTerm {
  private readonly idx: Uint32Array;
  private readonly sigmaOrig: Float64Array;
  private readonly sums: { A: number; B: number; AA: number; BB: number; AB: number };
  private readonly n: number;

  constructor(orig: VoxelGrid, edit: VoxelGrid, movable: Uint8Array | null) {
    const shift = edit.densityShift;
    const idx: number[] = [];
    let A = 0,
      B = 0,
      AA = 0,
      BB = 0,
      AB = 0;
    for (let i = 0; i < orig.density.length; i++) {
      if (!movable || movable[i]) {
        idx.push(i);
        continue;
      }
      const a = softplus(orig.density[i] + shift),
        b = softplus(edit.density[i] + shift);
      A += a;
      B += b;
      AA += a * a;
      BB += b * b;
      AB += a * b;
    }
    this.idx = Uint32Array.from(idx);
    this.sigmaOrig = new Float64Array(idx.length);
    for (let j = 0; j < idx.length; j++) this.sigmaOrig[j] = softplus(orig.density[idx[j]] + shift);
    this.sums = { A, B, AA, BB, AB };
    this.n = orig.density.length;
  }

  /** Adds weight·∂L/∂raw into `grad` (the edit grid's density gradient) and returns weight·L. */
  apply(edit: VoxelGrid, grad: Float32Array, weight: number): number {
    const { idx, sigmaOrig } = this;
    const shift = edit.densityShift;
    let { A, B, AA, BB, AB } = this.sums;
    const sigma = new Float64Array(idx.length);
    for (let j = 0; j < idx.length; j++) {
      const a = sigmaOrig[j],
        b = (sigma[j] = softplus(edit.density[idx[j]] + shift));
      A += a;
      B += b;
      AA += a * a;
      BB += b * b;
      AB += a * b;
    }
    const n = this.n,
      ma = A / n,
      mb = B / n;
    const va = AA - n * ma * ma,
      vb = BB - n * mb * mb,
      cov = AB - n * ma * mb;
    if (va <= 1e-20 || vb <= 1e-20) return 0;
    const sab = Math.sqrt(va * vb),
      r = cov / sab;
    // L = w·(1 − r);  ∂r/∂b_j = (a_j − ma)/√(va·vb) − r·(b_j − mb)/vb
    for (let j = 0; j < idx.length; j++) {
      const v = idx[j];
      const d = -weight * ((sigmaOrig[j] - ma) / sab - (r * (sigma[j] - mb)) / vb);
      grad[v] += d * sigmoid(edit.density[v] + shift);
    }
    return weight * (1 - r);
  }
}
