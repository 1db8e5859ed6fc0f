import { useEffect, useMemo } from 'react';
import { DEFAULT_BUDGET, SplatMesh, type SplatMeshOptions } from '../three/splat-mesh';
import type { SplatBuffers } from '../three/splat-data';
import type { RenderMode } from '../state/viewer-store';

import { setViewUniforms } from '../three/view-uniforms';

export { RENDER_MODES } from '../three/view-uniforms';

export interface SplatSceneProps extends SplatMeshOptions {
  splats: SplatBuffers;
  /** colour (default), depth, or region (splats inside `region` highlighted). */
  renderMode?: RenderMode;
  region?: { min: [number, number, number]; max: [number, number, number] } | null;
  /** Called with the three.js object once it exists (e.g. to read `sortCount` or `drawnCount`). */
  onMesh?: (mesh: SplatMesh | null) => void;
}

/** React wrapper of `SplatMesh`: 3D Gaussians, culled, projected and sorted on the GPU whenever the view changes. */
export function SplatScene({ splats, sorter, budget, lodMinPixels, onMesh, renderMode = 'color', region }: SplatSceneProps) {
  const mesh = useMemo(() => new SplatMesh(splats, { sorter, lodMinPixels }), [splats, sorter, lodMinPixels]);
  useEffect(() => {
    mesh.setBudget(budget ?? DEFAULT_BUDGET);
  }, [mesh, budget]);
  useEffect(() => {
    onMesh?.(mesh);
    return () => {
      onMesh?.(null);
      mesh.dispose();
    };
  }, [mesh, onMesh]);
  useEffect(() => {
    setViewUniforms(mesh, renderMode, region);
  }, [mesh, renderMode, region]);
  return <primitive object={mesh} />;
}
