import { useEffect, useMemo } from 'react';
import type { Mesh } from '../../nerf/mesh/mesh';
import type { RenderMode } from '../state/viewer-store';
import { TriangleMesh } from '../three/triangle-mesh';
import { setViewUniforms } from '../three/view-uniforms';

export interface MeshViewProps {
  mesh: Mesh;
  /** colour (default), depth (the grey geometry view), or region (vertices inside `region` tinted). */
  renderMode?: RenderMode;
  region?: { min: [number, number, number]; max: [number, number, number] } | null;
}

/** React wrapper of `TriangleMesh`: a mesh lit and coloured as the stylisation renderer shows it. */
export function MeshView({ mesh, renderMode = 'color', region }: MeshViewProps) {
  const obj = useMemo(() => new TriangleMesh(mesh), [mesh]);
  useEffect(() => () => obj.dispose(), [obj]);
  useEffect(() => {
    setViewUniforms(obj, renderMode, region);
  }, [obj, renderMode, region]);
  return <primitive object={obj} />;
}
