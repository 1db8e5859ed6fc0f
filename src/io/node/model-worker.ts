/**
 * The main-thread side of one model instance of `serve`: starts ./ort-worker.ts in a worker thread (through tsx
 * when running from TypeScript sources) and runs feeds on it, one call at a time per worker.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { WorkerReply, WorkerTensor } from './ort-worker';

export type Device = 'auto' | 'cpu' | 'cuda';

/** True when onnxruntime-node's CUDA execution provider library is installed beside its binding. */
export function cudaProviderInstalled(): boolean {
  try {
    const main = createRequire(import.meta.url).resolve('onnxruntime-node');
    const bin = path.join(path.dirname(main), '..', 'bin', 'napi-v6', process.platform, process.arch);
    return ['libonnxruntime_providers_cuda.so', 'onnxruntime_providers_cuda.dll'].some((f) => existsSync(path.join(bin, f)));
  } catch {
    return false;
  }
}

/** Execution providers to try, in order, for a --device choice. */
export function providersFor(device: Device): string[][] {
  if (device === 'cpu') return [['cpu']];
  if (device === 'cuda') return [['cuda']];
  return cudaProviderInstalled() ? [['cuda'], ['cpu']] : [['cpu']];
}

function workerCode(): string {
  const here = import.meta.url;
  const ts = here.endsWith('.ts');
  const target = new URL(`./ort-worker.${ts ? 'ts' : 'js'}`, here).href;
  if (!ts) return `import(${JSON.stringify(target)})`;
  // Worker threads do not inherit the loader hooks that run TypeScript: register tsx in the worker first.
  const tsx = import.meta.resolve('tsx/esm/api');
  return `import(${JSON.stringify(tsx)}).then((m) => m.register()).then(() => import(${JSON.stringify(target)}))`;
}

export interface RunResult {
  outputs: Record<string, WorkerTensor>;
  /** time onnxruntime spent in session.run */
  ms: number;
}

export class ModelWorker {
  private nextId = 1;
  private pending = new Map<number, { resolve: (r: RunResult) => void; reject: (e: Error) => void }>();
  private exited: string | null = null;

  private constructor(
    private readonly worker: Worker,
    readonly inputNames: string[],
    readonly outputNames: string[],
    readonly provider: string,
  ) {
    worker.on('message', (m: WorkerReply) => {
      if (m.type !== 'result') return;
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.error !== undefined) p.reject(new Error(m.error));
      else p.resolve({ outputs: m.outputs!, ms: m.ms });
    });
    const fail = (why: string) => {
      this.exited = why;
      for (const p of this.pending.values()) p.reject(new Error(why));
      this.pending.clear();
    };
    worker.on('error', (e) => fail(`the model's worker failed: ${e.message}`));
    worker.on('exit', (code) => fail(`the model's worker exited (code ${code})`));
  }

  /** Starts a worker and loads the model (a file path — external data is found beside it — or model bytes). */
  static start(source: string | Uint8Array, opts: { providers: string[][]; threads?: number }): Promise<ModelWorker> {
    return new Promise((resolve, reject) => {
      const w = new Worker(workerCode(), { eval: true, workerData: { source, providers: opts.providers, threads: opts.threads } });
      const onMsg = (m: WorkerReply) => {
        if (m.type === 'ready') {
          w.off('message', onMsg);
          resolve(new ModelWorker(w, m.inputNames, m.outputNames, m.provider));
        } else if (m.type === 'failed') {
          void w.terminate();
          reject(new Error(m.message));
        }
      };
      w.on('message', onMsg);
      w.once('error', reject);
      w.once('exit', (code) => reject(new Error(`the model's worker exited (code ${code}) while loading`)));
    });
  }

  get alive(): boolean {
    return this.exited === null;
  }

  run(feeds: Record<string, WorkerTensor>): Promise<RunResult> {
    if (this.exited) return Promise.reject(new Error(this.exited));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      const transfer = [...new Set(Object.values(feeds).map((t) => t.data.buffer as ArrayBuffer))];
      this.worker.postMessage({ type: 'run', id, feeds }, transfer);
    });
  }

  async terminate(): Promise<void> {
    this.exited ??= 'stopped';
    await this.worker.terminate();
  }
}
