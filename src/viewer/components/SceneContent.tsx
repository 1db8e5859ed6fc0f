import { useViewerStore } from '../state/viewer-store';
import { useHistoryStore } from '../state/history-store';
import { useEditStore } from '../state/edit-store';
import { SplatScene } from './SplatScene';
import { VoxelScene } from './VoxelScene';
import { MeshView } from './MeshView';

/** Whatever the store's scene is (or, with the before/after toggle, the scene before the last edit). */
export function SceneContent() {
  const current = useViewerStore((s) => s.scene);
  const before = useHistoryStore((s) => (s.showBefore ? s.done[s.done.length - 1]?.before : undefined));
  const scene = before ?? current;
  const renderMode = useViewerStore((s) => s.renderMode);
  const sorter = useViewerStore((s) => s.sorter);
  const budget = useViewerStore((s) => s.splatBudget);
  const region = useEditStore((s) => (s.regionEnabled ? s.region : null));
  if (!scene) return null;
  if (scene.kind === 'gaussians')
    return <SplatScene splats={scene.splats} renderMode={renderMode} region={region} sorter={sorter} budget={budget} />;
  if (scene.kind === 'mesh') return <MeshView mesh={scene.mesh} renderMode={renderMode} region={region} />;
  return <VoxelScene grid={scene.grid} background={scene.background} stepRatio={scene.stepRatio} renderMode={renderMode} region={region} />;
}
