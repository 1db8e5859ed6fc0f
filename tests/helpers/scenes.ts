import type { Vec3 } from '../../src/core/math';
import type { Rng } from '../../src/core/rng';
import { createGaussians, setColor, SH_STRIDE, type Gaussians } from '../../src/nerf/gaussian/gaussians';
import type { TrainBatch } from '../../src/nerf/voxel/voxel-backend';
import { createVoxelGrid, type Box3, type VoxelGrid } from '../../src/nerf/voxel/voxel-grid';

/**
 * Random scenes for the twin, parity and format tests. Every draw comes from the caller's seeded `Rng`, in a fixed
 * order (documented per function), so a test keeps its exact values as long as it keeps its options.
 */

export interface RandomGaussiansOptions {
  /** Mean coordinates uniform in [−mean, mean]. */
  mean: number;
  /** Standard deviations uniform in [a, b] (stored as their log) … */
  scale?: [number, number];
  /** … or log-scales uniform in [a, b]. */
  logScale?: [number, number];
  /** Opacity logits uniform in [a, b]. */
  opacityLogit: [number, number];
  /** Normalise the (normally drawn) quaternions; default false (the renderers normalise). */
  unitRotations?: boolean;
  /**
   * Colour: `{ rest }` — a random base colour (setColor) and every higher SH coefficient (all 15 bands' worth,
   * whatever the degree) uniform in [−rest, rest]; `{ all }` — the (deg + 1)²·3 used coefficients, DC included,
   * uniform in [−all, all].
   */
  sh: { rest: number } | { all: number };
}

/**
 * `n` random Gaussians of SH degree `deg`. Draws per Gaussian: for each axis the mean then the scale; 4 normals
 * for the quaternion; the opacity logit; then the colour (see `sh`).
 */
export function randomGaussians(rng: Rng, n: number, deg: number, o: RandomGaussiansOptions): Gaussians {
  const g = createGaussians(n, deg);
  for (let i = 0; i < n; i++) {
    for (let a = 0; a < 3; a++) {
      g.means[3 * i + a] = rng.uniform(-o.mean, o.mean);
      g.logScales[3 * i + a] = o.scale ? Math.log(rng.uniform(o.scale[0], o.scale[1])) : rng.uniform(o.logScale![0], o.logScale![1]);
    }
    const q = [rng.normal(), rng.normal(), rng.normal(), rng.normal()];
    const l = o.unitRotations ? Math.hypot(...q) : 1;
    for (let a = 0; a < 4; a++) g.rotations[4 * i + a] = q[a] / l;
    g.opacityLogits[i] = rng.uniform(o.opacityLogit[0], o.opacityLogit[1]);
    if ('rest' in o.sh) {
      setColor(g, i, rng.next(), rng.next(), rng.next());
      for (let k = 3; k < SH_STRIDE; k++) g.sh[i * SH_STRIDE + k] = rng.uniform(-o.sh.rest, o.sh.rest);
    } else {
      for (let k = 0; k < (deg + 1) ** 2 * 3; k++) g.sh[i * SH_STRIDE + k] = rng.uniform(-o.sh.all, o.sh.all);
    }
  }
  return g;
}

/** The box most voxel tests use: not a cube and not centred, so axis mix-ups show. */
export const TEST_BOX: Box3 = { min: [-1, -0.5, -1], max: [1, 0.7, 1.2] };

export interface RandomGridOptions {
  res: Vec3;
  box?: Box3;
  bgLen?: number;
  shDegree?: 0 | 1;
  densityShift: number;
  /** Raw densities uniform in [a, b]. */
  density: [number, number];
  /** Raw colour features uniform in [−color, color]. */
  color: number;
}

/** A voxel grid with random raw values (all cells occupied). Draws: every density, then every colour feature. */
export function randomVoxelGrid(rng: Rng, o: RandomGridOptions): VoxelGrid {
  const g = createVoxelGrid({ res: o.res, box: o.box ?? TEST_BOX, bgLen: o.bgLen ?? 0, shDegree: o.shDegree ?? 0 });
  g.densityShift = o.densityShift;
  for (let i = 0; i < g.density.length; i++) g.density[i] = rng.uniform(o.density[0], o.density[1]);
  for (let i = 0; i < g.color.length; i++) g.color[i] = rng.uniform(-o.color, o.color);
  return g;
}

export interface OutsideRays {
  /** Distance of the origins from the world origin: fixed, or uniform in [a, b] (drawn after the elevation). */
  far: number | [number, number];
  /** Elevation uniform in this range (radians). */
  elevation: [number, number];
  /** Each ray aims at a point uniform in this box. */
  aim: Box3;
}

/**
 * `n` rays from a sphere around the scene towards random points in `aim`, with random target colours. Draws per
 * ray: azimuth, elevation, (far), the aim point's x, y, z, then one target value per axis.
 */
export function raysLookingIn(rng: Rng, n: number, o: OutsideRays): TrainBatch {
  const batch = emptyBatch(n);
  for (let i = 0; i < n; i++) {
    const th = rng.uniform(0, 2 * Math.PI),
      ph = rng.uniform(o.elevation[0], o.elevation[1]);
    const far = typeof o.far === 'number' ? o.far : rng.uniform(o.far[0], o.far[1]);
    const org = [far * Math.cos(ph) * Math.cos(th), far * Math.sin(ph), far * Math.cos(ph) * Math.sin(th)];
    const aim = [0, 1, 2].map((a) => rng.uniform(o.aim.min[a], o.aim.max[a]));
    setRay(batch, i, org, [aim[0] - org[0], aim[1] - org[1], aim[2] - org[2]], rng);
  }
  return batch;
}

/** `n` rays from points uniform in `origins` in normally drawn directions, with random target colours. */
export function raysFromInside(rng: Rng, n: number, origins: Box3): TrainBatch {
  const batch = emptyBatch(n);
  for (let i = 0; i < n; i++) {
    const org = [0, 1, 2].map((a) => rng.uniform(origins.min[a], origins.max[a]));
    setRay(batch, i, org, [rng.normal(), rng.normal(), rng.normal()], rng);
  }
  return batch;
}

function emptyBatch(n: number): TrainBatch {
  return { origins: new Float32Array(n * 3), dirs: new Float32Array(n * 3), target: new Float32Array(n * 3), count: n };
}

function setRay(b: TrainBatch, i: number, org: number[], d: number[], rng: Rng): void {
  const l = Math.hypot(d[0], d[1], d[2]);
  for (let a = 0; a < 3; a++) {
    b.origins[i * 3 + a] = org[a];
    b.dirs[i * 3 + a] = d[a] / l;
    b.target[i * 3 + a] = rng.next();
  }
}
