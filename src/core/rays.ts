import type { Camera, Distortion } from './camera';
import { isZeroDistortion } from './camera';

/** Ray origins and unit directions, 3 floats per ray, in pixel order (row-major, top row first). */
export interface Rays {
  origins: Float32Array;
  dirs: Float32Array;
  count: number;
}

/** Applies OPENCV distortion to normalised OpenCV coordinates (x right, y down). */
export function distort(d: Distortion, x: number, y: number): [number, number] {
  const r2 = x * x + y * y;
  const radial = 1 + r2 * (d.k1 + r2 * (d.k2 + r2 * d.k3));
  return [x * radial + 2 * d.p1 * x * y + d.p2 * (r2 + 2 * x * x), y * radial + d.p1 * (r2 + 2 * y * y) + 2 * d.p2 * x * y];
}

/** Inverts `distort` by Newton's method (converges in a few steps for real lenses). */
export function undistort(d: Distortion, xd: number, yd: number): [number, number] {
  let x = xd,
    y = yd;
  for (let it = 0; it < 10; it++) {
    const r2 = x * x + y * y;
    const radial = 1 + r2 * (d.k1 + r2 * (d.k2 + r2 * d.k3));
    const dradial = d.k1 + r2 * (2 * d.k2 + 3 * d.k3 * r2); // d(radial)/d(r2)
    const fx = x * radial + 2 * d.p1 * x * y + d.p2 * (r2 + 2 * x * x) - xd;
    const fy = y * radial + d.p1 * (r2 + 2 * y * y) + 2 * d.p2 * x * y - yd;
    const fxx = radial + 2 * x * x * dradial + 2 * d.p1 * y + 6 * d.p2 * x;
    const fxy = 2 * x * y * dradial + 2 * d.p1 * x + 2 * d.p2 * y;
    const fyx = 2 * x * y * dradial + 2 * d.p1 * x + 2 * d.p2 * y;
    const fyy = radial + 2 * y * y * dradial + 6 * d.p1 * y + 2 * d.p2 * x;
    const det = fxx * fyy - fxy * fyx;
    if (Math.abs(det) < 1e-12) break;
    const dx = (fx * fyy - fy * fxy) / det,
      dy = (fy * fxx - fx * fyx) / det;
    x -= dx;
    y -= dy;
    if (Math.abs(dx) + Math.abs(dy) < 1e-10) break;
  }
  return [x, y];
}

/** The ray through pixel centre (px + 0.5, py + 0.5), written into out arrays at index i. */
export function pixelRay(cam: Camera, px: number, py: number, origins: Float32Array, dirs: Float32Array, i: number): void {
  let x = (px + 0.5 - cam.cx) / cam.fx;
  let y = (py + 0.5 - cam.cy) / cam.fy; // OpenCV: y down
  if (!isZeroDistortion(cam.distortion)) [x, y] = undistort(cam.distortion!, x, y);
  // OpenGL camera space: (x, -y, -1)
  const m = cam.c2w;
  const dx = m[0] * x - m[4] * y - m[8];
  const dy = m[1] * x - m[5] * y - m[9];
  const dz = m[2] * x - m[6] * y - m[10];
  const inv = 1 / Math.hypot(dx, dy, dz);
  dirs[i * 3] = dx * inv;
  dirs[i * 3 + 1] = dy * inv;
  dirs[i * 3 + 2] = dz * inv;
  origins[i * 3] = m[12];
  origins[i * 3 + 1] = m[13];
  origins[i * 3 + 2] = m[14];
}

/** All rays of a camera, one per pixel, row-major. */
export function cameraRays(cam: Camera): Rays {
  const count = cam.width * cam.height;
  const origins = new Float32Array(count * 3),
    dirs = new Float32Array(count * 3);
  for (let py = 0, i = 0; py < cam.height; py++) for (let px = 0; px < cam.width; px++, i++) pixelRay(cam, px, py, origins, dirs, i);
  return { origins, dirs, count };
}

/** Intersects rays with an axis-aligned box; returns [tnear, tfar] (tfar < tnear when missed). */
export function rayBox(
  o: ArrayLike<number>,
  d: ArrayLike<number>,
  oi: number,
  bmin: ArrayLike<number>,
  bmax: ArrayLike<number>,
): [number, number] {
  let t0 = -Infinity,
    t1 = Infinity;
  for (let a = 0; a < 3; a++) {
    const inv = 1 / d[oi + a];
    let ta = (bmin[a] - o[oi + a]) * inv,
      tb = (bmax[a] - o[oi + a]) * inv;
    if (ta > tb) {
      const t = ta;
      ta = tb;
      tb = t;
    }
    if (ta > t0) t0 = ta;
    if (tb < t1) t1 = tb;
  }
  return [t0, t1];
}
