import type { Camera } from '../../core/camera';
import { lookAtCamera, columnMajorToRowMajor } from '../../core/camera';
import { createImage, type Image } from '../../core/image';
import { pixelRay } from '../../core/rays';
import { Rng } from '../../core/rng';

/**
 * The built-in demo scene: a few coloured objects on a ground square, ray-traced analytically with a
 * directional light and hard shadows (view-independent shading, so every representation can fit it).
 * World is Y-up; the ground is the plane y = 0. Everything lies inside `DEMO_SCENE_BOX`.
 */
export interface DemoObject {
  name: string;
  kind: 'box' | 'sphere' | 'cylinder';
  min: [number, number, number];
  max: [number, number, number];
  color: [number, number, number];
}

export const DEMO_OBJECTS: DemoObject[] = [
  { name: 'vase', kind: 'cylinder', min: [-0.22, 0, -0.22], max: [0.22, 0.55, 0.22], color: [0.55, 0.66, 0.85] },
  { name: 'ball', kind: 'sphere', min: [0.4, 0, 0.1], max: [0.9, 0.5, 0.6], color: [0.2, 0.72, 0.3] },
  { name: 'crate', kind: 'box', min: [-0.9, 0, -0.25], max: [-0.5, 0.4, 0.15], color: [0.92, 0.55, 0.15] },
  { name: 'pillar', kind: 'box', min: [0.15, 0, -0.85], max: [0.45, 0.6, -0.55], color: [0.25, 0.3, 0.85] },
];

export const DEMO_GROUND = { half: 1.2, color: [0.78, 0.74, 0.68] as [number, number, number] };
export const DEMO_SCENE_BOX = { min: [-1.3, -0.1, -1.3] as [number, number, number], max: [1.3, 0.9, 1.3] as [number, number, number] };
export const DEMO_BACKGROUND: [number, number, number] = [1, 1, 1];
const LIGHT = (() => {
  const l = [0.45, 1, 0.3];
  const n = Math.hypot(l[0], l[1], l[2]);
  return l.map((v) => v / n) as [number, number, number];
})();

interface Hit {
  t: number;
  n: [number, number, number];
  color: [number, number, number];
}

function hitObject(o: DemoObject, ox: number, oy: number, oz: number, dx: number, dy: number, dz: number): Hit | null {
  const c = [(o.min[0] + o.max[0]) / 2, (o.min[1] + o.max[1]) / 2, (o.min[2] + o.max[2]) / 2];
  if (o.kind === 'sphere') {
    const r = (o.max[0] - o.min[0]) / 2;
    const px = ox - c[0],
      py = oy - c[1],
      pz = oz - c[2];
    const b = px * dx + py * dy + pz * dz;
    const disc = b * b - (px * px + py * py + pz * pz - r * r);
    if (disc < 0) return null;
    const t = -b - Math.sqrt(disc);
    if (t <= 1e-4) return null;
    const hx = px + t * dx,
      hy = py + t * dy,
      hz = pz + t * dz;
    return { t, n: [hx / r, hy / r, hz / r], color: o.color };
  }
  if (o.kind === 'box') {
    let t0 = -Infinity,
      t1 = Infinity,
      axis = 0,
      sign = 1;
    const o3 = [ox, oy, oz],
      d3 = [dx, dy, dz];
    for (let a = 0; a < 3; a++) {
      const inv = 1 / d3[a];
      let ta = (o.min[a] - o3[a]) * inv,
        tb = (o.max[a] - o3[a]) * inv;
      let s = -1;
      if (ta > tb) {
        const t = ta;
        ta = tb;
        tb = t;
        s = 1;
      }
      if (ta > t0) {
        t0 = ta;
        axis = a;
        sign = s;
      }
      if (tb < t1) t1 = tb;
    }
    if (t0 > t1 || t0 <= 1e-4) return null;
    const n: [number, number, number] = [0, 0, 0];
    n[axis] = sign;
    return { t: t0, n, color: o.color };
  }
  // vertical cylinder with a flat top
  const r = (o.max[0] - o.min[0]) / 2;
  const px = ox - c[0],
    pz = oz - c[2];
  let best: Hit | null = null;
  const a = dx * dx + dz * dz;
  if (a > 1e-12) {
    const b = px * dx + pz * dz;
    const disc = b * b - a * (px * px + pz * pz - r * r);
    if (disc >= 0) {
      const t = (-b - Math.sqrt(disc)) / a;
      const y = oy + t * dy;
      if (t > 1e-4 && y >= o.min[1] && y <= o.max[1]) best = { t, n: [(px + t * dx) / r, 0, (pz + t * dz) / r], color: o.color };
    }
  }
  if (Math.abs(dy) > 1e-12) {
    const t = (o.max[1] - oy) / dy;
    const hx = px + t * dx,
      hz = pz + t * dz;
    if (t > 1e-4 && hx * hx + hz * hz <= r * r && (!best || t < best.t)) best = { t, n: [0, 1, 0], color: o.color };
  }
  return best;
}

function groundColor(x: number, z: number): [number, number, number] {
  // gentle, low-frequency tint so the ground is not a flat colour
  const g = DEMO_GROUND.color;
  const s = 0.06 * Math.sin(1.7 * x) * Math.cos(1.3 * z);
  return [g[0] + s, g[1] + s * 0.5, g[2] - s * 0.5];
}

/** The nearest surface along a ray: its hit and label (1 = ground, 2 + k = object k; null when the ray escapes). */
function firstHit(
  ox: number,
  oy: number,
  oz: number,
  dx: number,
  dy: number,
  dz: number,
  objects: DemoObject[],
): { hit: Hit; label: number } | null {
  let best: Hit | null = null,
    label = 0;
  objects.forEach((o, k) => {
    const h = hitObject(o, ox, oy, oz, dx, dy, dz);
    if (h && (!best || h.t < best.t)) {
      best = h;
      label = 2 + k;
    }
  });
  if (Math.abs(dy) > 1e-12) {
    const t = -oy / dy;
    const x = ox + t * dx,
      z = oz + t * dz;
    if (t > 1e-4 && Math.abs(x) <= DEMO_GROUND.half && Math.abs(z) <= DEMO_GROUND.half && (!best || t < (best as Hit).t)) {
      best = { t, n: [0, 1, 0], color: groundColor(x, z) };
      label = 1;
    }
  }
  return best ? { hit: best, label } : null;
}

function trace(
  ox: number,
  oy: number,
  oz: number,
  dx: number,
  dy: number,
  dz: number,
  objects: DemoObject[],
): [number, number, number] | null {
  const first = firstHit(ox, oy, oz, dx, dy, dz, objects);
  if (!first) return null;
  const best = first.hit;
  const hx = ox + best.t * dx,
    hy = oy + best.t * dy,
    hz = oz + best.t * dz;
  let lambert = Math.max(0, best.n[0] * LIGHT[0] + best.n[1] * LIGHT[1] + best.n[2] * LIGHT[2]);
  if (lambert > 0) {
    for (const o of objects) {
      if (hitObject(o, hx + best.n[0] * 1e-3, hy + best.n[1] * 1e-3, hz + best.n[2] * 1e-3, LIGHT[0], LIGHT[1], LIGHT[2])) {
        lambert = 0;
        break;
      }
    }
  }
  const shade = 0.45 + 0.55 * lambert;
  return [best.color[0] * shade, best.color[1] * shade, best.color[2] * shade];
}

/** Instance labels of the demo's pixels (ground truth for edit metrics) from the centre ray of each pixel. */
export const INSTANCE_BACKGROUND = 0,
  INSTANCE_GROUND = 1;
/** The label of object k of `objects`: 2 + k. */
export const instanceLabel = (k: number) => 2 + k;

/** Per-pixel instance labels (row-major): 0 background, 1 ground, 2 + k for object k, from each pixel's centre ray. */
export function renderDemoInstances(cam: Camera, objects: DemoObject[] = DEMO_OBJECTS): Uint8Array {
  const out = new Uint8Array(cam.width * cam.height);
  const o = new Float32Array(3),
    d = new Float32Array(3);
  for (let y = 0; y < cam.height; y++)
    for (let x = 0; x < cam.width; x++) {
      pixelRay(cam, x, y, o, d, 0);
      out[y * cam.width + x] = firstHit(o[0], o[1], o[2], d[0], d[1], d[2], objects)?.label ?? INSTANCE_BACKGROUND;
    }
  return out;
}

/** Renders the demo scene from a camera with 2×2 supersampling. */
export function renderDemoScene(cam: Camera, objects: DemoObject[] = DEMO_OBJECTS): Image {
  const img = createImage(cam.width, cam.height, 3);
  const o = new Float32Array(3),
    d = new Float32Array(3);
  for (let y = 0; y < cam.height; y++)
    for (let x = 0; x < cam.width; x++) {
      let r = 0,
        g = 0,
        b = 0;
      for (let sy = 0; sy < 2; sy++)
        for (let sx = 0; sx < 2; sx++) {
          pixelRay(cam, x - 0.25 + sx * 0.5, y - 0.25 + sy * 0.5, o, d, 0);
          const c = trace(o[0], o[1], o[2], d[0], d[1], d[2], objects) ?? DEMO_BACKGROUND;
          r += c[0];
          g += c[1];
          b += c[2];
        }
      const i = (y * cam.width + x) * 3;
      img.data[i] = r / 4;
      img.data[i + 1] = g / 4;
      img.data[i + 2] = b / 4;
    }
  return img;
}

/** The demo's cameras: an orbit around the scene at varying elevation, jittered by the seed. */
export function demoCameras(count: number, size: number, seed: number): Camera[] {
  const rng = new Rng(seed);
  const cams: Camera[] = [];
  for (let i = 0; i < count; i++) {
    const az = (2 * Math.PI * i) / count + rng.uniform(-0.05, 0.05);
    const el = ((22 + 26 * (0.5 + 0.5 * Math.sin(3 * az + 0.7)) + rng.uniform(-3, 3)) * Math.PI) / 180;
    const r = 3.3 + rng.uniform(-0.15, 0.15);
    const eye: [number, number, number] = [r * Math.cos(el) * Math.cos(az), r * Math.sin(el), r * Math.cos(el) * Math.sin(az)];
    cams.push(lookAtCamera(eye, [0, 0.2, 0], [0, 1, 0], size, size, 40));
  }
  return cams;
}

/** The transforms.json (nerfstudio, PINHOLE) for the demo cameras. */
export function demoTransforms(cams: Camera[], fileOf: (i: number) => string): object {
  const c0 = cams[0];
  return {
    camera_model: 'PINHOLE',
    w: c0.width,
    h: c0.height,
    fl_x: c0.fx,
    fl_y: c0.fy,
    cx: c0.cx,
    cy: c0.cy,
    background: DEMO_BACKGROUND,
    scene_box: DEMO_SCENE_BOX,
    frames: cams.map((c, i) => ({ file_path: fileOf(i), transform_matrix: columnMajorToRowMajor(c.c2w) })),
  };
}
