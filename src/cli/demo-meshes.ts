import { joinPath } from '../core/paths';
import { writeGlb } from '../io/formats/gltf-mesh';
import { writeObj } from '../io/formats/obj';
import { writePlyMesh } from '../io/formats/ply-mesh';
import { nodeFiles } from '../io/node/node-files';
import { sphereWithVertices, torus, uvSphere, vase } from '../nerf/mesh/mesh-shapes';

/** The project's demo meshes (`demo-data --meshes`): uncoloured, so stylisation starts from grey as Text2Mesh does. */
export async function writeDemoMeshes(out: string): Promise<string[]> {
  const files: [string, Uint8Array][] = [
    ['vase.obj', writeObj(vase())],
    ['torus.glb', await writeGlb(torus())],
    ['sphere.ply', writePlyMesh(uvSphere())],
    ['sphere-15k.obj', writeObj(sphereWithVertices(15000))],
  ];
  for (const [name, bytes] of files) await nodeFiles.write(joinPath(out, name), bytes);
  return files.map((f) => f[0]);
}
