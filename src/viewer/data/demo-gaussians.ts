import { lookAtCamera } from '../../core/camera';
import { Rng } from '../../core/rng';
import { createGaussians, setColor, type Gaussians } from '../../nerf/gaussian/gaussians';
import { DEMO_GROUND, DEMO_OBJECTS, renderDemoScene, type DemoObject } from '../../io/datasets/demo-scene';
import { logit } from '../../core/math';

/**
 * The built-in demo scene as 3D Gaussians, made without fitting: flat Gaussians ("surfels") sampled on the
 * visible surfaces of the analytic demo scene (src/io/datasets/demo-scene.ts), each coloured by the demo's own ray tracer
 * (shading and shadows included) looking at that point along its normal. Deterministic for a seed.
 * Runs in a worker in the viewer and in Node in tests (the CPU reference renders the same set).
 */
export interface DemoGaussianOptions {
  /** Mean spacing between neighbouring surfels (world units); default 0.025. */
  spacing?: number;
  seed?: number;
  opacity?: number;
}

type V3 = [number, number, number];

interface Surfel {
  p: V3;
  n: V3;
  t: V3;
  b: V3;
}

function cross(a: V3, b: V3): V3 {
  return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
}
function norm(a: V3): V3 {
  const l = Math.hypot(a[0], a[1], a[2]) || 1;
  return [a[0] / l, a[1] / l, a[2] / l];
}
/** Tangent frame (t, b) for a normal. */
function frame(n: V3): [V3, V3] {
  const up: V3 = Math.abs(n[1]) < 0.9 ? [0, 1, 0] : [1, 0, 0];
  const t = norm(cross(up, n));
  return [t, cross(n, t)];
}

function inside(o: DemoObject, p: V3, margin: number): boolean {
  for (let a = 0; a < 3; a++) if (p[a] < o.min[a] - margin || p[a] > o.max[a] + margin) return false;
  if (o.kind === 'box') return true;
  const c = [(o.min[0] + o.max[0]) / 2, (o.min[1] + o.max[1]) / 2, (o.min[2] + o.max[2]) / 2];
  const r = (o.max[0] - o.min[0]) / 2 + margin;
  if (o.kind === 'sphere') return (p[0] - c[0]) ** 2 + (p[1] - c[1]) ** 2 + (p[2] - c[2]) ** 2 <= r * r;
  return (p[0] - c[0]) ** 2 + (p[2] - c[2]) ** 2 <= r * r;
}

function sampleSurfaces(spacing: number, rng: Rng): Surfel[] {
  const out: Surfel[] = [];
  const push = (p: V3, n: V3) => {
    const [t, b] = frame(n);
    out.push({ p, n, t, b });
  };
  const count = (area: number) => Math.max(1, Math.round(area / (spacing * spacing)));
  // ground square (top face), skipping the objects' footprints
  {
    const h = DEMO_GROUND.half;
    const cells = Math.round((2 * h) / spacing);
    for (let j = 0; j < cells; j++)
      for (let i = 0; i < cells; i++) {
        const p: V3 = [-h + (i + rng.next()) * spacing, 0, -h + (j + rng.next()) * spacing];
        if (DEMO_OBJECTS.some((o) => inside(o, [p[0], 0.01, p[2]], 0.005))) continue;
        push(p, [0, 1, 0]);
      }
  }
  for (const o of DEMO_OBJECTS) {
    const c: V3 = [(o.min[0] + o.max[0]) / 2, (o.min[1] + o.max[1]) / 2, (o.min[2] + o.max[2]) / 2];
    const e: V3 = [o.max[0] - o.min[0], o.max[1] - o.min[1], o.max[2] - o.min[2]];
    if (o.kind === 'sphere') {
      const r = e[0] / 2;
      const n = count(4 * Math.PI * r * r);
      for (let k = 0; k < n; k++) {
        // Fibonacci sphere, jittered
        const y = 1 - (2 * (k + rng.next())) / n;
        const rr = Math.sqrt(Math.max(0, 1 - y * y));
        const phi = k * 2.399963229728653;
        const d: V3 = [rr * Math.cos(phi), y, rr * Math.sin(phi)];
        const p: V3 = [c[0] + r * d[0], c[1] + r * d[1], c[2] + r * d[2]];
        if (p[1] < 0.002) continue;
        push(p, d);
      }
    } else if (o.kind === 'cylinder') {
      const r = e[0] / 2;
      const nSide = count(2 * Math.PI * r * e[1]);
      for (let k = 0; k < nSide; k++) {
        const a = rng.next() * 2 * Math.PI;
        const d: V3 = [Math.cos(a), 0, Math.sin(a)];
        push([c[0] + r * d[0], o.min[1] + rng.next() * e[1], c[2] + r * d[2]], d);
      }
      const nTop = count(Math.PI * r * r);
      for (let k = 0; k < nTop; k++) {
        const a = rng.next() * 2 * Math.PI,
          s = r * Math.sqrt(rng.next());
        push([c[0] + s * Math.cos(a), o.max[1], c[2] + s * Math.sin(a)], [0, 1, 0]);
      }
    } else {
      // box: the top and the four sides (the bottom lies on the ground)
      const faces: { axis: number; sign: number }[] = [
        { axis: 1, sign: 1 },
        { axis: 0, sign: -1 },
        { axis: 0, sign: 1 },
        { axis: 2, sign: -1 },
        { axis: 2, sign: 1 },
      ];
      for (const f of faces) {
        const u = (f.axis + 1) % 3,
          v = (f.axis + 2) % 3;
        const cu = Math.max(1, Math.round(e[u] / spacing)),
          cv = Math.max(1, Math.round(e[v] / spacing));
        for (let j = 0; j < cv; j++)
          for (let i = 0; i < cu; i++) {
            const p: V3 = [0, 0, 0];
            p[f.axis] = f.sign > 0 ? o.max[f.axis] : o.min[f.axis];
            p[u] = o.min[u] + ((i + rng.next()) / cu) * e[u];
            p[v] = o.min[v] + ((j + rng.next()) / cv) * e[v];
            const n: V3 = [0, 0, 0];
            n[f.axis] = f.sign;
            push(p, n);
          }
      }
    }
  }
  return out;
}

/** Quaternion (w, x, y, z) of the rotation whose columns are (t, b, n). */
function quatFromFrame(t: V3, b: V3, n: V3): [number, number, number, number] {
  const m00 = t[0],
    m10 = t[1],
    m20 = t[2];
  const m01 = b[0],
    m11 = b[1],
    m21 = b[2];
  const m02 = n[0],
    m12 = n[1],
    m22 = n[2];
  const tr = m00 + m11 + m22;
  if (tr > 0) {
    const s = Math.sqrt(tr + 1) * 2;
    return [0.25 * s, (m21 - m12) / s, (m02 - m20) / s, (m10 - m01) / s];
  }
  if (m00 > m11 && m00 > m22) {
    const s = Math.sqrt(1 + m00 - m11 - m22) * 2;
    return [(m21 - m12) / s, 0.25 * s, (m01 + m10) / s, (m02 + m20) / s];
  }
  if (m11 > m22) {
    const s = Math.sqrt(1 + m11 - m00 - m22) * 2;
    return [(m02 - m20) / s, (m01 + m10) / s, 0.25 * s, (m12 + m21) / s];
  }
  const s = Math.sqrt(1 + m22 - m00 - m11) * 2;
  return [(m10 - m01) / s, (m02 + m20) / s, (m12 + m21) / s, 0.25 * s];
}

/** The demo scene as Gaussians (about 20k for the default spacing). */
export function demoGaussians(opts: DemoGaussianOptions = {}): Gaussians {
  const spacing = opts.spacing ?? 0.025;
  const rng = new Rng(opts.seed ?? 7);
  const surfels = sampleSurfaces(spacing, rng);
  const g = createGaussians(surfels.length, 0);
  const tangential = Math.log(spacing * 0.6);
  const normal = Math.log(spacing * 0.05);
  const op = logit(opts.opacity ?? 0.95);
  for (let i = 0; i < surfels.length; i++) {
    const s = surfels[i];
    g.means.set(s.p, i * 3);
    g.logScales[i * 3] = tangential;
    g.logScales[i * 3 + 1] = tangential;
    g.logScales[i * 3 + 2] = normal;
    g.rotations.set(quatFromFrame(s.t, s.b, s.n), i * 4);
    g.opacityLogits[i] = op;
    // colour: the demo's ray tracer looking at the point along its normal through a one-pixel camera
    const eye: V3 = [s.p[0] + s.n[0] * 0.05, s.p[1] + s.n[1] * 0.05, s.p[2] + s.n[2] * 0.05];
    const up: V3 = Math.abs(s.n[1]) > 0.9 ? [1, 0, 0] : [0, 1, 0];
    const cam = lookAtCamera(eye, s.p, up, 1, 1, 0.01);
    const c = renderDemoScene(cam).data;
    setColor(g, i, c[0], c[1], c[2]);
  }
  return g;
}
