import { useEffect, useMemo } from 'react';
import { SplatMesh, type SplatMeshOptions } from '../three/splat-mesh';
import type { SplatBuffers } from '../three/splat-data';
import type { RenderMode } from '../state/viewer-store';

import { setViewUniforms } from '../three/view-uniforms';

export { RENDER_MODES } from '../three/view-uniforms';

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
    setViewUniforms(mesh, renderMode, region);
  }, [mesh, renderMode, region]);
  return <primitive object={mesh} />;
}
