import { UserError } from '../core/errors';
import { getGpuDevice, GpuUnavailableError } from '../gpu/device';
import { runnerFor, params, u32, type GpuRunner, type Kernel } from '../gpu/runner';
import voxelRenderWgsl from '../shaders/voxel_render.wgsl?raw';
import type { ForwardResult, MarchParams, RayBatch, TrainBatch, TrainResult, VoxelBackend, VoxelGrads } from './voxel-backend';
import { cellCount, colorDims, vertexCount, type VoxelGrid } from './voxel-grid';

/**
 * The WebGPU voxel backend: the same interface and results as `CpuVoxelBackend` (voxel-render-cpu.ts), with the
 * marching and the analytic backward in WGSL (src/shaders/voxel_render.wgsl, one thread per ray).
 *
 * - `setGrid` uploads density, colour and the occupancy grid packed to one bit per cell (buffers are
 *   reallocated only when the resolution or SH degree changes).
 * - `render` returns rgb/alpha/depth per ray; `trainStep` returns the batch MSE and adds ∂L/∂(raw values) into
 *   the host gradient arrays (accumulated on the GPU with f32 compare-and-swap atomics, then read back).
 * - Works in the browser (navigator.gpu) and in Node after `installNodeWebGpu()` (src/io/node-webgpu.ts; the
 *   CLI calls it for `--backend webgpu`).
 */
const BINDINGS = ['uniform', 'read', 'read', 'read', 'read', 'storage', 'storage'] as const;

interface GridBuffers {
  density: GPUBuffer;
  color: GPUBuffer;
  occ: GPUBuffer;
  grads: GPUBuffer;
  nV: number;
  K: number;
  key: string;
}

/** Packs the occupancy bytes to one bit per cell (cell c → bit c & 31 of word c >> 5). */
export function packOccupancy(occ: Uint8Array, out?: Uint32Array): Uint32Array {
  const words = out ?? new Uint32Array(Math.ceil(occ.length / 32) || 1);
  words.fill(0);
  for (let c = 0; c < occ.length; c++) if (occ[c]) words[c >>> 5] |= 1 << (c & 31);
  return words;
}

export class WebGpuVoxelBackend implements VoxelBackend {
  readonly name = 'webgpu' as const;
  private grid: VoxelGrid | null = null;
  private bufs: GridBuffers | null = null;
  private occWords = new Uint32Array(1);
  private rayBuf: GPUBuffer | null = null;
  private outBuf: GPUBuffer | null = null;
  private dummy: GPUBuffer;

  private constructor(readonly runner: GpuRunner, private readonly kRender: Kernel, private readonly kTrain: Kernel) {
    this.dummy = runner.buffer(16, 'voxel dummy');
  }

  static async create(device?: GPUDevice): Promise<WebGpuVoxelBackend> {
    let dev = device;
    if (!dev) {
      try {
        dev = await getGpuDevice();
      } catch (e) {
        if (e instanceof GpuUnavailableError) throw new UserError(e.message);
        throw e;
      }
    }
    const runner = runnerFor(dev);
    const [kRender, kTrain] = await Promise.all([
      runner.kernel({ code: voxelRenderWgsl, entry: 'render', bindings: [...BINDINGS], label: 'voxel render' }),
      runner.kernel({ code: voxelRenderWgsl, entry: 'train', bindings: [...BINDINGS], label: 'voxel train' }),
    ]);
    return new WebGpuVoxelBackend(runner, kRender, kTrain);
  }

  async setGrid(grid: VoxelGrid): Promise<void> {
    const nV = vertexCount(grid.res), K = colorDims(grid.shDegree);
    if (grid.density.length !== nV || grid.color.length !== nV * K || grid.occupancy.length !== cellCount(grid.res))
      throw new Error(`voxel grid arrays do not match its resolution ${grid.res.join('×')}`);
    const key = `${grid.res.join('x')}/${K}`;
    const r = this.runner;
    if (!this.bufs || this.bufs.key !== key) {
      this.freeGrid();
      this.bufs = {
        density: r.buffer(nV * 4, 'voxel density'),
        color: r.buffer(nV * K * 4, 'voxel color'),
        occ: r.buffer(Math.ceil(cellCount(grid.res) / 32) * 4, 'voxel occupancy'),
        grads: r.buffer(nV * (1 + K) * 4, 'voxel grads'),
        nV, K, key,
      };
      this.occWords = new Uint32Array(Math.ceil(cellCount(grid.res) / 32) || 1);
    }
    r.upload(this.bufs.density, grid.density);
    r.upload(this.bufs.color, grid.color);
    r.upload(this.bufs.occ, packOccupancy(grid.occupancy, this.occWords));
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

  private uniform(grid: VoxelGrid, p: MarchParams, count: number, rayStride: number, lossNorm: number): GPUBuffer {
    const nV = vertexCount(grid.res);
    return this.runner.uniform(params({
      nx: u32(grid.res[0]), ny: u32(grid.res[1]), nz: u32(grid.res[2]), K: u32(colorDims(grid.shDegree)),
      count: u32(count), maxSamples: u32(p.maxSamples), rayStride: u32(rayStride), unbounded: u32(grid.bgLen > 0 ? 1 : 0),
      bgLen: grid.bgLen, densityShift: grid.densityShift, densityScale: grid.densityScale, stepSize: p.stepSize,
      near: p.near, farNorm: p.farNorm, stopT: p.stopTransmittance, lossNorm,
      minX: grid.box.min[0], minY: grid.box.min[1], minZ: grid.box.min[2], maxX: grid.box.max[0],
      maxY: grid.box.max[1], maxZ: grid.box.max[2], bgR: p.background[0], bgG: p.background[1],
      bgB: p.background[2], colorOffset: u32(nV), pad0: u32(0), pad1: u32(0),
    }), 'voxel params');
  }

  async render(rays: RayBatch, p: MarchParams): Promise<ForwardResult> {
    const { grid, bufs } = this.need();
    const n = rays.count;
    const out: ForwardResult = { rgb: new Float32Array(n * 3), alpha: new Float32Array(n), depth: new Float32Array(n), samples: 0 };
    if (n === 0) return out;
    // Chunks keep the scratch buffers bounded for full-image renders.
    const CHUNK = 1 << 18;
    for (let s = 0; s < n; s += CHUNK) {
      const m = Math.min(CHUNK, n - s);
      const packed = new Float32Array(m * 6);
      for (let q = 0; q < m; q++) {
        for (let a = 0; a < 3; a++) {
          packed[q * 6 + a] = rays.origins[(s + q) * 3 + a];
          packed[q * 6 + 3 + a] = rays.dirs[(s + q) * 3 + a];
        }
      }
      const rayBuf = this.scratch('rayBuf', packed.byteLength);
      const outBuf = this.scratch('outBuf', m * 6 * 4);
      this.runner.upload(rayBuf, packed);
      const uni = this.uniform(grid, p, m, 6, 0);
      this.runner.run([{ kernel: this.kRender, buffers: [uni, bufs.density, bufs.color, bufs.occ, rayBuf, outBuf, this.dummy], threads: m }], 'voxel render');
      const res = await this.runner.readF32(outBuf, 0, m * 6);
      uni.destroy();
      let samples = 0;
      for (let q = 0; q < m; q++) {
        const o = q * 6, r = s + q;
        out.rgb[r * 3] = res[o]; out.rgb[r * 3 + 1] = res[o + 1]; out.rgb[r * 3 + 2] = res[o + 2];
        out.alpha[r] = res[o + 3]; out.depth[r] = res[o + 4];
        samples += res[o + 5];
      }
      out.samples += samples;
    }
    return out;
  }

  async trainStep(batch: TrainBatch, p: MarchParams, grads: VoxelGrads): Promise<TrainResult> {
    const { grid, bufs } = this.needGrads(grads);
    const n = batch.count;
    if (n === 0) return { loss: 0, samples: 0 };
    const packed = new Float32Array(n * 9);
    for (let q = 0; q < n; q++) {
      for (let a = 0; a < 3; a++) {
        packed[q * 9 + a] = batch.origins[q * 3 + a];
        packed[q * 9 + 3 + a] = batch.dirs[q * 3 + a];
        packed[q * 9 + 6 + a] = batch.target[q * 3 + a];
      }
    }
    const rayBuf = this.scratch('rayBuf', packed.byteLength);
    const outBuf = this.scratch('outBuf', n * 2 * 4);
    this.runner.upload(rayBuf, packed);
    this.runner.zero(bufs.grads);
    const uni = this.uniform(grid, p, n, 9, 2 / (3 * n));
    this.runner.run([{ kernel: this.kTrain, buffers: [uni, bufs.density, bufs.color, bufs.occ, rayBuf, outBuf, bufs.grads], threads: n }], 'voxel train');
    const [res, g] = await Promise.all([this.runner.readF32(outBuf, 0, n * 2), this.runner.readF32(bufs.grads, 0, bufs.nV * (1 + bufs.K))]);
    uni.destroy();
    let loss = 0, samples = 0;
    for (let q = 0; q < n; q++) { loss += res[q * 2]; samples += res[q * 2 + 1]; }
    const gD = grads.density, gC = grads.color, nV = bufs.nV;
    for (let v = 0; v < nV; v++) gD[v] += g[v];
    for (let c = 0, m = gC.length; c < m; c++) gC[c] += g[nV + c];
    return { loss: loss / (3 * n), samples };
  }

  private needGrads(grads: VoxelGrads): { grid: VoxelGrid; bufs: GridBuffers } {
    const r = this.need();
    if (grads.density.length !== r.bufs.nV || grads.color.length !== r.bufs.nV * r.bufs.K) throw new Error('WebGpuVoxelBackend: gradient arrays do not match the grid');
    return r;
  }

  private freeGrid(): void {
    if (!this.bufs) return;
    for (const b of [this.bufs.density, this.bufs.color, this.bufs.occ, this.bufs.grads]) b.destroy();
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

/** Factory used by `createBackend('webgpu')` in fit-voxel.ts. */
export function createWebGpuVoxelBackend(device?: GPUDevice): Promise<WebGpuVoxelBackend> {
  return WebGpuVoxelBackend.create(device);
}
