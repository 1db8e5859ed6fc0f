import { useEffect, useMemo } from 'react';
import { SplatMesh, type SplatMeshOptions } from '../three/splat-mesh';
import type { SplatBuffers } from '../three/splat-data';
import type { RenderMode } from '../state/viewer-store';

export const RENDER_MODES: Record<RenderMode, number> = { color: 0, depth: 1, region: 2 };

export interface SplatSceneProps extends SplatMeshOptions {
  splats: SplatBuffers;
  /** colour (default), depth, or region (splats inside `region` highlighted). */
  renderMode?: RenderMode;
  region?: { min: [number, number, number]; max: [number, number, number] } | null;
  /** Called with the three.js object once it exists (e.g. to read `sortCount`). */
  onMesh?: (mesh: SplatMesh | null) => void;
}

/** React wrapper of `SplatMesh`: 3D Gaussians drawn sorted every frame. */
export function SplatScene({ splats, bins, sorter, onMesh, renderMode = 'color', region }: SplatSceneProps) {
  const mesh = useMemo(() => new SplatMesh(splats, { bins, sorter }), [splats, bins, sorter]);
  useEffect(() => {
    onMesh?.(mesh);
    return () => {
      onMesh?.(null);
      mesh.dispose();
    };
  }, [mesh, onMesh]);
  useEffect(() => {
    mesh.renderMode.value = RENDER_MODES[renderMode];
    if (region) { mesh.regionMin.value.set(...region.min); mesh.regionMax.value.set(...region.max); }
    else { mesh.regionMin.value.set(0, 0, 0); mesh.regionMax.value.set(-1, -1, -1); }
  }, [mesh, renderMode, region]);
  return <primitive object={mesh} />;
}
