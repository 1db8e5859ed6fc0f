import projectSource from '../../shaders/splat_project.wgsl?raw';
import sortSource from '../../shaders/splat_sort.wgsl?raw';
import { runnerFor, type GpuRunner, type Kernel } from '../../gpu/runner';
import type { SplatBuffers } from './splat-data';
import { DEPTH_BINS, PARAMS_BYTES, RECORD_WORDS, STATE_WORDS, writeSplatParams, type SplatParams } from './splat-project';

const WG = 256;
const STORAGE = () => GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

/** Where a frame's results go: buffers the draw reads (three.js owns them; see splat-mesh.ts). */
export interface SplatFrameTargets {
  /** RECORD_WORDS u32 per record (capacity records) */
  records: GPUBuffer;
  /** u32 per record: the records, far to near */
  order: GPUBuffer;
  /** u32: how many records to draw */
  count: GPUBuffer;
}

/**
 * The viewer's per-frame splat work on the GPU, in one compute pass of three dispatches (five with a level-of-detail
 * tree): (the size histogram of the tree's nodes and the cut that fits the budget), projection + culling into draw
 * records with depth keys and their histogram (splat_project.wgsl), the histogram's prefix sums, and the scatter
 * of a counting sort (splat_sort.wgsl). Nothing is read back, nothing is indirect, and the kernels clear the
 * counters they read, so no clear passes either.
 */
export class SplatGpu {
  private readonly data: GPUBuffer;
  private readonly sh: GPUBuffer;
  private readonly lod: GPUBuffer;
  readonly state: GPUBuffer;
  readonly keys: GPUBuffer;
  private readonly hist: GPUBuffer;
  private readonly offsets: GPUBuffer;
  private readonly lodbins: GPUBuffer;
  private readonly params: GPUBuffer;
  private readonly sortParams: GPUBuffer;
  private readonly paramBytes = new ArrayBuffer(PARAMS_BYTES);

  private constructor(
    readonly runner: GpuRunner,
    readonly splats: SplatBuffers,
    readonly capacity: number,
    private readonly k: { lodBins: Kernel; lodSelect: Kernel; project: Kernel; offsets: Kernel; scatter: Kernel },
  ) {
    const d = runner.device;
    const upload = (src: Uint32Array | null, label: string) => {
      const bytes = Math.max(16, src?.byteLength ?? 0);
      const b = d.createBuffer({ size: Math.ceil(bytes / 4) * 4, usage: STORAGE(), label, mappedAtCreation: true });
      if (src) new Uint32Array(b.getMappedRange()).set(src);
      b.unmap();
      return b;
    };
    const s = splats;
    this.data = upload(s.data.subarray(0, s.nodes * 8), 'splat data');
    this.sh = upload(s.sh, 'splat sh');
    this.lod = upload(s.lod, 'splat lod');
    this.state = d.createBuffer({ size: STATE_WORDS * 4, usage: STORAGE(), label: 'splat state' });
    this.keys = d.createBuffer({ size: Math.max(16, capacity * 4), usage: STORAGE(), label: 'splat keys' });
    this.hist = d.createBuffer({ size: DEPTH_BINS * 4, usage: STORAGE(), label: 'splat depth histogram' });
    this.offsets = d.createBuffer({ size: DEPTH_BINS * 4, usage: STORAGE(), label: 'splat depth offsets' });
    this.lodbins = d.createBuffer({ size: s.lod ? s.nodes * 4 : 16, usage: STORAGE(), label: 'splat node size bins' });
    this.params = d.createBuffer({ size: PARAMS_BYTES, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, label: 'splat params' });
    this.sortParams = runner.uniform(new Uint32Array([capacity, 0, 0, 0]), 'splat sort params');
  }

  /** Compiles the kernels (asynchronously) and uploads the splats. */
  static async create(device: GPUDevice, splats: SplatBuffers, capacity: number): Promise<SplatGpu> {
    const runner = runnerFor(device);
    const limit = device.limits.maxStorageBufferBindingSize;
    const bytes = splats.nodes * 32;
    if (bytes > limit)
      throw new Error(
        `${splats.nodes} splats need ${Math.ceil(bytes / 2 ** 20)} MiB in one storage buffer; this WebGPU device allows ${Math.floor(limit / 2 ** 20)} MiB`,
      );
    const proj = (entry: string, workgroupSize = WG) =>
      runner.kernel({
        code: projectSource,
        entry,
        bindings: ['uniform', 'read', 'read', 'read', 'storage', 'storage', 'storage', 'storage', 'storage'],
        workgroupSize,
        label: `splat_project.${entry}`,
      });
    const sort = (entry: string) =>
      runner.kernel({
        code: sortSource,
        entry,
        bindings: ['uniform', 'storage', 'storage', 'storage', 'storage', 'storage', 'storage'],
        workgroupSize: WG,
        label: `splat_sort.${entry}`,
      });
    const [lodBins, lodSelect, project, offsets, scatter] = await Promise.all([
      proj('splat_lod_bins'),
      proj('splat_lod_select'),
      proj('splat_project'),
      sort('splat_offsets'),
      sort('splat_scatter'),
    ]);
    return new SplatGpu(runner, splats, capacity, { lodBins, lodSelect, project, offsets, scatter });
  }

  /** GPU memory of this object's buffers (bytes), besides the draw targets. */
  get gpuBytes(): number {
    return [this.data, this.sh, this.lod, this.state, this.keys, this.hist, this.offsets, this.lodbins].reduce((s, b) => s + b.size, 0);
  }

  /** Encodes one frame (queue writes for the parameters happen now). */
  encode(enc: GPUCommandEncoder, p: SplatParams, out: SplatFrameTargets): void {
    const r = this.runner;
    r.device.queue.writeBuffer(this.params, 0, writeSplatParams(p, this.paramBytes));
    const pb = [this.params, this.data, this.sh, this.lod, this.state, out.records, this.keys, this.hist, this.lodbins];
    const sb = [this.sortParams, this.state, this.keys, this.hist, this.offsets, out.order, out.count];
    const pass = enc.beginComputePass({ label: 'splat projection + sort' });
    if (p.lod)
      r.encode(pass, [
        { kernel: this.k.lodBins, buffers: pb, threads: p.nodes - p.leaves },
        { kernel: this.k.lodSelect, buffers: pb, threads: [1, 1, 1] },
      ]);
    r.encode(pass, [
      { kernel: this.k.project, buffers: pb, threads: p.nodes },
      { kernel: this.k.offsets, buffers: sb, threads: [1, 1, 1] },
      // every slot that can hold a record; those past the count return at once
      { kernel: this.k.scatter, buffers: sb, threads: this.capacity },
    ]);
    pass.end();
  }

  /** The state words (counters, level-of-detail histograms) after the submitted work (tests, stats). */
  async readState(): Promise<Uint32Array> {
    return this.runner.readU32(this.state, 0, STATE_WORDS);
  }

  destroy(): void {
    for (const b of [this.data, this.sh, this.lod, this.state, this.keys, this.hist, this.offsets, this.params, this.sortParams])
      b.destroy();
  }
}

export { RECORD_WORDS };
