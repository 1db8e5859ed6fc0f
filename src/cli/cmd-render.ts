import { UserError } from '../core/errors';
import { dirLabel } from '../core/paths';
import { loadDataset, framesOf } from '../io/datasets/dataset';
import { loadScene } from '../io/scenes/load-scene';
import { checkOrbitHint, exportMultiview, exportName, orbitCameras, type ExportView, type OrbitHint } from '../io/export/multiview-export';
import { nodeFiles } from '../io/node/node-files';
import type { Scene } from '../nerf/common/scene';
import { VoxelGridScene } from '../nerf/voxel/voxel-grid-scene';
import { MeshScene } from '../nerf/mesh/mesh-scene';
import { meshOrbitHint } from '../nerf/mesh/mesh-views';
import { choiceFlag, intFlag, parseCommand, requireFlag } from './args';
import { Progress } from './progress';
import { datasetRoot, prepareOutput } from '../io/node/output-guard';

const USAGE = `usage: instruct-scene render SCENE (--dataset DATASET [--split train|val|test|all] [--downscale K] | --orbit N [--size WxH]) --out DIR [--json]

Renders the scene and writes PNGs plus a nerfstudio transforms.json that loads back as a dataset
(the multiview export). --dataset renders at that dataset's cameras (default split: all); --orbit N renders
N views on a circle around the scene centre (default size: the training images', else 512x512).
SCENE may also be a mesh (.obj, .ply with faces, .glb, .gltf, or a folder from 'stylize'): --orbit then circles
its bounding sphere.`;

/** Orbit hints: saved by fit in the scene's metadata (checked field by field); otherwise derived from the scene's box. */
function orbitHint(scene: Scene, scenePath: string): OrbitHint {
  const m = (scene as VoxelGridScene).meta?.orbit;
  if (m !== undefined) return checkOrbitHint(m, scenePath);
  if (scene instanceof MeshScene) return meshOrbitHint(scene.bounds.center, scene.bounds.radius);
  if (scene instanceof VoxelGridScene) {
    const b = scene.grid.box;
    const center = [0, 1, 2].map((a) => (b.min[a] + b.max[a]) / 2) as [number, number, number];
    const diag = Math.hypot(...[0, 1, 2].map((a) => b.max[a] - b.min[a]));
    return { center, up: [0, 1, 0], radius: scene.grid.bgLen > 0 ? diag * 0.25 : diag * 1.2, elevation: 0.45, fovY: (40 * Math.PI) / 180 };
  }
  return { center: [0, 0, 0], up: [0, 1, 0], radius: 4, elevation: 0.45, fovY: (40 * Math.PI) / 180 };
}

function parseSize(v: string | boolean | undefined): [number, number] | undefined {
  if (v === undefined) return undefined;
  const m = typeof v === 'string' ? /^(\d+)x(\d+)$/i.exec(v) : null;
  if (!m) throw new UserError(`--size must look like 512x512, got '${v}'`);
  const w = Number(m[1]),
    h = Number(m[2]);
  if (w < 1 || h < 1 || w > 8192 || h > 8192) throw new UserError(`--size must be between 1x1 and 8192x8192, got '${v}'`);
  return [w, h];
}

export async function run(args: string[]): Promise<number> {
  const p = parseCommand(
    args,
    USAGE,
    {
      dataset: { type: 'string' },
      split: { type: 'string' },
      downscale: { type: 'string' },
      orbit: { type: 'string' },
      size: { type: 'string' },
      out: { type: 'string' },
    },
    { positionals: [1, 1] },
  );
  if (!p) return 0;
  const out = requireFlag(p.values.out, 'out');
  if ((p.values.dataset === undefined) === (p.values.orbit === undefined))
    throw new UserError('give exactly one of --dataset DATASET or --orbit N');
  const dsArg = typeof p.values.dataset === 'string' ? p.values.dataset : undefined;
  await prepareOutput({ out, kind: 'dir', inputs: [p.positionals[0], datasetRoot(dsArg)] });
  const json = !!p.values.json;
  const progress = Progress.for(json);
  const scene = await loadScene(p.positionals[0], nodeFiles);
  let views: ExportView[];
  if (p.values.dataset !== undefined) {
    if (p.values.size !== undefined)
      throw new UserError('--size goes with --orbit (with --dataset the cameras set the size; use --downscale)');
    const ds = await loadDataset(requireFlag(p.values.dataset, 'dataset'), nodeFiles, {
      downscale: intFlag(p.values.downscale, 'downscale', 1, 1),
    });
    const split = choiceFlag(p.values.split, 'split', ['train', 'val', 'test', 'all'] as const, 'all');
    if (scene instanceof MeshScene) scene.background = ds.background;
    const frames = framesOf(ds, split);
    if (!frames.length) throw new UserError(`the dataset has no ${split} frames`, ds.sources[0]);
    const names = new Set<string>();
    views = frames.map((f) => {
      let name = exportName(f.file);
      if (names.has(name)) name = name.replace(/\.png$/, `_${f.index}.png`);
      names.add(name);
      return { camera: f.camera, file: name, split: f.split };
    });
  } else {
    if (p.values.split !== undefined || p.values.downscale !== undefined) throw new UserError('--split and --downscale go with --dataset');
    const n = intFlag(p.values.orbit, 'orbit', 60, 1);
    if (n > 10000) throw new UserError('--orbit must be at most 10000 views');
    const hint = orbitHint(scene, p.positionals[0]);
    const [w, h] = parseSize(p.values.size) ?? [512, 512];
    views = orbitCameras(hint, n, w, h).map((camera, i) => ({
      camera,
      file: `images/orbit_${String(i).padStart(4, '0')}.png`,
      split: 'test' as const,
    }));
  }
  const r = await exportMultiview(scene, views, out, nodeFiles, (done, total) => progress.update({ phase: 'render', step: done, total }));
  progress.done();
  if (json) console.log(JSON.stringify({ out, views: views.length, transforms: r.transforms, seconds: r.seconds }));
  else console.log(`rendered ${views.length} view(s) in ${r.seconds.toFixed(1)} s → ${dirLabel(out)} (images/*.png, transforms.json)`);
  return 0;
}
