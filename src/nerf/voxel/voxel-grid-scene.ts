import type { Camera } from '../../core/camera';
import { createImage } from '../../core/image';
import { cameraRays } from '../../core/rays';
import type { RenderOutput, Scene } from '../common/scene';
import type { MarchParams, VoxelBackend } from './voxel-backend';
import { voxelSize, type VoxelGrid } from './voxel-grid';
import { renderRaysCpu } from './voxel-render-cpu';
import { defaultMarchParams } from './voxel-backend';
import type { Vec3 } from '../../core/math';

/** Rendering options a voxel scene keeps (saved in the scene file). */
export interface VoxelRenderSettings {
  /** Step length in voxel units of the grid (default 0.5). */
  stepRatio: number;
  /** Ray start distance (world units). */
  near: number;
}

/** A voxel grid as a `Scene`: renders whole cameras on the CPU reference (or a given backend). */
export class VoxelGridScene implements Scene {
  readonly kind = 'voxel' as const;
  /** Free-form metadata saved with the scene (how it was fitted, orbit hints). */
  meta?: Record<string, unknown>;
  constructor(
    public grid: VoxelGrid,
    public background: Vec3,
    public settings: VoxelRenderSettings = { stepRatio: 0.5, near: 0 },
    public backend?: VoxelBackend,
  ) {}

  marchParams(): MarchParams {
    const vs = Math.min(...voxelSize(this.grid));
    return defaultMarchParams(this.grid, this.background, { stepSize: this.settings.stepRatio * vs, near: this.settings.near });
  }

  async render(cam: Camera): Promise<RenderOutput> {
    const rays = cameraRays(cam);
    const p = this.marchParams();
    let out;
    if (this.backend) {
      await this.backend.setGrid(this.grid);
      out = await this.backend.render(rays, p);
    } else out = renderRaysCpu(this.grid, rays, p);
    const image = createImage(cam.width, cam.height, 3);
    image.data.set(out.rgb);
    return { image, alpha: out.alpha, depth: out.depth };
  }
}
