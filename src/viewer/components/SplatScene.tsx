import { useEffect, useMemo } from 'react';
import { SplatMesh, type SplatMeshOptions } from '../three/splat-mesh';
import type { SplatBuffers } from '../three/splat-data';

export interface SplatSceneProps extends SplatMeshOptions {
  splats: SplatBuffers;
  /** Called with the three.js object once it exists (e.g. to read `sortCount`). */
  onMesh?: (mesh: SplatMesh | null) => void;
}

/** React wrapper of `SplatMesh`: 3D Gaussians drawn sorted every frame. */
export function SplatScene({ splats, bins, onMesh }: SplatSceneProps) {
  const mesh = useMemo(() => new SplatMesh(splats, { bins }), [splats, bins]);
  useEffect(() => {
    onMesh?.(mesh);
    return () => {
      onMesh?.(null);
      mesh.dispose();
    };
  }, [mesh, onMesh]);
  return <primitive object={mesh} />;
}
