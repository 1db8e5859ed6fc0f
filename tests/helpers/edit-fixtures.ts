import { lookAtCamera, type Camera } from '../../src/core/camera';
import { createVoxelGrid, type VoxelGrid } from '../../src/nerf/voxel/voxel-grid';

export const BLOCKS_BOX = { min: [-1, -1, -1] as [number, number, number], max: [1, 1, 1] as [number, number, number] };

/** A small voxel grid: two opaque blocks (left and right of x = 0) in an empty box; raw colours given. */
export function blocksGrid(
  res = 17,
  right: [number, number, number] = [-2, 2, -2],
  left: [number, number, number] = [-2, -2, 2],
): VoxelGrid {
  const g = createVoxelGrid({ res: [res, res, res], box: BLOCKS_BOX });
  for (let k = 0; k < res; k++)
    for (let j = 0; j < res; j++)
      for (let i = 0; i < res; i++) {
        const v = i + res * (j + res * k);
        const x = (i / (res - 1)) * 2 - 1,
          y = (j / (res - 1)) * 2 - 1,
          z = (k / (res - 1)) * 2 - 1;
        const inL = x > -0.8 && x < -0.1 && Math.abs(y) < 0.4 && Math.abs(z) < 0.4;
        const inR = x > 0.1 && x < 0.8 && Math.abs(y) < 0.4 && Math.abs(z) < 0.4;
        g.density[v] = inL || inR ? 8 : -8;
        const c = inR ? right : left;
        for (let q = 0; q < 3; q++) g.color[v * 3 + q] = c[q];
      }
  return g;
}

export const blocksCameras = (size = 24): Camera[] => [
  lookAtCamera([0, 0.5, 3.2], [0, 0, 0], [0, 1, 0], size, size, 45),
  lookAtCamera([1.5, 1.2, 2.6], [0, 0, 0], [0, 1, 0], size, size, 45),
  lookAtCamera([-1.5, 1.0, 2.6], [0, 0, 0], [0, 1, 0], size, size, 45),
];
