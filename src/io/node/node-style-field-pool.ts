import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { FieldLayout, StyleFieldRunner, StyleFieldRunnerFactory } from '../../nerf/mesh/style-field';
import { CpuStyleField } from '../../nerf/mesh/style-field-cpu';

/**
 * Node adapter: runs the style field's MLP on several cores. The vertices are split into contiguous slices, one
 * on this thread and one per worker thread; a forward pass sends the parameters to every slice and gathers the
 * outputs, a backward pass sends each slice its output gradient and sums the parameter gradients.
 */
export function nodeFieldRunner(threads = availableParallelism()): StyleFieldRunnerFactory {
  return async (layout, encoded, count) => {
    const k = Math.max(1, Math.min(threads, Math.floor(count / 512)));
    if (k <= 1) return new CpuStyleField(layout, encoded, count);
    return StyleFieldPool.create(layout, encoded, count, k);
  };
}

class StyleFieldPool implements StyleFieldRunner {
  readonly name: string;
  private constructor(
    private readonly main: CpuStyleField,
    private readonly workers: Worker[],
    private readonly bounds: number[],
    private readonly paramCount: number,
  ) {
    this.name = `cpu×${workers.length + 1}`;
  }

  static async create(layout: FieldLayout, encoded: Float32Array, count: number, k: number): Promise<StyleFieldPool> {
    const D = layout.inputs;
    const bounds = Array.from({ length: k + 1 }, (_, i) => Math.round((i * count) / k));
    const main = new CpuStyleField(layout, encoded.subarray(0, bounds[1] * D), bounds[1]);
    const boot = new URL('./ts-worker.mjs', import.meta.url);
    const entry = new URL('./style-field-worker.ts', import.meta.url).href;
    const workers = await Promise.all(
      bounds.slice(1, -1).map(async (b0, i) => {
        const b1 = bounds[i + 2];
        const w = new Worker(boot, { workerData: { entry, layout, encoded: encoded.slice(b0 * D, b1 * D), count: b1 - b0 } });
        w.unref();
        await new Promise<void>((res, rej) => {
          w.once('message', () => res());
          w.once('error', rej);
        });
        return w;
      }),
    );
    return new StyleFieldPool(main, workers, bounds, layout.paramCount);
  }

  private ask(w: Worker, msg: unknown, transfer: ArrayBuffer[] = []): Promise<Float32Array> {
    return new Promise((res, rej) => {
      const onError = (e: Error) => rej(e);
      w.once('error', onError);
      w.once('message', (m: Float32Array) => {
        w.off('error', onError);
        res(m);
      });
      w.postMessage(msg, transfer);
    });
  }

  async forward(params: Float32Array): Promise<Float32Array> {
    const pending = this.workers.map((w) => this.ask(w, { op: 'forward', params }));
    const first = this.main.forwardSync(params);
    const parts = [first, ...(await Promise.all(pending))];
    const out = new Float32Array(this.bounds[this.bounds.length - 1] * 4);
    parts.forEach((p, i) => out.set(p, this.bounds[i] * 4));
    return out;
  }

  async backward(dOut: Float32Array): Promise<Float32Array> {
    const pending = this.workers.map((w, i) => {
      const d = dOut.slice(this.bounds[i + 1] * 4, this.bounds[i + 2] * 4);
      return this.ask(w, { op: 'backward', dOut: d }, [d.buffer]);
    });
    const g = this.main.backwardSync(dOut.subarray(0, this.bounds[1] * 4), new Float32Array(this.paramCount));
    for (const part of await Promise.all(pending)) for (let i = 0; i < g.length; i++) g[i] += part[i];
    return g;
  }

  dispose(): void {
    for (const w of this.workers) void w.terminate();
  }
}
