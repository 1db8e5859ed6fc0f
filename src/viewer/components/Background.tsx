import { useViewerStore } from '../state/viewer-store';

const EMPTY_BACKGROUND: [number, number, number] = [0.08, 0.08, 0.1];

/** The scene's background colour (white for the demo), as the renderer's clear colour. */
export function Background() {
  const bg = useViewerStore((s) => s.scene?.background ?? EMPTY_BACKGROUND);
  return <color attach="background" args={[bg[0], bg[1], bg[2]]} />;
}
