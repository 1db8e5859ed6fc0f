/**
 * A worker thread that owns one onnxruntime-node session (one model instance of `serve`): onnxruntime-node runs a
 * graph synchronously on the calling thread, so the server's event loop stays free for HTTP while models run here.
 * Started by ./model-worker.ts with `workerData` = { source: path | bytes, providers: string[][], threads }.
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';

export interface WorkerTensor {
  type: string;
  data: ArrayBufferView;
  dims: number[];
}

export type WorkerRequest = { type: 'run'; id: number; feeds: Record<string, WorkerTensor> };
export type WorkerReply =
  | { type: 'ready'; inputNames: string[]; outputNames: string[]; provider: string }
  | { type: 'failed'; message: string }
  | { type: 'result'; id: number; outputs?: Record<string, WorkerTensor>; error?: string; ms: number };

const port = parentPort!;
const { source, providers, threads } = workerData as { source: string | Uint8Array; providers: string[][]; threads?: number };

let session: ort.InferenceSession | null = null;
let provider = '';
let lastError: unknown;
for (const eps of providers) {
  try {
    session = await ort.InferenceSession.create(source as string, {
      executionProviders: eps,
      graphOptimizationLevel: 'all',
      logSeverityLevel: 4, // errors are answered to the client and logged by the server, not printed by onnxruntime
      ...(threads ? { intraOpNumThreads: threads } : {}),
    });
    provider = eps.join('+');
    break;
  } catch (e) {
    lastError = e;
  }
}
if (!session) {
  port.postMessage({ type: 'failed', message: String((lastError as Error)?.message ?? lastError).split('\n')[0] } satisfies WorkerReply);
} else {
  const s = session;
  port.postMessage({ type: 'ready', inputNames: [...s.inputNames], outputNames: [...s.outputNames], provider } satisfies WorkerReply);
  port.on('message', async (m: WorkerRequest) => {
    if (m.type !== 'run') return;
    const t0 = performance.now();
    try {
      const feeds: Record<string, ort.Tensor> = {};
      for (const [k, t] of Object.entries(m.feeds)) feeds[k] = new ort.Tensor(t.type as 'float32', t.data as Float32Array, t.dims);
      const out = await s.run(feeds);
      const ms = performance.now() - t0;
      const outputs: Record<string, WorkerTensor> = {};
      const transfer: ArrayBuffer[] = [];
      for (const [k, t] of Object.entries(out)) {
        const data = t.data as ArrayBufferView;
        outputs[k] = { type: t.type, data, dims: [...t.dims] };
        if (data.buffer instanceof ArrayBuffer && !transfer.includes(data.buffer)) transfer.push(data.buffer);
      }
      try {
        port.postMessage({ type: 'result', id: m.id, outputs, ms } satisfies WorkerReply, transfer);
      } catch {
        port.postMessage({ type: 'result', id: m.id, outputs, ms } satisfies WorkerReply); // buffers that cannot move are copied
      }
    } catch (e) {
      port.postMessage({
        type: 'result',
        id: m.id,
        error: String((e as Error)?.message ?? e).split('\n')[0],
        ms: performance.now() - t0,
      } satisfies WorkerReply);
    }
  });
}
