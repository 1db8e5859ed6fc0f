import type { Camera } from '../../core/camera';
import type { Image } from '../../core/image';

/**
 * What rendering a scene from one camera yields. All arrays are per pixel, row-major, top row first
 * (the same order as `Image.data` and `cameraRays`).
 * - `image`: RGB, composited over the scene's background colour.
 * - `alpha`: accumulated opacity in [0, 1] (1 − final transmittance).
 * - `depth`: expected ray distance of the opaque part (Σ wᵢ tᵢ / Σ wᵢ, world units along the unit ray),
 *   0 where nothing was hit.
 */
export interface RenderOutput {
  image: Image;
  alpha: Float32Array;
  depth: Float32Array;
}

/** A renderable scene; voxel grids (`VoxelGridScene`), Gaussians (`GaussianScene`) and meshes (`MeshScene`) implement it. */
export interface Scene {
  kind: 'voxel' | 'gaussians' | 'mesh';
  background: [number, number, number];
  render(cam: Camera): Promise<RenderOutput>;
}
