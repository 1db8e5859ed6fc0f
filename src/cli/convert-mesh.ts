import { UserError } from '../core/errors';
import { extname, joinPath } from '../core/paths';
import { nodeFiles } from '../io/node/node-files';
import { prepareOutput } from '../io/node/output-guard';
import { encodeMeshFile, plyFileIsMesh, readMeshFile } from '../io/scenes/load-mesh';
import { faceCount, vertexCount } from '../nerf/mesh/mesh';

/**
 * `convert` for meshes: IN is a mesh file (.obj, .ply with faces, .glb, .gltf) or a mesh scene folder (from
 * 'stylize'); OUT ends in .obj, .ply or .glb. Vertices, faces and colours are kept. Returns null when IN is not a mesh.
 */
export async function convertMesh(input: string, output: string, json: boolean): Promise<number | null> {
  let path = input.replace(/\/+$/, '') || '.';
  const ext = extname(path);
  if (ext === '.ply' && !/\.compressed\.ply$/i.test(path)) {
    if (!(await nodeFiles.exists(path)) || !(await plyFileIsMesh(path, nodeFiles))) return null;
  } else if (ext !== '.obj' && ext !== '.glb' && ext !== '.gltf') {
    const manifest = joinPath(path, 'scene.json');
    if (!(await nodeFiles.exists(manifest))) return null;
    const { readManifest } = await import('../io/scenes/load-scene');
    const m = await readManifest(path, nodeFiles);
    if (m.kind !== 'mesh') return null;
    path = joinPath(path, m.file);
  }
  const oext = extname(output);
  if (oext !== '.obj' && oext !== '.ply' && oext !== '.glb')
    throw new UserError('a mesh converts to .obj, .ply or .glb (give OUT one of these extensions)', output);
  await prepareOutput({ out: output, kind: 'file', inputs: [input, path], flag: 'OUT' });
  const t0 = Date.now();
  const mesh = await readMeshFile(path, nodeFiles);
  const bytes = await encodeMeshFile(mesh, output);
  await nodeFiles.write(output, bytes);
  const summary = {
    input: path,
    output,
    kind: 'mesh',
    vertices: vertexCount(mesh),
    faces: faceCount(mesh),
    colors: !!mesh.colors,
    bytes: bytes.length,
    seconds: (Date.now() - t0) / 1000,
  };
  if (json) console.log(JSON.stringify(summary));
  else
    console.log(
      `wrote ${summary.vertices} vertices, ${summary.faces} triangles${mesh.colors ? ' with colours' : ''} to ${output} (${(bytes.length / 1e6).toFixed(2)} MB)`,
    );
  return 0;
}
