import { UserError } from '../../core/errors';
import { basename, dirname, extname, joinPath } from '../../core/paths';
import { checkGaussiansFinite, type Gaussians } from '../../nerf/gaussian/gaussians';
import { GaussianScene } from '../../nerf/gaussian/gaussian-scene';
import type { FileSink, FileSource } from '../files/files';
import { readJson } from '../files/files';
import { readGaussianPly, writeGaussianPly } from '../formats/ply';
import { readSplat, writeSplat } from '../formats/splat';

/** Reads a `.ply` (3DGS or plain point cloud) or `.splat` file into Gaussians. */
export async function readGaussianFile(path: string, files: FileSource): Promise<Gaussians> {
  const ext = extname(path);
  if (ext !== '.ply' && ext !== '.splat') throw new UserError('expected a .ply or .splat file', path);
  const bytes = await files.read(path);
  const g = ext === '.splat' ? readSplat(bytes, path) : readGaussianPly(bytes, path);
  checkGaussiansFinite(g, path);
  return g;
}

/** Encodes Gaussians for a path ending in .ply (INRIA binary layout) or .splat. */
export function encodeGaussianFile(g: Gaussians, path: string): Uint8Array {
  const ext = extname(path);
  if (ext === '.ply') return writeGaussianPly(g);
  if (ext === '.splat') return writeSplat(g);
  throw new UserError('output must end in .ply or .splat', path);
}

/**
 * A Gaussian scene from a `.ply` / `.splat` file (the scene folder's `scene.json`, when next to the file,
 * supplies the background; bare files render over white, the datasets' default background).
 */
export async function loadGaussianScene(path: string, files: FileSource): Promise<GaussianScene> {
  const g = await readGaussianFile(path, files);
  let background: [number, number, number] = [1, 1, 1];
  let meta: Record<string, unknown> | undefined;
  const manifest = joinPath(dirname(path), 'scene.json');
  if (await files.exists(manifest)) {
    let m: any;
    try {
      m = await readJson(files, manifest);
    } catch {
      m = null; // an unreadable manifest beside a bare file is not this file's problem
    }
    // a manifest that names this file is part of the scene: checked field by field like any scene folder's
    if (m && typeof m === 'object' && m.format === 'instruct-scene' && m.file === basename(path)) {
      const { checkManifest } = await import('./load-scene');
      const ok = checkManifest(m, manifest);
      if (ok.background) background = ok.background as [number, number, number];
      if (ok.meta) meta = ok.meta as Record<string, unknown>;
    }
  }
  const s = new GaussianScene(g, background);
  s.meta = meta;
  return s;
}

/** Writes a Gaussian scene folder: `scene.ply` + `scene.json` (each atomically; the manifest last). */
export async function saveGaussianScene(
  dir: string,
  g: Gaussians,
  background: [number, number, number],
  files: FileSink,
  extra: Record<string, unknown> = {},
): Promise<void> {
  await files.mkdir(dir);
  await files.write(joinPath(dir, 'scene.ply'), writeGaussianPly(g));
  const manifest = { format: 'instruct-scene', version: 1, kind: 'gaussians', file: 'scene.ply', background, ...extra };
  await files.write(joinPath(dir, 'scene.json'), JSON.stringify(manifest, null, 2) + '\n');
}
