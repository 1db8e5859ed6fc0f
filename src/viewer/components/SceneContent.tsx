import { useViewerStore } from '../state/viewer-store';
import { useHistoryStore } from '../state/history-store';
import { useEditStore } from '../state/edit-store';
import { SplatScene } from './SplatScene';
import { VoxelScene } from './VoxelScene';
import { MeshView } from './MeshView';
import { useSelectionPreview, useSelectionStore } from '../state/selection-store';

/** Whatever the store's scene is (or, with the before/after toggle, the scene before the last edit). */
export function SceneContent() {
  const current = useViewerStore((s) => s.scene);
  const before = useHistoryStore((s) => (s.showBefore ? s.done[s.done.length - 1]?.before : undefined));
  const scene = before ?? current;
  const renderMode = useViewerStore((s) => s.renderMode);
  const sorter = useViewerStore((s) => s.sorter);
  const budget = useViewerStore((s) => s.splatBudget);
  const region = useEditStore((s) => (s.regionEnabled ? s.region : null));
  useSelectionPreview();
  const preview = useSelectionStore((s) => s.preview);
  if (!scene) return null;
  // region mode: the object an edit in the box would change, once the worker has it for this scene
  if (preview && preview.of === scene && renderMode === 'region') {
    const p = preview.scene;
    if (p.kind === 'gaussians') return <SplatScene splats={p.splats} renderMode="color" sorter={sorter} budget={budget} />;
    if (p.kind === 'voxel')
      return (
        <VoxelScene
          grid={p.grid}
          background={scene.background}
          stepRatio={scene.kind === 'voxel' ? scene.stepRatio : undefined}
          renderMode="color"
        />
      );
  }
  if (scene.kind === 'gaussians')
    return <SplatScene splats={scene.splats} renderMode={renderMode} region={region} sorter={sorter} budget={budget} />;
  if (scene.kind === 'mesh') return <MeshView mesh={scene.mesh} renderMode={renderMode} region={region} />;
  return <VoxelScene grid={scene.grid} background={scene.background} stepRatio={scene.stepRatio} renderMode={renderMode} region={region} />;
}
