/// <reference lib="webworker" />
import { demoGaussians } from '../data/demo-gaussians';
import { demoVoxelGrid } from '../data/demo-voxels';
import { packSplats, splatTransferables } from '../three/splat-data';
import { DEMO_BACKGROUND } from '../../io/demo-scene';
import type { SceneWorkerRequest, SceneWorkerReply } from './scene-worker-protocol';

/** Scene generation and file parsing off the main thread. */
const post = (msg: SceneWorkerReply, transfer: Transferable[] = []) => (self as unknown as DedicatedWorkerGlobalScope).postMessage(msg, transfer);

self.onmessage = async (ev: MessageEvent<SceneWorkerRequest>) => {
  const req = ev.data;
  try {
    if (req.type === 'demo') {
      const g = demoGaussians({ spacing: req.spacing });
      const splats = packSplats(g);
      post({ id: req.id, type: 'splats', name: 'demo', splats, background: DEMO_BACKGROUND }, splatTransferables(splats));
      return;
    }
    if (req.type === 'demo-voxel') {
      const grid = demoVoxelGrid(req.res);
      post({ id: req.id, type: 'voxel', name: 'demo-voxel', grid, background: DEMO_BACKGROUND }, [grid.density.buffer, grid.color.buffer, grid.occupancy.buffer] as ArrayBuffer[]);
      return;
    }
    throw new Error(`unknown request ${(req as { type: string }).type}`);
  } catch (e) {
    post({ id: req.id, type: 'error', message: (e as Error).message });
  }
};
