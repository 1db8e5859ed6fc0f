import type { Camera } from '../../core/camera';
import { checkFinite, UserError } from '../../core/errors';
import { cameraCenter, columnMajorToRowMajor, lookAtCamera } from '../../core/camera';
import { basename, joinPath } from '../../core/paths';
import type { Scene } from '../../nerf/common/scene';
import type { Split } from '../datasets/dataset';
import type { FileSink } from '../files/files';
import { openTransaction } from '../files/files';
import { encodePng } from '../images/image-codec';

/**
 * Multiview export: renders a scene at a list of cameras and writes PNGs plus a nerfstudio `transforms.json`
 * (per-frame intrinsics, distortion kept so the rays are the same, the scene's background, explicit split
 * lists) that `loadDataset` reads back — so an exported set can be evaluated, refitted or edited like a capture.
 */
export interface ExportView {
  camera: Camera;
  /** Relative file path to write (PNG). */
  file: string;
  split?: Split;
}

export interface ExportResult {
  files: string[];
  transforms: string;
  seconds: number;
}

export function transformsFor(views: ExportView[], background: [number, number, number]): object {
  const frames = views.map((v) => {
    const c = v.camera;
    const d = c.distortion;
    const hasDist = d && (d.k1 || d.k2 || d.k3 || d.p1 || d.p2);
    return {
      file_path: v.file,
      transform_matrix: columnMajorToRowMajor(c.c2w),
      w: c.width,
      h: c.height,
      fl_x: c.fx,
      fl_y: c.fy,
      cx: c.cx,
      cy: c.cy,
      camera_model: hasDist ? 'OPENCV' : 'PINHOLE',
      ...(hasDist ? { k1: d!.k1, k2: d!.k2, k3: d!.k3, k4: d!.k4, p1: d!.p1, p2: d!.p2 } : {}),
    };
  });
  const out: Record<string, unknown> = { background, frames };
  for (const s of ['train', 'val', 'test'] as Split[]) {
    const l = views.filter((v) => (v.split ?? 'test') === s).map((v) => v.file);
    if (l.length) out[`${s}_filenames`] = l;
  }
  return out;
}

/**
 * Renders every view and writes `DIR/<file>` PNGs and `DIR/transforms.json`. The files are staged and appear
 * together at the end (`transforms.json` last); an interrupted export leaves none of them (Node: a hidden
 * staging folder that the next run removes).
 */
export async function exportMultiview(
  scene: Scene,
  views: ExportView[],
  dir: string,
  files: FileSink,
  onProgress?: (done: number, total: number) => void,
): Promise<ExportResult> {
  const t0 = Date.now();
  const tx = await openTransaction(files, dir);
  const written: string[] = [];
  try {
    for (let i = 0; i < views.length; i++) {
      const out = await scene.render(views[i].camera);
      checkFinite(out.image.data, `the render of view ${i}`);
      await tx.write(views[i].file, encodePng(out.image));
      written.push(joinPath(dir, views[i].file));
      onProgress?.(i + 1, views.length);
    }
    await tx.write('transforms.json', JSON.stringify(transformsFor(views, scene.background), null, 2) + '\n');
    await tx.commit(['transforms.json']);
  } catch (e) {
    await tx.abort();
    throw e;
  }
  return { files: written, transforms: joinPath(dir, 'transforms.json'), seconds: (Date.now() - t0) / 1000 };
}

/** Export file names for dataset frames: images/<name>.png (the frame's base name, extension replaced). */
export function exportName(file: string): string {
  return `images/${basename(file).replace(/\.[^.]*$/, '')}.png`;
}

/** Where to look from for an orbit: saved by `fit` from the training cameras. */
export interface OrbitHint {
  center: [number, number, number];
  up: [number, number, number];
  radius: number;
  /** Elevation above the plane ⟂ up, radians. */
  elevation: number;
  fovY: number;
}

/**
 * Checks an orbit hint read from a scene's metadata field by field: centre and up are 3 finite numbers
 * (|v| ≤ 1e8; up not zero), radius in (0, 1e8], elevation in [−π/2, π/2], fovY in [0.1°, 179°].
 * Returns the hint with `up` normalised; throws a UserError naming `file` otherwise.
 */
export function checkOrbitHint(o: unknown, file: string): OrbitHint {
  const bad = (what: string) => new UserError(`meta.orbit.${what}; refit the scene or remove meta.orbit to use the default orbit`, file);
  if (typeof o !== 'object' || o === null || Array.isArray(o)) throw bad('must be an object {center, up, radius, elevation, fovY}');
  const h = o as Record<string, unknown>;
  const fin = (v: unknown, lim: number) => typeof v === 'number' && Number.isFinite(v) && Math.abs(v) <= lim;
  const v3 = (k: string) => {
    const v = h[k];
    if (!Array.isArray(v) || v.length !== 3 || !v.every((x) => fin(x, 1e8))) throw bad(`${k} must be 3 finite numbers within ±1e8`);
    return v as [number, number, number];
  };
  const center = v3('center');
  const up = v3('up');
  const ul = Math.hypot(...up);
  if (!(ul > 1e-9)) throw bad('up must not be the zero vector');
  if (!fin(h.radius, 1e8) || !((h.radius as number) > 0)) throw bad('radius must be a number in (0, 1e8]');
  if (!fin(h.elevation, Math.PI / 2)) throw bad('elevation must be radians in [−π/2, π/2]');
  const fov = h.fovY as number;
  if (!fin(fov, Math.PI) || fov < (0.1 * Math.PI) / 180 || fov > (179 * Math.PI) / 180) throw bad('fovY must be radians in [0.1°, 179°]');
  return {
    center,
    up: up.map((x) => x / ul) as [number, number, number],
    radius: h.radius as number,
    elevation: h.elevation as number,
    fovY: fov,
  };
}

/** Orbit hints from a set of cameras: centre = point nearest their optical axes, mean up, median distance and elevation. */
export function orbitHintFromCameras(cams: Camera[], center: [number, number, number]): OrbitHint {
  const up = [0, 0, 0];
  for (const c of cams) for (let a = 0; a < 3; a++) up[a] += c.c2w[4 + a];
  const ul = Math.hypot(up[0], up[1], up[2]) || 1;
  const u = up.map((v) => v / ul) as [number, number, number];
  const dists: number[] = [],
    elevs: number[] = [];
  for (const c of cams) {
    const o = cameraCenter(c);
    const d = [o[0] - center[0], o[1] - center[1], o[2] - center[2]];
    const r = Math.hypot(d[0], d[1], d[2]);
    dists.push(r);
    elevs.push(Math.asin(Math.max(-1, Math.min(1, (d[0] * u[0] + d[1] * u[1] + d[2] * u[2]) / (r || 1)))));
  }
  const med = (a: number[]) => a.slice().sort((x, y) => x - y)[Math.floor(a.length / 2)];
  const c0 = cams[0];
  return { center, up: u, radius: med(dists), elevation: med(elevs), fovY: 2 * Math.atan(c0.height / (2 * c0.fy)) };
}

/** N cameras evenly spaced on a circle around hint.up at the hint's elevation and distance. */
export function orbitCameras(h: OrbitHint, n: number, width: number, height: number): Camera[] {
  const up = h.up;
  // an orthonormal basis (e1, e2) of the plane ⟂ up
  const ref = Math.abs(up[0]) < 0.9 ? [1, 0, 0] : [0, 0, 1];
  const dot = ref[0] * up[0] + ref[1] * up[1] + ref[2] * up[2];
  const e1 = [ref[0] - dot * up[0], ref[1] - dot * up[1], ref[2] - dot * up[2]];
  const l1 = Math.hypot(e1[0], e1[1], e1[2]);
  for (let a = 0; a < 3; a++) e1[a] /= l1;
  const e2 = [up[1] * e1[2] - up[2] * e1[1], up[2] * e1[0] - up[0] * e1[2], up[0] * e1[1] - up[1] * e1[0]];
  const cams: Camera[] = [];
  const fovDeg = (h.fovY * 180) / Math.PI;
  for (let i = 0; i < n; i++) {
    const az = (2 * Math.PI * i) / n;
    // straight above or below, `up` is parallel to the view direction: keep just off the pole
    const el = Math.max(-1.55, Math.min(1.55, h.elevation));
    const ce = Math.cos(el),
      se = Math.sin(el);
    const eye = [0, 1, 2].map((a) => h.center[a] + h.radius * (ce * (Math.cos(az) * e1[a] + Math.sin(az) * e2[a]) + se * up[a])) as [
      number,
      number,
      number,
    ];
    cams.push(lookAtCamera(eye, h.center, up, width, height, fovDeg));
  }
  return cams;
}
