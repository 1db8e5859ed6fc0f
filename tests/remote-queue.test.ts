/**
 * The server's per-model scheduler on a real onnxruntime-node worker (the built-in UNet): requests that pile up
 * while the model runs are batched along the first axis and each gets exactly its own rows back; incompatible
 * requests run alone; requests whose client left are dropped; a full queue refuses new requests.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { Rng } from '../src/core/rng';
import { ModelWorker } from '../src/io/node/model-worker';
import { ModelQueue, QueueFullError, type QueueJob } from '../src/io/node/model-queue';
import type { WireTensor } from '../src/edit/diffusion/remote/oip-tensors';

let worker: ModelWorker;
beforeAll(async () => {
  worker = await ModelWorker.start(join(__dirname, '../models/builtin/unet/model.onnx'), { providers: [['cpu']] });
}, 60_000);
afterAll(async () => worker?.terminate());

const rng = new Rng(5);
function unetJob(rows: number, hw = 4, abandoned = () => false): QueueJob {
  const f = (n: number, s = 1) => Float32Array.from({ length: n }, () => rng.normal() * s);
  const inputs: WireTensor[] = [
    { name: 'sample', datatype: 'FP32', shape: [rows, 8, hw, hw], data: f(rows * 8 * hw * hw) },
    { name: 'timestep', datatype: 'FP32', shape: [rows], data: Float32Array.from({ length: rows }, () => 50 + rng.uniform(0, 900)) },
    { name: 'encoder_hidden_states', datatype: 'FP32', shape: [rows, 77, 768], data: f(rows * 77 * 768, 0.01) },
  ];
  return { inputs, rows, abandoned };
}

/** The job run alone through the worker (copies: the queue hands buffers to the worker). */
async function solo(job: QueueJob) {
  const feeds = Object.fromEntries(
    job.inputs.map((t) => [t.name, { type: 'float32', data: (t.data as Float32Array).slice(), dims: t.shape }]),
  );
  return (await worker.run(feeds)).outputs.out_sample;
}

const copy = (j: QueueJob): QueueJob => ({ ...j, inputs: j.inputs.map((t) => ({ ...t, data: (t.data as Float32Array).slice() })) });

describe('serve: model queue and batching', () => {
  it('batches waiting requests and splits the outputs exactly', async () => {
    const q = new ModelQueue('unet', worker, true, 16, 32);
    const jobs = [unetJob(3), unetJob(3), unetJob(1), unetJob(3), unetJob(3, 8), unetJob(3)];
    const want: Awaited<ReturnType<typeof solo>>[] = [];
    for (const j of jobs) want.push(await solo(j));
    // all submitted at once: the first runs alone, the rest wait and go in batches of compatible shapes
    const results = await Promise.all(jobs.map((j) => q.submit(copy(j))));
    results.forEach((r, i) => {
      const o = r.outputs.find((t) => t.name === 'out_sample')!;
      expect(o.shape).toEqual(want[i].dims);
      expect(Array.from(o.data as Float32Array)).toEqual(Array.from(want[i].data as Float32Array));
    });
    expect(results[0].batchRequests).toBe(1);
    // jobs 1, 2, 3, 5 (4×4 latents) waited together: one batch of 10 rows; job 4 (8×8) ran alone
    for (const i of [1, 2, 3, 5]) expect([results[i].batchRequests, results[i].batchRows]).toEqual([4, 10]);
    expect([results[4].batchRequests, results[4].batchRows]).toEqual([1, 3]);
  });

  it('keeps batches within the row limit, drops abandoned requests, refuses past the queue limit', async () => {
    const q = new ModelQueue('unet', worker, true, 6, 3);
    const gone = unetJob(3, 4, () => true);
    const jobs = [unetJob(3), unetJob(3), gone, unetJob(3)];
    const p = jobs.map((j) => q.submit(j));
    await expect(q.submit(unetJob(3))).rejects.toBeInstanceOf(QueueFullError); // 3 waiting
    const settled = await Promise.allSettled(p);
    expect(settled[2].status).toBe('rejected');
    const ok = settled.filter((s) => s.status === 'fulfilled').map((s) => (s as PromiseFulfilledResult<any>).value);
    expect(ok.map((r) => r.batchRows)).toEqual([3, 6, 6]); // at most 6 rows in a run
  });

  it('keeps batches within the work budget: requests costing 0.4 of a run go two by two', async () => {
    const q = new ModelQueue('unet', worker, true, 16, 32);
    const rs = await Promise.all([0, 1, 2, 3, 4].map(() => q.submit({ ...unetJob(1), cost: 0.4 })));
    // the first runs alone; the four that waited fill runs of at most 0.8 (three would be 1.2)
    expect(rs.map((r) => r.batchRequests)).toEqual([1, 2, 2, 2, 2]);
  });

  it('a model that cannot batch runs requests one by one', async () => {
    const q = new ModelQueue('unet', worker, false, 16, 8);
    const rs = await Promise.all([unetJob(3), unetJob(3), unetJob(3)].map((j) => q.submit(j)));
    expect(rs.map((r) => r.batchRequests)).toEqual([1, 1, 1]);
  });
});
