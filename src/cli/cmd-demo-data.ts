import { dirLabel } from '../core/paths';
import { UserError } from '../core/errors';
import { encodePng } from '../io/images/image-codec';
import { nodeFiles } from '../io/node/node-files';
import { openTransaction } from '../io/files/files';
import { prepareOutput } from '../io/node/output-guard';
import { DEMO_OBJECTS, demoCameras, demoTransforms, instanceLabel, renderDemoInstances, renderDemoScene } from '../io/datasets/demo-scene';
import { encodeLabelPng } from '../io/images/label-png';
import { intFlag, parseCommand, requireFlag } from './args';
import { Progress } from './progress';

const USAGE = `usage: instruct-scene demo-data --out DIR [--seed S] [--size N] [--views N] [--json]
       instruct-scene demo-data --meshes --out DIR

Writes the built-in synthetic multiview dataset: RGB PNGs, a nerfstudio transforms.json and objects.json
(each object's axis-aligned box in world coordinates; the world is Y-up, ground at y = 0) and instances/
(one 8-bit PNG per frame, same name: the label of the surface each pixel's centre ray hits — 0 background,
1 ground, 2 + k object k of objects.json; the ground truth of \`diff --target\`).
With --meshes, writes the project's demo meshes instead (for 'stylize'): vase.obj (low-poly, 209 vertices),
torus.glb, sphere.ply and sphere-15k.obj (15k vertices, the size the speed target is set for).`;

export async function writeDemoData(
  out: string,
  opts: { seed?: number; size?: number; views?: number; progress?: Progress } = {},
): Promise<void> {
  const size = opts.size ?? 128,
    views = opts.views ?? 64,
    seed = opts.seed ?? 0;
  const cams = demoCameras(views, size, seed);
  const fileOf = (i: number) => `images/frame_${String(i + 1).padStart(5, '0')}.png`;
  const instanceFileOf = (i: number) => `instances/frame_${String(i + 1).padStart(5, '0')}.png`;
  // staged: the dataset appears complete or not at all (transforms.json last)
  const tx = await openTransaction(nodeFiles, out);
  try {
    for (let i = 0; i < cams.length; i++) {
      await tx.write(fileOf(i), encodePng(renderDemoScene(cams[i])));
      const labels = renderDemoInstances(cams[i]);
      await tx.write(instanceFileOf(i), encodeLabelPng({ width: cams[i].width, height: cams[i].height, labels }));
      opts.progress?.update({ phase: 'render', step: i + 1, total: cams.length });
    }
    opts.progress?.done();
    await tx.write(
      'objects.json',
      JSON.stringify(
        DEMO_OBJECTS.map((o, k) => ({ name: o.name, min: o.min, max: o.max, label: instanceLabel(k) })),
        null,
        2,
      ),
    );
    await tx.write('transforms.json', JSON.stringify(demoTransforms(cams, fileOf), null, 2));
    await tx.commit(['objects.json', 'transforms.json']);
  } catch (e) {
    await tx.abort();
    throw e;
  }
}

export async function run(args: string[]): Promise<number> {
  const p = parseCommand(args, USAGE, {
    out: { type: 'string' },
    seed: { type: 'string' },
    size: { type: 'string' },
    views: { type: 'string' },
    meshes: { type: 'boolean' },
  });
  if (!p) return 0;
  const out = requireFlag(p.values.out, 'out');
  if (p.values.meshes) {
    const { writeDemoMeshes } = await import('./demo-meshes');
    const files = await writeDemoMeshes(out);
    if (p.values.json) console.log(JSON.stringify({ out, files }));
    else console.log(`wrote ${files.join(', ')} to ${out}/`);
    return 0;
  }
  const size = intFlag(p.values.size, 'size', 128, 16);
  const views = intFlag(p.values.views, 'views', 64, 8);
  const seed = intFlag(p.values.seed, 'seed', 0, 0);
  if (size > 4096) throw new UserError('--size must be at most 4096');
  await prepareOutput({ out, kind: 'dir', inputs: [] });
  await writeDemoData(out, { seed, size, views, progress: Progress.for(p.values.json as boolean) });
  if (p.values.json) console.log(JSON.stringify({ out, views, size, seed }));
  else console.log(`wrote ${views} views (${size}×${size}) to ${dirLabel(out)} (transforms.json, objects.json, instances/)`);
  return 0;
}
