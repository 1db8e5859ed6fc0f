import type { EditEvent } from '../../edit/loops/run-loop';
import type { SceneSource } from '../../edit/scenes/create-editable';
import type { SceneData } from '../workers/scene-worker-protocol';

/** The scene an edit starts from (raw parameters; the worker edits a copy). */
export type EditSource = SceneSource;

/** Where the InstructPix2Pix model comes from. */
export type ModelSource =
  | { source: 'builtin' }
  /** An ONNX model folder served over HTTP(S) (downloaded once, kept in the Cache API). */
  | { source: 'url'; url: string }
  /** A local model folder the user picked (relative paths inside it). */
  | { source: 'files'; files: { path: string; data: Blob }[] }
  /**
   * A model server speaking the Open Inference Protocol (`instruct-scene serve`, Triton, KServe):
   * http(s)://HOST:PORT[/PREFIX]. It must allow the page's origin (serve --cors ORIGIN, or a CORS proxy).
   */
  | { source: 'server'; url: string };

/** Settings that may change while an edit runs (read by the loop at every step). */
export interface LiveSettings {
  textScale: number;
  imageScale: number;
  tMin: number;
  tMax: number;
  steps: number;
}

export interface EditSettings extends LiveSettings {
  instruction: string;
  method: 'idu' | 'sds';
  iters: number;
  /** Training views: an orbit of `views` cameras of `size`² pixels around the scene. */
  views: number;
  size: number;
  seed: number;
  raysPerStep: number;
  /** Axis-aligned region box, or null to edit everything. */
  region: { min: [number, number, number]; max: [number, number, number] } | null;
}

export type EditRequest =
  /** `ortWasmPaths`: where onnxruntime-web's .wasm files are served (library builds; the app bundles them). */
  | { type: 'start'; scene: EditSource; settings: EditSettings; model: ModelSource; ortWasmPaths?: string }
  | ({ type: 'update' } & Partial<LiveSettings>)
  | { type: 'pause' }
  /** Rejects the current edit of one training view (IDU): it trains on its original image until edited again. */
  | { type: 'reject'; index: number }
  | { type: 'resume' }
  | { type: 'cancel' }
  /** Continues the edit kept in the browser's storage (one interrupted by closing or reloading the tab). */
  | { type: 'restore'; ortWasmPaths?: string };

/** A small RGBA picture of one training view after its latest edit. */
export interface Thumb {
  index: number;
  width: number;
  height: number;
  rgba: Uint8ClampedArray;
}

export type EditReply =
  | { type: 'status'; text: string }
  | { type: 'progress'; ev: EditEvent; thumbs: Thumb[] }
  | { type: 'paused'; step: number }
  /** Live settings reached the running loop (they take effect from `step`). */
  | { type: 'applied'; step: number; settings: LiveSettings }
  | { type: 'resumed' }
  | { type: 'rejected'; index: number }
  /** The kept edit was loaded: the scene it edits, its settings (live ones as they were), the step it continues from. */
  | { type: 'restored'; scene: SceneData; settings: EditSettings; step: number }
  | { type: 'done'; scene: SceneData; log: Record<string, unknown> }
  | { type: 'cancelled' }
  | { type: 'error'; message: string };
