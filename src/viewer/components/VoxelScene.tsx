import { useEffect, useMemo } from 'react';
import { VoxelMesh, type VoxelMeshOptions } from '../three/voxel-mesh';
import type { VoxelGrid } from '../../nerf/voxel-grid';

export interface VoxelSceneProps extends VoxelMeshOptions {
  grid: VoxelGrid;
}

/** React wrapper of `VoxelMesh`: a voxel radiance grid, ray-marched like the CPU reference renderer. */
export function VoxelScene({ grid, stepRatio, background, maxSamples }: VoxelSceneProps) {
  const mesh = useMemo(() => new VoxelMesh(grid, { stepRatio, maxSamples }), [grid, stepRatio, maxSamples]);
  useEffect(() => () => mesh.dispose(), [mesh]);
  useEffect(() => {
    if (background) mesh.background.value.setRGB(background[0], background[1], background[2]);
  }, [mesh, background]);
  return <primitive object={mesh} />;
}
