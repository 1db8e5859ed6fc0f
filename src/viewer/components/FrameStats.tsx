import { useRef } from 'react';
import { useFrame } from '@react-three/fiber';
import { useViewerStore } from '../state/viewer-store';

/** Measures frames per second and mean frame time; publishes them to the store twice a second. */
export function FrameStats() {
  const acc = useRef({ frames: 0, since: performance.now(), last: performance.now(), sum: 0 });
  const setFrameStats = useViewerStore((s) => s.setFrameStats);
  useFrame(() => {
    const a = acc.current, now = performance.now();
    a.frames++;
    a.sum += now - a.last;
    a.last = now;
    if (now - a.since >= 500) {
      setFrameStats((a.frames * 1000) / (now - a.since), a.sum / a.frames);
      a.frames = 0; a.sum = 0; a.since = now;
    }
  });
  return null;
}
