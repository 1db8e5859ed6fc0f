/**
 * A small compute-kernel runner over one GPUDevice (shared by the voxel and Gaussian engines).
 *
 * - Buffers: `runner.buffer(dataOrBytes)` (storage, copy src/dst), `runner.upload`, `runner.read` (async readback),
 *   `runner.zero`.
 * - Kernels: `await runner.kernel({ code, entry, bindings })` compiles (once, asynchronously; cached by WGSL source + entry point +
 *   binding kinds + override constants) a compute pipeline with an explicit bind-group layout, so bindings an entry
 *   point does not use are still accepted (no 'auto' layout surprises). Compile errors reject with the WGSL messages.
 * - Dispatch: `runner.run([{ kernel, buffers, threads }, …])` encodes every call in one command buffer and submits it.
 *   `threads` is a 1D count (any size: workgroup counts above maxComputeWorkgroupsPerDimension spill into y) or
 *   an explicit [x, y, z] workgroup count.
 *
 * ## Kernel conventions (WGSL)
 * - `override WG: u32 = 64;` + `@compute @workgroup_size(WG)` — the runner sets WG from `workgroupSize` (default 64).
 * - 1D kernels take their linear index as `gid.x + gid.y * nwg.x * WG` with
 *   `@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u`, and return when it is
 *   ≥ their element count (the last row of a 2D dispatch is partly past the end). `WGSL_LINEAR_ID` below spells it.
 * - Bindings are all in group 0, numbered 0.. in the order of `bindings`.
 *
 * ## WGSL sources
 * Kernels live in `src/shaders/*.wgsl` and are imported as text with `import src from '../shaders/x.wgsl?raw'`.
 * Vite (browser, vitest) does that natively; in Node the bin scripts register `bin/wgsl-hooks.mjs` after tsx
 * (other entry points: `node --import ./bin/wgsl-register.mjs`). Types: `src/shaders/wgsl.d.ts`.
 */

export type BindingKind = 'uniform' | 'read' | 'storage';

export interface KernelDef {
  code: string;
  entry: string;
  /** One entry per @binding(i) of group 0: 'uniform' (var<uniform>), 'read' (var<storage, read>), 'storage' (read_write). */
  bindings: BindingKind[];
  /** Threads per workgroup along x (sets the WGSL `override WG`); default 64. */
  workgroupSize?: number;
  /** Other pipeline-overridable constants. */
  constants?: Record<string, number>;
  label?: string;
}

export interface Kernel {
  readonly def: KernelDef;
  readonly pipeline: GPUComputePipeline;
  readonly layout: GPUBindGroupLayout;
  readonly workgroupSize: number;
}

export interface KernelCall {
  kernel: Kernel;
  /** Buffers for bindings 0..n−1 (a buffer, or a {buffer, offset, size} range). */
  buffers: (GPUBuffer | GPUBufferBinding)[];
  /** Number of threads (1D), or an explicit [x, y, z] workgroup count. */
  threads: number | [number, number, number];
}

/** WGSL for the linear thread index of a 1D dispatch that may have spilled into y (needs `gid`, `nwg`, `WG`). */
export const WGSL_LINEAR_ID = 'gid.x + gid.y * nwg.x * WG';

/**
 * Workgroup counts for `threads` threads of `workgroupSize`: 1D while it fits, else a 2D grid whose x is at most
 * `maxPerDim` (so up to maxPerDim² workgroups). Throws when even that is exceeded.
 */
export function dispatchSize(threads: number, workgroupSize: number, maxPerDim = 65535): [number, number, number] {
  if (!Number.isInteger(threads) || threads < 0) throw new Error(`dispatch: thread count must be a non-negative integer, got ${threads}`);
  const groups = Math.ceil(threads / workgroupSize);
  if (groups <= maxPerDim) return [groups, 1, 1];
  const y = Math.ceil(groups / maxPerDim);
  if (y > maxPerDim) throw new Error(`dispatch: ${threads} threads need more than ${maxPerDim}² workgroups of ${workgroupSize}`);
  // Spread evenly so the wasted last row stays small.
  const x = Math.ceil(groups / y);
  return [x, y, 1];
}

const STORAGE_USAGE = () => GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

function align4(n: number): number {
  return Math.max(4, Math.ceil(n / 4) * 4);
}

export class GpuRunner {
  private readonly layouts = new Map<string, GPUBindGroupLayout>();
  private readonly kernels = new Map<string, Promise<Kernel>>();
  readonly maxPerDim: number;

  constructor(readonly device: GPUDevice) {
    this.maxPerDim = device.limits.maxComputeWorkgroupsPerDimension;
  }

  /** A storage buffer (STORAGE | COPY_SRC | COPY_DST) holding `data`, or `data` zero bytes (rounded up to 4). */
  buffer(data: ArrayBuffer | ArrayBufferView | number, label?: string, usage = STORAGE_USAGE()): GPUBuffer {
    const bytes = typeof data === 'number' ? data : data.byteLength;
    const buf = this.device.createBuffer({ size: align4(bytes), usage, label, mappedAtCreation: typeof data !== 'number' });
    if (typeof data !== 'number') {
      new Uint8Array(buf.getMappedRange()).set(bytesOf(data));
      buf.unmap();
    }
    return buf;
  }

  /** A uniform buffer (UNIFORM | COPY_DST) with `data` (size rounded up to 16). */
  uniform(data: ArrayBuffer | ArrayBufferView, label?: string): GPUBuffer {
    const size = Math.max(16, Math.ceil(data.byteLength / 16) * 16);
    const buf = this.device.createBuffer({ size, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, label, mappedAtCreation: true });
    new Uint8Array(buf.getMappedRange()).set(bytesOf(data));
    buf.unmap();
    return buf;
  }

  /** Writes `data` into `buf` at byte `offset` (queued; ordered before later submits). */
  upload(buf: GPUBuffer, data: ArrayBuffer | ArrayBufferView, offset = 0): void {
    const bytes = bytesOf(data);
    if (bytes.byteLength % 4 === 0) {
      this.device.queue.writeBuffer(buf, offset, bytes.buffer, bytes.byteOffset, bytes.byteLength);
    } else {
      const padded = new Uint8Array(align4(bytes.byteLength));
      padded.set(bytes);
      this.device.queue.writeBuffer(buf, offset, padded);
    }
  }

  /** Fills `buf` (or a byte range) with zeros. */
  zero(buf: GPUBuffer, offset = 0, size?: number): void {
    const enc = this.device.createCommandEncoder();
    enc.clearBuffer(buf, offset, size);
    this.device.queue.submit([enc.finish()]);
  }

  /** Reads `size` bytes (default: the rest) of `buf` from byte `offset` back to the CPU. */
  async read(buf: GPUBuffer, offset = 0, size = buf.size - offset): Promise<ArrayBuffer> {
    const n = align4(size);
    const staging = this.device.createBuffer({ size: n, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, label: 'readback' });
    const enc = this.device.createCommandEncoder();
    enc.copyBufferToBuffer(buf, offset, staging, 0, n);
    this.device.queue.submit([enc.finish()]);
    try {
      await staging.mapAsync(GPUMapMode.READ);
      return staging.getMappedRange().slice(0, size);
    } finally {
      staging.destroy();
    }
  }

  async readF32(buf: GPUBuffer, offset = 0, count?: number): Promise<Float32Array> {
    return new Float32Array(await this.read(buf, offset, count === undefined ? undefined : count * 4));
  }

  async readU32(buf: GPUBuffer, offset = 0, count?: number): Promise<Uint32Array> {
    return new Uint32Array(await this.read(buf, offset, count === undefined ? undefined : count * 4));
  }

  private layoutFor(bindings: BindingKind[]): GPUBindGroupLayout {
    const key = bindings.join(',');
    let layout = this.layouts.get(key);
    if (!layout) {
      layout = this.device.createBindGroupLayout({
        label: `layout ${key}`,
        entries: bindings.map((kind, binding) => ({
          binding,
          visibility: GPUShaderStage.COMPUTE,
          buffer: { type: kind === 'uniform' ? 'uniform' : kind === 'read' ? 'read-only-storage' : 'storage' },
        })),
      });
      this.layouts.set(key, layout);
    }
    return layout;
  }

  /** The compiled kernel for `def` (cached). Rejects with the compiler's messages on WGSL errors. */
  kernel(def: KernelDef): Promise<Kernel> {
    const wg = def.workgroupSize ?? 64;
    const constants = { ...(def.constants ?? {}) };
    if (/\boverride\s+WG\b/.test(def.code)) constants.WG = wg;
    const key = `${def.entry}\u0000${def.bindings.join(',')}\u0000${JSON.stringify(constants)}\u0000${def.code}`;
    let k = this.kernels.get(key);
    if (!k) {
      k = this.compile(def, wg, constants);
      this.kernels.set(key, k);
      k.catch(() => this.kernels.delete(key));
    }
    return k;
  }

  private async compile(def: KernelDef, wg: number, constants: Record<string, number>): Promise<Kernel> {
    const label = def.label ?? def.entry;
    const module = this.device.createShaderModule({ code: def.code, label });
    const info = await module.getCompilationInfo();
    const errors = info.messages.filter((m) => m.type === 'error');
    if (errors.length) throw new Error(`WGSL ${label}: ${errors.map((m) => `${m.lineNum}:${m.linePos} ${m.message}`).join('; ')}`);
    const layout = this.layoutFor(def.bindings);
    let pipeline: GPUComputePipeline;
    try {
      // async: compiles without blocking the page's main thread in the browser
      pipeline = await this.device.createComputePipelineAsync({
        label,
        layout: this.device.createPipelineLayout({ bindGroupLayouts: [layout] }),
        compute: { module, entryPoint: def.entry, constants },
      });
    } catch (e) {
      throw new Error(`WGSL ${label}: ${(e as Error).message}`);
    }
    return { def, pipeline, layout, workgroupSize: wg };
  }

  private bindGroup(call: KernelCall): GPUBindGroup {
    const { kernel, buffers } = call;
    if (buffers.length !== kernel.def.bindings.length)
      throw new Error(`kernel ${kernel.def.entry}: ${kernel.def.bindings.length} bindings, got ${buffers.length} buffers`);
    return this.device.createBindGroup({
      layout: kernel.layout,
      entries: buffers.map((b, binding) => ({ binding, resource: isGpuBuffer(b) ? { buffer: b } : b })),
    });
  }

  /** Encodes the calls into an existing compute pass. */
  encode(pass: GPUComputePassEncoder, calls: KernelCall[]): void {
    for (const call of calls) {
      const size = typeof call.threads === 'number' ? dispatchSize(call.threads, call.kernel.workgroupSize, this.maxPerDim) : call.threads;
      if (size[0] === 0 || size[1] === 0 || size[2] === 0) continue;
      pass.setPipeline(call.kernel.pipeline);
      pass.setBindGroup(0, this.bindGroup(call));
      pass.dispatchWorkgroups(size[0], size[1], size[2]);
    }
  }

  /** Runs the calls in order (one compute pass, one submit). Each dispatch sees the previous ones' writes. */
  run(calls: KernelCall[], label?: string): void {
    const enc = this.device.createCommandEncoder({ label });
    const pass = enc.beginComputePass({ label });
    this.encode(pass, calls);
    pass.end();
    this.device.queue.submit([enc.finish()]);
  }

  /** Resolves when all submitted work has finished. */
  done(): Promise<void> {
    return this.device.queue.onSubmittedWorkDone();
  }
}

function isGpuBuffer(b: GPUBuffer | GPUBufferBinding): b is GPUBuffer {
  return typeof (b as GPUBuffer).mapAsync === 'function';
}

function bytesOf(data: ArrayBuffer | ArrayBufferView): Uint8Array {
  return data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

const runners = new WeakMap<GPUDevice, GpuRunner>();

/** The runner for `device` (one per device, so the pipeline cache is shared). */
export function runnerFor(device: GPUDevice): GpuRunner {
  let r = runners.get(device);
  if (!r) runners.set(device, (r = new GpuRunner(device)));
  return r;
}

/**
 * Packs a uniform struct of 4-byte scalars in declaration order: `params({ n: u32(5), scale: 0.5 })`.
 * Plain numbers are f32; wrap integers with `u32()` / `i32()`. Struct members in WGSL must be all 4-byte scalars
 * (no vec3: its 16-byte alignment would break the packing).
 */
export function params(fields: Record<string, number | { u32: number } | { i32: number }>): ArrayBuffer {
  const keys = Object.keys(fields);
  const buf = new ArrayBuffer(Math.max(16, Math.ceil((keys.length * 4) / 16) * 16));
  const view = new DataView(buf);
  keys.forEach((k, i) => {
    const v = fields[k];
    if (typeof v === 'number') view.setFloat32(i * 4, v, true);
    else if ('u32' in v) view.setUint32(i * 4, v.u32 >>> 0, true);
    else view.setInt32(i * 4, v.i32 | 0, true);
  });
  return buf;
}

export const u32 = (v: number) => ({ u32: v });
export const i32 = (v: number) => ({ i32: v });
