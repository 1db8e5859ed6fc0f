import type { Camera } from '../../core/camera';
import { isZeroDistortion } from '../../core/camera';
import { pinholeFor, remapImage } from '../../core/undistort';
import type { Gaussians } from './gaussians';
import type { GaussianRasterBackend } from './gaussian-backend';
import { rasterizeForward } from './gaussian-span-cpu';
import type { RenderOutput, Scene } from '../common/scene';

/**
 * A set of 3D Gaussians as a `Scene`. Renders with the CPU rasteriser (or a given backend). Depth is
 * converted from the rasteriser's camera-space z to distance along the unit ray, as `RenderOutput` asks.
 * The rasteriser is pinhole (as 3DGS): a camera with lens distortion is rendered through a pinhole camera
 * that sees all its rays, then resampled into the distorted image (src/core/undistort.ts), so that renders
 * match the camera model they are labelled with.
 */
export class GaussianScene implements Scene {
  readonly kind = 'gaussians' as const;
  meta?: Record<string, unknown>;
  constructor(
    public gaussians: Gaussians,
    public background: [number, number, number] = [1, 1, 1],
    public backend?: GaussianRasterBackend,
  ) {}

  async render(cam: Camera): Promise<RenderOutput> {
    if (!isZeroDistortion(cam.distortion)) {
      const pin = pinholeFor(cam, 'cover');
      const r = await this.render(pin);
      const one = (d: Float32Array) => remapImage({ width: pin.width, height: pin.height, channels: 1, data: d }, pin, cam).data;
      return { image: remapImage(r.image, pin, cam), alpha: one(r.alpha), depth: one(r.depth) };
    }
    const { width: w, height: h } = cam;
    let image: Float32Array, alpha: Float32Array, depth: Float32Array;
    if (this.backend) ({ image, alpha, depth } = await this.backend.render(this.gaussians, cam, this.background));
    else ({ image, alpha, depth } = rasterizeForward(this.gaussians, cam, this.background));
    const dist = new Float32Array(w * h);
    for (let y = 0; y < h; y++) {
      const ny = (y + 0.5 - cam.cy) / cam.fy;
      for (let x = 0; x < w; x++) {
        const nx = (x + 0.5 - cam.cx) / cam.fx;
        dist[y * w + x] = depth[y * w + x] * Math.sqrt(1 + nx * nx + ny * ny);
      }
    }
    return { image: { width: w, height: h, channels: 3, data: image }, alpha, depth: dist };
  }
}
