import { UserError } from '../../core/errors';
import { getGpuDevice } from '../../gpu/device';
import { runnerFor, params, u32, type GpuRunner, type Kernel, type KernelCall } from '../../gpu/runner';
import voxelRenderSource from '../../shaders/voxel_render.wgsl?raw';
import voxelOptimWgsl from '../../shaders/voxel_optim.wgsl?raw';
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
import { cellCount, colorDims, vertexCount, type VoxelGrid } from './voxel-grid';
import type { Vec3 } from '../../core/math';
import { shConstantsWgsl } from '../common/sh';

/** voxel_render.wgsl with the SH constant table in front. */
const voxelRenderWgsl = shConstantsWgsl() + voxelRenderSource;

/**
 * The WebGPU voxel backend: the same interface and results as `CpuVoxelBackend` (voxel-render-cpu.ts), with the
 * marching and the analytic backward in WGSL (src/shaders/voxel_render.wgsl, one thread per ray).
 *
 * - `setGrid` uploads density, colour and the occupancy grid packed to one bit per cell, followed by one bit
 *   per 4³-cell block for empty-space jumps (buffers are reallocated only when the resolution or SH degree changes).
 * - `render` returns rgb/alpha/depth per ray; `trainStep` returns the batch loss (MSE or L1, + the opacity-target
 *   and distortion terms) and adds lossScale · ∂L/∂(raw values) into the host gradient arrays (accumulated on the
 *   GPU with f32 compare-and-swap atomics, then read back).
 * - `trainAndStep` / `readGrid` (FusedVoxelBackend): the whole fit step on the device (train, then
 *   src/shaders/voxel_optim.wgsl: TV + density sparsity, Adam); fit-voxel.ts uses it by default.
 * - Works in the browser (navigator.gpu) and in Node after `installNodeWebGpu()` (src/io/node/node-webgpu.ts; the
 *   CLI calls it for `--backend webgpu`).
 * - Parity with the CPU reference: tests/voxel-webgpu-parity.test.ts, -optim, -fit; speed: bench/voxel-webgpu.ts.
 */
const BINDINGS = ['uniform', 'read', 'read', 'read', 'read', 'storage', 'storage'] as const;
const REG_BINDINGS = ['uniform', 'read', 'read', 'read', 'storage'] as const;
const ADAM_BINDINGS = ['uniform', 'storage', 'storage', 'storage', 'storage', 'storage'] as const;

interface GridBuffers {
  density: GPUBuffer;
  color: GPUBuffer;
  occ: GPUBuffer;
  grads: GPUBuffer;
  /** Adam state for [density | colour], allocated on the first fused step (zero = fresh moments). */
  adam: { m1: GPUBuffer; m2: GPUBuffer; steps: GPUBuffer } | null;
  nV: number;
  K: number;
  key: string;
}

/** One fused step's optimiser settings (the same numbers fit-voxel.ts gives the host Adam and regularisers). */
export interface FusedStepOptions {
  lrDensity: number;
  lrColor: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** Total-variation weights as passed to `gridTotalVariation` (0 = none this step). */
  tvDensity: number;
  tvColor: number;
  /** Density sparsity weight as passed to `densitySparsity` (0 = none this step). */
  sparsity: number;
}

/**
 * A backend that can keep the grid and the optimiser state on the device for a whole fit: `trainAndStep` does
 * forward + backward + regularisers + Adam without copying the grid or gradients to the host (only the loss
 * comes back); `readGrid` copies the device's values into a host grid when the trainer needs them (upsampling,
 * occupancy updates, previews, the end). `setGrid` uploads the host grid; with an unchanged shape the Adam
 * moments are kept, with a new shape (upsampling) they restart from zero, as the host Adam's `setGroup`.
 */
export interface FusedVoxelBackend {
  trainAndStep(batch: TrainBatch, params: MarchParams, o: FusedStepOptions): Promise<TrainResult>;
  readGrid(grid: VoxelGrid): Promise<void>;
}

/** Packs the occupancy bytes to one bit per cell (cell c → bit c & 31 of word c >> 5). */
export function packOccupancy(occ: Uint8Array, out?: Uint32Array): Uint32Array {
  const words = out ?? new Uint32Array(Math.ceil(occ.length / 32) || 1);
  words.fill(0);
  for (let c = 0; c < occ.length; c++) if (occ[c]) words[c >>> 5] |= 1 << (c & 31);
  return words;
}

/** Cells per side of the coarse skip blocks (BLOCK in voxel_render.wgsl, as in voxel-render-cpu.ts). */
const BLOCK = 4;

/** Layout of the occupancy buffer: cell bits, then block bits (see voxel_render.wgsl). */
function occupancyLayout(res: Vec3) {
  const cx = res[0] - 1,
    cy = res[1] - 1,
    cz = res[2] - 1;
  const bx = Math.ceil(cx / BLOCK),
    by = Math.ceil(cy / BLOCK),
    bz = Math.ceil(cz / BLOCK);
  const cellWords = Math.ceil((cx * cy * cz) / 32);
  return { cx, cy, cz, bx, by, bz, cellWords, words: cellWords + Math.ceil((bx * by * bz) / 32) };
}

/** Cell bits followed by block bits (a block is occupied when any of its cells is). */
export function packOccupancyWithBlocks(grid: VoxelGrid, out?: Uint32Array): Uint32Array {
  const L = occupancyLayout(grid.res);
  const words = out && out.length === L.words ? out : new Uint32Array(L.words);
  words.fill(0);
  const o = grid.occupancy;
  for (let k = 0, c = 0; k < L.cz; k++) {
    const kb = ((k / BLOCK) | 0) * L.bx * L.by;
    for (let j = 0; j < L.cy; j++) {
      const jb = kb + ((j / BLOCK) | 0) * L.bx;
      for (let i = 0; i < L.cx; i++, c++) {
        if (!o[c]) continue;
        words[c >>> 5] |= 1 << (c & 31);
        const b = jb + ((i / BLOCK) | 0);
        words[L.cellWords + (b >>> 5)] |= 1 << (b & 31);
      }
    }
  }
  return words;
}

export class WebGpuVoxelBackend implements VoxelBackend, FusedVoxelBackend {
  readonly name = 'webgpu' as const;
  private grid: VoxelGrid | null = null;
  private bufs: GridBuffers | null = null;
  private occWords = new Uint32Array(1);
  private rayBuf: GPUBuffer | null = null;
  private outBuf: GPUBuffer | null = null;
  private dummy: GPUBuffer;
  /** Rays per render dispatch (keeps the scratch buffers bounded for full-image renders). */
  renderChunk = 1 << 18;

  private constructor(
    readonly runner: GpuRunner,
    private readonly kRender: Kernel,
    private readonly kTrain: Kernel,
    private readonly kReg: Kernel,
    private readonly kAdam: Kernel,
  ) {
    this.dummy = runner.buffer(16, 'voxel dummy');
  }

  static async create(device?: GPUDevice): Promise<WebGpuVoxelBackend> {
    const dev = device ?? (await getGpuDevice()); // GpuUnavailableError is a UserError: one line in the CLI
    const runner = runnerFor(dev);
    const [kRender, kTrain, kReg, kAdam] = await Promise.all([
      runner.kernel({ code: voxelRenderWgsl, entry: 'render_rays', bindings: [...BINDINGS], label: 'voxel_render.render_rays' }),
      runner.kernel({ code: voxelRenderWgsl, entry: 'train_rays', bindings: [...BINDINGS], label: 'voxel_render.train_rays' }),
      runner.kernel({ code: voxelOptimWgsl, entry: 'regularize', bindings: [...REG_BINDINGS], label: 'voxel_optim.regularize' }),
      runner.kernel({ code: voxelOptimWgsl, entry: 'adam', bindings: [...ADAM_BINDINGS], label: 'voxel_optim.adam' }),
    ]);
    return new WebGpuVoxelBackend(runner, kRender, kTrain, kReg, kAdam);
  }

  async setGrid(grid: VoxelGrid): Promise<void> {
    const nV = vertexCount(grid.res),
      K = colorDims(grid.shDegree);
    if (grid.density.length !== nV || grid.color.length !== nV * K || grid.occupancy.length !== cellCount(grid.res))
      throw new Error(`voxel grid arrays do not match its resolution ${grid.res.join('×')}`);
    const key = `${grid.res.join('x')}/${K}`;
    const r = this.runner;
    if (!this.bufs || this.bufs.key !== key) {
      const need = nV * (1 + K) * 4,
        limit = r.device.limits.maxStorageBufferBindingSize;
      if (need > limit)
        throw new UserError(
          `a ${grid.res.join('×')} grid${K > 3 ? ' with SH degree 1' : ''} needs ${(need / 2 ** 20).toFixed(0)} MiB GPU buffers, over this device's ${(limit / 2 ** 20).toFixed(0)} MiB limit; use a smaller --res or --backend cpu`,
        );
      this.freeGrid();
      this.bufs = {
        density: r.buffer(nV * 4, 'voxel density'),
        color: r.buffer(nV * K * 4, 'voxel color'),
        occ: r.buffer(occupancyLayout(grid.res).words * 4, 'voxel occupancy'),
        grads: r.buffer(nV * (1 + K) * 4, 'voxel grads'),
        adam: null,
        nV,
        K,
        key,
      };
      this.occWords = new Uint32Array(occupancyLayout(grid.res).words);
    }
    r.upload(this.bufs.density, grid.density);
    r.upload(this.bufs.color, grid.color);
    r.upload(this.bufs.occ, packOccupancyWithBlocks(grid, this.occWords));
    this.grid = grid;
  }

  private need(): { grid: VoxelGrid; bufs: GridBuffers } {
    if (!this.grid || !this.bufs) throw new Error('WebGpuVoxelBackend: setGrid() first');
    return { grid: this.grid, bufs: this.bufs };
  }

  private scratch(which: 'rayBuf' | 'outBuf', bytes: number): GPUBuffer {
    const cur = this[which];
    if (cur && cur.size >= bytes) return cur;
    cur?.destroy();
    const b = this.runner.buffer(Math.max(bytes, 256), which === 'rayBuf' ? 'voxel rays' : 'voxel out');
    this[which] = b;
    return b;
  }

  /**
   * The kernels' `Params` (voxel_render.wgsl; same field order, 4 bytes each, 9 rows of 4). `loss` is given for
   * training: the gradient's scale, L1 or MSE, and the opacity targets' weight (0 = none; targets at 9·count).
   */
  private uniform(grid: VoxelGrid, p: MarchParams, count: number, loss?: { scale: number; l1: boolean; alphaWeight: number }): GPUBuffer {
    const nV = vertexCount(grid.res);
    const L = occupancyLayout(grid.res);
    const scale = loss?.scale ?? 0,
      n = Math.max(count, 1);
    const lossNorm = loss ? ((loss.l1 ? 1 : 2) / (3 * n)) * scale : 0;
    const alphaWeight = loss?.alphaWeight ?? 0;
    return this.runner.uniform(
      params({
        nx: u32(grid.res[0]),
        ny: u32(grid.res[1]),
        nz: u32(grid.res[2]),
        K: u32(colorDims(grid.shDegree)),
        count: u32(count),
        maxSamples: u32(p.maxSamples),
        dirOffset: u32(3 * count),
        unbounded: u32(grid.bgLen > 0 ? 1 : 0),
        bgLen: grid.bgLen,
        densityShift: grid.densityShift,
        densityScale: grid.densityScale,
        stepSize: p.stepSize,
        near: p.near,
        farNorm: p.farNorm,
        stopT: p.stopTransmittance,
        lossNorm,
        minX: grid.box.min[0],
        minY: grid.box.min[1],
        minZ: grid.box.min[2],
        maxX: grid.box.max[0],
        maxY: grid.box.max[1],
        maxZ: grid.box.max[2],
        bgR: p.background[0],
        bgG: p.background[1],
        bgB: p.background[2],
        colorOffset: u32(nV),
        blockWords: u32(L.cellWords),
        bx: u32(L.bx),
        by: u32(L.by),
        targetOffset: u32(6 * count),
        distLambda: p.distortion ?? 0,
        distScale: ((p.distortion ?? 0) / n) * scale,
        l1: u32(loss?.l1 ? 1 : 0),
        alphaOffset: u32(9 * count),
        alphaWeight,
        alphaGrad: ((2 * alphaWeight) / n) * scale,
      }),
      'voxel params',
    );
  }

  async render(rays: RayBatch, p: MarchParams): Promise<ForwardResult> {
    const { grid, bufs } = this.need();
    const n = rays.count;
    const out: ForwardResult = { rgb: new Float32Array(n * 3), alpha: new Float32Array(n), depth: new Float32Array(n), samples: 0 };
    if (n === 0) return out;
    const CHUNK = this.renderChunk;
    for (let s = 0; s < n; s += CHUNK) {
      const m = Math.min(CHUNK, n - s);
      const rayBuf = this.scratch('rayBuf', m * 6 * 4);
      const outBuf = this.scratch('outBuf', m * 6 * 4);
      this.runner.upload(rayBuf, rays.origins.subarray(s * 3, (s + m) * 3));
      this.runner.upload(rayBuf, rays.dirs.subarray(s * 3, (s + m) * 3), m * 3 * 4);
      const uni = this.uniform(grid, p, m);
      this.runner.run(
        [{ kernel: this.kRender, buffers: [uni, bufs.density, bufs.color, bufs.occ, rayBuf, outBuf, this.dummy], threads: m }],
        'voxel render',
      );
      const res = await this.runner.readF32(outBuf, 0, m * 6);
      uni.destroy();
      out.rgb.set(res.subarray(0, m * 3), s * 3);
      out.alpha.set(res.subarray(m * 3, m * 4), s);
      out.depth.set(res.subarray(m * 4, m * 5), s);
      let samples = 0;
      for (let q = m * 5; q < m * 6; q++) samples += res[q];
      out.samples += samples;
    }
    return out;
  }

  /**
   * Uploads a training batch and returns the calls of forward + backward (gradients into bufs.grads, zeroed first).
   * Ray buffer: origins, directions, target rgb (3 floats per ray each), then the opacity targets (1 per ray) when
   * the batch has them, as the CPU twin: `targetAlpha` with a non-zero `alphaWeight`.
   */
  private trainCalls(
    grid: VoxelGrid,
    bufs: GridBuffers,
    batch: TrainBatch,
    p: MarchParams,
    opts: TrainOptions,
  ): { calls: KernelCall[]; outBuf: GPUBuffer; uni: GPUBuffer } {
    const n = batch.count;
    const alphaWeight = batch.targetAlpha && batch.alphaWeight ? batch.alphaWeight : 0;
    if (alphaWeight && batch.targetAlpha!.length < n)
      throw new Error(`TrainBatch.targetAlpha has ${batch.targetAlpha!.length} values for ${n} rays`);
    const rayBuf = this.scratch('rayBuf', n * (alphaWeight ? 10 : 9) * 4);
    const outBuf = this.scratch('outBuf', n * 2 * 4);
    this.runner.upload(rayBuf, batch.origins.subarray(0, n * 3));
    this.runner.upload(rayBuf, batch.dirs.subarray(0, n * 3), n * 3 * 4);
    this.runner.upload(rayBuf, batch.target.subarray(0, n * 3), n * 6 * 4);
    if (alphaWeight) this.runner.upload(rayBuf, batch.targetAlpha!.subarray(0, n), n * 9 * 4);
    this.runner.zero(bufs.grads);
    const uni = this.uniform(grid, p, n, { scale: opts.lossScale ?? 1, l1: (opts.photometric ?? 'mse') === 'l1', alphaWeight });
    return {
      calls: [{ kernel: this.kTrain, buffers: [uni, bufs.density, bufs.color, bufs.occ, rayBuf, outBuf, bufs.grads], threads: n }],
      outBuf,
      uni,
    };
  }

  private async lossOf(outBuf: GPUBuffer, n: number): Promise<TrainResult> {
    const res = await this.runner.readF32(outBuf, 0, n * 2);
    let loss = 0,
      samples = 0;
    for (let q = 0; q < n; q++) {
      loss += res[q * 2];
      samples += res[q * 2 + 1];
    }
    return { loss: loss / (3 * n), samples };
  }

  async trainStep(batch: TrainBatch, p: MarchParams, grads: VoxelGrads, opts: TrainOptions = {}): Promise<TrainResult> {
    const { grid, bufs } = this.needGrads(grads);
    const n = batch.count;
    if (n === 0) return { loss: 0, samples: 0 };
    const { calls, outBuf, uni } = this.trainCalls(grid, bufs, batch, p, opts);
    this.runner.run(calls, 'voxel train');
    const [res, g] = await Promise.all([this.lossOf(outBuf, n), this.runner.readF32(bufs.grads, 0, bufs.nV * (1 + bufs.K))]);
    uni.destroy();
    const gD = grads.density,
      gC = grads.color,
      nV = bufs.nV;
    for (let v = 0; v < nV; v++) gD[v] += g[v];
    for (let c = 0, m = gC.length; c < m; c++) gC[c] += g[nV + c];
    return res;
  }

  /** Forward + backward + TV / sparsity + Adam, all on the device; only the loss is read back. */
  async trainAndStep(batch: TrainBatch, p: MarchParams, o: FusedStepOptions): Promise<TrainResult> {
    const { grid, bufs } = this.need();
    const n = batch.count;
    if (n === 0) return { loss: 0, samples: 0 };
    const r = this.runner,
      nV = bufs.nV,
      K = bufs.K,
      total = nV * (1 + K);
    if (!bufs.adam)
      bufs.adam = { m1: r.buffer(total * 4, 'adam m'), m2: r.buffer(total * 4, 'adam v'), steps: r.buffer(total * 4, 'adam t') };
    // the fit's loss: MSE, gradient scale 1 (a batch's opacity targets would count as in trainStep; fit-voxel.ts's carry none)
    const { calls, outBuf, uni } = this.trainCalls(grid, bufs, batch, p, {});
    const uniforms = [uni];
    const [nx, ny, nz] = grid.res;
    if (o.tvDensity > 0 || o.tvColor > 0 || o.sparsity > 0) {
      const ru = r.uniform(
        params({
          nx: u32(nx),
          ny: u32(ny),
          nz: u32(nz),
          K: u32(K),
          sTvD: o.tvDensity / (nV * 3),
          sTvC: o.tvColor / (nV * 3 * 3),
          sSparse: o.sparsity / nV,
          densityShift: grid.densityShift,
        }),
        'voxel reg params',
      );
      uniforms.push(ru);
      calls.push({ kernel: this.kReg, buffers: [ru, bufs.density, bufs.color, bufs.occ, bufs.grads], threads: total });
    }
    const { m1, m2, steps } = bufs.adam;
    for (const [param, count, offset, lr] of [
      [bufs.density, nV, 0, o.lrDensity],
      [bufs.color, nV * K, nV, o.lrColor],
    ] as const) {
      const au = r.uniform(
        params({ n: u32(count), offset: u32(offset), lr, beta1: o.beta1, beta2: o.beta2, eps: o.eps, pad0: u32(0), pad1: u32(0) }),
        'adam params',
      );
      uniforms.push(au);
      calls.push({ kernel: this.kAdam, buffers: [au, param, bufs.grads, m1, m2, steps], threads: count });
    }
    r.run(calls, 'voxel fused step');
    const res = await this.lossOf(outBuf, n);
    for (const u of uniforms) u.destroy();
    return res;
  }

  /** Copies the device's density and colour into `grid` (same shape as the bound grid). */
  async readGrid(grid: VoxelGrid): Promise<void> {
    const { bufs } = this.need();
    if (grid.density.length !== bufs.nV || grid.color.length !== bufs.nV * bufs.K)
      throw new Error('WebGpuVoxelBackend.readGrid: grid shape differs from the bound grid');
    const [d, c] = await Promise.all([this.runner.readF32(bufs.density, 0, bufs.nV), this.runner.readF32(bufs.color, 0, bufs.nV * bufs.K)]);
    grid.density.set(d);
    grid.color.set(c);
  }

  private needGrads(grads: VoxelGrads): { grid: VoxelGrid; bufs: GridBuffers } {
    const r = this.need();
    if (grads.density.length !== r.bufs.nV || grads.color.length !== r.bufs.nV * r.bufs.K)
      throw new Error('WebGpuVoxelBackend: gradient arrays do not match the grid');
    return r;
  }

  private freeGrid(): void {
    if (!this.bufs) return;
    for (const b of [this.bufs.density, this.bufs.color, this.bufs.occ, this.bufs.grads]) b.destroy();
    if (this.bufs.adam) for (const b of Object.values(this.bufs.adam)) b.destroy();
    this.bufs = null;
  }

  dispose(): void {
    this.freeGrid();
    this.rayBuf?.destroy();
    this.outBuf?.destroy();
    this.dummy.destroy();
    this.rayBuf = this.outBuf = null;
    this.grid = null;
  }
}

/** Factory used by `createVoxelBackend('webgpu')` (voxel-backend.ts). */
export function createWebGpuVoxelBackend(device?: GPUDevice): Promise<WebGpuVoxelBackend> {
  return WebGpuVoxelBackend.create(device);
}
