import type { SceneWorkerReply, SceneWorkerRequest } from './scene-worker-protocol';
import type { ViewerScene } from '../state/viewer-store';

type Req = SceneWorkerRequest extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

let worker: Worker | null = null;
let nextId = 1;
const pending = new Map<number, { resolve(s: ViewerScene): void; reject(e: Error): void }>();

function getWorker(): Worker {
  if (worker) return worker;
  worker = new Worker(new URL('./scene-worker.ts', import.meta.url), { type: 'module' });
  worker.onmessage = (ev: MessageEvent<SceneWorkerReply>) => {
    const r = ev.data;
    const p = pending.get(r.id);
    if (!p) return;
    pending.delete(r.id);
    if (r.type === 'error') p.reject(new Error(r.message));
    else if (r.type === 'splats') p.resolve({ kind: 'gaussians', name: r.name, splats: r.splats, background: r.background });
    else p.resolve({ kind: 'voxel', name: r.name, grid: r.grid, background: r.background, stepRatio: r.stepRatio });
  };
  worker.onerror = (ev) => {
    for (const p of pending.values()) p.reject(new Error(`scene worker failed: ${ev.message}`));
    pending.clear();
  };
  return worker;
}

/** Runs a request in the scene worker (generation and parsing happen off the main thread). */
export function sceneWorker(req: Req, transfer: Transferable[] = []): Promise<ViewerScene> {
  const id = nextId++;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject });
    getWorker().postMessage({ ...req, id }, transfer);
  });
}
