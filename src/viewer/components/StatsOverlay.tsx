import { sceneSize, useViewerStore } from '../state/viewer-store';

/** The top-left overlay: backend (and why WebGL2 if so), fps, frame time, scene size, busy state, last error. */
export function StatsOverlay() {
  const { backend, fallbackReason, fps, frameMs, scene, busy, error, datasetName, datasetCameras } = useViewerStore();
  return (
    <div className="is-overlay" data-testid="stats">
      <div>
        backend: <b data-testid="backend">{backend ?? 'starting…'}</b>
        {fallbackReason && <span className="is-warn"> (WebGL2 fallback: {fallbackReason})</span>}
      </div>
      <div data-testid="fps">
        {fps.toFixed(1)} fps · {frameMs.toFixed(1)} ms
      </div>
      <div data-testid="scene-size">
        {scene ? `${scene.name}: ` : ''}
        {sceneSize(scene)}
      </div>
      {datasetName && (
        <div>
          dataset {datasetName}: {datasetCameras.length} cameras
        </div>
      )}
      {busy && (
        <div className="is-busy" data-testid="busy">
          {busy}
        </div>
      )}
      {error && (
        <div className="is-error" data-testid="error">
          {error}
        </div>
      )}
    </div>
  );
}
