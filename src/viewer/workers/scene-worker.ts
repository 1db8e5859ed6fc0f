/// <reference lib="webworker" />
import { demoGaussians } from '../data/demo-gaussians';
import { demoVoxelGrid } from '../data/demo-voxels';
import { packSplats, splatTransferables } from '../three/splat-data';
import { DEMO_BACKGROUND } from '../../io/demo-scene';
import { MemoryFiles } from '../io/memory-files';
import { openFiles } from '../io/open-files';
import type { SceneData, SceneWorkerRequest, SceneWorkerReply } from './scene-worker-protocol';

/** Scene generation and file parsing, off the main thread. */
const post = (msg: SceneWorkerReply, transfer: Transferable[] = []) => (self as unknown as DedicatedWorkerGlobalScope).postMessage(msg, transfer);

function transferables(scene: SceneData | null): Transferable[] {
  if (!scene) return [];
  if (scene.kind === 'gaussians') return splatTransferables(scene.splats);
  return [scene.grid.density.buffer, scene.grid.color.buffer, scene.grid.occupancy.buffer] as ArrayBuffer[];
}

async function handle(req: SceneWorkerRequest): Promise<Omit<Extract<SceneWorkerReply, { type: 'opened' }>, 'id' | 'type'>> {
  if (req.type === 'demo') {
    return { scene: { kind: 'gaussians', name: 'demo', splats: packSplats(demoGaussians({ spacing: req.spacing })), background: DEMO_BACKGROUND }, dataset: null };
  }
  if (req.type === 'demo-voxel') {
    return { scene: { kind: 'voxel', name: 'demo-voxel', grid: demoVoxelGrid(req.res), background: DEMO_BACKGROUND }, dataset: null };
  }
  if (req.type === 'open') {
    const r = await openFiles(new MemoryFiles(req.files.map((f) => [f.path, f.data])));
    let scene: SceneData | null = null;
    if (r.scene?.gaussians) scene = { kind: 'gaussians', name: r.scene.name, splats: packSplats(r.scene.gaussians), background: r.scene.background };
    else if (r.scene?.voxel) scene = { kind: 'voxel', name: r.scene.name, grid: r.scene.voxel.grid, background: r.scene.voxel.background, stepRatio: r.scene.voxel.stepRatio };
    return { scene, dataset: r.dataset };
  }
  throw new Error(`unknown request ${(req as { type: string }).type}`);
}

self.onmessage = async (ev: MessageEvent<SceneWorkerRequest>) => {
  const req = ev.data;
  try {
    const r = await handle(req);
    post({ id: req.id, type: 'opened', ...r }, transferables(r.scene));
  } catch (e) {
    post({ id: req.id, type: 'error', message: (e as Error).message });
  }
};
