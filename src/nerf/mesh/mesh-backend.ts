import type { Camera } from '../../core/camera';
import type { MeshRasterGrads, MeshRasterInput, MeshRasterState } from './mesh-raster-cpu';
import { rasterizeMesh, rasterizeMeshBackward } from './mesh-raster-cpu';

/** What a mesh render yields (per pixel, row-major): RGB over the background, coverage, and the face seen (−1 none). */
export interface MeshRender {
  width: number;
  height: number;
  image: Float32Array;
  alpha: Float32Array;
  faceId: Int32Array;
}

/**
 * Where the differentiable rasteriser runs: the CPU twin or WebGPU (mesh-raster-webgpu.ts). `backward` takes
 * ∂L/∂image (RGB) of the most recent `render` and returns ∂L/∂vertex colours and positions.
 */
export interface MeshRasterBackend {
  readonly name: string;
  render(m: MeshRasterInput, cam: Camera, background: [number, number, number]): Promise<MeshRender>;
  backward(dImage: Float32Array): Promise<MeshRasterGrads>;
  dispose?(): void;
}

export class CpuMeshRaster implements MeshRasterBackend {
  readonly name = 'cpu';
  private last: { m: MeshRasterInput; st: MeshRasterState } | null = null;

  async render(m: MeshRasterInput, cam: Camera, background: [number, number, number]): Promise<MeshRender> {
    const st = rasterizeMesh(m, cam, background);
    this.last = { m, st };
    return { width: cam.width, height: cam.height, image: st.image, alpha: st.alpha, faceId: st.faceId };
  }

  async backward(dImage: Float32Array): Promise<MeshRasterGrads> {
    if (!this.last) throw new Error('CpuMeshRaster.backward: no render to differentiate');
    return rasterizeMeshBackward(this.last.m, this.last.st, dImage);
  }
}

export type MeshBackendName = 'cpu' | 'webgpu';

/** The rasteriser for a backend name (the WebGPU one is loaded on demand). */
export async function createMeshRaster(name: MeshBackendName = 'cpu'): Promise<MeshRasterBackend> {
  if (name === 'cpu') return new CpuMeshRaster();
  const { WebGpuMeshRaster } = await import('./mesh-raster-webgpu');
  return WebGpuMeshRaster.create();
}
