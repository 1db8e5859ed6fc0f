import { UserError } from '../core/errors';
import { extname } from '../core/paths';
import { encodeGaussianFile, readGaussianFile } from '../io/scenes/load-gaussian-scene';
import { nodeFiles } from '../io/node/node-files';
import { parseCommand } from './args';
import { resolve } from 'node:path';
import { convertMesh } from './convert-mesh';

const USAGE = `usage: instruct-scene convert IN OUT [--json]

Converts Gaussian scenes between the 3DGS .ply (INRIA layout, SH bands kept) and .splat (32 bytes per
splat, sorted for web viewers; SH bands above 0 and colour precision are lost). IN may also be a scene
folder from 'instruct-scene fit --repr gaussians'. OUT is written atomically and must differ from IN.

Meshes (.obj, .ply with faces, .glb, .gltf, or a folder from 'stylize') convert to .obj, .ply or .glb,
keeping vertices, faces and vertex colours (PLY stores colours as 8 bits).`;

export async function run(args: string[]): Promise<number> {
  const p = parseCommand(args, USAGE, {}, { positionals: [2, 2] });
  if (!p) return 0;
  let input = p.positionals[0];
  const output = p.positionals[1];
  const asMesh = await convertMesh(input, output, !!p.values.json);
  if (asMesh !== null) return asMesh;
  if (extname(input) !== '.ply' && extname(input) !== '.splat') {
    // a scene folder
    const { readManifest } = await import('../io/scenes/load-scene');
    if (!(await nodeFiles.exists(`${input.replace(/\/+$/, '')}/scene.json`)))
      throw new UserError(
        (await nodeFiles.exists(input)) ? 'expected a .ply or .splat file, or a Gaussian scene folder (with scene.json)' : 'no such file',
        input,
      );
    const m = await readManifest(input, nodeFiles);
    if (m.kind !== 'gaussians')
      throw new UserError(`this scene is a ${m.kind} scene; convert handles Gaussian scenes (.ply / .splat)`, input);
    input = `${input.replace(/\/+$/, '')}/${m.file}`;
  }
  const oext = extname(output);
  if (oext !== '.ply' && oext !== '.splat') throw new UserError('output must end in .ply or .splat', output);
  if (resolve(input) === resolve(output))
    throw new UserError('output is the input file; choose another name (inputs are never overwritten)', output);
  const t0 = Date.now();
  const g = await readGaussianFile(input, nodeFiles);
  const bytes = encodeGaussianFile(g, output);
  await nodeFiles.write(output, bytes);
  const summary = {
    input,
    output,
    count: g.count,
    shDegree: oext === '.splat' ? 0 : g.shDegree,
    bytes: bytes.length,
    seconds: (Date.now() - t0) / 1000,
  };
  if (p.values.json) console.log(JSON.stringify(summary));
  else console.log(`wrote ${g.count} Gaussians to ${output} (${(bytes.length / 1e6).toFixed(2)} MB)`);
  return 0;
}
