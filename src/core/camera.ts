import { mat4 } from 'gl-matrix';

/**
 * OPENCV lens distortion (radial k1..k3, tangential p1 p2), applied to normalised image coordinates
 * in the OpenCV convention (x right, y down). k4 is kept for OPENCV_FISHEYE files but unused by OPENCV.
 */
export interface Distortion {
  k1: number;
  k2: number;
  k3: number;
  k4: number;
  p1: number;
  p2: number;
}

/**
 * A pinhole camera. `c2w` is the 4×4 camera-to-world matrix, column-major (gl-matrix layout), OpenGL
 * convention: the camera looks down its −Z axis, +Y is up, +X right. Pixel (0,0) is the top-left corner;
 * pixel centres are at +0.5.
 *
 * Distortion is handled by undistorting rays: each pixel's ray goes through the point whose distorted
 * projection lands on that pixel (see `rays.ts`). Images are never resampled.
 */
export interface Camera {
  width: number;
  height: number;
  fx: number;
  fy: number;
  cx: number;
  cy: number;
  c2w: Float32Array | number[];
  distortion?: Distortion;
}

export function isZeroDistortion(d?: Distortion): boolean {
  return !d || (d.k1 === 0 && d.k2 === 0 && d.k3 === 0 && d.p1 === 0 && d.p2 === 0);
}

/** Downscales a camera by factor k: width, height, focal lengths and principal point scale together. */
export function downscaleCamera(cam: Camera, k: number): Camera {
  if (k === 1) return cam;
  return {
    ...cam,
    width: Math.floor(cam.width / k),
    height: Math.floor(cam.height / k),
    fx: cam.fx / k,
    fy: cam.fy / k,
    cx: cam.cx / k,
    cy: cam.cy / k,
  };
}

/** Camera centre in world coordinates. */
export function cameraCenter(cam: Camera): [number, number, number] {
  return [cam.c2w[12], cam.c2w[13], cam.c2w[14]];
}

/** Camera viewing direction (−Z axis) in world coordinates. */
export function cameraForward(cam: Camera): [number, number, number] {
  return [-cam.c2w[8], -cam.c2w[9], -cam.c2w[10]];
}

/** Converts a row-major 4×4 (as in transforms.json) to column-major. */
export function rowMajorToColumnMajor(m: number[][]): Float32Array {
  const out = new Float32Array(16);
  for (let r = 0; r < 4; r++) for (let c = 0; c < 4; c++) out[c * 4 + r] = m[r][c];
  return out;
}

/** Converts a column-major 4×4 to the row-major nested array transforms.json uses. */
export function columnMajorToRowMajor(m: ArrayLike<number>): number[][] {
  const out: number[][] = [];
  for (let r = 0; r < 4; r++) out.push([m[r], m[4 + r], m[8 + r], m[12 + r]]);
  return out;
}

/** A camera at `eye` looking at `target` with world-up `up` (OpenGL convention). */
export function lookAtCamera(
  eye: [number, number, number],
  target: [number, number, number],
  up: [number, number, number],
  width: number,
  height: number,
  fovYDeg: number,
): Camera {
  const view = mat4.lookAt(mat4.create(), eye, target, up);
  const c2w = mat4.invert(mat4.create(), view) as Float32Array;
  const fy = (0.5 * height) / Math.tan((fovYDeg * Math.PI) / 360);
  return { width, height, fx: fy, fy, cx: width / 2, cy: height / 2, c2w: Float32Array.from(c2w) };
}

/** World → camera (OpenGL) → pixel projection (no distortion). Returns [u, v, depth] or null behind the camera. */
export function projectPoint(cam: Camera, p: ArrayLike<number>): [number, number, number] | null {
  const m = cam.c2w;
  const d = [p[0] - m[12], p[1] - m[13], p[2] - m[14]];
  // camera axes are the columns of the rotation
  const xc = d[0] * m[0] + d[1] * m[1] + d[2] * m[2];
  const yc = d[0] * m[4] + d[1] * m[5] + d[2] * m[6];
  const zc = d[0] * m[8] + d[1] * m[9] + d[2] * m[10];
  const depth = -zc;
  if (depth <= 1e-6) return null;
  return [cam.cx + (cam.fx * xc) / depth, cam.cy - (cam.fy * yc) / depth, depth];
}

/** 3DGS's scene extent: 1.1 × the largest distance of a camera centre from their mean. */
export function cameraExtent(cams: Camera[]): { center: [number, number, number]; radius: number } {
  const c = [0, 0, 0];
  for (const cam of cams) for (let a = 0; a < 3; a++) c[a] += cam.c2w[12 + a] / cams.length;
  let r = 0;
  for (const cam of cams) r = Math.max(r, Math.hypot(cam.c2w[12] - c[0], cam.c2w[13] - c[1], cam.c2w[14] - c[2]));
  return { center: c as [number, number, number], radius: Math.max(r * 1.1, 1e-3) };
}
