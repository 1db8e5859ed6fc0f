import type { Vector3 } from 'three';
import type { RenderMode } from '../state/viewer-store';

export const RENDER_MODES: Record<RenderMode, number> = { color: 0, depth: 1, region: 2 };

export type ViewRegion = { min: [number, number, number]; max: [number, number, number] } | null | undefined;

/** The uniforms SplatMesh and VoxelMesh share for render modes and the highlighted region. */
interface ViewUniforms {
  renderMode: { value: number };
  regionMin: { value: Vector3 };
  regionMax: { value: Vector3 };
}

/** Sets the render mode and region (an empty box when there is none) on a splat or voxel mesh. */
export function setViewUniforms(mesh: ViewUniforms, renderMode: RenderMode, region: ViewRegion): void {
  mesh.renderMode.value = RENDER_MODES[renderMode];
  if (region) {
    mesh.regionMin.value.set(...region.min);
    mesh.regionMax.value.set(...region.max);
  } else {
    mesh.regionMin.value.set(0, 0, 0);
    mesh.regionMax.value.set(-1, -1, -1);
  }
}
