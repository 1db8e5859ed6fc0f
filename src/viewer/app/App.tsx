import { useEffect } from 'react';
import { SceneViewer } from '../components/SceneViewer';
import { StatsOverlay } from '../components/StatsOverlay';
import { EditPanel } from '../components/EditPanel';
import { OpenPanel } from '../components/OpenPanel';
import { DropZone } from '../components/DropZone';
import { useViewerStore } from '../state/viewer-store';
import { loadDemoScene, loadSceneFromUrl } from '../state/scene-actions';

/** The viewer application: the 3D view, the stats overlay, the open and edit panels. */
export function App() {
  const forceWebGL = new URLSearchParams(window.location.search).get('backend') === 'webgl2';
  // the URL's options are read once, at start-up
  useEffect(() => {
    const params = new URLSearchParams(window.location.search);
    const sorter = params.get('sorter');
    if (sorter === 'gpu' || sorter === 'cpu') useViewerStore.setState({ sorter });
    const budget = Number(params.get('budget'));
    if (Number.isInteger(budget) && budget > 0) useViewerStore.setState({ splatBudget: budget });
    const url = params.get('scene');
    if (url) void loadSceneFromUrl(url);
    else if (!useViewerStore.getState().scene)
      void loadDemoScene(params.get('demo') === 'voxel' ? 'voxel' : 'gaussians', params.get('res') ? Number(params.get('res')) : undefined);
  }, []);
  return (
    <div className="is-app">
      <SceneViewer forceWebGL={forceWebGL} className="is-canvas" />
      <StatsOverlay />
      <OpenPanel />
      <EditPanel />
      <DropZone />
    </div>
  );
}
