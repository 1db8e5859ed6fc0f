import { useEffect, useMemo } from 'react';
import type { Camera } from '../../core/camera';
import { createCameraFrustums } from '../three/camera-frustums';
import { useViewerStore } from '../state/viewer-store';

/** Frustums of the opened dataset's cameras (sized from their spread). */
export function CameraFrustums({ cameras }: { cameras?: Camera[] }) {
  const stored = useViewerStore((s) => s.datasetCameras);
  const cams = cameras ?? stored;
  const lines = useMemo(() => {
    if (!cams.length) return null;
    let sx = 0,
      sy = 0,
      sz = 0;
    for (const c of cams) {
      sx += c.c2w[12];
      sy += c.c2w[13];
      sz += c.c2w[14];
    }
    sx /= cams.length;
    sy /= cams.length;
    sz /= cams.length;
    let spread = 0;
    for (const c of cams) spread = Math.max(spread, Math.hypot(c.c2w[12] - sx, c.c2w[13] - sy, c.c2w[14] - sz));
    const l = createCameraFrustums(cams, Math.max(spread * 0.08, 1e-3));
    l.userData.isHelper = true;
    return l;
  }, [cams]);
  useEffect(
    () => () => {
      lines?.geometry.dispose();
    },
    [lines],
  );
  return lines ? <primitive object={lines} /> : null;
}
