import { create } from 'zustand';
import type { EditEvent } from '../../edit/loops/run-loop';
import type { ModelSource } from '../edit/edit-protocol';
import type { SavedEditSummary } from '../edit/saved-edit';

export type EditMethod = 'idu' | 'sds';
export type EditStatus = 'idle' | 'starting' | 'running' | 'paused' | 'cancelling';

/** Edit settings and the running edit's progress. Guidance, noise range and steps may change while an edit runs. */
export interface EditState {
  instruction: string;
  method: EditMethod;
  /** Guidance scales of the instruction and of the image. */
  textScale: number;
  imageScale: number;
  /** IDU's noise range (fractions of the model's T); also bounds SDS's timesteps. */
  tMin: number;
  tMax: number;
  steps: number;
  iters: number;
  views: number;
  viewSize: number;
  model: ModelSource;
  /** Folder URL of onnxruntime-web's .wasm files (needed with the library build; the app bundles them). */
  ortWasmPaths?: string;
  /** Region box (world, axis-aligned) and whether edits are limited to it. */
  regionEnabled: boolean;
  /** What dragging the region gizmo does. */
  gizmoMode: 'translate' | 'scale';
  region: { min: [number, number, number]; max: [number, number, number] };
  status: EditStatus;
  statusText: string | null;
  progress: EditEvent | null;
  /** Thumbnails (data URLs) of the edited training views, by view index. */
  thumbs: (string | null)[];
  error: string | null;
  /** The last live-settings change the running loop confirmed. */
  applied: string | null;
  /** An edit interrupted by closing or reloading the tab, kept in the browser's storage (offered to resume). */
  interrupted: SavedEditSummary | null;
  set(p: Partial<Omit<EditState, 'set'>>): void;
  setInstruction(s: string): void;
  setMethod(m: EditMethod): void;
  setTextScale(v: number): void;
  setImageScale(v: number): void;
  setNoiseRange(tMin: number, tMax: number): void;
  setSteps(n: number): void;
}

/** The sample instruction shown when the viewer opens on the demo scene (the built-in model understands it). */
export const SAMPLE_INSTRUCTION = 'make it gold';
/** The demo's default region: a box around the vase. */
export const SAMPLE_REGION = { min: [-0.3, -0.02, -0.3] as [number, number, number], max: [0.3, 0.62, 0.3] as [number, number, number] };

export const useEditStore = create<EditState>((set) => ({
  instruction: SAMPLE_INSTRUCTION,
  method: 'idu',
  textScale: 7.5,
  imageScale: 1.5,
  tMin: 0.02,
  tMax: 0.98,
  steps: 20,
  iters: 300,
  views: 8,
  viewSize: 128,
  model: { source: 'builtin' },
  regionEnabled: true,
  gizmoMode: 'translate',
  region: SAMPLE_REGION,
  status: 'idle',
  statusText: null,
  progress: null,
  thumbs: [],
  error: null,
  applied: null,
  interrupted: null,
  set: (p) => set(p),
  setInstruction: (instruction) => set({ instruction }),
  setMethod: (method) => set({ method }),
  setTextScale: (textScale) => set({ textScale }),
  setImageScale: (imageScale) => set({ imageScale }),
  setNoiseRange: (tMin, tMax) => set({ tMin, tMax }),
  setSteps: (steps) => set({ steps }),
}));
