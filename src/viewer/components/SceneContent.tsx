import { useViewerStore } from '../state/viewer-store';
import { SplatScene } from './SplatScene';
import { VoxelScene } from './VoxelScene';

/** Whatever the store's scene is, drawn with the matching three.js object. */
export function SceneContent() {
  const scene = useViewerStore((s) => s.scene);
  if (!scene) return null;
  if (scene.kind === 'gaussians') return <SplatScene splats={scene.splats} />;
  return <VoxelScene grid={scene.grid} background={scene.background} stepRatio={scene.stepRatio} />;
}
