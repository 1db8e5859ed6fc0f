import type { Camera } from '../../core/camera';
import type { RenderOutput, Scene } from '../common/scene';
import type { Mesh } from './mesh';
import { boundingSphere } from './mesh';
import { rasterizeMesh } from './mesh-raster-cpu';

/** Grey for meshes without colours (Text2Mesh's starting colour). */
export const MESH_GREY = 0.5;

/** The colours a mesh renders with: its own, or grey 0.5. */
export function meshColors(m: Mesh): Float32Array {
  return m.colors ?? new Float32Array(m.positions.length).fill(MESH_GREY);
}

/**
 * A triangle mesh as a `Scene`, rendered by the CPU rasteriser (mesh-raster-cpu.ts): shaded vertex colours over
 * the background, antialiased edges. Depth is the distance along each pixel's unit ray (0 where nothing was hit).
 */
export class MeshScene implements Scene {
  readonly kind = 'mesh' as const;
  meta?: Record<string, unknown>;
  constructor(
    public mesh: Mesh,
    public background: [number, number, number] = [1, 1, 1],
  ) {}

  /** The bounding sphere (orbits and Text2Mesh's normalisation). */
  get bounds(): { center: [number, number, number]; radius: number } {
    return boundingSphere(this.mesh);
  }

  async render(cam: Camera): Promise<RenderOutput> {
    const st = rasterizeMesh(
      { positions: this.mesh.positions, indices: this.mesh.indices, colors: meshColors(this.mesh) },
      cam,
      this.background,
    );
    const { width: w, height: h } = cam;
    const dist = new Float32Array(w * h);
    for (let y = 0; y < h; y++) {
      const ny = (y + 0.5 - cam.cy) / cam.fy;
      for (let x = 0; x < w; x++) {
        const z = st.depth[y * w + x];
        const nx = (x + 0.5 - cam.cx) / cam.fx;
        dist[y * w + x] = Number.isFinite(z) ? z * Math.sqrt(1 + nx * nx + ny * ny) : 0;
      }
    }
    return { image: { width: w, height: h, channels: 3, data: st.image }, alpha: st.alpha, depth: dist };
  }
}
