import type { SplatBuffers } from '../three/splat-data';
import type { VoxelGrid } from '../../nerf/voxel-grid';

export type SceneWorkerRequest =
  | { id: number; type: 'demo'; spacing?: number }
  | { id: number; type: 'demo-voxel'; res?: number }
  | { id: number; type: 'parse'; name: string; bytes: ArrayBuffer };

export type SceneWorkerReply =
  | { id: number; type: 'splats'; name: string; splats: SplatBuffers; background: [number, number, number] }
  | { id: number; type: 'voxel'; name: string; grid: VoxelGrid; background: [number, number, number]; stepRatio?: number }
  | { id: number; type: 'error'; message: string };
