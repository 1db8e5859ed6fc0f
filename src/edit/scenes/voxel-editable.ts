import type { Camera } from '../../core/camera';
import type { Image } from '../../core/image';
import { createImage } from '../../core/image';
import { cameraRays, pixelRay } from '../../core/rays';
import { Adam } from '../../nerf/common/adam';
import type { MarchParams, RayBatch, TrainBatch, VoxelBackend, VoxelGrads } from '../../nerf/voxel/voxel-backend';
import { defaultMarchParams } from '../../nerf/voxel/voxel-backend';
import type { VoxelGrid } from '../../nerf/voxel/voxel-grid';
import { cloneGrid, colorDims, downsampleGrid, resampleGrid } from '../../nerf/voxel/voxel-grid';
import { CpuVoxelBackend } from '../../nerf/voxel/voxel-render-cpu';
import type { AlphaTarget, EditableScene, PhotometricLoss, SourceRender, StateBlob } from './editable';
import type { Region } from '../regions/regions';
import { type Vec3, sigmoid, softplus } from '../../core/math';

/** World position of grid vertex (i, j, k), inverting the ∞-norm contraction for unbounded grids. */
export function vertexWorld(grid: Pick<VoxelGrid, 'res' | 'box' | 'bgLen'>, i: number, j: number, k: number, out: number[]): void {
  const E = 1 + grid.bgLen;
  const u = [i, j, k].map((g, a) => (g / (grid.res[a] - 1)) * 2 * E - E);
  const n = Math.max(Math.abs(u[0]), Math.abs(u[1]), Math.abs(u[2]));
  if (grid.bgLen > 0 && n > 1) {
    // contracted norm n = (1 + b) − b / m  ⇒  m = b / (1 + b − n); far shell (n → 1 + b) maps to ∞
    const m = n >= E - 1e-6 ? 1e6 : grid.bgLen / (E - n);
    for (let a = 0; a < 3; a++) u[a] *= m / n;
  }
  for (let a = 0; a < 3; a++) out[a] = (grid.box.min[a] + grid.box.max[a]) / 2 + (u[a] * (grid.box.max[a] - grid.box.min[a])) / 2;
}

/** Per-vertex region mask M (1 inside), dilated by `dilate` vertices so edited surfaces on the region's boundary are kept. */
export function vertexRegionMask(grid: Pick<VoxelGrid, 'res' | 'box' | 'bgLen'>, region: Region, dilate = 1): Uint8Array {
  const [nx, ny, nz] = grid.res;
  const m = new Uint8Array(nx * ny * nz);
  const p = [0, 0, 0];
  for (let k = 0, v = 0; k < nz; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++, v++) {
        vertexWorld(grid, i, j, k, p);
        if (region.inside(p[0], p[1], p[2])) m[v] = 1;
      }
  let cur = m;
  for (let d = 0; d < dilate; d++) {
    const nxt = cur.slice();
    for (let k = 0, v = 0; k < nz; k++)
      for (let j = 0; j < ny; j++)
        for (let i = 0; i < nx; i++, v++) {
          if (cur[v]) continue;
          if (
            (i > 0 && cur[v - 1]) ||
            (i < nx - 1 && cur[v + 1]) ||
            (j > 0 && cur[v - nx]) ||
            (j < ny - 1 && cur[v + nx]) ||
            (k > 0 && cur[v - nx * ny]) ||
            (k < nz - 1 && cur[v + nx * ny])
          )
            nxt[v] = 1;
        }
    cur = nxt;
  }
  return cur;
}

/** Vox-E merge: G = M·G_edit + (1−M)·G_orig on raw density and colour (same resolution). */
export function mergeGrids(edit: VoxelGrid, orig: VoxelGrid, mask: Uint8Array): VoxelGrid {
  const out = cloneGrid(orig);
  const K = colorDims(orig.shDegree);
  for (let v = 0; v < mask.length; v++) {
    if (!mask[v]) continue;
    out.density[v] = edit.density[v];
    for (let c = 0; c < K; c++) out.color[v * K + c] = edit.color[v * K + c];
  }
  // occupancy: the original's, plus every cell touching the region (it may have gained density)
  markRegionCells(out, mask);
  return out;
}

/** Sets occupancy to 1 for every cell with a masked vertex (so the region can gain or change density). */
export function markRegionCells(grid: VoxelGrid, mask: Uint8Array): void {
  const [nx, ny, nz] = grid.res;
  const cx = nx - 1,
    cy = ny - 1,
    cz = nz - 1;
  for (let k = 0; k < cz; k++)
    for (let j = 0; j < cy; j++)
      for (let i = 0; i < cx; i++) {
        const v = i + nx * (j + ny * k);
        if (
          mask[v] ||
          mask[v + 1] ||
          mask[v + nx] ||
          mask[v + nx + 1] ||
          mask[v + nx * ny] ||
          mask[v + nx * ny + 1] ||
          mask[v + nx * ny + nx] ||
          mask[v + nx * ny + nx + 1]
        )
          grid.occupancy[i + cx * (j + cy * k)] = 1;
      }
}

export interface VoxelEditOptions {
  /** Adam learning rates on raw density and raw colour. */
  lrDensity: number;
  lrColor: number;
  /** Vox-E Pearson density regulariser weight (0 = off). */
  pearsonWeight: number;
  /** Only vertices inside the (dilated) region are updated (the merge would discard the rest anyway). */
  gate: boolean;
  /**
   * Total variation on the raw colour of the region's vertices (weight per step, mean over vertex pairs).
   * Vertices the edit's rays barely see (just behind a surface) follow their neighbours instead of keeping
   * the old colour, which otherwise shows as a faint voxel-grid pattern on recoloured surfaces.
   */
  tvColor: number;
}

export const VOXEL_EDIT_DEFAULTS: VoxelEditOptions = { lrDensity: 0.01, lrColor: 0.1, pearsonWeight: 0, gate: true, tvColor: 0.01 };

/** Where an edit's renders and gradients run: one backend for the working grid, one for the frozen original. */
export interface VoxelEditBackends {
  work: VoxelBackend;
  source: VoxelBackend;
}

/**
 * A voxel grid under edit: the working grid (possibly at a reduced resolution, Instruct 3D-to-3D dynamic
 * scaling), the frozen original, the region mask M and an Adam optimiser on the host. Renders and ray
 * gradients run on a VoxelBackend (the CPU reference by default, or WebGPU: the grid is uploaded after each
 * optimiser step, as fitVoxel's non-fused path does); the march parameters are the original grid's.
 */
export class VoxelEditable implements EditableScene {
  readonly kind = 'voxel' as const;
  readonly orig: VoxelGrid;
  grid: VoxelGrid;
  level = 0;
  private origAtLevel: VoxelGrid;
  private mask: Uint8Array | null;
  private grads!: VoxelGrads;
  private adam!: Adam;
  private params: MarchParams;
  private paramsAtLevel: MarchParams;
  private pearsonCache: {
    idx: Uint32Array;
    sigmaOrig: Float64Array;
    A: number;
    B: number;
    AA: number;
    BB: number;
    AB: number;
    n: number;
  } | null = null;
  private readonly opts: VoxelEditOptions;

  private readonly backends: VoxelEditBackends;
  /** The working grid changed on the host since the work backend last saw it. */
  private dirty = true;
  private sourceBound = false;

  /**
   * `params`: the scene's march parameters (default: half-voxel steps); kept at every level (world units).
   * `backends`: where renders and gradients run (default: the CPU reference for both).
   */
  constructor(
    orig: VoxelGrid,
    readonly background: [number, number, number],
    readonly region: Region | undefined,
    opts: Partial<VoxelEditOptions> = {},
    params?: MarchParams,
    backends?: VoxelEditBackends,
  ) {
    this.opts = { ...VOXEL_EDIT_DEFAULTS, ...opts };
    this.backends = backends ?? { work: new CpuVoxelBackend(), source: new CpuVoxelBackend() };
    this.orig = cloneGrid(orig);
    this.params = params ?? defaultMarchParams(orig, background as Vec3);
    this.paramsAtLevel = this.params;
    this.origAtLevel = this.orig;
    this.grid = cloneGrid(orig);
    this.mask = region ? vertexRegionMask(this.grid, region) : null;
    if (this.mask) markRegionCells(this.grid, this.mask);
    this.resetOptimizer();
  }

  private resetOptimizer(): void {
    this.grads = { density: new Float32Array(this.grid.density.length), color: new Float32Array(this.grid.color.length) };
    this.adam = new Adam([
      { name: 'density', params: this.grid.density, grads: this.grads.density, lr: this.opts.lrDensity },
      { name: 'color', params: this.grid.color, grads: this.grads.color, lr: this.opts.lrColor },
    ]);
    this.pearsonCache = null;
  }

  get backendName(): string {
    return this.backends.work.name;
  }

  /** The working grid's backend, bound to the current grid. */
  private async work(): Promise<VoxelBackend> {
    if (this.dirty) {
      await this.backends.work.setGrid(this.grid);
      this.dirty = false;
    }
    return this.backends.work;
  }

  private async renderRays(rays: RayBatch, source: boolean) {
    if (source) {
      if (!this.sourceBound) {
        await this.backends.source.setGrid(this.orig);
        this.sourceBound = true;
      }
      return this.backends.source.render(rays, this.params);
    }
    return (await this.work()).render(rays, this.paramsAtLevel);
  }

  private async renderView(cam: Camera, source: boolean): Promise<SourceRender> {
    const f = await this.renderRays(cameraRays(cam), source);
    const img = createImage(cam.width, cam.height, 3);
    img.data.set(f.rgb);
    return { image: img, alpha: f.alpha };
  }

  async render(cam: Camera): Promise<Image> {
    return (await this.renderView(cam, false)).image;
  }

  async renderPixels(cam: Camera, pixels: Uint32Array, base: Image): Promise<Image | null> {
    if (!(this.opts.gate && this.mask)) return null;
    const f = await this.renderRays(pixelRays(cam, pixels, base), false);
    const img = { ...base, data: base.data.slice() };
    for (let r = 0; r < pixels.length; r++) for (let c = 0; c < 3; c++) img.data[pixels[r] * base.channels + c] = f.rgb[r * 3 + c];
    return img;
  }

  async renderSource(cam: Camera): Promise<Image> {
    return (await this.renderView(cam, true)).image;
  }

  async renderSourceWithAlpha(cam: Camera): Promise<SourceRender> {
    return this.renderView(cam, true);
  }

  async addRayLoss(batch: TrainBatch, scale: number, photometric: PhotometricLoss = 'mse'): Promise<number> {
    return (await (await this.work()).trainStep(batch, this.paramsAtLevel, this.grads, { lossScale: scale, photometric })).loss;
  }

  async addViewLoss(
    cam: Camera,
    target: Image,
    pixels: ArrayLike<number>,
    scale: number,
    photometric: PhotometricLoss = 'mse',
    alpha?: AlphaTarget,
  ): Promise<number> {
    if (!pixels.length) return 0;
    const batch = pixelRays(cam, pixels, target);
    if (alpha) {
      batch.targetAlpha = Float32Array.from(pixels, (p) => alpha.target[p]);
      batch.alphaWeight = alpha.weight;
    }
    return this.addRayLoss(batch, scale, photometric);
  }

  regularize(): number {
    return this.colorTv() + this.pearson();
  }

  /** TV on the colour of masked vertices (see VoxelEditOptions.tvColor). */
  private colorTv(): number {
    const w = this.opts.tvColor;
    if (!(w > 0) || !this.mask) return 0;
    const m = this.level === 0 ? this.mask : this.levelMask();
    const [nx, ny, nz] = this.grid.res;
    const K = colorDims(this.grid.shDegree);
    const col = this.grid.color,
      g = this.grads.color;
    let pairs = 0;
    for (let v = 0; v < m.length; v++) if (m[v]) pairs += 3;
    const s = w / Math.max(1, pairs * 3);
    let loss = 0;
    for (let k = 0, v = 0; k < nz; k++)
      for (let j = 0; j < ny; j++)
        for (let i = 0; i < nx; i++, v++) {
          if (!m[v]) continue;
          for (const [ok, q] of [
            [i + 1 < nx, v + 1],
            [j + 1 < ny, v + nx],
            [k + 1 < nz, v + nx * ny],
          ] as [boolean, number][]) {
            if (!ok || !m[q]) continue;
            for (let c = 0; c < 3; c++) {
              const d = col[v * K + c] - col[q * K + c];
              loss += d * d;
              g[v * K + c] += 2 * s * d;
              g[q * K + c] -= 2 * s * d;
            }
          }
        }
    return loss * s;
  }

  /**
   * Vox-E's Pearson density term over every vertex of the grid. With a gated region only the region's
   * vertices can change, so the sums over the others are computed once per level and only the region's
   * vertices are revisited each step (same value and gradient, a fraction of the cost).
   */
  private pearson(): number {
    const w = this.opts.pearsonWeight;
    if (!(w > 0)) return 0;
    const g = this.grid,
      shift = g.densityShift;
    if (!this.pearsonCache) {
      const o = this.origAtLevel;
      const m = this.mask && this.opts.gate ? this.levelMask() : null;
      const idx: number[] = [];
      let A = 0,
        B = 0,
        AA = 0,
        BB = 0,
        AB = 0;
      for (let i = 0; i < o.density.length; i++) {
        if (!m || m[i]) {
          idx.push(i);
          continue;
        }
        const a = softplus(o.density[i] + shift),
          b = softplus(g.density[i] + shift);
        A += a;
        B += b;
        AA += a * a;
        BB += b * b;
        AB += a * b;
      }
      const sigmaOrig = new Float64Array(idx.length);
      for (let j = 0; j < idx.length; j++) sigmaOrig[j] = softplus(o.density[idx[j]] + shift);
      this.pearsonCache = { idx: Uint32Array.from(idx), sigmaOrig, A, B, AA, BB, AB, n: o.density.length };
    }
    const c = this.pearsonCache;
    const { idx, sigmaOrig } = c;
    let A = c.A,
      B = c.B,
      AA = c.AA,
      BB = c.BB,
      AB = c.AB;
    const sigma = new Float64Array(idx.length);
    for (let j = 0; j < idx.length; j++) {
      const a = sigmaOrig[j],
        b = (sigma[j] = softplus(g.density[idx[j]] + shift));
      A += a;
      B += b;
      AA += a * a;
      BB += b * b;
      AB += a * b;
    }
    const n = c.n,
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
      const d = -w * ((sigmaOrig[j] - ma) / sab - (r * (sigma[j] - mb)) / vb);
      this.grads.density[v] += d * sigmoid(g.density[v] + shift);
    }
    return w * (1 - r);
  }

  step(): void {
    if (this.opts.gate && this.mask) {
      const m = this.levelMask();
      const K = colorDims(this.grid.shDegree);
      for (let v = 0; v < m.length; v++)
        if (!m[v]) {
          this.grads.density[v] = 0;
          for (let c = 0; c < K; c++) this.grads.color[v * K + c] = 0;
        }
    }
    this.adam.step();
    this.dirty = true;
  }

  private levelMaskCache: { level: number; mask: Uint8Array } | null = null;
  private levelMask(): Uint8Array {
    if (this.level === 0) return this.mask!;
    if (this.levelMaskCache?.level !== this.level)
      this.levelMaskCache = { level: this.level, mask: vertexRegionMask(this.grid, this.region!, 1) };
    return this.levelMaskCache.mask;
  }

  setLevel(level: number): void {
    if (level === this.level) return;
    if (level > 0) {
      // N → N / 2^l: start the edit coarse (from the current grid)
      this.grid = downsampleGrid(this.level === 0 ? this.grid : resampleGrid(this.grid, this.orig.res), level);
      this.origAtLevel = downsampleGrid(this.orig, level);
      this.grid.occupancy.set(occupancyFrom(this.orig, this.grid));
    } else {
      // back to N: the original at full resolution plus the coarse edit's CHANGE, upsampled (so detail the
      // coarse grid could not hold, e.g. thin surfaces, is kept wherever the edit did not touch it); then the
      // original outside the region
      const delta = cloneGrid(this.grid);
      for (let i = 0; i < delta.density.length; i++) delta.density[i] -= this.origAtLevel.density[i];
      for (let i = 0; i < delta.color.length; i++) delta.color[i] -= this.origAtLevel.color[i];
      const up = resampleGrid(delta, this.orig.res);
      for (let i = 0; i < up.density.length; i++) up.density[i] += this.orig.density[i];
      for (let i = 0; i < up.color.length; i++) up.color[i] += this.orig.color[i];
      this.grid = this.mask ? mergeGrids(up, this.orig, this.mask) : (up.occupancy.set(this.orig.occupancy), up);
      this.origAtLevel = this.orig;
    }
    if (this.mask && level > 0) markRegionCells(this.grid, vertexRegionMask(this.grid, this.region!, 1));
    this.level = level;
    this.resetOptimizer();
    this.dirty = true;
  }

  saveState(): StateBlob {
    const arrays: StateBlob['arrays'] = { density: this.grid.density, color: this.grid.color, occupancy: this.grid.occupancy };
    for (const name of ['density', 'color']) {
      const s = this.adam.exportState(name);
      arrays[`adam.${name}.m`] = s.m;
      arrays[`adam.${name}.v`] = s.v;
      arrays[`adam.${name}.t`] = s.t;
    }
    return { meta: { level: this.level, res: this.grid.res, adamSteps: this.adam.steps }, arrays };
  }

  loadState(s: StateBlob): void {
    this.setLevel(s.meta.level as number);
    this.grid.density.set(s.arrays.density as Float32Array);
    this.grid.color.set(s.arrays.color as Float32Array);
    this.grid.occupancy.set(s.arrays.occupancy as Uint8Array);
    for (const name of ['density', 'color'])
      this.adam.importState(name, {
        m: s.arrays[`adam.${name}.m`] as Float32Array,
        v: s.arrays[`adam.${name}.v`] as Float32Array,
        t: s.arrays[`adam.${name}.t`] as Uint32Array,
      });
    this.adam.steps = s.meta.adamSteps as number;
    this.pearsonCache = null;
    this.dirty = true;
  }

  finalize(): void {
    if (this.level !== 0) this.setLevel(0);
    if (this.mask) this.grid = mergeGrids(this.grid, this.orig, this.mask);
    this.dirty = true;
  }

  /** Frees the backends' device memory (the scene can still be saved; renders rebind). */
  dispose(): void {
    this.backends.work.dispose();
    this.backends.source.dispose();
    this.dirty = true;
    this.sourceBound = false;
  }
}

/** Occupancy for a coarse grid: a cell is occupied when any fine cell it covers is (conservative). */
function occupancyFrom(fine: VoxelGrid, coarse: VoxelGrid): Uint8Array {
  // coarse grid is a resample of the original over the same box: mark coarse cells by their density like the original's rule
  const [nx, ny, nz] = coarse.res;
  const occ = new Uint8Array((nx - 1) * (ny - 1) * (nz - 1));
  const [fx, fy, fz] = fine.res;
  for (let k = 0; k < fz - 1; k++)
    for (let j = 0; j < fy - 1; j++)
      for (let i = 0; i < fx - 1; i++) {
        if (!fine.occupancy[i + (fx - 1) * (j + (fy - 1) * k)]) continue;
        const ci = Math.min(nx - 2, Math.floor(((i + 0.5) / (fx - 1)) * (nx - 1)));
        const cj = Math.min(ny - 2, Math.floor(((j + 0.5) / (fy - 1)) * (ny - 1)));
        const ck = Math.min(nz - 2, Math.floor(((k + 0.5) / (fz - 1)) * (nz - 1)));
        occ[ci + (nx - 1) * (cj + (ny - 1) * ck)] = 1;
      }
  return occ;
}

/** Rays through given pixels of a camera, targets from an image. */
export function pixelRays(cam: Camera, pixels: ArrayLike<number>, target: Image): TrainBatch {
  const n = pixels.length;
  const origins = new Float32Array(n * 3),
    dirs = new Float32Array(n * 3),
    tgt = new Float32Array(n * 3);
  for (let r = 0; r < n; r++) {
    const p = pixels[r];
    const x = p % cam.width,
      y = (p - x) / cam.width;
    pixelRay(cam, x, y, origins, dirs, r);
    for (let c = 0; c < 3; c++) tgt[r * 3 + c] = target.data[p * target.channels + c];
  }
  return { origins, dirs, target: tgt, count: n };
}
