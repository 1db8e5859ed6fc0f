import type { Camera } from '../../core/camera';
import { cameraCenter, columnMajorToRowMajor, lookAtCamera } from '../../core/camera';
import { basename, joinPath } from '../../core/paths';
import type { Scene } from '../../nerf/common/scene';
import type { Split } from '../datasets/dataset';
import type { FileSink } from '../files/files';
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

/** Renders every view and writes `DIR/<file>` PNGs and `DIR/transforms.json` (atomically, manifest last). */
export async function exportMultiview(
  scene: Scene,
  views: ExportView[],
  dir: string,
  files: FileSink,
  onProgress?: (done: number, total: number) => void,
): Promise<ExportResult> {
  const t0 = Date.now();
  await files.mkdir(dir);
  const written: string[] = [];
  for (let i = 0; i < views.length; i++) {
    const out = await scene.render(views[i].camera);
    const p = joinPath(dir, views[i].file);
    await files.write(p, encodePng(out.image));
    written.push(p);
    onProgress?.(i + 1, views.length);
  }
  const transforms = joinPath(dir, 'transforms.json');
  await files.write(transforms, JSON.stringify(transformsFor(views, scene.background), null, 2) + '\n');
  return { files: written, transforms, seconds: (Date.now() - t0) / 1000 };
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
    const ce = Math.cos(h.elevation),
      se = Math.sin(h.elevation);
    const eye = [0, 1, 2].map((a) => h.center[a] + h.radius * (ce * (Math.cos(az) * e1[a] + Math.sin(az) * e2[a]) + se * up[a])) as [
      number,
      number,
      number,
    ];
    cams.push(lookAtCamera(eye, h.center, up, width, height, fovDeg));
  }
  return cams;
}
