import scanSource from '../shaders/sort_scan.wgsl?raw';
import radixSource from '../shaders/sort_radix.wgsl?raw';
import { runnerFor, type GpuRunner, type Kernel, type KernelCall } from './runner';

/**
 * GPU prefix scan and radix sort (WGSL: src/shaders/sort_scan.wgsl, sort_radix.wgsl; CPU counterpart: radix-sort-cpu.ts), usable on their own given a
 * device and buffers — the Gaussian rasteriser sorts (tile, depth) keys with them every frame and the viewer
 * sorts splats by depth.
 *
 The scan encodes into a compute pass the caller owns; the sort into a command encoder (its own pass, plus a
 * copy after an odd number of passes), so both chain with other kernels in one submit:
 * ```ts
 * const sort = await GpuRadixSort.create(device);
 * const enc = device.createCommandEncoder();
 * sort.encode(enc, { keysLo, values, count });                  // 32-bit keys
 * sort.encode(enc, { keysLo, keysHi, values, count, hiBits });   // 64-bit keys (hi:lo), hi < 2^hiBits
 * device.queue.submit([enc.finish()]);   // (two sorts in one submit need two instances, see below)
 * ```
 * Rules: keys/values are u32 storage buffers of at least `count` elements (STORAGE | COPY_SRC | COPY_DST); the
 * result replaces them in place; the sort is ascending and stable (equal keys keep their input order). Each instance
 * keeps its own scratch buffers and per-pass uniforms, written with `queue.writeBuffer` when encoding: encode one
 * sort per instance per submit (use two instances to sort two things in one submit).
 */

const SCAN_BLOCK = 512;
const SORT_BLOCK = 256;
const STORAGE = () => GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

/** In-place exclusive prefix sum of u32 values (any length). */
export class GpuPrefixScan {
  private levels: { sums: GPUBuffer; capacity: number }[] = [];
  private uniforms: GPUBuffer[] = [];

  private constructor(
    readonly runner: GpuRunner,
    private readonly scanKernel: Kernel,
    private readonly addKernel: Kernel,
  ) {}

  static async create(device: GPUDevice): Promise<GpuPrefixScan> {
    const runner = runnerFor(device);
    const bindings = ['uniform', 'storage', 'storage'] as const;
    const [scanKernel, addKernel] = await Promise.all([
      runner.kernel({ code: scanSource, entry: 'scan_blocks', bindings: [...bindings], workgroupSize: 256, label: 'gs_scan.scan_blocks' }),
      runner.kernel({ code: scanSource, entry: 'add_sums', bindings: [...bindings], workgroupSize: 256, label: 'gs_scan.add_sums' }),
    ]);
    return new GpuPrefixScan(runner, scanKernel, addKernel);
  }

  private uniform(slot: number, n: number): GPUBuffer {
    let u = this.uniforms[slot];
    if (!u)
      u = this.uniforms[slot] = this.runner.device.createBuffer({
        size: 16,
        usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
        label: `scan params ${slot}`,
      });
    this.runner.device.queue.writeBuffer(u, 0, new Uint32Array([n, 0, 0, 0]));
    return u;
  }

  private sums(level: number, size: number): GPUBuffer {
    const l = this.levels[level];
    if (l && l.capacity >= size) return l.sums;
    l?.sums.destroy();
    const capacity = Math.max(size, Math.ceil((l?.capacity ?? 0) * 1.5));
    const sums = this.runner.device.createBuffer({ size: Math.max(16, capacity * 4), usage: STORAGE(), label: `scan sums ${level}` });
    this.levels[level] = { sums, capacity };
    return sums;
  }

  /** Calls that scan `data[0..n)` in place (exclusive). */
  calls(data: GPUBuffer, n: number): KernelCall[] {
    const up: KernelCall[] = [];
    const down: KernelCall[] = [];
    let buf = data;
    let len = n;
    let level = 0;
    for (;;) {
      const blocks = Math.ceil(len / SCAN_BLOCK);
      if (blocks === 0) break;
      const sums = this.sums(level, blocks);
      const u = this.uniform(level, len);
      up.push({ kernel: this.scanKernel, buffers: [u, buf, sums], threads: blocks * 256 });
      if (blocks > 1) down.unshift({ kernel: this.addKernel, buffers: [u, buf, sums], threads: blocks * 256 });
      if (blocks === 1) break;
      buf = sums;
      len = blocks;
      level++;
    }
    return [...up, ...down];
  }

  encode(pass: GPUComputePassEncoder, data: GPUBuffer, n: number): void {
    this.runner.encode(pass, this.calls(data, n));
  }

  destroy(): void {
    for (const l of this.levels) l.sums.destroy();
    for (const u of this.uniforms) u.destroy();
    this.levels = [];
    this.uniforms = [];
  }
}

export interface SortBuffers {
  /** low 32 bits of each key (the whole key for 32-bit sorts) */
  keysLo: GPUBuffer;
  /** high 32 bits (64-bit keys); omit for 32-bit keys */
  keysHi?: GPUBuffer | null;
  /** payload moved with the keys */
  values: GPUBuffer;
  /** number of elements */
  count: number;
  /** significant low bits (default 32); fewer bits → fewer passes */
  loBits?: number;
  /** significant high bits (default 32 when keysHi is given); e.g. ⌈log2(tile count)⌉ */
  hiBits?: number;
}

/** Stable ascending LSD radix sort of u32 or 64-bit (hi:lo) keys with u32 values, 4 bits per pass. */
export class GpuRadixSort {
  private scratch: { lo: GPUBuffer; hi: GPUBuffer; vals: GPUBuffer; hist: GPUBuffer; capacity: number } | null = null;
  private dummies: GPUBuffer[];
  private uniforms: GPUBuffer[] = [];

  private constructor(
    readonly runner: GpuRunner,
    private readonly scan: GpuPrefixScan,
    private readonly k: { count64: Kernel | null; scatter64: Kernel | null; count32: Kernel; scatter32: Kernel },
  ) {
    const d = runner.device;
    this.dummies = [0, 1].map((i) => d.createBuffer({ size: 16, usage: STORAGE(), label: `sort dummy ${i}` }));
  }

  /** `keys64: false` compiles only the 32-bit-key kernels (fewer pipelines to build; `keysHi` is then refused). */
  static async create(device: GPUDevice, opts: { keys64?: boolean } = {}): Promise<GpuRadixSort> {
    const runner = runnerFor(device);
    const with64 = opts.keys64 ?? true;
    const bindings = ['uniform', 'read', 'read', 'read', 'storage', 'storage', 'storage', 'storage'] as const;
    const mk = (entry: string, hasHi: boolean) =>
      runner.kernel({
        code: radixSource,
        entry,
        bindings: [...bindings],
        workgroupSize: SORT_BLOCK,
        constants: { HAS_HI: hasHi ? 1 : 0 },
        label: `gs_radix.${entry}${hasHi ? '64' : '32'}`,
      });
    const [count64, scatter64, count32, scatter32, scan] = await Promise.all([
      with64 ? mk('radix_count', true) : null,
      with64 ? mk('radix_scatter', true) : null,
      mk('radix_count', false),
      mk('radix_scatter', false),
      GpuPrefixScan.create(device),
    ]);
    return new GpuRadixSort(runner, scan, { count64, scatter64, count32, scatter32 });
  }

  private ensure(count: number) {
    const s = this.scratch;
    if (s && s.capacity >= count) return s;
    s?.lo.destroy();
    s?.hi.destroy();
    s?.vals.destroy();
    s?.hist.destroy();
    const capacity = Math.max(count, Math.ceil((s?.capacity ?? 0) * 1.5));
    const d = this.runner.device;
    const bytes = Math.max(16, capacity * 4);
    const histBytes = Math.max(16, 16 * Math.ceil(capacity / SORT_BLOCK) * 4);
    this.scratch = {
      lo: d.createBuffer({ size: bytes, usage: STORAGE(), label: 'sort keysLo B' }),
      hi: d.createBuffer({ size: bytes, usage: STORAGE(), label: 'sort keysHi B' }),
      vals: d.createBuffer({ size: bytes, usage: STORAGE(), label: 'sort values B' }),
      hist: d.createBuffer({ size: histBytes, usage: STORAGE(), label: 'sort histogram' }),
      capacity,
    };
    return this.scratch;
  }

  private uniform(slot: number, data: Uint32Array<ArrayBuffer>): GPUBuffer {
    let u = this.uniforms[slot];
    if (!u)
      u = this.uniforms[slot] = this.runner.device.createBuffer({
        size: 16,
        usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
        label: `sort params ${slot}`,
      });
    this.runner.device.queue.writeBuffer(u, 0, data);
    return u;
  }

  /** Number of 4-bit passes a sort with these options runs. */
  static passes(opts: { keysHi?: GPUBuffer | boolean | null; loBits?: number; hiBits?: number }): number {
    const lo = Math.ceil((opts.loBits ?? 32) / 4);
    const hi = opts.keysHi ? Math.ceil((opts.hiBits ?? 32) / 4) : 0;
    return lo + hi;
  }

  /** Encodes the sort (its own compute pass, plus copies) into `enc`; in place, see the class comment. */
  encode(enc: GPUCommandEncoder, b: SortBuffers): void {
    const n = b.count;
    if (n <= 1) return;
    const loBits = b.loBits ?? 32,
      hiBits = b.keysHi ? (b.hiBits ?? 32) : 0;
    if (!(loBits >= 0 && loBits <= 32 && hiBits >= 0 && hiBits <= 32))
      throw new Error(`radix sort: bit counts must be in 0..32 (lo ${loBits}, hi ${hiBits})`);
    const blocks = Math.ceil(n / SORT_BLOCK);
    const s = this.ensure(n);
    const has64 = !!b.keysHi;
    const countK = has64 ? this.k.count64 : this.k.count32;
    const scatterK = has64 ? this.k.scatter64 : this.k.scatter32;
    if (!countK || !scatterK) throw new Error('radix sort: created with keys64: false, cannot sort 64-bit keys');
    const A = { lo: b.keysLo, hi: b.keysHi ?? this.dummies[0], vals: b.values };
    const B = { lo: s.lo, hi: has64 ? s.hi : this.dummies[1], vals: s.vals };
    const passes: { shift: number; useHi: number }[] = [];
    for (let sh = 0; sh < loBits; sh += 4) passes.push({ shift: sh, useHi: 0 });
    for (let sh = 0; sh < hiBits; sh += 4) passes.push({ shift: sh, useHi: 1 });
    let src = A,
      dst = B;
    const pass = enc.beginComputePass({ label: 'radix sort' });
    passes.forEach((p, k) => {
      const u = this.uniform(k, new Uint32Array([n, p.shift, p.useHi, blocks]));
      const bufs = [u, src.lo, src.hi, src.vals, s.hist, dst.lo, dst.hi, dst.vals];
      this.runner.encode(pass, [{ kernel: countK, buffers: bufs, threads: blocks * SORT_BLOCK }]);
      this.scan.encode(pass, s.hist, 16 * blocks);
      this.runner.encode(pass, [{ kernel: scatterK, buffers: bufs, threads: blocks * SORT_BLOCK }]);
      const t = src;
      src = dst;
      dst = t;
    });
    pass.end();
    if (src !== A) {
      // odd number of passes: the result is in the scratch buffers
      const bytes = n * 4;
      enc.copyBufferToBuffer(src.lo, 0, A.lo, 0, bytes);
      if (has64) enc.copyBufferToBuffer(src.hi, 0, A.hi, 0, bytes);
      enc.copyBufferToBuffer(src.vals, 0, A.vals, 0, bytes);
    }
  }

  /** Convenience: encodes and submits the sort (own encoder); read the buffers back to wait for it. */
  async sort(b: SortBuffers): Promise<void> {
    const enc = this.runner.device.createCommandEncoder({ label: 'radix sort' });
    this.encode(enc, b);
    this.runner.device.queue.submit([enc.finish()]);
    // (no onSubmittedWorkDone: it never resolves in Dawn's Node binding; readbacks wait for the work)
  }

  destroy(): void {
    const s = this.scratch;
    s?.lo.destroy();
    s?.hi.destroy();
    s?.vals.destroy();
    s?.hist.destroy();
    this.scratch = null;
    for (const d of this.dummies) d.destroy();
    for (const u of this.uniforms) u.destroy();
    this.scan.destroy();
  }
}
