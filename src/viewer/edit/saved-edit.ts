import { decodeBundle, decodeCheckpoint, encodeBundle, encodeCheckpoint, type Checkpoint } from '../../edit/loops/checkpoint';
import type { SceneSource } from '../../edit/scenes/create-editable';
import { createGaussians, type Gaussians } from '../../nerf/gaussian/gaussians';
import type { VoxelGrid } from '../../nerf/voxel/voxel-grid';
import type { EditSettings, ModelSource } from './edit-protocol';

/**
 * A running edit kept in the origin private file system (OPFS), so it survives closing or reloading the tab:
 * the edit's settings and model (`job.json`), the scene it started from (`source.bin`) and its latest
 * checkpoint (`edit.ckpt`, written by the same checkpoint code as the CLI's `--resume`). Files are written
 * through `createWritable`, which replaces a file only when the write completes. Models the user picked from
 * a local folder cannot be read again after a reload; such edits are not kept.
 */
const ROOT = 'instruct-scene';
const DIR = 'interrupted-edit';

/** What `job.json` holds. */
export interface SavedJob {
  version: 1;
  settings: EditSettings;
  model: Exclude<ModelSource, { source: 'files' }>;
  ortWasmPaths?: string;
  startedAt: string;
  /** The step of the latest checkpoint (0: none yet). */
  step: number;
}

/** What the viewer shows about an interrupted edit. */
export interface SavedEditSummary {
  instruction: string;
  method: 'idu' | 'sds';
  step: number;
  iters: number;
  startedAt: string;
}

async function folder(create: boolean): Promise<FileSystemDirectoryHandle | null> {
  const storage = (globalThis.navigator as Navigator | undefined)?.storage;
  if (!storage?.getDirectory) return null;
  try {
    const root = await storage.getDirectory();
    const app = await root.getDirectoryHandle(ROOT, { create });
    return await app.getDirectoryHandle(DIR, { create });
  } catch {
    return null;
  }
}

async function write(dir: FileSystemDirectoryHandle, name: string, bytes: Uint8Array | string): Promise<void> {
  const w = await (await dir.getFileHandle(name, { create: true })).createWritable();
  await w.write(typeof bytes === 'string' ? bytes : (bytes as Uint8Array<ArrayBuffer>));
  await w.close();
}

async function read(dir: FileSystemDirectoryHandle, name: string): Promise<Uint8Array | null> {
  try {
    const f = await (await dir.getFileHandle(name)).getFile();
    return new Uint8Array(await f.arrayBuffer());
  } catch {
    return null;
  }
}

/** Whether an edit with this model can be kept across reloads. */
export function savableModel(m: ModelSource): m is SavedJob['model'] {
  return m.source !== 'files';
}

/** The scene an edit starts from, losslessly (raw parameter arrays). */
function encodeSource(s: SceneSource): Uint8Array {
  if (s.kind === 'gaussians') {
    const g = s.gaussians;
    return encodeBundle({
      header: { kind: 'gaussians', background: s.background, count: g.count, shDegree: g.shDegree },
      arrays: { means: g.means, logScales: g.logScales, rotations: g.rotations, opacityLogits: g.opacityLogits, sh: g.sh },
    });
  }
  if (s.kind === 'mesh') {
    const m = s.mesh;
    return encodeBundle({
      header: { kind: 'mesh', background: s.background, colored: !!m.colors },
      arrays: { positions: m.positions, indices: m.indices, ...(m.colors ? { colors: m.colors } : {}) },
    });
  }
  const { density, color, occupancy, ...grid } = s.grid;
  return encodeBundle({
    header: { kind: 'voxel', background: s.background, render: s.render, grid },
    arrays: { density, color, occupancy },
  });
}

function decodeSource(bytes: Uint8Array): SceneSource {
  const { header: h, arrays: a } = decodeBundle(bytes, 'source.bin');
  const background = h.background as [number, number, number];
  if (h.kind === 'gaussians') {
    const g: Gaussians = createGaussians(h.count as number, h.shDegree as Gaussians['shDegree']);
    for (const k of ['means', 'logScales', 'rotations', 'opacityLogits', 'sh'] as const) g[k].set(a[k] as Float32Array);
    return { kind: 'gaussians', gaussians: g, background };
  }
  if (h.kind === 'mesh') {
    const colors = h.colored ? (a.colors as Float32Array) : null;
    return { kind: 'mesh', mesh: { positions: a.positions as Float32Array, indices: a.indices as Uint32Array, colors }, background };
  }
  const grid = {
    ...(h.grid as Omit<VoxelGrid, 'density' | 'color' | 'occupancy'>),
    density: a.density,
    color: a.color,
    occupancy: a.occupancy,
  } as VoxelGrid;
  return { kind: 'voxel', grid, background, render: h.render as Extract<SceneSource, { kind: 'voxel' }>['render'] };
}

/** Keeps a new edit (replacing any kept one): its job and source scene; no checkpoint yet. */
export async function saveEditStart(job: Omit<SavedJob, 'version' | 'step'>, source: SceneSource): Promise<boolean> {
  const dir = await folder(true);
  if (!dir) return false;
  await dir.removeEntry('edit.ckpt').catch(() => {});
  await write(dir, 'source.bin', encodeSource(source));
  await write(dir, 'job.json', JSON.stringify({ version: 1, ...job, step: 0 } satisfies SavedJob));
  return true;
}

/** Keeps a checkpoint of the running edit (then records its step in the job). */
export async function saveEditCheckpoint(c: Checkpoint): Promise<void> {
  const dir = await folder(false);
  if (!dir) return;
  const job = await read(dir, 'job.json');
  if (!job) return;
  await write(dir, 'edit.ckpt', encodeCheckpoint(c));
  await write(dir, 'job.json', JSON.stringify({ ...(JSON.parse(new TextDecoder().decode(job)) as SavedJob), step: c.loop.step }));
}

/** The kept edit, if any: its job, source scene and latest checkpoint (null before the first). */
export async function readSavedEdit(): Promise<{ job: SavedJob; source: SceneSource; checkpoint: Checkpoint | null } | null> {
  const dir = await folder(false);
  if (!dir) return null;
  const [job, source, ckpt] = await Promise.all([read(dir, 'job.json'), read(dir, 'source.bin'), read(dir, 'edit.ckpt')]);
  if (!job || !source) return null;
  return {
    job: JSON.parse(new TextDecoder().decode(job)) as SavedJob,
    source: decodeSource(source),
    checkpoint: ckpt ? decodeCheckpoint(ckpt, 'edit.ckpt') : null,
  };
}

/** A short description of the kept edit (reads only `job.json`), or null. */
export async function savedEditSummary(): Promise<SavedEditSummary | null> {
  const dir = await folder(false);
  const bytes = dir && (await read(dir, 'job.json'));
  if (!bytes) return null;
  try {
    const j = JSON.parse(new TextDecoder().decode(bytes)) as SavedJob;
    if (j.version !== 1) return null;
    return {
      instruction: j.settings.instruction,
      method: j.settings.method,
      step: j.step,
      iters: j.settings.iters,
      startedAt: j.startedAt,
    };
  } catch {
    return null;
  }
}

/** Forgets the kept edit. */
export async function clearSavedEdit(): Promise<void> {
  const dir = await folder(false);
  if (!dir) return;
  for (const name of ['job.json', 'edit.ckpt', 'source.bin']) await dir.removeEntry(name).catch(() => {});
}
