import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEMO_GROUND, DEMO_OBJECTS, DEMO_SCENE_BOX, demoCameras, demoTransforms, type DemoObject } from '../../src/io/datasets/demo-scene';
import { encodePng } from '../../src/io/images/image-codec';
import { orbitHintFromCameras } from '../../src/io/export/multiview-export';
import { saveVoxelScene } from '../../src/io/scenes/load-scene';
import { nodeFiles } from '../../src/io/node/node-files';
import { createVoxelGrid, resolutionFromMax, updateOccupancy, type VoxelGrid } from '../../src/nerf/voxel/voxel-grid';
import { VoxelGridScene } from '../../src/nerf/voxel/voxel-grid-scene';
import { logit, sigmoid, type Vec3 } from '../../src/core/math';

function insideObject(o: DemoObject, x: number, y: number, z: number): boolean {
  const c = [(o.min[0] + o.max[0]) / 2, (o.min[1] + o.max[1]) / 2, (o.min[2] + o.max[2]) / 2];
  if (o.kind === 'sphere') return (x - c[0]) ** 2 + (y - c[1]) ** 2 + (z - c[2]) ** 2 <= ((o.max[0] - o.min[0]) / 2) ** 2;
  if (o.kind === 'cylinder') return y >= o.min[1] && y <= o.max[1] && (x - c[0]) ** 2 + (z - c[2]) ** 2 <= ((o.max[0] - o.min[0]) / 2) ** 2;
  return x >= o.min[0] && x <= o.max[0] && y >= o.min[1] && y <= o.max[1] && z >= o.min[2] && z <= o.max[2];
}

/**
 * The demo scene voxelised analytically (objects and ground as opaque voxels with their flat colours): a tiny
 * stand-in for a fitted demo scene, built in milliseconds, so edit tests need no fitting.
 */
export function demoVoxelGrid(maxRes = 40): VoxelGrid {
  const res = resolutionFromMax(DEMO_SCENE_BOX, maxRes);
  const g = createVoxelGrid({ res, box: DEMO_SCENE_BOX });
  const [nx, ny, nz] = res;
  for (let k = 0, v = 0; k < nz; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++, v++) {
        const x = DEMO_SCENE_BOX.min[0] + (i / (nx - 1)) * (DEMO_SCENE_BOX.max[0] - DEMO_SCENE_BOX.min[0]);
        const y = DEMO_SCENE_BOX.min[1] + (j / (ny - 1)) * (DEMO_SCENE_BOX.max[1] - DEMO_SCENE_BOX.min[1]);
        const z = DEMO_SCENE_BOX.min[2] + (k / (nz - 1)) * (DEMO_SCENE_BOX.max[2] - DEMO_SCENE_BOX.min[2]);
        let col: Vec3 | null = null;
        for (const o of DEMO_OBJECTS) if (insideObject(o, x, y, z)) col = o.color;
        if (!col && y <= 0.001 && y >= -0.08 && Math.abs(x) <= DEMO_GROUND.half && Math.abs(z) <= DEMO_GROUND.half) col = DEMO_GROUND.color;
        g.density[v] = col ? 12 : -12;
        const c = col ?? [0.5, 0.5, 0.5];
        for (let q = 0; q < 3; q++) g.color[v * 3 + q] = logit(Math.min(0.97, Math.max(0.03, c[q] * 0.85)));
      }
  updateOccupancy(g, 1e-3);
  return g;
}

/** Writes a tiny demo: a voxel scene folder and a dataset of that scene's own renders (so both agree). */
export async function writeTinyDemo(
  root: string,
  o: { size?: number; views?: number; res?: number } = {},
): Promise<{ scene: string; data: string }> {
  const size = o.size ?? 32,
    views = o.views ?? 16;
  const grid = demoVoxelGrid(o.res ?? 40);
  const scene = join(root, 'scene'),
    data = join(root, 'data');
  await saveVoxelScene(
    scene,
    { grid, background: [1, 1, 1], render: { stepRatio: 0.5, near: 0 }, meta: { source: 'tests/helpers/edit-demo.ts' } },
    nodeFiles,
  );
  const vs = new VoxelGridScene(grid, [1, 1, 1]);
  const cams = demoCameras(views, size, 0);
  const fileOf = (i: number) => `images/frame_${String(i + 1).padStart(5, '0')}.png`;
  mkdirSync(join(data, 'images'), { recursive: true });
  for (let i = 0; i < cams.length; i++) writeFileSync(join(data, fileOf(i)), encodePng((await vs.render(cams[i])).image));
  writeFileSync(join(data, 'transforms.json'), JSON.stringify(demoTransforms(cams, fileOf), null, 2));
  writeFileSync(join(data, 'objects.json'), JSON.stringify(DEMO_OBJECTS.map((x) => ({ name: x.name, min: x.min, max: x.max }))));
  return { scene, data };
}

/** The tiny demo as Gaussians: one per surface vertex of the analytic voxel demo, with its colour. */
export async function writeTinyGaussianDemo(
  root: string,
  o: { size?: number; views?: number; res?: number } = {},
): Promise<{ scene: string; data: string }> {
  const { gaussiansFromPoints } = await import('../../src/nerf/gaussian/gaussians');
  const { saveGaussianScene } = await import('../../src/io/scenes/load-gaussian-scene');
  const { GaussianScene } = await import('../../src/nerf/gaussian/gaussian-scene');
  const size = o.size ?? 32,
    views = o.views ?? 16;
  const grid = demoVoxelGrid(o.res ?? 32);
  const [nx, ny, nz] = grid.res;
  const xyz: number[] = [],
    rgb: number[] = [];
  const solid = (i: number, j: number, k: number) =>
    i >= 0 && j >= 0 && k >= 0 && i < nx && j < ny && k < nz && grid.density[i + nx * (j + ny * k)] > 0;
  for (let k = 0; k < nz; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++) {
        if (!solid(i, j, k)) continue;
        if (
          solid(i + 1, j, k) &&
          solid(i - 1, j, k) &&
          solid(i, j + 1, k) &&
          solid(i, j - 1, k) &&
          solid(i, j, k + 1) &&
          solid(i, j, k - 1)
        )
          continue;
        const v = i + nx * (j + ny * k);
        xyz.push(
          ...[i / (nx - 1), j / (ny - 1), k / (nz - 1)].map(
            (f, a) => DEMO_SCENE_BOX.min[a] + f * (DEMO_SCENE_BOX.max[a] - DEMO_SCENE_BOX.min[a]),
          ),
        );
        for (let c = 0; c < 3; c++) rgb.push(sigmoid(grid.color[v * 3 + c]));
      }
  const g = gaussiansFromPoints(Float32Array.from(xyz), Float32Array.from(rgb), { opacity: 0.95 });
  const scene = join(root, 'gscene'),
    data = join(root, 'gdata');
  const cams = demoCameras(views, size, 0);
  // as `fit` does: the orbit of the training cameras in the scene's metadata (render --orbit uses it)
  const meta = { source: 'tests/helpers/edit-demo.ts', orbit: orbitHintFromCameras(cams, [0, 0.25, 0]) };
  await saveGaussianScene(scene, g, [1, 1, 1], nodeFiles, { meta });
  const gs = new GaussianScene(g, [1, 1, 1]);
  const fileOf = (i: number) => `images/frame_${String(i + 1).padStart(5, '0')}.png`;
  mkdirSync(join(data, 'images'), { recursive: true });
  for (let i = 0; i < cams.length; i++) writeFileSync(join(data, fileOf(i)), encodePng((await gs.render(cams[i])).image));
  writeFileSync(join(data, 'transforms.json'), JSON.stringify(demoTransforms(cams, fileOf), null, 2));
  return { scene, data };
}
