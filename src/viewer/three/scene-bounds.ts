import { Box3, Vector3 } from 'three';
import type { Camera } from '../../core/camera';
import type { ViewerScene } from '../state/viewer-store';
import { meshBounds } from '../../nerf/mesh/mesh';
import { SPLAT_WORDS } from './splat-record';

/** World bounds of what is shown (scene content, else the dataset cameras), or null when empty. */
export function sceneBounds(scene: ViewerScene | null, cams: Camera[] = []): Box3 | null {
  const box = new Box3();
  if (scene?.kind === 'gaussians' && scene.splats.count > 0) {
    // robust bounds: 2nd–98th percentile of the centres per axis (stray floaters do not shrink the view)
    const c = new Float32Array(scene.splats.data.buffer, scene.splats.data.byteOffset, scene.splats.count * SPLAT_WORDS),
      n = scene.splats.count;
    const step = Math.max(1, Math.floor(n / 20000));
    const axes: number[][] = [[], [], []];
    for (let i = 0; i < n; i += step) for (let a = 0; a < 3; a++) axes[a].push(c[SPLAT_WORDS * i + a]);
    const lo = new Vector3(),
      hi = new Vector3();
    axes.forEach((v, a) => {
      v.sort((x, y) => x - y);
      lo.setComponent(a, v[Math.floor(0.02 * (v.length - 1))]);
      hi.setComponent(a, v[Math.ceil(0.98 * (v.length - 1))]);
    });
    box.set(lo, hi);
  } else if (scene?.kind === 'mesh') {
    const { min, max } = meshBounds(scene.mesh);
    box.set(new Vector3(...min), new Vector3(...max));
  } else if (scene?.kind === 'voxel') {
    box.set(new Vector3(...scene.grid.box.min), new Vector3(...scene.grid.box.max));
  }
  for (const cam of cams) box.expandByPoint(new Vector3(cam.c2w[12], cam.c2w[13], cam.c2w[14]));
  return box.isEmpty() ? null : box;
}
