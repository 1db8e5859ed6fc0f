import { parentPort, workerData } from 'node:worker_threads';
import { CpuStyleField } from '../../nerf/mesh/style-field-cpu';
import type { FieldLayout } from '../../nerf/mesh/style-field';

/** One slice of the style field's vertices on a worker thread (node-style-field-pool.ts sends the work). */
const { layout, encoded, count } = workerData as { layout: FieldLayout; encoded: Float32Array; count: number };
const field = new CpuStyleField(layout, encoded, count);
parentPort!.on('message', (msg: { op: 'forward'; params: Float32Array } | { op: 'backward'; dOut: Float32Array }) => {
  if (msg.op === 'forward') {
    const out = field.forwardSync(msg.params);
    parentPort!.postMessage(out, [out.buffer as ArrayBuffer]);
  } else {
    const g = field.backwardSync(msg.dOut);
    parentPort!.postMessage(g, [g.buffer as ArrayBuffer]);
  }
});
parentPort!.postMessage('ready');
