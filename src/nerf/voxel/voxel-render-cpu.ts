import { sigmoid, softplus } from '../../core/math';
import type {
  ForwardResult,
  MarchParams,
  RayBatch,
  TrainBatch,
  TrainOptions,
  TrainResult,
  VoxelBackend,
  VoxelGrads,
} from './voxel-backend';
import { colorDims, type VoxelGrid } from './voxel-grid';
import { SH_C1 } from '../common/sh';

/**
 * CPU twin of the voxel kernels: forward ray marching and the analytic backward pass, exactly as specified in
 * `voxel-backend.ts` (marching, compositing, loss) and `voxel-grid.ts` (layout, contraction, activations); the
 * method (DVGO's grid, the mip-NeRF 360 contraction, Vox-E's editing grid) is described in docs/voxels.md.
 * The WGSL kernels are checked against this file (tests/voxel-webgpu-parity.test.ts).
 *
 * | CPU function                                        | WGSL kernel entry point                                 |
 * | --------------------------------------------------- | ------------------------------------------------------- |
 * | `renderRaysCpu` (this file)                         | `render_rays` (src/shaders/voxel_render.wgsl)           |
 * | `trainRaysCpu` (this file)                          | `train_rays` (src/shaders/voxel_render.wgsl)            |
 * | `marchRay` (this file; records samples for backward) | `march` (helper; its second pass is the backward)       |
 * | `totalVariation` (onlyOccupied), `densitySparsity`  | `regularize` (src/shaders/voxel_optim.wgsl)             |
 * |   (voxel-regularizers.ts)                           |                                                         |
 * | `Adam.step` (../common/adam.ts)                     | `adam` (src/shaders/voxel_optim.wgsl)                   |
 *
 * Conventions: one CPU call loops over the rays where the kernel runs one thread per ray; the CPU computes in
 * float64 and stores float32, the kernels compute in f32 and add gradients with compare-and-swap (order-dependent
 * rounding), so results agree to f32 rounding, not bit for bit. Samples evaluated, skipped cells and early
 * termination are the same on both.
 *
 * Unbounded scenes: the grid's outer shell holds the mip-NeRF 360 / DVGO v2 contraction (∞-norm, shell
 * thickness bgLen) of everything outside the box, so backgrounds are fitted rather than painted flat; steps
 * grow as n²/bgLen outside the box so each step covers about the same contracted length.
 *
 * Backward (per ray, samples i with opacity input xᵢ = σᵢ·δ·densityScale, αᵢ = 1 − e^{−xᵢ}):
 *   C = Σ Tᵢαᵢcᵢ + T_N·bg,   ∂C/∂cᵢ = Tᵢαᵢ,   ∂C/∂xᵢ = T_{i+1}·cᵢ − Sᵢ with Sᵢ = C − Σ_{j≤i} Tⱼαⱼcⱼ
 *   (no division by 1 − α, so opaque samples are safe), then through softplus / sigmoid and the trilinear weights.
 */

/** Scratch per sample for the backward pass (reused across rays: no per-sample allocation). */
class Scratch {
  base: Int32Array;
  frac: Float32Array; // fx, fy, fz
  tNext: Float64Array; // T_{i+1}
  wgt: Float64Array; // w_i = T_i α_i
  col: Float64Array; // activated colour, 3 per sample
  dxdraw: Float64Array; // ∂x/∂raw density = sigmoid(raw+shift)·δ·densityScale
  kstep: Float64Array; // step index along the ray (distortion loss)
  gw: Float64Array; // ∂L_dist/∂w_i
  constructor(readonly n: number) {
    this.kstep = new Float64Array(n);
    this.gw = new Float64Array(n);
    this.base = new Int32Array(n);
    this.frac = new Float32Array(n * 3);
    this.tNext = new Float64Array(n);
    this.wgt = new Float64Array(n);
    this.col = new Float64Array(n * 3);
    this.dxdraw = new Float64Array(n);
  }
}

const scratches = new Map<number, Scratch>();
function scratchFor(n: number): Scratch {
  let s = scratches.get(n);
  if (!s) {
    s = new Scratch(n);
    scratches.set(n, s);
  }
  return s;
}

/** Cells per block side of the coarse skip grid (CPU only: an acceleration, not part of the spec). */
const BLOCK = 4;

/** Block occupancy (OR of the cells of each BLOCK³ block), recomputed per call: cheap next to marching. */
interface Blocks {
  occ: Uint8Array;
  bx: number;
  by: number;
  bz: number;
}
function blocksOf(grid: VoxelGrid): Blocks {
  const cx = grid.res[0] - 1,
    cy = grid.res[1] - 1,
    cz = grid.res[2] - 1;
  const bx = Math.ceil(cx / BLOCK),
    by = Math.ceil(cy / BLOCK),
    bz = Math.ceil(cz / BLOCK);
  const occ = new Uint8Array(bx * by * bz);
  const o = grid.occupancy;
  for (let k = 0, c = 0; k < cz; k++) {
    const kb = ((k / BLOCK) | 0) * bx * by;
    for (let j = 0; j < cy; j++) {
      const jb = kb + ((j / BLOCK) | 0) * bx;
      for (let i = 0; i < cx; i++, c++) if (o[c]) occ[jb + ((i / BLOCK) | 0)] = 1;
    }
  }
  return { occ, bx, by, bz };
}

interface RayOut {
  r: number;
  g: number;
  b: number;
  alpha: number;
  depth: number;
  samples: number;
  recorded: number;
}

/**
 * Marches one ray (forward). When `rec` is given, records what the backward pass needs.
 * `basis` holds the 4 SH basis values of the direction (only [0] is used for shDegree 0).
 */
function marchRay(
  grid: VoxelGrid,
  p: MarchParams,
  ox: number,
  oy: number,
  oz: number,
  dx: number,
  dy: number,
  dz: number,
  basis: Float64Array,
  rec: Scratch | null,
  out: RayOut,
  blocks: Blocks,
): void {
  const { res, box, bgLen, density, color, occupancy } = grid;
  const nx = res[0],
    ny = res[1],
    nz = res[2];
  const cx = nx - 1,
    cy = ny - 1;
  const sy = nx,
    sz = nx * ny;
  const K = colorDims(grid.shDegree);
  const nb = K / 3;
  const E = 1 + bgLen;
  const ctrX = (box.min[0] + box.max[0]) * 0.5,
    ctrY = (box.min[1] + box.max[1]) * 0.5,
    ctrZ = (box.min[2] + box.max[2]) * 0.5;
  const ihX = 2 / (box.max[0] - box.min[0]),
    ihY = 2 / (box.max[1] - box.min[1]),
    ihZ = 2 / (box.max[2] - box.min[2]);
  const gsX = (nx - 1) / (2 * E),
    gsY = (ny - 1) / (2 * E),
    gsZ = (nz - 1) / (2 * E);
  const step = p.stepSize;
  const xscale = step * grid.densityScale;
  const shift = grid.densityShift;
  const unbounded = bgLen > 0;

  let t: number, t1: number;
  // grid coordinates are affine in t inside the (inner) box: g = gA + t·gB
  const gAx = ((ox - ctrX) * ihX + E) * gsX,
    gBx = dx * ihX * gsX;
  const gAy = ((oy - ctrY) * ihY + E) * gsY,
    gBy = dy * ihY * gsY;
  const gAz = ((oz - ctrZ) * ihZ + E) * gsZ,
    gBz = dz * ihZ * gsZ;
  let tInnerExit = Infinity;
  if (unbounded) {
    t = p.near;
    t1 = Infinity;
    // where the ray leaves the inner box (block jumps must not cross it: steps change there)
    for (let a = 0; a < 3; a++) {
      const d = a === 0 ? dx : a === 1 ? dy : dz,
        o = a === 0 ? ox : a === 1 ? oy : oz;
      if (d !== 0) {
        const te = ((d > 0 ? box.max[a] : box.min[a]) - o) / d;
        if (te < tInnerExit) tInnerExit = te;
      }
    }
  } else {
    // ray–box slab test
    let a0 = -Infinity,
      a1 = Infinity;
    const o3x = ox,
      o3y = oy,
      o3z = oz;
    let inv = 1 / dx,
      ta = (box.min[0] - o3x) * inv,
      tb = (box.max[0] - o3x) * inv;
    if (ta > tb) {
      const q = ta;
      ta = tb;
      tb = q;
    }
    if (ta > a0) a0 = ta;
    if (tb < a1) a1 = tb;
    inv = 1 / dy;
    ta = (box.min[1] - o3y) * inv;
    tb = (box.max[1] - o3y) * inv;
    if (ta > tb) {
      const q = ta;
      ta = tb;
      tb = q;
    }
    if (ta > a0) a0 = ta;
    if (tb < a1) a1 = tb;
    inv = 1 / dz;
    ta = (box.min[2] - o3z) * inv;
    tb = (box.max[2] - o3z) * inv;
    if (ta > tb) {
      const q = ta;
      ta = tb;
      tb = q;
    }
    if (ta > a0) a0 = ta;
    if (tb < a1) a1 = tb;
    if (a0 < p.near) a0 = p.near;
    if (!(a1 > a0)) {
      out.r = p.background[0];
      out.g = p.background[1];
      out.b = p.background[2];
      out.alpha = 0;
      out.depth = 0;
      out.samples = 0;
      out.recorded = 0;
      return;
    }
    t = a0 + 0.5 * step;
    t1 = a1;
  }

  let T = 1,
    r = 0,
    g = 0,
    b = 0,
    dsum = 0,
    samples = 0,
    nrec = 0,
    kstep = -1;
  const stopT = p.stopTransmittance,
    farNorm = p.farNorm;
  for (let it = 0; it < p.maxSamples; it++) {
    if (t >= t1) break;
    const px = ox + t * dx,
      py = oy + t * dy,
      pz = oz + t * dz;
    let ux = (px - ctrX) * ihX,
      uy = (py - ctrY) * ihY,
      uz = (pz - ctrZ) * ihZ;
    let dt = step;
    if (unbounded) {
      const ax = ux < 0 ? -ux : ux,
        ay = uy < 0 ? -uy : uy,
        az = uz < 0 ? -uz : uz;
      const n = ax > ay ? (ax > az ? ax : az) : ay > az ? ay : az;
      if (n > 1) {
        if (n > farNorm) break;
        dt = (step * n * n) / bgLen;
        const s = (E - bgLen / n) / n;
        ux *= s;
        uy *= s;
        uz *= s;
      }
    }
    const tHere = t;
    t += dt;
    kstep++;
    const gx = (ux + E) * gsX,
      gy = (uy + E) * gsY,
      gz = (uz + E) * gsZ;
    if (!(gx >= 0 && gy >= 0 && gz >= 0 && gx <= nx - 1 && gy <= ny - 1 && gz <= nz - 1)) continue;
    let i = gx | 0,
      j = gy | 0,
      k = gz | 0;
    if (i > nx - 2) i = nx - 2;
    if (j > ny - 2) j = ny - 2;
    if (k > nz - 2) k = nz - 2;
    if (occupancy[i + cx * (j + cy * k)] === 0) {
      // Empty block: jump to the first sample position past it (same positions as stepping through it).
      const bi = (i / BLOCK) | 0,
        bj = (j / BLOCK) | 0,
        bk = (k / BLOCK) | 0;
      if (dt === step && blocks.occ[bi + blocks.bx * (bj + blocks.by * bk)] === 0) {
        let te = tInnerExit;
        if (gBx !== 0) {
          const q = ((gBx > 0 ? Math.min((bi + 1) * BLOCK, nx - 1) : bi * BLOCK) - gAx) / gBx;
          if (q < te) te = q;
        }
        if (gBy !== 0) {
          const q = ((gBy > 0 ? Math.min((bj + 1) * BLOCK, ny - 1) : bj * BLOCK) - gAy) / gBy;
          if (q < te) te = q;
        }
        if (gBz !== 0) {
          const q = ((gBz > 0 ? Math.min((bk + 1) * BLOCK, nz - 1) : bk * BLOCK) - gAz) / gBz;
          if (q < te) te = q;
        }
        if (te > t && te < Infinity) {
          const jump = Math.ceil((te - t) / step);
          t += jump * step;
          kstep += jump;
        }
      }
      continue;
    }
    const fx = gx - i,
      fy = gy - j,
      fz = gz - k;
    const v = i + nx * (j + ny * k);
    const wx0 = 1 - fx,
      wy0 = 1 - fy,
      wz0 = 1 - fz;
    const w000 = wx0 * wy0 * wz0,
      w100 = fx * wy0 * wz0,
      w010 = wx0 * fy * wz0,
      w110 = fx * fy * wz0;
    const w001 = wx0 * wy0 * fz,
      w101 = fx * wy0 * fz,
      w011 = wx0 * fy * fz,
      w111 = fx * fy * fz;
    const raw =
      w000 * density[v] +
      w100 * density[v + 1] +
      w010 * density[v + sy] +
      w110 * density[v + sy + 1] +
      w001 * density[v + sz] +
      w101 * density[v + sz + 1] +
      w011 * density[v + sy + sz] +
      w111 * density[v + sy + sz + 1];
    const zz = raw + shift;
    const sigma = softplus(zz);
    const x = sigma * xscale;
    const alpha = 1 - Math.exp(-x);
    samples++;
    // colour: trilinear of K features, then SH dot, then sigmoid
    let cr = 0,
      cg = 0,
      cb = 0;
    for (let bi = 0; bi < nb; bi++) {
      const yb = basis[bi];
      const o = bi * 3;
      const q000 = v * K + o,
        q100 = (v + 1) * K + o,
        q010 = (v + sy) * K + o,
        q110 = (v + sy + 1) * K + o;
      const q001 = (v + sz) * K + o,
        q101 = (v + sz + 1) * K + o,
        q011 = (v + sy + sz) * K + o,
        q111 = (v + sy + sz + 1) * K + o;
      cr +=
        yb *
        (w000 * color[q000] +
          w100 * color[q100] +
          w010 * color[q010] +
          w110 * color[q110] +
          w001 * color[q001] +
          w101 * color[q101] +
          w011 * color[q011] +
          w111 * color[q111]);
      cg +=
        yb *
        (w000 * color[q000 + 1] +
          w100 * color[q100 + 1] +
          w010 * color[q010 + 1] +
          w110 * color[q110 + 1] +
          w001 * color[q001 + 1] +
          w101 * color[q101 + 1] +
          w011 * color[q011 + 1] +
          w111 * color[q111 + 1]);
      cb +=
        yb *
        (w000 * color[q000 + 2] +
          w100 * color[q100 + 2] +
          w010 * color[q010 + 2] +
          w110 * color[q110 + 2] +
          w001 * color[q001 + 2] +
          w101 * color[q101 + 2] +
          w011 * color[q011 + 2] +
          w111 * color[q111 + 2]);
    }
    cr = sigmoid(cr);
    cg = sigmoid(cg);
    cb = sigmoid(cb);
    const w = T * alpha;
    r += w * cr;
    g += w * cg;
    b += w * cb;
    dsum += w * tHere;
    T *= 1 - alpha;
    if (rec) {
      rec.base[nrec] = v;
      rec.frac[nrec * 3] = fx;
      rec.frac[nrec * 3 + 1] = fy;
      rec.frac[nrec * 3 + 2] = fz;
      rec.tNext[nrec] = T;
      rec.wgt[nrec] = w;
      rec.col[nrec * 3] = cr;
      rec.col[nrec * 3 + 1] = cg;
      rec.col[nrec * 3 + 2] = cb;
      rec.dxdraw[nrec] = sigmoid(zz) * xscale;
      rec.kstep[nrec] = kstep;
      nrec++;
    }
    if (T < stopT) break;
  }
  const a = 1 - T;
  out.r = r + T * p.background[0];
  out.g = g + T * p.background[1];
  out.b = b + T * p.background[2];
  out.alpha = a;
  out.depth = a < 1e-6 ? 0 : dsum / Math.max(a, 1e-10);
  out.samples = samples;
  out.recorded = nrec;
}

function shBasis(grid: VoxelGrid, dx: number, dy: number, dz: number, basis: Float64Array): void {
  basis[0] = 1;
  if (grid.shDegree === 1) {
    basis[1] = -SH_C1 * dy;
    basis[2] = SH_C1 * dz;
    basis[3] = -SH_C1 * dx;
  }
}

/**
 * Distortion loss of one recorded ray (see MarchParams.distortion): returns L_dist and writes ∂L_dist/∂wᵢ
 * into rec.gw. Samples are in ray order, so Σⱼ wⱼ|sᵢ − sⱼ| comes from prefix sums in O(n).
 */
function distortionGrad(rec: Scratch, n: number, delta: number): number {
  let W = 0,
    MW = 0;
  for (let i = 0; i < n; i++) {
    W += rec.wgt[i];
    MW += rec.wgt[i] * (rec.kstep[i] + 0.5) * delta;
  }
  let Wb = 0,
    MWb = 0,
    L = 0;
  for (let i = 0; i < n; i++) {
    const w = rec.wgt[i],
      m = (rec.kstep[i] + 0.5) * delta;
    // Σ_j w_j |m_i − m_j| = m·W_before − MW_before + (MW_after − m·W_after)
    const Wa = W - Wb - w,
      MWa = MW - MWb - w * m;
    const pair = m * Wb - MWb + MWa - m * Wa;
    L += w * pair + (w * w * delta) / 3;
    rec.gw[i] = 2 * pair + (2 / 3) * w * delta;
    Wb += w;
    MWb += w * m;
  }
  return L;
}

/** Forward render of a batch of rays on the CPU. */
export function renderRaysCpu(grid: VoxelGrid, rays: RayBatch, p: MarchParams, out?: ForwardResult): ForwardResult {
  const n = rays.count;
  const res: ForwardResult = out ?? { rgb: new Float32Array(n * 3), alpha: new Float32Array(n), depth: new Float32Array(n), samples: 0 };
  const basis = new Float64Array(4);
  const o: RayOut = { r: 0, g: 0, b: 0, alpha: 0, depth: 0, samples: 0, recorded: 0 };
  const blocks = blocksOf(grid);
  const { origins, dirs } = rays;
  let samples = 0;
  for (let q = 0; q < n; q++) {
    const dx = dirs[q * 3],
      dy = dirs[q * 3 + 1],
      dz = dirs[q * 3 + 2];
    shBasis(grid, dx, dy, dz, basis);
    marchRay(grid, p, origins[q * 3], origins[q * 3 + 1], origins[q * 3 + 2], dx, dy, dz, basis, null, o, blocks);
    res.rgb[q * 3] = o.r;
    res.rgb[q * 3 + 1] = o.g;
    res.rgb[q * 3 + 2] = o.b;
    res.alpha[q] = o.alpha;
    res.depth[q] = o.depth;
    samples += o.samples;
  }
  res.samples = samples;
  return res;
}

/**
 * Forward + backward of a batch on the CPU: returns the mean squared error (or, with `photometric` 'l1', the mean
 * absolute error, as Instruct-NeRF2NeRF's refit uses) and adds its gradient with respect to the raw density and
 * colour values into `grads`. `lossScale` multiplies the gradient (not the returned loss).
 *
 * With `batch.targetAlpha`, the loss also holds alphaWeight · mean over rays of (α − α*)², α = 1 − T_final.
 * Since T_final = Π(1 − αᵢ) = e^{−Σxᵢ}, ∂α/∂xᵢ = T_final for every sample of the ray.
 */
export function trainRaysCpu(
  grid: VoxelGrid,
  batch: TrainBatch,
  p: MarchParams,
  grads: VoxelGrads,
  lossScale = 1,
  photometric: 'mse' | 'l1' = 'mse',
): TrainResult {
  const n = batch.count;
  const rec = scratchFor(p.maxSamples);
  const basis = new Float64Array(4);
  const o: RayOut = { r: 0, g: 0, b: 0, alpha: 0, depth: 0, samples: 0, recorded: 0 };
  const blocks = blocksOf(grid);
  const { origins, dirs, target } = batch;
  const [nx, ny] = grid.res;
  const sy = nx,
    sz = nx * ny;
  const K = colorDims(grid.shDegree),
    nb = K / 3;
  const gD = grads.density,
    gC = grads.color;
  const l1 = photometric === 'l1';
  const norm = ((l1 ? 1 : 2) / (3 * n)) * lossScale;
  const lambdaDist = p.distortion ?? 0;
  const distScale = (lambdaDist / n) * lossScale;
  const tAlpha = batch.alphaWeight ? batch.targetAlpha : undefined;
  const alphaW = batch.alphaWeight ?? 0;
  let loss = 0,
    samples = 0;
  for (let q = 0; q < n; q++) {
    const dx = dirs[q * 3],
      dy = dirs[q * 3 + 1],
      dz = dirs[q * 3 + 2];
    shBasis(grid, dx, dy, dz, basis);
    marchRay(grid, p, origins[q * 3], origins[q * 3 + 1], origins[q * 3 + 2], dx, dy, dz, basis, rec, o, blocks);
    samples += o.samples;
    const er = o.r - target[q * 3],
      eg = o.g - target[q * 3 + 1],
      eb = o.b - target[q * 3 + 2];
    let gr: number, gg: number, gb: number; // ∂L/∂C
    if (l1) {
      loss += Math.abs(er) + Math.abs(eg) + Math.abs(eb);
      gr = norm * Math.sign(er);
      gg = norm * Math.sign(eg);
      gb = norm * Math.sign(eb);
    } else {
      loss += er * er + eg * eg + eb * eb;
      gr = norm * er;
      gg = norm * eg;
      gb = norm * eb;
    }
    const nr = o.recorded;
    // opacity term: ∂L/∂α = 2·w·(α − α*)/n; ∂α/∂xᵢ = T_final = 1 − α (the returned loss is loss/(3n))
    let gaT = 0;
    if (tAlpha) {
      const ea = o.alpha - tAlpha[q];
      loss += 3 * alphaW * ea * ea;
      gaT = ((2 * alphaW * ea) / n) * lossScale * (1 - o.alpha);
    }
    // the returned loss is loss/(3n), so this adds λ·L_dist/n: the mean over rays
    if (lambdaDist > 0 && nr > 0) loss += 3 * lambdaDist * distortionGrad(rec, nr, p.stepSize);
    // suffix S_i = C − prefix_i
    let Sr = o.r,
      Sg = o.g,
      Sb = o.b;
    let gwSuffix = 0;
    if (lambdaDist > 0) for (let s = 0; s < nr; s++) gwSuffix += rec.gw[s] * rec.wgt[s];
    for (let s = 0; s < o.recorded; s++) {
      const w = rec.wgt[s];
      const cr = rec.col[s * 3],
        cg = rec.col[s * 3 + 1],
        cb = rec.col[s * 3 + 2];
      Sr -= w * cr;
      Sg -= w * cg;
      Sb -= w * cb;
      const Tn = rec.tNext[s];
      // ∂L/∂x_i
      let dLdx = gr * (Tn * cr - Sr) + gg * (Tn * cg - Sg) + gb * (Tn * cb - Sb) + gaT;
      if (lambdaDist > 0) {
        // distortion: ∂/∂x_s = g_s·T_{s+1} − Σ_{i>s} g_i·w_i  (suffix kept in gwSuffix)
        gwSuffix -= rec.gw[s] * w;
        dLdx += distScale * (rec.gw[s] * Tn - gwSuffix);
      }
      const dRaw = dLdx * rec.dxdraw[s];
      // ∂L/∂z (pre-sigmoid colour) = ∂L/∂c · w · c(1−c)
      const zr = gr * w * cr * (1 - cr),
        zg = gg * w * cg * (1 - cg),
        zb = gb * w * cb * (1 - cb);
      const v = rec.base[s];
      const fx = rec.frac[s * 3],
        fy = rec.frac[s * 3 + 1],
        fz = rec.frac[s * 3 + 2];
      const wx0 = 1 - fx,
        wy0 = 1 - fy,
        wz0 = 1 - fz;
      for (let c8 = 0; c8 < 8; c8++) {
        const ex = c8 & 1,
          ey = (c8 >> 1) & 1,
          ez = c8 >> 2;
        const tw = (ex ? fx : wx0) * (ey ? fy : wy0) * (ez ? fz : wz0);
        const vv = v + ex + ey * sy + ez * sz;
        gD[vv] += tw * dRaw;
        const base = vv * K;
        for (let bi = 0; bi < nb; bi++) {
          const f = tw * basis[bi];
          gC[base + bi * 3] += f * zr;
          gC[base + bi * 3 + 1] += f * zg;
          gC[base + bi * 3 + 2] += f * zb;
        }
      }
    }
  }
  return { loss: loss / (3 * n), samples };
}

/** The CPU backend: plain TypeScript over typed arrays, no allocation per sample. */
export class CpuVoxelBackend implements VoxelBackend {
  readonly name = 'cpu' as const;
  private grid: VoxelGrid | null = null;
  async setGrid(grid: VoxelGrid): Promise<void> {
    this.grid = grid;
  }
  private need(): VoxelGrid {
    if (!this.grid) throw new Error('CpuVoxelBackend: setGrid() first');
    return this.grid;
  }
  async render(rays: RayBatch, params: MarchParams): Promise<ForwardResult> {
    return renderRaysCpu(this.need(), rays, params);
  }
  async trainStep(batch: TrainBatch, params: MarchParams, grads: VoxelGrads, opts: TrainOptions = {}): Promise<TrainResult> {
    return trainRaysCpu(this.need(), batch, params, grads, opts.lossScale ?? 1, opts.photometric ?? 'mse');
  }
  dispose(): void {
    this.grid = null;
  }
}
