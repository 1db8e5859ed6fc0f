import type { Camera } from './camera';
import { isZeroDistortion } from './camera';
import type { Image } from './image';
import { createImage } from './image';
import { distort, undistort } from './rays';

/**
 * Resampling between a lens-distorted camera and a pinhole camera with the same pose, as COLMAP's image
 * undistorter does before 3DGS training (Schönberger & Frahm, "Structure-from-Motion Revisited", CVPR 2016;
 * Kerbl et al., "3D Gaussian Splatting", SIGGRAPH 2023 train on its undistorted output).
 *
 * `pinholeFor(cam, 'crop')` keeps the size and principal point and scales the focal lengths so that every
 * pixel of the pinhole image sees a point inside the distorted image (no blank pixels: the undistorter's
 * `blank_pixels = 0`). `pinholeFor(cam, 'cover')` scales them the other way, so that the pinhole image sees
 * every ray of the distorted one (used to render a pinhole rasteriser's image into a distorted camera).
 */

/** Normalised OpenCV coordinates (x right, y down) of a pixel position (corner-based). */
const norm = (cam: Camera, u: number, v: number): [number, number] => [(u - cam.cx) / cam.fx, (v - cam.cy) / cam.fy];

/** Border sample positions of a w × h image (pixel centres along the four edges). */
function border(w: number, h: number): [number, number][] {
  const pts: [number, number][] = [];
  const n = 64;
  for (let i = 0; i <= n; i++) {
    const u = 0.5 + ((w - 1) * i) / n,
      v = 0.5 + ((h - 1) * i) / n;
    pts.push([u, 0.5], [u, h - 0.5], [0.5, v], [w - 0.5, v]);
  }
  return pts;
}

/** The pinhole camera to use instead of a distorted one (the camera itself when it has no distortion). */
export function pinholeFor(cam: Camera, mode: 'crop' | 'cover'): Camera {
  if (isZeroDistortion(cam.distortion)) return { ...cam, distortion: undefined };
  const d = cam.distortion!;
  const { width: w, height: h } = cam;
  // within the span of pixel centres, so bilinear sampling never reaches past the image's edge
  const inside = (u: number, v: number) => u >= 0.5 - 1e-9 && u <= w - 0.5 + 1e-9 && v >= 0.5 - 1e-9 && v <= h - 0.5 + 1e-9;
  // crop: every pinhole border pixel, distorted, lands inside the image; cover: every distorted border pixel,
  // undistorted, lands inside the pinhole image. Both hold for large enough (crop) / small enough (cover) s.
  const ok = (s: number) => {
    const pin = { ...cam, fx: cam.fx * s, fy: cam.fy * s, distortion: undefined };
    for (const [u, v] of border(w, h)) {
      if (mode === 'crop') {
        const [x, y] = norm(pin, u, v);
        const [xd, yd] = distort(d, x, y);
        if (!inside(cam.cx + cam.fx * xd, cam.cy + cam.fy * yd)) return false;
      } else {
        const [xd, yd] = norm(cam, u, v);
        const [x, y] = undistort(d, xd, yd);
        if (!inside(pin.cx + pin.fx * x, pin.cy + pin.fy * y)) return false;
      }
    }
    return true;
  };
  let lo = 0.25,
    hi = 4;
  // crop: find the smallest s that passes; cover: the largest
  for (let it = 0; it < 40; it++) {
    const mid = Math.sqrt(lo * hi);
    if (ok(mid) === (mode === 'crop')) hi = mid;
    else lo = mid;
  }
  const s = mode === 'crop' ? hi : lo;
  return { ...cam, fx: cam.fx * s, fy: cam.fy * s, distortion: undefined };
}

/**
 * Resamples `img`, seen by camera `from`, into camera `to` (same pose; either may be distorted): bilinear,
 * pixels whose ray falls outside `from`'s image take the nearest edge pixel.
 */
export function remapImage(img: Image, from: Camera, to: Camera): Image {
  const C = img.channels;
  const out = createImage(to.width, to.height, C);
  const W = img.width,
    H = img.height;
  const dTo = isZeroDistortion(to.distortion) ? null : to.distortion!;
  const dFrom = isZeroDistortion(from.distortion) ? null : from.distortion!;
  for (let py = 0; py < to.height; py++)
    for (let px = 0; px < to.width; px++) {
      let [x, y] = norm(to, px + 0.5, py + 0.5);
      if (dTo) [x, y] = undistort(dTo, x, y);
      if (dFrom) [x, y] = distort(dFrom, x, y);
      const u = Math.min(W - 1, Math.max(0, from.cx + from.fx * x - 0.5));
      const v = Math.min(H - 1, Math.max(0, from.cy + from.fy * y - 0.5));
      const x0 = Math.floor(u),
        y0 = Math.floor(v);
      const x1 = Math.min(W - 1, x0 + 1),
        y1 = Math.min(H - 1, y0 + 1);
      const fx = u - x0,
        fy = v - y0;
      const o = (py * to.width + px) * C;
      for (let c = 0; c < C; c++) {
        const a = img.data[(y0 * W + x0) * C + c],
          b = img.data[(y0 * W + x1) * C + c];
        const e = img.data[(y1 * W + x0) * C + c],
          f = img.data[(y1 * W + x1) * C + c];
        out.data[o + c] = (a * (1 - fx) + b * fx) * (1 - fy) + (e * (1 - fx) + f * fx) * fy;
      }
    }
  return out;
}

/** A training view turned pinhole: the image resampled into `pinholeFor(camera, 'crop')`. */
export function undistortView<V extends { camera: Camera; image: Image }>(v: V): V {
  if (isZeroDistortion(v.camera.distortion)) return v;
  const pin = pinholeFor(v.camera, 'crop');
  return { ...v, camera: pin, image: remapImage(v.image, v.camera, pin) };
}
