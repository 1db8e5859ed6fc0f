import { zipSync, strToU8 } from 'fflate';
import { lookAtCamera, type Camera } from '../../core/camera';
import { UserError } from '../../core/errors';
import type { FileSink } from '../../io/files/files';
import { exportMultiview } from '../../io/export/multiview-export';
import { writeGaussianPly } from '../../io/formats/ply';
import { writeSplat } from '../../io/formats/splat';
import { encodeVoxelScene } from '../../io/formats/voxel-format';
import { gaussianBounds } from '../../nerf/gaussian/gaussians';
import { renderGaussiansCpu } from '../../nerf/gaussian/gaussian-span-cpu';
import type { Scene } from '../../nerf/common/scene';
import { VoxelGridScene } from '../../nerf/voxel/voxel-grid-scene';
import { MeshScene } from '../../nerf/mesh/mesh-scene';
import { meshBounds } from '../../nerf/mesh/mesh';
import { writeGlb } from '../../io/formats/gltf-mesh';
import type { SceneData } from '../workers/scene-worker-protocol';

export type ExportFormat = 'ply' | 'splat' | 'voxel' | 'glb' | 'multiview';

export interface ExportOptions {
  format: ExportFormat;
  /** Edit logs of the applied edits, oldest first (embedded). */
  editLogs: Record<string, unknown>[];
  /** Multiview: number of orbit views and their size. */
  views?: number;
  size?: number;
}

export interface ExportedFile {
  name: string;
  bytes: Uint8Array;
}

/** A FileSink that keeps files in memory (for zips). */
class MemorySink implements FileSink {
  files = new Map<string, Uint8Array>();
  async write(path: string, data: Uint8Array | string): Promise<void> {
    this.files.set(path.replace(/^\.?\/+/, ''), typeof data === 'string' ? strToU8(data) : data);
  }
  async mkdir(): Promise<void> {}
}

function sceneOf(s: SceneData): Scene {
  if (s.kind === 'voxel') return new VoxelGridScene(s.grid, s.background, { stepRatio: s.stepRatio ?? 0.5, near: 0 });
  if (s.kind === 'mesh') return new MeshScene(s.mesh, s.background);
  const g = s.raw;
  if (!g) throw new UserError('this scene has no Gaussian parameters loaded; nothing to export');
  return { kind: 'gaussians', background: s.background, render: async (cam) => renderGaussiansCpu(g, cam, s.background) };
}

function orbit(s: SceneData, n: number, size: number): Camera[] {
  const b = s.kind === 'voxel' ? s.grid.box : s.kind === 'mesh' ? meshBounds(s.mesh) : gaussianBounds(s.raw!);
  const c = [0, 1, 2].map((a) => (b.min[a] + b.max[a]) / 2) as [number, number, number];
  const r = Math.max(1e-3, Math.hypot(b.max[0] - b.min[0], b.max[1] - b.min[1], b.max[2] - b.min[2]) / 2);
  const dist = (r / Math.sin((40 * Math.PI) / 360)) * 0.9;
  return Array.from({ length: n }, (_, i) => {
    const az = (2 * Math.PI * i) / n,
      el = (25 * Math.PI) / 180;
    return lookAtCamera(
      [c[0] + dist * Math.cos(el) * Math.cos(az), c[1] + dist * Math.sin(el), c[2] + dist * Math.cos(el) * Math.sin(az)],
      c,
      [0, 1, 0],
      size,
      size,
      40,
    );
  });
}

const stem = (name: string) => name.replace(/\.[^.]*$/, '') || 'scene';

/**
 * Exports the scene: a Gaussian .ply / .splat or a .voxel file, each inside a zip with `scene.json` (the
 * manifest loadScene reads) and `edit-log.json`; a mesh as one .glb (vertex colours as COLOR_0, the edit history in
 * the glTF's extras); or a multiview set (PNGs + transforms.json + edit-log.json,
 * zipped) rendered with the CPU reference renderers, which loads back as a dataset.
 */
export async function exportScene(s: SceneData, o: ExportOptions): Promise<ExportedFile> {
  const log = JSON.stringify({ format: 'instruct-scene-edit-history', version: 1, edits: o.editLogs }, null, 2) + '\n';
  const base = stem(s.name);
  if (o.format === 'multiview') {
    const sink = new MemorySink();
    const cams = orbit(s, o.views ?? 12, o.size ?? 128);
    await exportMultiview(
      sceneOf(s),
      cams.map((camera, i) => ({ camera, file: `images/view_${String(i).padStart(3, '0')}.png`, split: 'train' as const })),
      '.',
      sink,
    );
    sink.files.set('edit-log.json', strToU8(log));
    return { name: `${base}-multiview.zip`, bytes: zipSync(Object.fromEntries(sink.files), { level: 0 }) };
  }
  if (o.format === 'glb') {
    if (s.kind !== 'mesh') throw new UserError(`a ${s.kind} scene cannot be saved as .glb`);
    // one .glb file; the edit history rides in the glTF's extras
    const bytes = await writeGlb(s.mesh, {
      extras: { instructScene: { format: 'instruct-scene-edit-history', version: 1, edits: o.editLogs } },
    });
    return { name: `${base}.glb`, bytes };
  }
  let file: string, data: Uint8Array, kind: 'gaussians' | 'voxel';
  if (o.format === 'voxel') {
    if (s.kind !== 'voxel') throw new UserError('a Gaussian scene cannot be saved as .voxel; export .ply or .splat');
    file = 'scene.voxel';
    data = encodeVoxelScene({
      grid: s.grid,
      background: s.background,
      render: { stepRatio: s.stepRatio ?? 0.5, near: 0 },
      meta: { edits: o.editLogs },
    });
    kind = 'voxel';
  } else {
    if (s.kind === 'mesh') throw new UserError(`a mesh is exported as .glb, not .${o.format}`);
    if (s.kind !== 'gaussians' || !s.raw) throw new UserError(`a voxel scene cannot be saved as .${o.format}; export .voxel`);
    file = `scene.${o.format}`;
    data = o.format === 'ply' ? writeGaussianPly(s.raw) : writeSplat(s.raw);
    kind = 'gaussians';
  }
  const manifest =
    JSON.stringify({ format: 'instruct-scene', version: 1, kind, file, background: s.background, edits: o.editLogs.length }, null, 2) +
    '\n';
  return {
    name: `${base}-${o.format}.zip`,
    bytes: zipSync(
      { [`${base}/${file}`]: data, [`${base}/scene.json`]: strToU8(manifest), [`${base}/edit-log.json`]: strToU8(log) },
      { level: 0 },
    ),
  };
}
