import type { SceneData } from '../workers/scene-worker-protocol';
import { useEditStore } from '../state/edit-store';
import { useHistoryStore } from '../state/history-store';
import { useViewerStore } from '../state/viewer-store';
import type { EditReply, EditRequest, EditSettings, EditSource, Thumb } from './edit-protocol';
import { clearSavedEdit, savedEditSummary } from './saved-edit';

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
    case 'restored': {
      // show the scene the interrupted edit works on, and its settings, as they were
      const s = r.settings;
      startedFrom = r.scene;
      useViewerStore.getState().setScene(r.scene);
      es.set({
        interrupted: null,
        statusText: `resumed at step ${r.step}`,
        instruction: s.instruction,
        method: s.method,
        iters: s.iters,
        views: s.views,
        viewSize: s.size,
        textScale: s.textScale,
        imageScale: s.imageScale,
        tMin: s.tMin,
        tMax: s.tMax,
        steps: s.steps,
        regionEnabled: !!s.region,
        ...(s.region ? { region: s.region } : {}),
      });
      break;
    }
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
      if (es.status === 'cancelling') {
        // a model server's call in flight was aborted by the cancel: the edit ended as cancelled
        es.set({ status: 'idle', statusText: 'edit cancelled; the scene is unchanged', progress: null });
        startedFrom = null;
        break;
      }
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
  if (scene.kind === 'voxel')
    return { kind: 'voxel', grid: scene.grid, background: scene.background, render: { stepRatio: scene.stepRatio ?? 0.5, near: 0 } };
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
    textScale: es.textScale,
    imageScale: es.imageScale,
    tMin: es.tMin,
    tMax: es.tMax,
    steps: es.steps,
    region: es.regionEnabled ? es.region : null,
  };
  startedFrom = scene;
  // a new edit replaces the one kept from an earlier session
  es.set({ status: 'starting', error: null, statusText: 'starting…', progress: null, thumbs: [], applied: null, interrupted: null });
  // the worker gets a structured copy of the scene; the viewer keeps showing the original meanwhile
  getWorker();
  send({ type: 'start', scene: source, settings, model: es.model, ortWasmPaths: es.ortWasmPaths });
}

export function updateLiveSettings(): void {
  const es = useEditStore.getState();
  if (es.status === 'idle') return;
  send({
    type: 'update',
    textScale: es.textScale,
    imageScale: es.imageScale,
    tMin: es.tMin,
    tMax: es.tMax,
    steps: es.steps,
  });
}

/** Looks for an edit kept in the browser's storage (interrupted by a reload or a closed tab) and offers it. */
export async function checkInterruptedEdit(): Promise<void> {
  const summary = await savedEditSummary();
  const es = useEditStore.getState();
  if (es.status === 'idle') es.set({ interrupted: summary });
}

/** Continues the interrupted edit: the worker loads it from storage and the viewer shows the scene it edits. */
export function resumeInterruptedEdit(): void {
  const es = useEditStore.getState();
  if (es.status !== 'idle' || !es.interrupted) return;
  es.set({ status: 'starting', error: null, statusText: 'resuming the interrupted edit…', progress: null, thumbs: [], applied: null });
  getWorker();
  send({ type: 'restore', ortWasmPaths: es.ortWasmPaths });
}

/** Forgets the interrupted edit. */
export async function discardInterruptedEdit(): Promise<void> {
  await clearSavedEdit();
  useEditStore.getState().set({ interrupted: null });
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
