import type { SceneData } from '../workers/scene-worker-protocol';
import { useEditStore } from '../state/edit-store';
import { useHistoryStore } from '../state/history-store';
import { useViewerStore } from '../state/viewer-store';
import type { EditReply, EditRequest, EditSettings, EditSource, Thumb } from './edit-protocol';

/**
 * The main-thread side of editing: starts the edit worker with the current scene and the panel's settings,
 * forwards live setting changes, pause/resume/cancel, and turns the worker's replies into store updates; a
 * finished edit becomes an undoable operation.
 */
let worker: Worker | null = null;
let startedFrom: SceneData | null = null;

function send(msg: EditRequest, transfer: Transferable[] = []): void {
  worker?.postMessage(msg, transfer);
}

function thumbUrl(t: Thumb): string {
  const c = document.createElement('canvas');
  c.width = t.width;
  c.height = t.height;
  c.getContext('2d')!.putImageData(new ImageData(new Uint8ClampedArray(t.rgba), t.width, t.height), 0, 0);
  return c.toDataURL();
}

function onReply(r: EditReply): void {
  const es = useEditStore.getState();
  switch (r.type) {
    case 'status':
      es.set({ statusText: r.text });
      break;
    case 'progress': {
      const thumbs = [...es.thumbs];
      for (const t of r.thumbs) thumbs[t.index] = thumbUrl(t);
      es.set({ status: es.status === 'starting' ? 'running' : es.status, progress: r.ev, thumbs, statusText: null });
      break;
    }
    case 'paused':
      es.set({ status: 'paused', statusText: `paused at step ${r.step}` });
      break;
    case 'applied':
      es.set({
        applied: `settings applied at step ${r.step} (text ${r.settings.textScale}, image ${r.settings.imageScale}, noise ${r.settings.tMin.toFixed(2)}–${r.settings.tMax.toFixed(2)}, ${r.settings.steps} steps)`,
      });
      break;
    case 'rejected': {
      const thumbs = [...es.thumbs];
      thumbs[r.index] = null;
      es.set({ thumbs, applied: `view ${r.index}: edit rejected, training on its original image until it is edited again` });
      break;
    }
    case 'resumed':
      es.set({ status: 'running', statusText: null });
      break;
    case 'cancelled':
      es.set({ status: 'idle', statusText: 'edit cancelled; the scene is unchanged', progress: null });
      startedFrom = null;
      break;
    case 'done': {
      const before = startedFrom;
      startedFrom = null;
      es.set({ status: 'idle', statusText: `done: ${String(r.log.viewsEdited)} view edits` });
      if (before) {
        const after: SceneData = { ...r.scene, name: before.name };
        useHistoryStore.getState().push({ label: String(r.log.instruction), before, after, log: r.log });
      }
      break;
    }
    case 'error':
      es.set({ status: 'idle', error: r.message, statusText: null });
      startedFrom = null;
      break;
  }
}

function getWorker(): Worker {
  if (worker) return worker;
  worker = new Worker(new URL('./edit-worker.ts', import.meta.url), { type: 'module' });
  worker.onmessage = (ev: MessageEvent<EditReply>) => onReply(ev.data);
  worker.onerror = (ev) => {
    useEditStore.getState().set({ status: 'idle', error: `edit worker failed: ${ev.message}` });
    worker = null;
  };
  return worker;
}

function editSource(scene: SceneData): EditSource {
  if (scene.kind === 'voxel') return { kind: 'voxel', grid: scene.grid, background: scene.background, stepRatio: scene.stepRatio ?? 0.5 };
  if (scene.kind === 'mesh') return { kind: 'mesh', mesh: scene.mesh, background: scene.background };
  if (!scene.raw) throw new Error('this scene cannot be edited (its Gaussian parameters are not loaded)');
  return { kind: 'gaussians', gaussians: scene.raw, background: scene.background };
}

/** Starts an edit of the current scene with the panel's settings. */
export function startEdit(): void {
  const es = useEditStore.getState();
  const scene = useViewerStore.getState().scene;
  if (!scene) return es.set({ error: 'open a scene first' });
  if (es.status !== 'idle') return;
  let source: EditSource;
  try {
    source = editSource(scene);
  } catch (e) {
    return es.set({ error: (e as Error).message });
  }
  const settings: EditSettings = {
    instruction: es.instruction,
    method: es.method,
    iters: es.iters,
    views: es.views,
    size: es.viewSize,
    seed: 0,
    raysPerStep: 1024,
    textScale: es.textGuidance,
    imageScale: es.imageGuidance,
    tMin: es.noiseRange[0],
    tMax: es.noiseRange[1],
    steps: es.steps,
    region: es.regionEnabled ? es.region : null,
  };
  startedFrom = scene;
  es.set({ status: 'starting', error: null, statusText: 'starting…', progress: null, thumbs: [], applied: null });
  // the worker gets a structured copy of the scene; the viewer keeps showing the original meanwhile
  getWorker();
  send({ type: 'start', scene: source, settings, model: es.model, ortWasmPaths: es.ortWasmPaths });
}

export function updateLiveSettings(): void {
  const es = useEditStore.getState();
  if (es.status === 'idle') return;
  send({
    type: 'update',
    textScale: es.textGuidance,
    imageScale: es.imageGuidance,
    tMin: es.noiseRange[0],
    tMax: es.noiseRange[1],
    steps: es.steps,
  });
}

export function pauseEdit(): void {
  send({ type: 'pause' });
}
/** Rejects the latest edit of training view `index` (IDU). */
export function rejectView(index: number): void {
  send({ type: 'reject', index });
}
export function resumeEdit(): void {
  send({ type: 'resume' });
}
export function cancelEdit(): void {
  useEditStore.getState().set({ status: 'cancelling' });
  send({ type: 'cancel' });
}
