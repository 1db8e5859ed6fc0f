/**
 * The scheduler of one served model: a bounded FIFO queue in front of its worker, and batching of the requests
 * that piled up while the model was busy — along the first axis, when the model's inputs and outputs all have a
 * dynamic first dimension, every input of a request has the same first size, and the other dimensions and
 * datatypes agree (Triton's dynamic batching, without a delay: nothing waits for a batch to fill). Requests whose
 * client went away while they waited are dropped without running.
 */
import type { OipArray, OipDatatype, WireTensor } from '../../edit/diffusion/remote/oip-tensors';
import { OIP_TYPES, oipDatatypeOf, ortTypeOf } from '../../edit/diffusion/remote/oip-tensors';
import type { ModelWorker } from './model-worker';

export interface QueueJob {
  /** inputs in the model's input order */
  inputs: WireTensor[];
  /** the request's batch size when it can be batched (all inputs share their first size), else null */
  rows: number | null;
  /** the share of one run's work budget (image pixels, tokens) the request takes, ≤ 1; a batch sums to at most 1 */
  cost?: number;
  /** true when the client is gone: the job is dropped */
  abandoned(): boolean;
}

export interface JobResult {
  outputs: WireTensor[];
  queueMs: number;
  runMs: number;
  /** requests and rows in the batch the job ran in */
  batchRequests: number;
  batchRows: number;
}

export class QueueFullError extends Error {}
export class ModelRunError extends Error {}

interface Waiting {
  job: QueueJob;
  t0: number;
  resolve(r: JobResult): void;
  reject(e: Error): void;
}

export class ModelQueue {
  private waiting: Waiting[] = [];
  private busy = false;

  constructor(
    readonly name: string,
    private readonly worker: ModelWorker,
    /** the model can batch along axis 0 */
    readonly batchable: boolean,
    private readonly maxBatchRows: number,
    readonly limit: number,
  ) {}

  get length(): number {
    return this.waiting.length;
  }

  get running(): boolean {
    return this.busy;
  }

  get full(): boolean {
    return this.waiting.length >= this.limit;
  }

  submit(job: QueueJob): Promise<JobResult> {
    if (this.full) return Promise.reject(new QueueFullError(`the queue of model '${this.name}' is full (${this.limit} requests waiting)`));
    return new Promise((resolve, reject) => {
      this.waiting.push({ job, t0: performance.now(), resolve, reject });
      this.pump();
    });
  }

  private compatible(a: QueueJob, b: QueueJob): boolean {
    if (a.rows === null || b.rows === null) return false;
    for (let i = 0; i < a.inputs.length; i++) {
      const x = a.inputs[i],
        y = b.inputs[i];
      if (x.datatype !== y.datatype || x.shape.length !== y.shape.length) return false;
      for (let d = 1; d < x.shape.length; d++) if (x.shape[d] !== y.shape[d]) return false;
    }
    return true;
  }

  private pump(): void {
    if (this.busy) return;
    while (this.waiting.length && this.waiting[0].job.abandoned()) this.waiting.shift()!.reject(new Error('client gone'));
    if (!this.waiting.length) return;
    const head = this.waiting.shift()!;
    const batch = [head];
    if (this.batchable && head.job.rows !== null) {
      let rows = head.job.rows;
      let cost = head.job.cost ?? 0;
      for (let i = 0; i < this.waiting.length && rows < this.maxBatchRows;) {
        const w = this.waiting[i];
        if (w.job.abandoned()) {
          this.waiting.splice(i, 1);
          w.reject(new Error('client gone'));
          continue;
        }
        if (this.compatible(head.job, w.job) && rows + w.job.rows! <= this.maxBatchRows && cost + (w.job.cost ?? 0) <= 1) {
          batch.push(w);
          rows += w.job.rows!;
          cost += w.job.cost ?? 0;
          this.waiting.splice(i, 1);
        } else i++;
      }
    }
    this.busy = true;
    void this.runBatch(batch).finally(() => {
      this.busy = false;
      this.pump();
    });
  }

  private async runBatch(batch: Waiting[]): Promise<void> {
    const start = performance.now();
    const feeds: Record<string, { type: string; data: OipArray; dims: number[] }> = {};
    const first = batch[0].job;
    const rows = batch.reduce((a, w) => a + (w.job.rows ?? 0), 0);
    for (let i = 0; i < first.inputs.length; i++) {
      const t = first.inputs[i];
      let data = t.data;
      let dims = t.shape;
      if (batch.length > 1) {
        const C = OIP_TYPES[t.datatype].array!;
        const out = new C(batch.reduce((a, w) => a + w.job.inputs[i].data.length, 0));
        let o = 0;
        for (const w of batch) {
          (out as Float32Array).set(w.job.inputs[i].data as Float32Array, o);
          o += w.job.inputs[i].data.length;
        }
        data = out;
        dims = [rows, ...t.shape.slice(1)];
      }
      feeds[t.name] = { type: ortTypeOf(t.datatype), data, dims };
    }
    let res;
    try {
      res = await this.worker.run(feeds);
    } catch (e) {
      for (const w of batch) w.reject(new ModelRunError((e as Error).message));
      return;
    }
    const outs = Object.entries(res.outputs).map(([name, t]) => {
      const datatype = oipDatatypeOf(t.type) as OipDatatype;
      const C = OIP_TYPES[datatype]?.array;
      const a = t.data as OipArray;
      // outputs come back as typed arrays (or plain views after a copy): normalise to the datatype's array
      const data = C && !(a instanceof C) ? new C(a.buffer as ArrayBuffer, a.byteOffset, a.byteLength / OIP_TYPES[datatype].size) : a;
      return { name, datatype, shape: t.dims, data } as WireTensor;
    });
    if (batch.length === 1) {
      batch[0].resolve({ outputs: outs, queueMs: start - batch[0].t0, runMs: res.ms, batchRequests: 1, batchRows: first.rows ?? 0 });
      return;
    }
    for (const o of outs) {
      if (o.shape[0] !== rows) {
        const msg = `model '${this.name}' returned '${o.name}' with first dimension ${o.shape[0]} for a batch of ${rows}; run it with --max-batch 1`;
        for (const w of batch) w.reject(new ModelRunError(msg));
        return;
      }
    }
    let r0 = 0;
    for (const w of batch) {
      const n = w.job.rows!;
      const mine = outs.map((o) => {
        const per = o.data.length / rows;
        return { ...o, shape: [n, ...o.shape.slice(1)], data: o.data.slice(r0 * per, (r0 + n) * per) as OipArray };
      });
      r0 += n;
      w.resolve({ outputs: mine, queueMs: start - w.t0, runMs: res.ms, batchRequests: batch.length, batchRows: rows });
    }
  }

  /** Rejects everything still waiting (the server is stopping). */
  drain(reason: Error): void {
    for (const w of this.waiting.splice(0)) w.reject(reason);
  }
}
