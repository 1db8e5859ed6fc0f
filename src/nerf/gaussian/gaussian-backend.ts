import type { Camera } from '../../core/camera';
import { unknownBackendError, type BackendName } from '../common/backend';
import type { Gaussians } from './gaussians';
import type { ForwardResult } from './gaussian-render-cpu';
import { createGrads, type GaussianGrads } from './gaussian-project-cpu';
import { rasterizeBackward, rasterizeForward } from './gaussian-span-cpu';

/** Output of one forward rasterisation (arrays per pixel, row-major, top row first). */
export interface GaussianRenderResult {
  width: number;
  height: number;
  /** RGB over the background */
  image: Float32Array;
  alpha: Float32Array;
  /** camera-space z depth, alpha-normalised (0 where empty) */
  depth: Float32Array;
  /** per-Gaussian pixel radius of this view (0 = not drawn); used for densification/pruning */
  radius: Int32Array;
}

/**
 * A rasteriser backend for fitting: `render` rasterises and keeps what `backward` needs; `backward` returns
 * the gradients for the most recent `render` (same Gaussians, not modified in between).
 * The CPU backend below is the reference; the WebGPU one (gaussian-raster-webgpu.ts) implements the same contract.
 */
export interface GaussianRasterBackend {
  readonly name: BackendName;
  render(g: Gaussians, cam: Camera, background: readonly [number, number, number]): Promise<GaussianRenderResult>;
  /** Gradients into `out` (overwritten, sized for g.count). */
  backward(dImage: Float32Array, dAlpha: Float32Array | null, out: GaussianGrads): Promise<void>;
  dispose?(): void;
}

export class CpuGaussianBackend implements GaussianRasterBackend {
  readonly name = 'cpu' as const;
  private last: { g: Gaussians; cam: Camera; fwd: ForwardResult } | null = null;

  async render(g: Gaussians, cam: Camera, background: readonly [number, number, number]): Promise<GaussianRenderResult> {
    const fwd = rasterizeForward(g, cam, background);
    this.last = { g, cam, fwd };
    return { width: fwd.width, height: fwd.height, image: fwd.image, alpha: fwd.alpha, depth: fwd.depth, radius: fwd.projected.radius };
  }

  async backward(dImage: Float32Array, dAlpha: Float32Array | null, out: GaussianGrads): Promise<void> {
    if (!this.last) throw new Error('backward() called before render()');
    rasterizeBackward(this.last.g, this.last.cam, this.last.fwd, dImage, dAlpha, out);
  }
}

/** The Gaussian backend for a `--backend` value (default 'cpu'); a backend object is returned as is. */
export async function createGaussianBackend(which: BackendName | GaussianRasterBackend | undefined): Promise<GaussianRasterBackend> {
  if (which && typeof which === 'object') return which;
  if (!which || which === 'cpu') return new CpuGaussianBackend();
  if (which === 'webgpu') {
    const mod = await import('./gaussian-raster-webgpu');
    return mod.createWebGpuGaussianBackend();
  }
  throw unknownBackendError(which);
}

export { createGrads };
