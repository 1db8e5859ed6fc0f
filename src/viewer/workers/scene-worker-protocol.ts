import type { Camera } from '../../core/camera';
import type { SplatBuffers } from '../three/splat-data';
import type { VoxelGrid } from '../../nerf/voxel/voxel-grid';
import type { Gaussians } from '../../nerf/gaussian/gaussians';
import type { Mesh } from '../../nerf/mesh/mesh';
import type { SelectionSource } from '../data/selection-preview';

export type SceneWorkerRequest =
  | { id: number; type: 'demo'; spacing?: number }
  | { id: number; type: 'demo-voxel'; res?: number }
  /** Files the user opened (a folder's files with relative paths, or single files). */
  | { id: number; type: 'open'; files: { path: string; data: Blob | Uint8Array }[]; background?: [number, number, number] }
  | { id: number; type: 'export'; scene: SceneData; options: import('../io/export-scene').ExportOptions }
  /** The object an edit in the box would change, as a recoloured scene (selection-preview.ts). */
  | { id: number; type: 'select'; source: SelectionSource; min: [number, number, number]; max: [number, number, number] };

/** A scene as it crosses from the worker (splats already packed for drawing). */
export type SceneData =
  /** `raw`: the Gaussians themselves (edits and exports need them; `splats` is the drawing layout). */
  | { kind: 'gaussians'; name: string; splats: SplatBuffers; background: [number, number, number]; raw?: Gaussians }
  | { kind: 'voxel'; name: string; grid: VoxelGrid; background: [number, number, number]; stepRatio?: number }
  /** A triangle mesh with optional per-vertex colours. */
  | { kind: 'mesh'; name: string; mesh: Mesh; background: [number, number, number] };

export type SceneWorkerReply =
  | { id: number; type: 'opened'; scene: SceneData | null; dataset: { name: string; cameras: Camera[] } | null }
  | { id: number; type: 'exported'; name: string; bytes: Uint8Array }
  | { id: number; type: 'selected'; preview: SceneData; selected: number; candidates: number }
  /** Parsing progress of a request still running (0..1). */
  | { id: number; type: 'progress'; fraction: number; what: string }
  | { id: number; type: 'error'; message: string };
