import { Canvas } from '@react-three/fiber';
import type { ReactNode } from 'react';
import { createViewerRenderer } from '../three/renderer';
import { useViewerStore } from '../state/viewer-store';
import { SceneContent } from './SceneContent';
import { ViewerControls } from './ViewerControls';
import { FrameStats } from './FrameStats';
import { TestHook } from './TestHook';
import { Background } from './Background';
import { CameraFrustums } from './CameraFrustums';
import { RegionGizmo } from './RegionGizmo';

export interface SceneViewerProps {
  /** Use three's WebGL2 backend even where WebGPU exists. */
  forceWebGL?: boolean;
  /** Expose `window.__instructScene` (default true). */
  testHook?: boolean;
  children?: ReactNode;
  className?: string;
}

/**
 * The 3D view: an R3F canvas on three.js's WebGPURenderer (WebGL2 backend when WebGPU is missing; the reason goes
 * to the store and the overlay), orbit controls, the store's scene, frame statistics.
 */
export function SceneViewer({ forceWebGL, testHook = true, children, className }: SceneViewerProps) {
  const setBackend = useViewerStore((s) => s.setBackend);
  const setError = useViewerStore((s) => s.setError);
  return (
    <Canvas
      className={className}
      linear
      flat
      dpr={[1, 2]}
      camera={{ fov: 40, near: 0.01, far: 200, position: [2.6, 1.6, 2.6] }}
      gl={async (defaults) => {
        try {
          const { renderer, info } = await createViewerRenderer(defaults.canvas as HTMLCanvasElement, { forceWebGL });
          setBackend(info.backend, info.fallbackReason);
          return renderer as never;
        } catch (e) {
          setError(`could not start the renderer: ${(e as Error).message}`);
          throw e;
        }
      }}
    >
      <Background />
      <ViewerControls />
      <SceneContent />
      <CameraFrustums />
      <RegionGizmo />
      <FrameStats />
      {testHook && <TestHook />}
      {children}
    </Canvas>
  );
}
