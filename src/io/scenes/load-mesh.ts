import { UserError } from '../../core/errors';
import { dirname, extname, joinPath, resolveInside } from '../../core/paths';
import type { Mesh } from '../../nerf/mesh/mesh';
import { MeshScene } from '../../nerf/mesh/mesh-scene';
import type { FileSink, FileSource } from '../files/files';
import { parseJson } from '../files/files';
import { readGltfMesh, writeGlb, type ResourceLoader } from '../formats/gltf-mesh';
import { readObj, writeObj } from '../formats/obj';
import { isPlyMesh, readPlyMesh, writePlyMesh } from '../formats/ply-mesh';

/** Mesh files: `.obj`, `.ply` (with faces), `.glb`, `.gltf`. A mesh scene folder holds `scene.glb` + `scene.json`. */
export const MESH_EXTENSIONS = ['.obj', '.ply', '.glb', '.gltf'] as const;
export const MESH_FILE = 'scene.glb';

export function isMeshExtension(path: string): boolean {
  return (MESH_EXTENSIONS as readonly string[]).includes(extname(path));
}

/** The most a PLY header may take (ply.ts reads at most 1 MB of header), plus its line end. */
const PLY_HEADER_BYTES = (1 << 20) + 2;

/**
 * Whether the `.ply` at `path` is a mesh (its header declares faces) rather than Gaussians or points, from the
 * header alone: read by range where the files allow it, so a large Gaussian file is not read twice.
 */
export async function plyFileIsMesh(path: string, files: FileSource): Promise<boolean> {
  const head = files.readRange ? await files.readRange(path, 0, PLY_HEADER_BYTES) : await files.read(path);
  return isPlyMesh(head, path);
}

/** Decodes mesh bytes by the file's extension; `load` resolves a .gltf's external buffers. */
export async function decodeMesh(bytes: Uint8Array, path: string, load?: (uri: string) => Promise<Uint8Array | null>): Promise<Mesh> {
  const ext = extname(path);
  if (ext === '.obj') return readObj(bytes, path);
  if (ext === '.ply') {
    if (!isPlyMesh(bytes, path))
      throw new UserError('this PLY has no faces (a point cloud or Gaussian splat file, not a mesh); meshes need a face element', path);
    return readPlyMesh(bytes, path);
  }
  if (ext === '.glb' || ext === '.gltf') return readGltfMesh(bytes, path, load);
  throw new UserError('expected a mesh file (.obj, .ply, .glb or .gltf)', path);
}

/**
 * A .gltf's external resources (buffers, images), read from beside the file: a URI must name a file inside the
 * .gltf's folder (no absolute paths, no '..' out of it: a UserError naming the .gltf otherwise); a missing file
 * reads as null (the reader says which buffer is missing).
 */
export function resourcesBeside(path: string, files: FileSource): ResourceLoader {
  return async (uri) => {
    const p = resolveInside(dirname(path), uri, 'a buffer or image URI', path);
    return (await files.exists(p)) ? files.read(p) : null;
  };
}

/** Reads a mesh file (never modified; `bytes` when the caller has read it already). Errors are one UserError naming the file and the problem. */
export async function readMeshFile(path: string, files: FileSource, bytes?: Uint8Array): Promise<Mesh> {
  return decodeMesh(bytes ?? (await files.read(path)), path, resourcesBeside(path, files));
}

/** Encodes a mesh for a path ending in .obj, .ply (binary) or .glb. */
export async function encodeMeshFile(m: Mesh, path: string): Promise<Uint8Array> {
  const ext = extname(path);
  if (ext === '.obj') return writeObj(m);
  if (ext === '.ply') return writePlyMesh(m);
  if (ext === '.glb') return writeGlb(m);
  if (ext === '.gltf') throw new UserError('writing .gltf is not supported; write .glb (the same content in one binary file)', path);
  throw new UserError('output must end in .obj, .ply or .glb', path);
}

/**
 * A mesh scene from a mesh file or a mesh scene folder's `scene.glb` (a `scene.json` beside the file supplies
 * the background and metadata; bare files render over white).
 */
export async function loadMeshScene(path: string, files: FileSource, bytes?: Uint8Array): Promise<MeshScene> {
  const mesh = await readMeshFile(path, files, bytes);
  let background: [number, number, number] = [1, 1, 1];
  let meta: Record<string, unknown> | undefined;
  const manifest = joinPath(dirname(path), 'scene.json');
  if (await files.exists(manifest)) {
    try {
      const m = parseJson(await files.read(manifest), manifest);
      if (m?.kind === 'mesh') {
        const bg = m.background;
        if (Array.isArray(bg) && bg.length === 3 && bg.every((v: unknown) => typeof v === 'number' && Number.isFinite(v)))
          background = bg as [number, number, number];
        if (m.meta && typeof m.meta === 'object') meta = m.meta;
      }
    } catch {
      /* a broken manifest beside a bare file is not this file's problem */
    }
  }
  const s = new MeshScene(mesh, background);
  s.meta = meta;
  return s;
}

/** Writes a mesh scene folder: `scene.glb` + `scene.json` (each atomically; the manifest last). */
export async function saveMeshScene(
  dir: string,
  mesh: Mesh,
  background: [number, number, number],
  files: FileSink,
  extra: Record<string, unknown> = {},
): Promise<void> {
  await files.mkdir(dir);
  await files.write(joinPath(dir, MESH_FILE), await writeGlb(mesh));
  const manifest = { format: 'instruct-scene', version: 1, kind: 'mesh', file: MESH_FILE, background, ...extra };
  await files.write(joinPath(dir, 'scene.json'), JSON.stringify(manifest, null, 2) + '\n');
}
