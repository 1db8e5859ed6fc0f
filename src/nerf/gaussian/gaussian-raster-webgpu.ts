import type { Camera } from '../../core/camera';
import { GpuMemoryError } from '../../core/errors';
import { getGpuDevice } from '../../gpu/device';
import { GpuPrefixScan, GpuRadixSort } from '../../gpu/radix-sort';
import { runnerFor, type GpuRunner, type Kernel } from '../../gpu/runner';
import gsCommonSource from '../../shaders/gs_common.wgsl?raw';
import projectSource from '../../shaders/gs_project.wgsl?raw';
import binSource from '../../shaders/gs_bin.wgsl?raw';
import renderSource from '../../shaders/gs_render.wgsl?raw';
import backwardSource from '../../shaders/gs_backward.wgsl?raw';
import projectBackwardSource from '../../shaders/gs_project_backward.wgsl?raw';
import type { GaussianRasterBackend, GaussianRenderResult } from './gaussian-backend';
import { clampLimits, TILE, viewMatrix, type GaussianGrads } from './gaussian-project-cpu';
import { SH_STRIDE, type Gaussians } from './gaussians';
import { shConstantsWgsl } from '../common/sh';

/** gs_common.wgsl with the SH constant table in front: the prefix of every Gaussian kernel. */
const commonSource = shConstantsWgsl() + gsCommonSource;

/**
 * WebGPU host of the 3DGS tile rasteriser kernels (src/shaders/gs_*.wgsl), forward and backward, for fitting
 * (`--backend webgpu`) and for the viewer. Each kernel has a CPU twin with the same conventions (listed in
 * gaussian-project-cpu.ts and src/shaders/gs_common.wgsl; method in docs/gaussians.md):
 *
 * | kernel entry point (file)                           | CPU twin                                           |
 * | --------------------------------------------------- | -------------------------------------------------- |
 * | `project_gaussians` (gs_project.wgsl)               | `projectGaussians` (gaussian-project-cpu.ts)       |
 * | `gather_counts`, `duplicate`, `tile_ranges` (gs_bin) | `gatherCounts`, `duplicate`, `tileRanges` (gaussian-bin-cpu.ts) |
 * | depth and tile sorts (`GpuRadixSort`)               | `depthOrder`, `radixSortU32` (gaussian-bin-cpu.ts, src/gpu/radix-sort-cpu.ts) |
 * | `rasterize_forward_tiles` (gs_render.wgsl)          | `rasterizeForwardTiles` (gaussian-render-cpu.ts)   |
 * | `rasterize_backward_tiles` (gs_backward.wgsl)       | `rasterizeBackwardTiles` (gaussian-backward-cpu.ts) |
 * | `project_backward` (gs_project_backward.wgsl)       | `projectBackward` (gaussian-project-cpu.ts)        |
 *
 * Frame (forward):
 *  1. `project_gaussians` (gs_project.wgsl): per Gaussian, EWA projection (2D covariance + 0.3 dilation, conic, radius),
 *     tile rectangle, SH → colour, sigmoid opacity → `proj` (4 vec4 per Gaussian) and tile counts.
 *  2. stable radix sort (sort_radix.wgsl) of the Gaussians by depth (32-bit keys); exclusive scan (sort_scan.wgsl) of
 *     the tile counts in that order → each Gaussian's first slot; the total is read back (one small readback per
 *     frame, as 3DGS does) to size the key buffers.
 *  3. `duplicate` (gs_bin.wgsl): one (tile id, Gaussian) entry per covered tile, in depth order; stable radix sort
 *     by tile id (⌈log2 tiles⌉ bits) — the same lists as sorting 64-bit (tile, depth) keys, with fewer passes over
 *     the (larger) entry array; `tile_ranges`: [start, end) per tile.
 *  4. `rasterize_forward_tiles` (gs_render.wgsl): one 16×16 workgroup per tile, front-to-back compositing, early termination.
 * Backward: `rasterize_backward_tiles` (gs_backward.wgsl, per tile; float CAS adds into workgroup then global memory) →
 * 9 gradients per Gaussian in 2D; `project_backward` (gs_project_backward.wgsl) → every parameter.
 *
 * Standalone use (viewer): `WebGpuGaussianProjector` runs steps 1–3 on buffers the caller owns; `packGaussians` and
 * `packCamera` give the buffer layouts. Precision: everything is f32 on the GPU (the CPU twin uses f64 inside).
 */

/** Floats per Gaussian in the packed parameter (and gradient) buffer: mean 3, log-scale 3, quaternion 4, opacity logit 1, SH 48. */
export const PARAM_STRIDE = 59;
/** Floats per Gaussian in `proj` (4 × vec4). */
export const PROJ_STRIDE = 16;
/** 2D gradients per Gaussian accumulated by the backward rasteriser. */
const G2_STRIDE = 9;

const STORAGE = () => GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

/** The packed parameter buffer layout (see gs_common.wgsl) for `g`; `out` is reused when large enough. */
export function packGaussians(g: Gaussians, out?: Float32Array): Float32Array {
  const n = g.count;
  const p = out && out.length >= n * PARAM_STRIDE ? out : new Float32Array(Math.max(1, n) * PARAM_STRIDE);
  const { means, logScales, rotations, opacityLogits, sh } = g;
  for (let i = 0; i < n; i++) {
    const o = i * PARAM_STRIDE;
    p[o] = means[3 * i];
    p[o + 1] = means[3 * i + 1];
    p[o + 2] = means[3 * i + 2];
    p[o + 3] = logScales[3 * i];
    p[o + 4] = logScales[3 * i + 1];
    p[o + 5] = logScales[3 * i + 2];
    p[o + 6] = rotations[4 * i];
    p[o + 7] = rotations[4 * i + 1];
    p[o + 8] = rotations[4 * i + 2];
    p[o + 9] = rotations[4 * i + 3];
    p[o + 10] = opacityLogits[i];
    for (let k = 0, q = i * SH_STRIDE; k < SH_STRIDE; k++) p[o + 11 + k] = sh[q + k];
  }
  return p;
}

/** Bytes of the `Cam` uniform (gs_common.wgsl). */
export const CAM_BYTES = 144;

/** The `Cam` uniform for a camera (pinhole; distortion ignored as in the CPU twin). */
export function packCamera(
  cam: Camera,
  count: number,
  shDegree: number,
  background: readonly [number, number, number] = [0, 0, 0],
): ArrayBuffer {
  const buf = new ArrayBuffer(CAM_BYTES);
  const f = new Float32Array(buf),
    u = new Uint32Array(buf);
  const { W, C } = viewMatrix(cam);
  for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) f[r * 4 + c] = W[r * 3 + c];
  f[12] = C[0];
  f[13] = C[1];
  f[14] = C[2];
  const { fx, fy, cx, cy, width, height } = cam;
  f[16] = fx;
  f[17] = fy;
  f[18] = cx;
  f[19] = cy;
  // x/z and y/z clamp of the EWA Jacobian (CPU twin: 0.3 of the image beyond each edge)
  f.set(clampLimits(cam), 20);
  f[24] = background[0];
  f[25] = background[1];
  f[26] = background[2];
  u[28] = width;
  u[29] = height;
  u[30] = Math.ceil(width / TILE);
  u[31] = Math.ceil(height / TILE);
  u[32] = count;
  u[33] = shDegree;
  return buf;
}

/** A frame that does not fit the device: the message says what to change (a UserError: the CLI prints one line). */
function memoryError(detail: string): GpuMemoryError {
  return new GpuMemoryError(
    `WebGPU Gaussian rasteriser: ${detail}; use fewer Gaussians (--max-gaussians), a smaller image (--downscale) or --backend cpu`,
  );
}

const mib = (b: number) => (b / 2 ** 20).toFixed(0);

class Grow {
  buf: GPUBuffer | null = null;
  constructor(
    private device: GPUDevice,
    private label: string,
    private usage = STORAGE(),
  ) {}
  get(bytes: number): GPUBuffer {
    const need = Math.max(16, Math.ceil(bytes / 16) * 16);
    if (this.buf && this.buf.size >= need) return this.buf;
    const size = Math.max(need, Math.ceil(((this.buf?.size ?? 0) * 1.5) / 16) * 16);
    const max = Math.min(this.device.limits.maxStorageBufferBindingSize, this.device.limits.maxBufferSize);
    if (need > max) throw memoryError(`${this.label} needs ${mib(need)} MiB, more than this device allows in one buffer (${mib(max)} MiB)`);
    this.buf?.destroy();
    this.buf = this.device.createBuffer({ size: Math.min(size, max), usage: this.usage, label: this.label });
    return this.buf;
  }
  destroy() {
    this.buf?.destroy();
    this.buf = null;
  }
}

/**
 * Projection, depth sort and tile binning on the GPU, for callers that own the Gaussian and camera buffers (the
 * rasteriser below; the viewer, which can stop after `encodeProject` and draw `order` back to front).
 *
 * ```ts
 * const pr = await WebGpuGaussianProjector.create(device);
 * // params: packGaussians layout (STORAGE), cam: packCamera uniform, proj: ≥ count × 64 bytes (STORAGE)
 * let enc = device.createCommandEncoder();
 * const { order, offsets } = pr.encodeProject(enc, { cam, params, proj, count });
 * device.queue.submit([enc.finish()]);
 * // order[k] = k-th nearest Gaussian (culled ones last); offsets[count] = number of (tile, Gaussian) pairs
 * const total = (await runner.readU32(offsets, count * 4, 1))[0];
 * enc = device.createCommandEncoder();
 * const { ids, ranges } = pr.encodeBin(enc, { cam, proj, count, total, tiles });
 * device.queue.submit([enc.finish()]);   // tile t's Gaussians, front to back: ids[ranges[2t] .. ranges[2t+1])
 * ```
 * The returned buffers belong to the projector (valid until its next call; they grow as needed).
 *
 * Drawing splats (viewer): upload `packGaussians` once, write `packCamera` per frame, `encodeProject`, then draw
 * instance k = count − 1 … 0 of `order` (back to front) as a quad from proj[4·order[k] ..]: centre (u, v) in
 * pixels (y down), conic (a, b, c) for the Gaussian falloff α = opacity·exp(−½(a·dx² + c·dy²) − b·dx·dy), radius
 * for the quad's half size, rgb; radius 0 means culled (emit a degenerate quad). Culled Gaussians sort last.
 */
export class WebGpuGaussianProjector {
  private readonly depthSort: GpuRadixSort;
  private readonly tileSort: GpuRadixSort;
  private readonly scan: GpuPrefixScan;
  private readonly b: Record<'touched' | 'depthKeys' | 'order' | 'offsets' | 'keys' | 'ids' | 'ranges' | 'radii', Grow>;

  private constructor(
    readonly runner: GpuRunner,
    private readonly k: { project: Kernel; gather: Kernel; duplicate: Kernel; ranges: Kernel },
    scan: GpuPrefixScan,
    depthSort: GpuRadixSort,
    tileSort: GpuRadixSort,
  ) {
    this.scan = scan;
    this.depthSort = depthSort;
    this.tileSort = tileSort;
    const d = runner.device;
    const g = (name: string) => new Grow(d, `gs ${name}`);
    this.b = {
      touched: g('touched'),
      depthKeys: g('depthKeys'),
      order: g('order'),
      offsets: g('offsets'),
      keys: g('keys'),
      ids: g('ids'),
      ranges: g('ranges'),
      radii: g('radii'),
    };
  }

  static async create(device: GPUDevice): Promise<WebGpuGaussianProjector> {
    const runner = runnerFor(device);
    const binB = ['uniform', 'read', 'read', 'read', 'storage', 'storage', 'storage', 'storage'] as const;
    const bin = (entry: string, workgroupSize: number) =>
      runner.kernel({ code: commonSource + binSource, entry, bindings: [...binB], workgroupSize, label: `gs_bin.${entry}` });
    const [project, gather, duplicate, ranges, scan, depthSort, tileSort] = await Promise.all([
      runner.kernel({
        code: commonSource + projectSource,
        entry: 'project_gaussians',
        bindings: ['uniform', 'read', 'storage', 'storage', 'storage', 'storage', 'storage'],
        workgroupSize: 64,
        label: 'gs_project.project_gaussians',
      }),
      bin('gather_counts', 256),
      bin('duplicate', 64),
      bin('tile_ranges', 256),
      GpuPrefixScan.create(device),
      GpuRadixSort.create(device, { keys64: false }),
      GpuRadixSort.create(device, { keys64: false }),
    ]);
    return new WebGpuGaussianProjector(runner, { project, gather, duplicate, ranges }, scan, depthSort, tileSort);
  }

  /**
   * Projects `count` Gaussians into `proj` (layout in gs_common.wgsl), sorts them by depth (stable; culled last)
   * and scans their tile counts in depth order. Returns `order` (u32 per Gaussian: the k-th nearest) and `offsets`
   * (count + 1 u32: first key slot per depth rank; offsets[count] = total pairs, read it back for `encodeBin`)
   * and `radii` (i32 pixel radius per Gaussian, 0 = culled; what densification needs, without reading `proj`).
   */
  encodeProject(
    enc: GPUCommandEncoder,
    a: { cam: GPUBuffer; params: GPUBuffer; proj: GPUBuffer; count: number },
  ): { order: GPUBuffer; offsets: GPUBuffer; radii: GPUBuffer } {
    const n = a.count;
    const touched = this.b.touched.get(n * 4),
      depthKeys = this.b.depthKeys.get(n * 4),
      order = this.b.order.get(n * 4);
    const offsets = this.b.offsets.get((n + 1) * 4),
      radii = this.b.radii.get(n * 4);
    let pass = enc.beginComputePass({ label: 'gs project' });
    this.runner.encode(pass, [
      { kernel: this.k.project, buffers: [a.cam, a.params, a.proj, touched, depthKeys, order, radii], threads: n },
    ]);
    pass.end();
    this.depthSort.encode(enc, { keysLo: depthKeys, values: order, count: n });
    pass = enc.beginComputePass({ label: 'gs tile counts' });
    const bufs = this.binBuffers(a.cam, a.proj, 0, 0);
    this.runner.encode(pass, [{ kernel: this.k.gather, buffers: bufs, threads: n + 1 }]);
    this.scan.encode(pass, offsets, n + 1);
    pass.end();
    return { order, offsets, radii };
  }

  private binBuffers(cam: GPUBuffer, proj: GPUBuffer, total: number, tiles: number): GPUBuffer[] {
    const b = this.b;
    return [
      cam,
      proj,
      b.order.get(0),
      b.touched.get(0),
      b.offsets.get(0),
      b.keys.get(total * 4),
      b.ids.get(total * 4),
      b.ranges.get(tiles * 8),
    ];
  }

  /**
   * After `encodeProject` (same count) and reading back `total`: one (tile, Gaussian) entry per covered tile,
   * sorted by tile (stable, so depth order within a tile), and the tile ranges. Returns `ids` (sorted Gaussian ids)
   * and `ranges` (2 u32 per tile: [start, end) into ids).
   */
  encodeBin(
    enc: GPUCommandEncoder,
    a: { cam: GPUBuffer; proj: GPUBuffer; count: number; total: number; tiles: number },
  ): { ids: GPUBuffer; ranges: GPUBuffer } {
    const bufs = this.binBuffers(a.cam, a.proj, Math.max(1, a.total), a.tiles);
    const [, , , , , keys, ids, ranges] = bufs;
    enc.clearBuffer(ranges, 0, Math.ceil((a.tiles * 8) / 4) * 4);
    if (a.total > 0) {
      let pass = enc.beginComputePass({ label: 'gs duplicate' });
      this.runner.encode(pass, [{ kernel: this.k.duplicate, buffers: bufs, threads: a.count }]);
      pass.end();
      const loBits = Math.max(1, Math.ceil(Math.log2(Math.max(2, a.tiles))));
      this.tileSort.encode(enc, { keysLo: keys, values: ids, count: a.total, loBits });
      pass = enc.beginComputePass({ label: 'gs tile ranges' });
      this.runner.encode(pass, [{ kernel: this.k.ranges, buffers: bufs, threads: a.total }]);
      pass.end();
    }
    return { ids, ranges };
  }

  destroy(): void {
    for (const g of Object.values(this.b)) g.destroy();
    this.scan.destroy();
    this.depthSort.destroy();
    this.tileSort.destroy();
  }
}

/** What `forward` returns (arrays per pixel, image layout) — the CPU twin's ForwardResult without its CPU-only parts. */
export interface WebGpuForwardResult {
  width: number;
  height: number;
  image: Float32Array;
  alpha: Float32Array;
  depth: Float32Array;
  finalT: Float32Array;
  nContrib: Uint32Array;
  background: [number, number, number];
  /** pixel radius per Gaussian (0 = culled) */
  radius: Int32Array;
  /** number of (tile, Gaussian) pairs this frame */
  pairs: number;
}

/** Projected values read back for tests and tools (CPU twin's `Projected` fields). */
export interface WebGpuProjected {
  xy: Float32Array;
  depth: Float32Array;
  radius: Int32Array;
  conic: Float32Array;
  opacity: Float32Array;
  rgb: Float32Array;
  rgbClamped: Uint8Array;
  rect: Int32Array;
}

/** The GPU Gaussian rasteriser: forward then (optionally) backward on the same Gaussians and camera. */
export class WebGpuGaussianRasterizer {
  private readonly d: GPUDevice;
  private readonly params: Grow;
  private readonly proj: Grow;
  private readonly cam: Grow;
  private readonly color: Grow;
  private readonly nContrib: Grow;
  private readonly depth: Grow;
  private readonly dpix: Grow;
  private readonly grad2d: Grow;
  private readonly grads: Grow;
  private packed: Float32Array | null = null;
  private last: {
    count: number;
    width: number;
    height: number;
    tilesX: number;
    tilesY: number;
    ids: GPUBuffer;
    ranges: GPUBuffer;
    order: GPUBuffer;
  } | null = null;

  private constructor(
    readonly runner: GpuRunner,
    readonly projector: WebGpuGaussianProjector,
    private readonly k: { render: Kernel; backward: Kernel; projectBackward: Kernel },
  ) {
    const d = (this.d = runner.device);
    this.params = new Grow(d, 'gs params');
    this.proj = new Grow(d, 'gs proj');
    this.cam = new Grow(d, 'gs camera', GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
    this.color = new Grow(d, 'gs color');
    this.nContrib = new Grow(d, 'gs nContrib');
    this.depth = new Grow(d, 'gs depth');
    this.dpix = new Grow(d, 'gs dpix');
    this.grad2d = new Grow(d, 'gs grad2d');
    this.grads = new Grow(d, 'gs grads');
  }

  static async create(device?: GPUDevice): Promise<WebGpuGaussianRasterizer> {
    const dev = device ?? (await getGpuDevice());
    const runner = runnerFor(dev);
    const [projector, render, backward, projectBackward] = await Promise.all([
      WebGpuGaussianProjector.create(dev),
      runner.kernel({
        code: commonSource + renderSource,
        entry: 'rasterize_forward_tiles',
        bindings: ['uniform', 'read', 'read', 'read', 'storage', 'storage', 'storage'],
        label: 'gs_render.rasterize_forward_tiles',
      }),
      runner.kernel({
        code: commonSource + backwardSource,
        entry: 'rasterize_backward_tiles',
        bindings: ['uniform', 'read', 'read', 'read', 'read', 'read', 'read', 'storage'],
        label: 'gs_backward.rasterize_backward_tiles',
      }),
      runner.kernel({
        code: commonSource + projectBackwardSource,
        entry: 'project_backward',
        bindings: ['uniform', 'read', 'read', 'read', 'storage'],
        workgroupSize: 64,
        label: 'gs_project_backward.project_backward',
      }),
    ]);
    return new WebGpuGaussianRasterizer(runner, projector, { render, backward, projectBackward });
  }

  /**
   * Rasterises `g` from `cam` over `background`; keeps what `backward` needs. `opts.nContrib: false` skips reading
   * back the per-pixel contributor counts (fitting does not need them; the result then holds an empty array).
   */
  forward(
    g: Gaussians,
    cam: Camera,
    background: readonly [number, number, number],
    opts: { nContrib?: boolean } = {},
  ): Promise<WebGpuForwardResult> {
    return this.guarded(`forward (${g.count} Gaussians, ${cam.width}×${cam.height})`, () => this.forwardImpl(g, cam, background, opts));
  }

  /** Runs `f` inside out-of-memory and validation error scopes, so a failed allocation is one clear error, not zeros. */
  private async guarded<T>(what: string, f: () => Promise<T>): Promise<T> {
    this.d.pushErrorScope('out-of-memory');
    this.d.pushErrorScope('validation');
    let result: T | undefined, thrown: unknown;
    try {
      result = await f();
    } catch (e) {
      thrown = e;
    }
    const invalid = await this.d.popErrorScope();
    const oom = await this.d.popErrorScope();
    if (thrown) throw thrown;
    if (oom) throw memoryError(`the GPU ran out of memory in the ${what}`);
    if (invalid) throw new Error(`WebGPU Gaussian rasteriser: ${what}: ${invalid.message}`);
    return result as T;
  }

  private async forwardImpl(
    g: Gaussians,
    cam: Camera,
    background: readonly [number, number, number],
    opts: { nContrib?: boolean },
  ): Promise<WebGpuForwardResult> {
    const n = g.count;
    const { width, height } = cam;
    const tilesX = Math.ceil(width / TILE),
      tilesY = Math.ceil(height / TILE),
      tiles = tilesX * tilesY;
    const npx = width * height;
    this.packed = packGaussians(g, this.packed ?? undefined);
    const params = this.params.get(Math.max(1, n) * PARAM_STRIDE * 4);
    this.runner.upload(params, this.packed.subarray(0, Math.max(1, n) * PARAM_STRIDE));
    const camBuf = this.cam.get(CAM_BYTES);
    this.runner.upload(camBuf, packCamera(cam, n, g.shDegree, background));
    const proj = this.proj.get(Math.max(1, n) * PROJ_STRIDE * 4);

    let enc = this.d.createCommandEncoder({ label: 'gs forward 1' });
    const { order, offsets, radii } = this.projector.encodeProject(enc, { cam: camBuf, params, proj, count: n });
    this.d.queue.submit([enc.finish()]);
    const total = (await this.runner.readU32(offsets, n * 4, 1))[0];

    enc = this.d.createCommandEncoder({ label: 'gs forward 2' });
    const { ids, ranges } = this.projector.encodeBin(enc, { cam: camBuf, proj, count: n, total, tiles });
    const color = this.color.get(npx * 16),
      nContrib = this.nContrib.get(npx * 4),
      depth = this.depth.get(npx * 4);
    const pass = enc.beginComputePass({ label: 'gs render' });
    this.runner.encode(pass, [
      { kernel: this.k.render, buffers: [camBuf, ranges, ids, proj, color, nContrib, depth], threads: [tilesX, tilesY, 1] },
    ]);
    pass.end();
    this.d.queue.submit([enc.finish()]);
    this.last = { count: n, width, height, tilesX, tilesY, ids, ranges, order };

    const withContrib = opts.nContrib ?? true;
    const [col, nc, dep, radiusBytes] = await Promise.all([
      this.runner.readF32(color, 0, npx * 4),
      withContrib ? this.runner.readU32(nContrib, 0, npx) : Promise.resolve(new Uint32Array(0)),
      this.runner.readF32(depth, 0, npx),
      n ? this.runner.read(radii, 0, n * 4) : Promise.resolve(new ArrayBuffer(0)),
    ]);
    const image = new Float32Array(npx * 3),
      alpha = new Float32Array(npx),
      finalT = new Float32Array(npx);
    for (let p = 0; p < npx; p++) {
      image[3 * p] = col[4 * p];
      image[3 * p + 1] = col[4 * p + 1];
      image[3 * p + 2] = col[4 * p + 2];
      finalT[p] = col[4 * p + 3];
      alpha[p] = 1 - col[4 * p + 3];
    }
    const radius = new Int32Array(radiusBytes);
    return {
      width,
      height,
      image,
      alpha,
      depth: dep,
      finalT,
      nContrib: nc,
      background: [background[0], background[1], background[2]],
      radius,
      pairs: total,
    };
  }

  /** The projection of the last `forward` (for tests and tools). */
  async projected(): Promise<WebGpuProjected> {
    const n = this.last?.count ?? 0;
    const all = n ? await this.runner.readF32(this.proj.get(n * PROJ_STRIDE * 4), 0, n * PROJ_STRIDE) : new Float32Array(0);
    const bits = new Uint32Array(all.buffer, all.byteOffset, all.length);
    const p: WebGpuProjected = {
      xy: new Float32Array(2 * n),
      depth: new Float32Array(n),
      radius: new Int32Array(n),
      conic: new Float32Array(3 * n),
      opacity: new Float32Array(n),
      rgb: new Float32Array(3 * n),
      rgbClamped: new Uint8Array(n),
      rect: new Int32Array(4 * n),
    };
    for (let i = 0; i < n; i++) {
      const o = i * PROJ_STRIDE;
      p.xy[2 * i] = all[o];
      p.xy[2 * i + 1] = all[o + 1];
      p.depth[i] = all[o + 2];
      p.radius[i] = all[o + 3];
      p.conic[3 * i] = all[o + 4];
      p.conic[3 * i + 1] = all[o + 5];
      p.conic[3 * i + 2] = all[o + 6];
      p.opacity[i] = all[o + 7];
      p.rgb[3 * i] = all[o + 8];
      p.rgb[3 * i + 1] = all[o + 9];
      p.rgb[3 * i + 2] = all[o + 10];
      p.rgbClamped[i] = bits[o + 11];
      for (let c = 0; c < 4; c++) p.rect[4 * i + c] = bits[o + 12 + c];
    }
    return p;
  }

  /** Gaussian ids of the last `forward` front to back (culled ones after the visible ones), for tests and tools. */
  async depthOrder(): Promise<Uint32Array> {
    const l = this.last;
    if (!l) throw new Error('depthOrder() called before forward()');
    return l.count ? this.runner.readU32(l.order, 0, l.count) : new Uint32Array(0);
  }

  /** Tile bins of the last `forward` (ranges, sorted ids), for tests. */
  async bins(): Promise<{ ranges: Uint32Array; ids: Uint32Array }> {
    const l = this.last;
    if (!l) throw new Error('bins() called before forward()');
    const tiles = l.tilesX * l.tilesY;
    const ranges = await this.runner.readU32(l.ranges, 0, 2 * tiles);
    let total = 0;
    for (let t = 0; t < tiles; t++) total = Math.max(total, ranges[2 * t + 1]);
    const ids = total ? await this.runner.readU32(l.ids, 0, total) : new Uint32Array(0);
    return { ranges, ids };
  }

  /**
   * Gradients for the last `forward` given ∂L/∂image (RGB per pixel) and optionally ∂L/∂alpha, into `out`
   * (overwritten; the CPU twin's layout, `xy` = ∂L/∂(u, v)).
   */
  backward(dImage: Float32Array, dAlpha: Float32Array | null, out: GaussianGrads): Promise<void> {
    return this.guarded(`backward (${this.last?.count ?? 0} Gaussians)`, () => this.backwardImpl(dImage, dAlpha, out));
  }

  private async backwardImpl(dImage: Float32Array, dAlpha: Float32Array | null, out: GaussianGrads): Promise<void> {
    const l = this.last;
    if (!l) throw new Error('backward() called before forward()');
    const { count: n, width, height } = l;
    const npx = width * height;
    const dp = new Float32Array(npx * 4);
    for (let p = 0; p < npx; p++) {
      dp[4 * p] = dImage[3 * p];
      dp[4 * p + 1] = dImage[3 * p + 1];
      dp[4 * p + 2] = dImage[3 * p + 2];
      dp[4 * p + 3] = dAlpha ? dAlpha[p] : 0;
    }
    const dpix = this.dpix.get(npx * 16);
    this.runner.upload(dpix, dp);
    const grad2d = this.grad2d.get(Math.max(1, n) * G2_STRIDE * 4);
    const grads = this.grads.get(Math.max(1, n) * PARAM_STRIDE * 4);
    const camBuf = this.cam.get(CAM_BYTES),
      proj = this.proj.get(Math.max(1, n) * PROJ_STRIDE * 4),
      params = this.params.get(Math.max(1, n) * PARAM_STRIDE * 4);
    const enc = this.d.createCommandEncoder({ label: 'gs backward' });
    enc.clearBuffer(grad2d, 0, Math.max(1, n) * G2_STRIDE * 4);
    const pass = enc.beginComputePass({ label: 'gs backward' });
    this.runner.encode(pass, [
      {
        kernel: this.k.backward,
        buffers: [camBuf, l.ranges, l.ids, proj, this.color.get(npx * 16), this.nContrib.get(npx * 4), dpix, grad2d],
        threads: [l.tilesX, l.tilesY, 1],
      },
      { kernel: this.k.projectBackward, buffers: [camBuf, params, proj, grad2d, grads], threads: n },
    ]);
    pass.end();
    this.d.queue.submit([enc.finish()]);
    if (n === 0) return;
    const [gp, g2] = await Promise.all([this.runner.readF32(grads, 0, n * PARAM_STRIDE), this.runner.readF32(grad2d, 0, n * G2_STRIDE)]);
    for (let i = 0; i < n; i++) {
      const o = i * PARAM_STRIDE;
      out.means[3 * i] = gp[o];
      out.means[3 * i + 1] = gp[o + 1];
      out.means[3 * i + 2] = gp[o + 2];
      out.logScales[3 * i] = gp[o + 3];
      out.logScales[3 * i + 1] = gp[o + 4];
      out.logScales[3 * i + 2] = gp[o + 5];
      out.rotations[4 * i] = gp[o + 6];
      out.rotations[4 * i + 1] = gp[o + 7];
      out.rotations[4 * i + 2] = gp[o + 8];
      out.rotations[4 * i + 3] = gp[o + 9];
      out.opacityLogits[i] = gp[o + 10];
      for (let k = 0, q = i * SH_STRIDE; k < SH_STRIDE; k++) out.sh[q + k] = gp[o + 11 + k];
      out.xy[2 * i] = g2[G2_STRIDE * i];
      out.xy[2 * i + 1] = g2[G2_STRIDE * i + 1];
    }
  }

  destroy(): void {
    for (const b of [this.params, this.proj, this.cam, this.color, this.nContrib, this.depth, this.dpix, this.grad2d, this.grads])
      b.destroy();
    this.projector.destroy();
    this.last = null;
  }
}

/** `--backend webgpu` for fitting and scenes (the contract in gaussian-backend.ts). */
export class WebGpuGaussianBackend implements GaussianRasterBackend {
  readonly name = 'webgpu' as const;
  constructor(readonly raster: WebGpuGaussianRasterizer) {}

  async render(g: Gaussians, cam: Camera, background: readonly [number, number, number]): Promise<GaussianRenderResult> {
    const f = await this.raster.forward(g, cam, background, { nContrib: false });
    return { width: f.width, height: f.height, image: f.image, alpha: f.alpha, depth: f.depth, radius: f.radius };
  }

  backward(dImage: Float32Array, dAlpha: Float32Array | null, out: GaussianGrads): Promise<void> {
    return this.raster.backward(dImage, dAlpha, out);
  }

  dispose(): void {
    this.raster.destroy();
  }
}

/** The WebGPU backend on the shared device (`getGpuDevice`; in Node call `installNodeWebGpu()` first). */
export async function createWebGpuGaussianBackend(device?: GPUDevice): Promise<WebGpuGaussianBackend> {
  return new WebGpuGaussianBackend(await WebGpuGaussianRasterizer.create(device));
}
