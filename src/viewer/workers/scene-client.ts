import type { SceneWorkerReply, SceneWorkerRequest } from './scene-worker-protocol';

type Req = SceneWorkerRequest extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;
export type Opened = Omit<Extract<SceneWorkerReply, { type: 'opened' }>, 'id' | 'type'>;

let worker: Worker | null = null;
let nextId = 1;
const pending = new Map<number, { resolve(s: any): void; reject(e: Error): void; progress?: (fraction: number, what: string) => void }>();

function getWorker(): Worker {
  if (worker) return worker;
  worker = new Worker(new URL('./scene-worker.ts', import.meta.url), { type: 'module' });
  worker.onmessage = (ev: MessageEvent<SceneWorkerReply>) => {
    const r = ev.data;
    const p = pending.get(r.id);
    if (!p) return;
    if (r.type === 'progress') {
      p.progress?.(r.fraction, r.what);
      return;
    }
    pending.delete(r.id);
    if (r.type === 'error') p.reject(new Error(r.message));
    else if (r.type === 'exported') p.resolve({ name: r.name, bytes: r.bytes });
    else if (r.type === 'selected') p.resolve({ preview: r.preview, selected: r.selected, candidates: r.candidates });
    else p.resolve({ scene: r.scene, dataset: r.dataset });
  };
  worker.onerror = (ev) => {
    for (const p of pending.values()) p.reject(new Error(`scene worker failed: ${ev.message}`));
    pending.clear();
    worker = null;
  };
  return worker;
}

/** Exports a scene in the worker (rendering and encoding off the main thread). */
export function exportInWorker(req: Extract<Req, { type: 'export' }>): Promise<{ name: string; bytes: Uint8Array }> {
  const id = nextId++;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject });
    getWorker().postMessage({ ...req, id });
  });
}

/** The object an edit in the box would change, as a recoloured copy of the scene (computed in the worker). */
export function selectInWorker(
  req: Extract<Req, { type: 'select' }>,
): Promise<{ preview: import('./scene-worker-protocol').SceneData; selected: number; candidates: number }> {
  const id = nextId++;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject });
    getWorker().postMessage({ ...req, id });
  });
}

/** Runs a request in the scene worker (generation and parsing happen off the main thread); `progress` hears parsing. */
export function sceneWorker(
  req: Exclude<Req, { type: 'export' } | { type: 'select' }>,
  transfer: Transferable[] = [],
  progress?: (fraction: number, what: string) => void,
): Promise<Opened> {
  const id = nextId++;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject, progress });
    getWorker().postMessage({ ...req, id }, transfer);
  });
}
