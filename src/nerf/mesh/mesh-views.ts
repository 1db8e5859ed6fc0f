import type { Camera } from '../../core/camera';
import { lookAtCamera } from '../../core/camera';
import type { Rng } from '../../core/rng';

/**
 * Cameras around a mesh's bounding sphere (centre c, radius R), as Text2Mesh places them (docs/mesh-stylisation.md):
 * looking at the centre with +y up, field of view 60°, at azimuth/elevation around a front view. Azimuth 0 looks
 * from +z (glTF's front), positive elevation from above. Text2Mesh's camera distance is 2R, where the bounding
 * sphere just fills the frame; here it is 2.5R, leaving room for the 10 % displacement.
 */
export interface MeshViewOptions {
  center: [number, number, number];
  radius: number;
  size: number;
  /** Front view (radians): the centre of the view distribution. */
  front?: { azimuth: number; elevation: number };
  fovYDeg?: number;
  /** Camera distance in bounding radii. */
  distance?: number;
}

export const MESH_FRONT = { azimuth: 0, elevation: 0.25 };
export const MESH_VIEW_FOV = 60;
export const MESH_VIEW_DISTANCE = 2.5;
/** Text2Mesh's view spread: elevation front + N(0,1)·π/std, azimuth front + N(0,1)·2π/std, std 4 (its demos). */
export const VIEW_STD = 4;

export function meshCamera(o: MeshViewOptions, azimuth: number, elevation: number): Camera {
  const d = (o.distance ?? MESH_VIEW_DISTANCE) * o.radius;
  const ce = Math.cos(elevation);
  const eye: [number, number, number] = [
    o.center[0] + d * ce * Math.sin(azimuth),
    o.center[1] + d * Math.sin(elevation),
    o.center[2] + d * ce * Math.cos(azimuth),
  ];
  return lookAtCamera(eye, o.center, [0, 1, 0], o.size, o.size, o.fovYDeg ?? MESH_VIEW_FOV);
}

const clampElevation = (e: number) => Math.max(-1.2, Math.min(1.2, e));

/**
 * A ring of `n` views for iterative dataset update: evenly spaced azimuths starting at the front view, each at the
 * front elevation plus Text2Mesh's random elevation offset (N(0,1)·π/4, clamped to ±69°); view 0 is the front view.
 */
export function ringViews(o: MeshViewOptions, n: number, rng: Rng): Camera[] {
  const f = o.front ?? MESH_FRONT;
  const cams: Camera[] = [];
  for (let k = 0; k < n; k++) {
    const el = k === 0 ? f.elevation : clampElevation(f.elevation + (rng.normal() * Math.PI) / VIEW_STD);
    cams.push(meshCamera(o, f.azimuth + (2 * Math.PI * k) / n, el));
  }
  return cams;
}

/** `n` views drawn as Text2Mesh draws each step's views (view 0 the front view when `withFront`). */
export function randomViews(o: MeshViewOptions, n: number, rng: Rng, withFront = true): Camera[] {
  const f = o.front ?? MESH_FRONT;
  const cams: Camera[] = [];
  for (let k = 0; k < n; k++) {
    if (k === 0 && withFront) {
      cams.push(meshCamera(o, f.azimuth, f.elevation));
      continue;
    }
    const az = f.azimuth + (rng.normal() * 2 * Math.PI) / VIEW_STD;
    const el = clampElevation(f.elevation + (rng.normal() * Math.PI) / VIEW_STD);
    cams.push(meshCamera(o, az, el));
  }
  return cams;
}

/** An orbit around a mesh's bounding sphere (render --orbit): the sphere fills ~80 % of the frame height. */
export function meshOrbitHint(center: [number, number, number], radius: number) {
  const fovY = (40 * Math.PI) / 180;
  return { center, up: [0, 1, 0] as [number, number, number], radius: (radius / Math.sin(fovY / 2)) * 1.2, elevation: 0.35, fovY };
}
