/// <reference lib="webworker" />
import { demoGaussians } from '../data/demo-gaussians';
import { demoVoxelGrid } from '../data/demo-voxels';
import { packSplats, splatTransferables } from '../three/splat-data';
import { DEMO_BACKGROUND } from '../../io/datasets/demo-scene';
import { MemoryFiles } from '../io/memory-files';
import { openFiles } from '../io/open-files';
import { exportScene } from '../io/export-scene';
import { selectionPreview } from '../data/selection-preview';
import type { SceneData, SceneWorkerRequest, SceneWorkerReply } from './scene-worker-protocol';

/** Scene generation and file parsing, off the main thread. */
const post = (msg: SceneWorkerReply, transfer: Transferable[] = []) =>
  (self as unknown as DedicatedWorkerGlobalScope).postMessage(msg, transfer);

function transferables(scene: SceneData | null): Transferable[] {
  if (!scene) return [];
  if (scene.kind === 'gaussians') {
    const list = splatTransferables(scene.splats);
    const g = scene.raw;
    if (g) list.push(...([g.means.buffer, g.logScales.buffer, g.rotations.buffer, g.opacityLogits.buffer, g.sh.buffer] as ArrayBuffer[]));
    return list;
  }
  if (scene.kind === 'mesh') {
    const m = scene.mesh;
    return [m.positions.buffer, m.indices.buffer, ...(m.colors ? [m.colors.buffer] : [])] as ArrayBuffer[];
  }
  return [scene.grid.density.buffer, scene.grid.color.buffer, scene.grid.occupancy.buffer] as ArrayBuffer[];
}

async function handle(
  req: Exclude<SceneWorkerRequest, { type: 'export' } | { type: 'select' }>,
): Promise<Omit<Extract<SceneWorkerReply, { type: 'opened' }>, 'id' | 'type'>> {
  if (req.type === 'demo') {
    const g = demoGaussians({ spacing: req.spacing });
    return { scene: { kind: 'gaussians', name: 'demo', splats: packSplats(g), background: DEMO_BACKGROUND, raw: g }, dataset: null };
  }
  if (req.type === 'demo-voxel') {
    return { scene: { kind: 'voxel', name: 'demo-voxel', grid: demoVoxelGrid(req.res), background: DEMO_BACKGROUND }, dataset: null };
  }
  if (req.type === 'open') {
    const id = req.id;
    const r = await openFiles(new MemoryFiles(req.files.map((f) => [f.path, f.data])), {
      background: req.background,
      onProgress: (fraction, what) => post({ id, type: 'progress', fraction, what }),
    });
    let scene: SceneData | null = null;
    if (r.scene?.gaussians)
      scene = {
        kind: 'gaussians',
        name: r.scene.name,
        splats: packSplats(r.scene.gaussians),
        background: r.scene.background,
        raw: r.scene.gaussians,
      };
    else if (r.scene?.mesh) scene = { kind: 'mesh', name: r.scene.name, mesh: r.scene.mesh, background: r.scene.background };
    else if (r.scene?.voxel)
      scene = {
        kind: 'voxel',
        name: r.scene.name,
        grid: r.scene.voxel.grid,
        background: r.scene.voxel.background,
        stepRatio: r.scene.voxel.stepRatio,
      };
    return { scene, dataset: r.dataset };
  }
  throw new Error(`unknown request ${(req as { type: string }).type}`);
}

self.onmessage = async (ev: MessageEvent<SceneWorkerRequest>) => {
  const req = ev.data;
  try {
    if (req.type === 'export') {
      const f = await exportScene(req.scene, req.options);
      post({ id: req.id, type: 'exported', name: f.name, bytes: f.bytes }, [f.bytes.buffer as ArrayBuffer]);
      return;
    }
    if (req.type === 'select') {
      const p = selectionPreview(req.source, req.min, req.max);
      const preview: SceneData =
        p.source.kind === 'gaussians'
          ? { kind: 'gaussians', name: 'selection', splats: packSplats(p.source.gaussians), background: [0, 0, 0] }
          : { kind: 'voxel', name: 'selection', grid: p.source.grid, background: [0, 0, 0] };
      post({ id: req.id, type: 'selected', preview, selected: p.selected, candidates: p.candidates }, transferables(preview));
      return;
    }
    const r = await handle(req);
    post({ id: req.id, type: 'opened', ...r }, transferables(r.scene));
  } catch (e) {
    post({ id: req.id, type: 'error', message: (e as Error).message });
  }
};
