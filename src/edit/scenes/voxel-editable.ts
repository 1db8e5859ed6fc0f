import type { Camera } from '../../core/camera';
import type { Image } from '../../core/image';
import { createImage } from '../../core/image';
import { cameraRays } from '../../core/rays';
import { pixelRays } from '../../core/ray-samples';
import { Adam } from '../../nerf/common/adam';
import type { MarchParams, RayBatch, VoxelBackend, VoxelGrads } from '../../nerf/voxel/voxel-backend';
import { defaultMarchParams } from '../../nerf/voxel/voxel-backend';
import type { VoxelGrid } from '../../nerf/voxel/voxel-grid';
import { cloneGrid, colorDims, downsampleGrid, resampleGrid } from '../../nerf/voxel/voxel-grid';
import {
  coarseOccupancy,
  markRegionCells,
  maskInsideTest,
  mergeGrids,
  vertexRegionMask,
  type InsideTest,
} from '../../nerf/voxel/voxel-grid-ops';
import { PearsonDensityTerm, totalVariation } from '../../nerf/voxel/voxel-regularizers';
import { CpuVoxelBackend, renderRaysCpu } from '../../nerf/voxel/voxel-render-cpu';
import type { EditableScene, LossSamples, LossTerm, SourceRender, StateBlob } from './editable';
import type { Region } from '../regions/regions';
import type { Vec3 } from '../../core/math';

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

/** What a voxel edit exports: the edited grid (merged with the original outside the region). */
export interface EditedVoxels {
  kind: 'voxel';
  grid: VoxelGrid;
  background: [number, number, number];
  /** What the scene adds to the edit log. */
  log: Record<string, unknown>;
}

/**
 * A voxel grid under edit: the working grid (possibly at a reduced resolution, Instruct 3D-to-3D dynamic
 * scaling), the frozen original, the region mask M and an Adam optimiser on the host. Renders and ray
 * gradients run on a VoxelBackend (the CPU reference by default, or WebGPU: the grid is uploaded after each
 * optimiser step, as fitVoxel's non-fused path does); the march parameters are the original grid's.
 */
export class VoxelEditable implements EditableScene<EditedVoxels> {
  readonly kind = 'voxel' as const;
  readonly sampling = 'rays' as const;
  readonly orig: VoxelGrid;
  grid: VoxelGrid;
  level = 0;
  private origAtLevel: VoxelGrid;
  /** The vertices the edit may change at full resolution (null without a region): the region's, or an object selection's. */
  private readonly mask: Uint8Array | null;
  /** What `mask` covers, as a test on world points (coarser levels of dynamic scaling resample it). */
  private readonly maskTest: InsideTest | null;
  private grads!: VoxelGrads;
  private adam!: Adam;
  private params: MarchParams;
  private paramsAtLevel: MarchParams;
  private pearsonTerm: PearsonDensityTerm | null = null;
  private readonly opts: VoxelEditOptions;

  private readonly backends: VoxelEditBackends;
  /** The working grid changed on the host since the work backend last saw it. */
  private dirty = true;
  private sourceBound = false;

  /**
   * `params`: the scene's march parameters (default: half-voxel steps); kept at every level (world units).
   * `backends`: where renders and gradients run (default: the CPU reference for both).
   * `gate`: the vertices the edit may change (an object selection, docs/editing.md); default: the region's,
   * dilated by one vertex.
   */
  constructor(
    orig: VoxelGrid,
    readonly background: [number, number, number],
    readonly region: Region | undefined,
    opts: Partial<VoxelEditOptions> = {},
    params?: MarchParams,
    backends?: VoxelEditBackends,
    gate?: Uint8Array,
  ) {
    this.opts = { ...VOXEL_EDIT_DEFAULTS, ...opts };
    this.backends = backends ?? { work: new CpuVoxelBackend(), source: new CpuVoxelBackend() };
    this.orig = cloneGrid(orig);
    this.params = params ?? defaultMarchParams(orig, background as Vec3);
    this.paramsAtLevel = this.params;
    this.origAtLevel = this.orig;
    this.grid = cloneGrid(orig);
    if (gate && gate.length !== this.grid.density.length)
      throw new Error(`the gate has ${gate.length} vertices, the grid ${this.grid.density.length}`);
    this.mask = gate ? gate.slice() : region ? vertexRegionMask(this.grid, region) : null;
    this.maskTest = gate ? maskInsideTest(this.orig, this.mask!) : (region ?? null);
    if (this.mask) markRegionCells(this.grid, this.mask);
    this.resetOptimizer();
  }

  private resetOptimizer(): void {
    this.grads = { density: new Float32Array(this.grid.density.length), color: new Float32Array(this.grid.color.length) };
    const K = colorDims(this.grid.shDegree);
    this.adam = new Adam([
      { name: 'density', params: this.grid.density, grads: this.grads.density, lr: this.opts.lrDensity },
      { name: 'color', params: this.grid.color, grads: this.grads.color, lr: this.opts.lrColor, width: K },
    ]);
    this.pearsonTerm = null;
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
    return { image: img, alpha: f.alpha, depth: f.depth };
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

  async renderSource(cam: Camera): Promise<SourceRender> {
    const r = await this.renderView(cam, true);
    if (this.mask) {
      // the gate as a colour (±20 in logit: 0 or 1 after the sigmoid), rendered over black with the original's density
      this.gateGrid ??= gateColourGrid(this.orig, this.mask);
      r.gated = renderRaysCpu(this.gateGrid, cameraRays(cam), { ...this.params, background: [0, 0, 0] }).rgb.filter((_, i) => i % 3 === 0);
    }
    return r;
  }
  private gateGrid: VoxelGrid | null = null;

  async addLoss(samples: LossSamples, term: LossTerm): Promise<number> {
    let rays;
    if (samples.kind === 'rays') rays = samples.rays;
    else {
      if (!samples.pixels.length) return 0;
      rays = pixelRays(samples.camera, samples.pixels, samples.target, term.alphaWeight ? samples.targetAlpha : undefined);
    }
    const batch = term.alphaWeight ? { ...rays, alphaWeight: term.alphaWeight } : rays;
    const opts = { lossScale: term.scale, photometric: term.photometric ?? 'mse' };
    return (await (await this.work()).trainStep(batch, this.paramsAtLevel, this.grads, opts)).loss;
  }

  regularize(): number {
    return this.colorTv() + this.pearson();
  }

  /** TV on the colour of masked vertices (see VoxelEditOptions.tvColor). */
  private colorTv(): number {
    const w = this.opts.tvColor;
    if (!(w > 0) || !this.mask) return 0;
    const K = colorDims(this.grid.shDegree);
    return totalVariation(this.grid.color, this.grads.color, this.grid, w, K, 3, false, this.levelMask());
  }

  /**
   * Vox-E's Pearson density term over every vertex of the grid. With a gated region only the region's
   * vertices can change, so the term sums over the others once per level.
   */
  private pearson(): number {
    const w = this.opts.pearsonWeight;
    if (!(w > 0)) return 0;
    this.pearsonTerm ??= new PearsonDensityTerm(this.origAtLevel, this.grid, this.mask && this.opts.gate ? this.levelMask() : null);
    return this.pearsonTerm.apply(this.grid, this.grads.density, w);
  }

  step(): void {
    this.adam.step(this.opts.gate && this.mask ? this.levelMask() : null);
    this.dirty = true;
  }

  private levelMaskCache: { level: number; mask: Uint8Array } | null = null;
  /** The region's vertices at the current level. */
  private levelMask(): Uint8Array {
    if (this.level === 0) return this.mask!;
    if (this.levelMaskCache?.level !== this.level)
      this.levelMaskCache = { level: this.level, mask: vertexRegionMask(this.grid, this.maskTest!, 1) };
    return this.levelMaskCache.mask;
  }

  setLevel(level: number): void {
    if (level === this.level) return;
    if (level > 0) {
      // N → N / 2^l: start the edit coarse (from the current grid)
      this.grid = downsampleGrid(this.level === 0 ? this.grid : resampleGrid(this.grid, this.orig.res), level);
      this.origAtLevel = downsampleGrid(this.orig, level);
      this.grid.occupancy.set(coarseOccupancy(this.orig, this.grid));
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
    this.level = level;
    if (this.mask && level > 0) markRegionCells(this.grid, this.levelMask());
    this.resetOptimizer();
    this.dirty = true;
  }

  saveState(): StateBlob {
    return {
      meta: { level: this.level, res: this.grid.res, adamSteps: this.adam.steps },
      arrays: { density: this.grid.density, color: this.grid.color, occupancy: this.grid.occupancy, ...this.adam.exportState('adam.') },
    };
  }

  loadState(s: StateBlob): void {
    const level = s.meta.level;
    if (!Number.isInteger(level) || (level as number) < 0 || (level as number) > 8)
      throw new Error(`checkpoint holds an invalid resolution level (${String(level)})`);
    // check every array against the grid at that level before changing anything
    const res = (level as number) === 0 ? this.orig.res : downsampleGrid(this.orig, level as number).res;
    if (JSON.stringify(s.meta.res) !== JSON.stringify(res))
      throw new Error(`checkpoint's grid is ${JSON.stringify(s.meta.res)} at level ${level}, this scene's ${JSON.stringify(res)}`);
    const [nx, ny, nz] = res;
    const nv = nx * ny * nz,
      K = colorDims(this.orig.shDegree);
    const want: [string, number, typeof Float32Array | typeof Uint8Array | typeof Uint32Array][] = [
      ['density', nv, Float32Array],
      ['color', nv * K, Float32Array],
      ['occupancy', (nx - 1) * (ny - 1) * (nz - 1), Uint8Array],
    ];
    for (const [group, len] of [
      ['density', nv],
      ['color', nv * K],
    ] as const)
      want.push([`adam.${group}.m`, len, Float32Array], [`adam.${group}.v`, len, Float32Array], [`adam.${group}.t`, len, Uint32Array]);
    for (const [name, len, ctor] of want) {
      const a = s.arrays[name];
      if (!(a instanceof ctor)) throw new Error(`checkpoint has no ${name} array`);
      if (a.length !== len) throw new Error(`checkpoint's ${name} holds ${a.length} values, expected ${len} for a ${res.join('×')} grid`);
    }
    this.setLevel(level as number);
    this.grid.density.set(s.arrays.density as Float32Array);
    this.grid.color.set(s.arrays.color as Float32Array);
    this.grid.occupancy.set(s.arrays.occupancy as Uint8Array);
    this.adam.importState(s.arrays, 'adam.', s.meta.adamSteps as number);
    this.pearsonTerm = null;
    this.dirty = true;
  }

  finalize(): void {
    if (this.level !== 0) this.setLevel(0);
    if (this.mask) this.grid = mergeGrids(this.grid, this.orig, this.mask);
    this.dirty = true;
  }

  export(): EditedVoxels {
    return { kind: 'voxel', grid: this.grid, background: this.background, log: { grid: { res: this.grid.res } } };
  }

  /** Frees the backends' device memory (the scene can still be exported; renders rebind). */
  dispose(): void {
    this.backends.work.dispose();
    this.backends.source.dispose();
    this.dirty = true;
    this.sourceBound = false;
  }
}

/** The grid with every vertex's colour set to its gate value (1 or 0, as ±20 in logit; first SH band only). */
function gateColourGrid(g: VoxelGrid, mask: Uint8Array): VoxelGrid {
  const out = cloneGrid(g);
  const K = colorDims(g.shDegree);
  out.color.fill(0);
  for (let v = 0; v < mask.length; v++) for (let c = 0; c < 3; c++) out.color[v * K + c] = mask[v] ? 20 : -20;
  return out;
}
