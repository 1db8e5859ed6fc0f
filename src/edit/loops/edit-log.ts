import type { Region } from '../regions/regions';
import type { Selection } from '../regions/selection';
import type { EditedScene } from '../scenes/create-editable';
import type { EditSpec } from './edit-spec';
import type { LoopState } from './loop-state';

/** What an edit log says about the run besides the spec. */
export interface EditLogInfo {
  status: 'running' | 'done';
  /** The model: its id, and where it came from (folder and file hashes, or URL and runtime providers). */
  model: Record<string, unknown>;
  region: Region | undefined;
  /** What the edit could change (the object selected in the region, or the region). */
  selection?: Selection;
  /** The scene edited (path and hash) and the dataset, when they are files. */
  parent?: Record<string, unknown>;
  dataset?: Record<string, unknown>;
  started?: string;
  /** A finished run: its loop state, the scene's own additions, the wall time, whether it was resumed. */
  result?: { state: LoopState; scene: EditedScene; seconds?: number; resumed?: boolean };
}

/**
 * The edit log (`edit-log.json` beside a CLI edit; the viewer's history entry, embedded in its exports): the
 * instruction, model, method, every setting, region, seed, and for a finished run the time split and what the
 * scene adds (Gaussian counts and densification rounds).
 */
export function editLog(spec: EditSpec, info: EditLogInfo): Record<string, unknown> {
  const cfg = spec.config;
  const log: Record<string, unknown> = {
    format: 'instruct-scene-edit-log',
    version: 1,
    status: info.status,
    ...(cfg.method === 'image-loss' ? { prompt: cfg.instruction } : { instruction: cfg.instruction }),
    method: cfg.method,
    model: info.model,
    ...(info.parent ? { parent: info.parent } : {}),
    ...(info.dataset ? { dataset: info.dataset } : {}),
    region: info.region ? { text: info.region.text, ...info.region.describe() } : null,
    ...(info.selection ? { selection: info.selection.describe() } : {}),
    seed: cfg.seed,
    settings: {
      ...cfg,
      editable: spec.editable[spec.kind],
      dilatePx: spec.dilatePx ?? 'auto (2% of the image side)',
      backend: spec.backend,
    },
    ...(info.started ? { started: info.started } : {}),
  };
  const r = info.result;
  if (r) {
    const st = r.state;
    Object.assign(log, {
      finished: new Date().toISOString(),
      steps: cfg.iters,
      viewsEdited: st.viewsEdited,
      ...r.scene.log,
      times: {
        ...(r.seconds !== undefined ? { sessionSeconds: r.seconds } : {}),
        editorSeconds: st.editorMs / 1000,
        refitSeconds: st.refitMs / 1000,
        renderSeconds: st.renderMs / 1000,
        stepsPerSecond: cfg.iters / Math.max(1e-9, (st.editorMs + st.refitMs + st.renderMs) / 1000),
        ...(r.resumed !== undefined ? { resumed: r.resumed } : {}),
      },
    });
  }
  return log;
}
