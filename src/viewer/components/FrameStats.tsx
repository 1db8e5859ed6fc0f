import { useRef } from 'react';
import { useFrame } from '@react-three/fiber';
import { useViewerStore } from '../state/viewer-store';

/** Measures frames per second and mean frame time; publishes them to the store twice a second. */
export function FrameStats() {
  // timestamps start at the first frame (render stays pure)
  const acc = useRef({ frames: 0, since: -1, last: -1, sum: 0 });
  const setFrameStats = useViewerStore((s) => s.setFrameStats);
  useFrame(() => {
    const a = acc.current,
      now = performance.now();
    if (a.since < 0) {
      a.since = a.last = now;
      return;
    }
    a.frames++;
    a.sum += now - a.last;
    a.last = now;
    if (now - a.since >= 500) {
      setFrameStats((a.frames * 1000) / (now - a.since), a.sum / a.frames);
      a.frames = 0;
      a.sum = 0;
      a.since = now;
    }
  });
  return null;
}
