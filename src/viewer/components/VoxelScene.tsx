import { useEffect, useMemo } from 'react';
import { VoxelMesh, type VoxelMeshOptions } from '../three/voxel-mesh';
import type { VoxelGrid } from '../../nerf/voxel/voxel-grid';
import type { RenderMode } from '../state/viewer-store';
import { setViewUniforms } from '../three/view-uniforms';

export interface VoxelSceneProps extends VoxelMeshOptions {
  grid: VoxelGrid;
  /** colour (default), depth, or region (samples inside `region` highlighted). */
  renderMode?: RenderMode;
  region?: { min: [number, number, number]; max: [number, number, number] } | null;
}

/** React wrapper of `VoxelMesh`: a voxel radiance grid, ray-marched like the CPU reference renderer. */
export function VoxelScene({ grid, stepRatio, background, maxSamples, renderMode = 'color', region }: VoxelSceneProps) {
  const mesh = useMemo(() => new VoxelMesh(grid, { stepRatio, maxSamples }), [grid, stepRatio, maxSamples]);
  useEffect(() => () => mesh.dispose(), [mesh]);
  useEffect(() => {
    if (background) mesh.background.value.setRGB(background[0], background[1], background[2]);
  }, [mesh, background]);
  useEffect(() => {
    setViewUniforms(mesh, renderMode, region);
  }, [mesh, renderMode, region]);
  return <primitive object={mesh} />;
}
