import { create } from 'zustand';
import type { Camera } from '../../core/camera';
import type { SceneData } from '../workers/scene-worker-protocol';
import type { Backend } from '../three/renderer';

/** A scene the viewer shows: splats (drawn sorted every frame), a voxel grid (ray-marched) or a triangle mesh. */
export type ViewerScene = SceneData;

export type RenderMode = 'color' | 'depth' | 'region';

export interface ViewerState {
  backend: Backend | null;
  fallbackReason: string | null;
  fps: number;
  frameMs: number;
  scene: ViewerScene | null;
  /** Cameras of an opened dataset (drawn as frustums). */
  datasetCameras: Camera[];
  datasetName: string | null;
  renderMode: RenderMode;
  /** A long operation in progress (loading, generating), shown in the overlay. */
  busy: string | null;
  /** The last user-facing error (one line). */
  error: string | null;
  /** Bumped to ask the camera to frame the scene. */
  fitRequest: number;
  /** Where splats are projected and sorted (`?sorter=gpu|cpu`; default auto = gpu on WebGPU). */
  sorter: 'auto' | 'gpu' | 'cpu';
  /** Most splats drawn per frame in scenes with a level-of-detail tree (`?budget=N`; default 2,000,000). */
  splatBudget: number;
  /** False while a gizmo is dragged. */
  orbitEnabled: boolean;
  /** Background for scenes opened from bare Gaussian files (which store none); a setting in the Open panel. */
  fileBackground: [number, number, number];
  /** Sets the background setting and the current scene's background. */
  setBackground(bg: [number, number, number]): void;
  setOrbitEnabled(v: boolean): void;
  setBackend(backend: Backend, reason: string | null): void;
  setFrameStats(fps: number, frameMs: number): void;
  /** Shows a newly opened scene (frames the view; the edit history starts over). */
  setScene(scene: ViewerScene | null): void;
  /** Swaps in another version of the same scene (edits, undo/redo): the view stays where it is. */
  replaceScene(scene: ViewerScene): void;
  setDataset(name: string | null, cams: Camera[]): void;
  setRenderMode(m: RenderMode): void;
  setBusy(msg: string | null): void;
  setError(msg: string | null): void;
  requestFit(): void;
}

export const useViewerStore = create<ViewerState>((set) => ({
  backend: null,
  fallbackReason: null,
  fps: 0,
  frameMs: 0,
  scene: null,
  datasetCameras: [],
  datasetName: null,
  renderMode: 'color',
  busy: null,
  error: null,
  fitRequest: 0,
  orbitEnabled: true,
  sorter: 'auto',
  fileBackground: [0, 0, 0],
  setBackground: (bg) => set((s) => ({ fileBackground: bg, scene: s.scene ? { ...s.scene, background: bg } : s.scene })),
  splatBudget: 2_000_000,
  setOrbitEnabled: (orbitEnabled) => set({ orbitEnabled }),
  setBackend: (backend, fallbackReason) => set({ backend, fallbackReason }),
  setFrameStats: (fps, frameMs) => set({ fps, frameMs }),
  setScene: (scene) => set((s) => ({ scene, fitRequest: s.fitRequest + 1, error: null })),
  replaceScene: (scene) => set({ scene }),
  setDataset: (datasetName, datasetCameras) =>
    set((s) => ({ datasetName, datasetCameras, fitRequest: s.scene ? s.fitRequest : s.fitRequest + 1 })),
  setRenderMode: (renderMode) => set({ renderMode }),
  setBusy: (busy) => set({ busy }),
  setError: (error) => set({ error, busy: null }),
  requestFit: () => set((s) => ({ fitRequest: s.fitRequest + 1 })),
}));

/** Number of splats (or voxels) of the current scene, for the overlay. */
export function sceneSize(scene: ViewerScene | null): string {
  if (!scene) return 'no scene';
  if (scene.kind === 'gaussians') return `${scene.splats.count.toLocaleString('en-US')} splats`;
  if (scene.kind === 'mesh')
    return `${(scene.mesh.positions.length / 3).toLocaleString('en-US')} vertices, ${(scene.mesh.indices.length / 3).toLocaleString('en-US')} triangles`;
  return `${scene.grid.res.join('×')} voxels`;
}
