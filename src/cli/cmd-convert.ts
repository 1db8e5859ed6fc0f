import { UserError } from '../core/errors';
import { encodeGaussianFile, readGaussianFile } from '../io/scenes/load-gaussian-scene';
import { formatFromName, isGaussianFileName } from '../io/formats/gaussian-formats';
import { nodeFiles } from '../io/node/node-files';
import { choiceFlag, parseCommand } from './args';
import { prepareOutput } from '../io/node/output-guard';
import { convertMesh } from './convert-mesh';

const USAGE = `usage: instruct-scene convert IN OUT [--spz-version 3|4] [--json]

Converts Gaussian scenes between formats. IN: a 3DGS .ply, a PlayCanvas .compressed.ply, an .spz
(versions 1-4), a SOG bundle (.sog) or SOG meta.json (images beside it), a .splat, or a scene folder from
'instruct-scene fit --repr gaussians'; the kind is read from the content. OUT, by its name:
  .ply             3DGS (INRIA) layout, lossless, SH bands kept
  .compressed.ply  PlayCanvas compressed PLY (chunks of 256, ~4x smaller, SH as 8 bits)
  .spz             Niantic SPZ, version 3 (gzip; every SPZ reader) or --spz-version 4 (ZSTD streams)
  .splat           32 bytes per splat, sorted for web viewers (SH bands above 0 are dropped)
Positions are written unchanged in every format, as splat-transform does (see docs/formats.md).
OUT is written atomically and must differ from IN.

Meshes (.obj, .ply with faces, .glb, .gltf, or a folder from 'stylize') convert to .obj, .ply or .glb,
keeping vertices, faces and vertex colours (PLY stores colours as 8 bits).`;

export async function run(args: string[]): Promise<number> {
  const p = parseCommand(args, USAGE, { 'spz-version': { type: 'string' } }, { positionals: [2, 2] });
  if (!p) return 0;
  let input = p.positionals[0];
  const output = p.positionals[1];
  const spzVersion = Number(choiceFlag(p.values['spz-version'], 'spz-version', ['3', '4'] as const, '3')) as 3 | 4;
  if (p.values['spz-version'] !== undefined && formatFromName(output) !== 'spz')
    throw new UserError('--spz-version goes with an .spz output');
  const asMesh = await convertMesh(input, output, !!p.values.json);
  if (asMesh !== null) return asMesh;
  if (!isGaussianFileName(input) && (await nodeFiles.exists(`${input.replace(/\/+$/, '')}/scene.json`))) {
    // a scene folder
    const { readManifest } = await import('../io/scenes/load-scene');
    const m = await readManifest(input, nodeFiles);
    if (m.kind !== 'gaussians') throw new UserError(`this scene is a ${m.kind} scene; convert handles Gaussian scenes`, input);
    input = `${input.replace(/\/+$/, '')}/${m.file}`;
  } else if (!(await nodeFiles.exists(input))) throw new UserError('no such file', input);
  const oformat = formatFromName(output);
  if (!oformat || oformat === 'sog' || oformat === 'sog-meta')
    throw new UserError('output must end in .ply, .compressed.ply, .spz or .splat (SOG is read, not written)', output);
  await prepareOutput({ out: output, kind: 'file', inputs: [p.positionals[0], input], flag: 'OUT' });
  const t0 = Date.now();
  const g = await readGaussianFile(input, nodeFiles);
  const bytes = await encodeGaussianFile(g, output, { spzVersion });
  await nodeFiles.write(output, bytes);
  const summary = {
    input,
    output,
    format: oformat,
    ...(oformat === 'spz' ? { spzVersion } : {}),
    count: g.count,
    shDegree: oformat === 'splat' ? 0 : g.shDegree,
    bytes: bytes.length,
    seconds: (Date.now() - t0) / 1000,
  };
  if (p.values.json) console.log(JSON.stringify(summary));
  else console.log(`wrote ${g.count} Gaussians to ${output} (${(bytes.length / 1e6).toFixed(2)} MB)`);
  return 0;
}
