import { UserError } from '../../core/errors';
import { basename, dirname, joinPath } from '../../core/paths';
import { checkGaussiansFinite, type Gaussians } from '../../nerf/gaussian/gaussians';
import { GaussianScene } from '../../nerf/gaussian/gaussian-scene';
import type { FileSink, FileSource } from '../files/files';
import { readJson } from '../files/files';
import { writeGaussianPly } from '../formats/ply';
import { encodeGaussians, readGaussians, type EncodeOptions } from '../formats/gaussian-formats';
import type { GaussianReadOptions } from '../formats/gaussian-limits';

/**
 * Reads a Gaussian file into Gaussians: 3DGS `.ply` (or a plain point cloud), PlayCanvas `.compressed.ply`,
 * `.spz` (v1–4), SOG (`.sog` bundle or `meta.json` with its images beside it) or `.splat`; the kind is
 * detected from the content (see src/io/formats/gaussian-formats.ts).
 */
export async function readGaussianFile(
  path: string,
  files: FileSource,
  opts?: GaussianReadOptions,
  /** The file's bytes when the caller has read them already (loadScene tells mesh PLYs from Gaussian PLYs). */
  read?: Uint8Array,
): Promise<Gaussians> {
  if (!read && !(await files.exists(path))) throw new UserError('no such file', path);
  const bytes = read ?? (await files.read(path));
  const { gaussians: g } = await readGaussians(bytes, path, files, opts);
  checkGaussiansFinite(g, path);
  return g;
}

/** Encodes Gaussians for a path ending in .ply (INRIA binary layout), .compressed.ply, .spz or .splat. */
export function encodeGaussianFile(g: Gaussians, path: string, opts?: EncodeOptions): Promise<Uint8Array> {
  return encodeGaussians(g, path, opts);
}

/**
 * A Gaussian scene from a Gaussian file (any format `readGaussianFile` takes) (the scene folder's `scene.json`, when next to the file,
 * supplies the background; bare files render over white, the datasets' default background).
 */
export async function loadGaussianScene(path: string, files: FileSource, bytes?: Uint8Array): Promise<GaussianScene> {
  const g = await readGaussianFile(path, files, undefined, bytes);
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
