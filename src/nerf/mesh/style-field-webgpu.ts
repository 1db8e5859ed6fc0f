import { getGpuDevice } from '../../gpu/device';
import { runnerFor, type GpuRunner, type Kernel, type KernelCall } from '../../gpu/runner';
import fieldSource from '../../shaders/mesh_field.wgsl?raw';
import type { FieldLayout, StyleFieldRunner, StyleFieldRunnerFactory } from './style-field';

/**
 * The style field's MLP on WebGPU (mesh_field.wgsl; CPU twin style-field-cpu.ts): the encoded vertices and every
 * layer's activations stay on the device; a forward pass uploads the parameters and reads back the 4 outputs per
 * vertex, a backward pass uploads ∂L/∂outputs and reads back the parameter gradient (Adam runs on the CPU: one
 * upload and one readback of the parameters per step, 4.4 MB for the paper's field).
 */
const TILE = 16;

export class WebGpuStyleField implements StyleFieldRunner {
  readonly name = 'webgpu';
  private readonly buffers: GPUBuffer[] = [];
  private readonly params: GPUBuffer;
  private readonly grads: GPUBuffer;
  /** Output of each layer. */
  private readonly outs: GPUBuffer[];
  private readonly dA: GPUBuffer;
  private readonly dB: GPUBuffer;
  private readonly dTop: GPUBuffer;
  private readonly dC: GPUBuffer;
  private readonly dD: GPUBuffer;
  private readonly encoded: GPUBuffer;

  private constructor(
    private readonly r: GpuRunner,
    private readonly k: Record<'fwd' | 'bin' | 'bw' | 'bb', Kernel>,
    readonly layout: FieldLayout,
    encoded: Float32Array,
    readonly count: number,
  ) {
    const n = Math.max(1, count);
    const mk = (data: number | Float32Array, label: string) => {
      const b = r.buffer(typeof data === 'number' ? data * 4 : data, label);
      this.buffers.push(b);
      return b;
    };
    this.encoded = mk(encoded, 'field.encoded');
    this.params = mk(layout.paramCount, 'field.params');
    this.grads = mk(layout.paramCount, 'field.grads');
    this.outs = layout.layers.map((l, i) => mk(n * l.out, `field.out${i}`));
    const W = layout.config.width;
    this.dA = mk(n * W, 'field.dA');
    this.dB = mk(n * W, 'field.dB');
    this.dTop = mk(n * W, 'field.dTop');
    this.dC = mk(n * 3, 'field.dC');
    this.dD = mk(n, 'field.dD');
  }

  static async create(layout: FieldLayout, encoded: Float32Array, count: number): Promise<WebGpuStyleField> {
    const r = runnerFor(await getGpuDevice());
    const B = ['uniform', 'read', 'read', 'read', 'storage'] as ('uniform' | 'read' | 'storage')[];
    const kernel = (entry: string) => r.kernel({ code: fieldSource, entry, bindings: B, label: `field.${entry}` });
    const [fwd, bin, bw, bb] = await Promise.all(
      ['linear_forward', 'linear_backward_input', 'linear_backward_weights', 'bias_backward'].map(kernel),
    );
    return new WebGpuStyleField(r, { fwd, bin, bw, bb }, layout, encoded, count);
  }

  private mm(layer: number, relu: boolean, accumulate = false): GPUBuffer {
    const l = this.layout.layers[layer];
    const u = new Uint32Array([this.count, l.in, l.out, l.w, l.b, relu ? 1 : 0, accumulate ? 1 : 0, 0]);
    const b = this.r.uniform(u, 'field.mm');
    this.transient.push(b);
    return b;
  }

  private transient: GPUBuffer[] = [];
  private flush(): void {
    for (const b of this.transient) b.destroy();
    this.transient = [];
  }

  /** The input buffer of each layer (the encoding, the layer before, or the trunk's output for a branch). */
  private inputOf(k: number): GPUBuffer {
    const { trunk, color, disp } = this.layout;
    if (k === trunk[0]) return this.encoded;
    for (const seq of [trunk, color, disp]) {
      const j = seq.indexOf(k);
      if (j > 0) return this.outs[seq[j - 1]];
      if (j === 0) return this.outs[trunk[trunk.length - 1]];
    }
    throw new Error(`no layer ${k}`);
  }

  async forward(params: Float32Array): Promise<Float32Array> {
    const r = this.r;
    r.upload(this.params, params);
    const calls: KernelCall[] = [];
    const { layers, trunk, color, disp } = this.layout;
    const n = this.count;
    for (const k of [...trunk, ...color, ...disp]) {
      const l = layers[k];
      calls.push({
        kernel: this.k.fwd,
        buffers: [this.mm(k, l.relu), this.inputOf(k), this.params, this.params, this.outs[k]],
        threads: [Math.ceil(l.out / TILE), Math.ceil(n / TILE), 1],
      });
    }
    r.run(calls, 'field.forward');
    const [c, d] = await Promise.all([
      r.readF32(this.outs[color[color.length - 1]], 0, n * 3),
      r.readF32(this.outs[disp[disp.length - 1]], 0, n),
    ]);
    this.flush();
    const out = new Float32Array(n * 4);
    for (let i = 0; i < n; i++) {
      out[4 * i] = c[3 * i];
      out[4 * i + 1] = c[3 * i + 1];
      out[4 * i + 2] = c[3 * i + 2];
      out[4 * i + 3] = d[i];
    }
    return out;
  }

  async backward(dOut: Float32Array): Promise<Float32Array> {
    const r = this.r;
    const n = this.count;
    const dc = new Float32Array(n * 3),
      dd = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      dc[3 * i] = dOut[4 * i];
      dc[3 * i + 1] = dOut[4 * i + 1];
      dc[3 * i + 2] = dOut[4 * i + 2];
      dd[i] = dOut[4 * i + 3];
    }
    r.upload(this.dC, dc);
    r.upload(this.dD, dd);
    const { layers, trunk, color, disp } = this.layout;
    const calls: KernelCall[] = [];
    const weights = (k: number, dY: GPUBuffer) => {
      const l = layers[k];
      const u = this.mm(k, false);
      const X = this.inputOf(k);
      calls.push({
        kernel: this.k.bw,
        buffers: [u, X, this.params, dY, this.grads],
        threads: [Math.ceil(l.out / TILE), Math.ceil(l.in / TILE), 1],
      });
      calls.push({ kernel: this.k.bb, buffers: [u, X, this.params, dY, this.grads], threads: [l.out, 1, 1] });
    };
    const input = (k: number, dY: GPUBuffer, dX: GPUBuffer, accumulate: boolean) => {
      const l = layers[k];
      calls.push({
        kernel: this.k.bin,
        buffers: [this.mm(k, true, accumulate), dY, this.params, this.inputOf(k), dX],
        threads: [Math.ceil(l.in / TILE), Math.ceil(n / TILE), 1],
      });
    };
    [color, disp].forEach((branch, bi) => {
      let dY = bi === 0 ? this.dC : this.dD;
      for (let j = branch.length - 1; j >= 0; j--) {
        const k = branch[j];
        weights(k, dY);
        const dX = j === 0 ? this.dTop : dY === this.dA ? this.dB : this.dA;
        input(k, dY, dX, j === 0 && bi === 1);
        dY = dX;
      }
    });
    let dY = this.dTop;
    for (let j = trunk.length - 1; j >= 0; j--) {
      weights(trunk[j], dY);
      if (j === 0) break;
      const dX = dY === this.dA ? this.dB : this.dA;
      input(trunk[j], dY, dX, false);
      dY = dX;
    }
    r.run(calls, 'field.backward');
    const g = await r.readF32(this.grads, 0, this.layout.paramCount);
    this.flush();
    return g;
  }

  dispose(): void {
    for (const b of this.buffers) b.destroy();
    this.buffers.length = 0;
    this.flush();
  }
}

export const webGpuFieldRunner: StyleFieldRunnerFactory = (layout, encoded, count) => WebGpuStyleField.create(layout, encoded, count);
