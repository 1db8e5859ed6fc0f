import { logit } from '../../core/math';
import { lookAtCamera } from '../../core/camera';
import { createVoxelGrid, resolutionFromMax, updateOccupancy, voxelSize, type VoxelGrid } from '../../nerf/voxel/voxel-grid';
import { DEMO_GROUND, DEMO_OBJECTS, DEMO_SCENE_BOX, renderDemoScene, type DemoObject } from '../../io/datasets/demo-scene';

/**
 * The built-in demo scene as a voxel radiance grid, made without fitting: density from the signed distance to the
 * analytic demo objects (a soft shell one voxel thick), colour from the demo's ray tracer looking at the nearest
 * surface point along its normal. Deterministic; the viewer makes it in a worker (`?demo=voxel`) and the tests
 * render the same grid with the CPU reference renderer.
 */
type V3 = [number, number, number];

function sdBox(p: V3, min: readonly number[], max: readonly number[]): number {
  let outside = 0,
    inside = -Infinity;
  for (let a = 0; a < 3; a++) {
    const c = (min[a] + max[a]) / 2,
      h = (max[a] - min[a]) / 2;
    const q = Math.abs(p[a] - c) - h;
    outside += Math.max(q, 0) ** 2;
    inside = Math.max(inside, q);
  }
  return Math.sqrt(outside) + Math.min(inside, 0);
}

function sdObject(o: DemoObject, p: V3): number {
  const c = [(o.min[0] + o.max[0]) / 2, (o.min[1] + o.max[1]) / 2, (o.min[2] + o.max[2]) / 2];
  if (o.kind === 'box') return sdBox(p, o.min, o.max);
  const r = (o.max[0] - o.min[0]) / 2;
  if (o.kind === 'sphere') return Math.hypot(p[0] - c[0], p[1] - c[1], p[2] - c[2]) - r;
  // capped vertical cylinder
  const dxz = Math.hypot(p[0] - c[0], p[2] - c[2]) - r;
  const dy = Math.abs(p[1] - c[1]) - (o.max[1] - o.min[1]) / 2;
  return Math.min(Math.max(dxz, dy), 0) + Math.hypot(Math.max(dxz, 0), Math.max(dy, 0));
}

const GROUND_SLAB = { min: [-DEMO_GROUND.half, -0.06, -DEMO_GROUND.half], max: [DEMO_GROUND.half, 0, DEMO_GROUND.half] };

function sdScene(p: V3): number {
  let d = sdBox(p, GROUND_SLAB.min, GROUND_SLAB.max);
  for (const o of DEMO_OBJECTS) d = Math.min(d, sdObject(o, p));
  return d;
}

/** The colour logit with the input clamped to [1e-3, 1 − 1e-3] (pure colours stay within reach of the fit). */
function colorLogit(v: number): number {
  return logit(Math.min(Math.max(v, 1e-3), 1 - 1e-3));
}

/** The demo as a voxel grid whose largest axis has `maxRes` vertices (default 96). */
export function demoVoxelGrid(maxRes = 96): VoxelGrid {
  const box = { min: [...DEMO_SCENE_BOX.min] as V3, max: [...DEMO_SCENE_BOX.max] as V3 };
  const res = resolutionFromMax(box, maxRes);
  const grid = createVoxelGrid({ res, box });
  const vs = Math.min(...voxelSize(grid));
  const [nx, ny, nz] = res;
  const e = 0.25 * vs;
  for (let k = 0, v = 0; k < nz; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++, v++) {
        const p: V3 = [
          box.min[0] + (i / (nx - 1)) * (box.max[0] - box.min[0]),
          box.min[1] + (j / (ny - 1)) * (box.max[1] - box.min[1]),
          box.min[2] + (k / (nz - 1)) * (box.max[2] - box.min[2]),
        ];
        const sd = sdScene(p);
        // σ-input z = raw + shift: ≈2 at the surface, 10 a voxel inside, −20 far outside
        const z = Math.max(-20, Math.min(10, 2 - (8 * sd) / vs));
        grid.density[v] = z - grid.densityShift;
        grid.color[v * 3] = grid.color[v * 3 + 1] = grid.color[v * 3 + 2] = 0;
        if (Math.abs(sd) > 2.5 * vs) continue;
        // nearest surface point and its normal (numerical gradient of the distance)
        const g: V3 = [0, 0, 0];
        for (let a = 0; a < 3; a++) {
          const p1 = [...p] as V3,
            p0 = [...p] as V3;
          p1[a] += e;
          p0[a] -= e;
          g[a] = sdScene(p1) - sdScene(p0);
        }
        const gl = Math.hypot(g[0], g[1], g[2]) || 1;
        const n: V3 = [g[0] / gl, g[1] / gl, g[2] / gl];
        const s: V3 = [p[0] - sd * n[0], p[1] - sd * n[1], p[2] - sd * n[2]];
        const eye: V3 = [s[0] + n[0] * 0.05, s[1] + n[1] * 0.05, s[2] + n[2] * 0.05];
        const up: V3 = Math.abs(n[1]) > 0.9 ? [1, 0, 0] : [0, 1, 0];
        const c = renderDemoScene(lookAtCamera(eye, s, up, 1, 1, 0.01)).data;
        grid.color[v * 3] = colorLogit(c[0]);
        grid.color[v * 3 + 1] = colorLogit(c[1]);
        grid.color[v * 3 + 2] = colorLogit(c[2]);
      }
  updateOccupancy(grid);
  return grid;
}
