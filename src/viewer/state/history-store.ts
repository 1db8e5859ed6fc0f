import { create } from 'zustand';
import type { SceneData } from '../workers/scene-worker-protocol';
import { useViewerStore } from './viewer-store';

/**
 * Undo/redo of edits as edit-operation objects (as SuperSplat does): each operation keeps the scene before and
 * after, and its edit log; undo shows `before`, redo `after`. The edit log of every applied operation goes with
 * exports.
 */
export interface EditOperation {
  id: number;
  label: string;
  before: SceneData;
  after: SceneData;
  log: Record<string, unknown>;
}

export interface HistoryState {
  done: EditOperation[];
  undone: EditOperation[];
  /** Shows the scene before the last edit (before/after toggle) without changing the history. */
  showBefore: boolean;
  push(op: Omit<EditOperation, 'id'>): void;
  undo(): void;
  redo(): void;
  clear(): void;
  setShowBefore(v: boolean): void;
}

let nextId = 1;

export const useHistoryStore = create<HistoryState>((set, get) => ({
  done: [],
  undone: [],
  showBefore: false,
  push(op) {
    const full = { ...op, id: nextId++ };
    set((s) => ({ done: [...s.done, full], undone: [], showBefore: false }));
    useViewerStore.getState().replaceScene(full.after);
  },
  undo() {
    const { done, undone } = get();
    const op = done[done.length - 1];
    if (!op) return;
    set({ done: done.slice(0, -1), undone: [...undone, op], showBefore: false });
    useViewerStore.getState().replaceScene(op.before);
  },
  redo() {
    const { done, undone } = get();
    const op = undone[undone.length - 1];
    if (!op) return;
    set({ done: [...done, op], undone: undone.slice(0, -1), showBefore: false });
    useViewerStore.getState().replaceScene(op.after);
  },
  clear: () => set({ done: [], undone: [], showBefore: false }),
  setShowBefore: (showBefore) => set({ showBefore }),
}));

/** The edit logs of the applied operations, oldest first (embedded in exports). */
export function editLogs(): Record<string, unknown>[] {
  return useHistoryStore.getState().done.map((o) => o.log);
}
