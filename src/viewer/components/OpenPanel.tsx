import { useRef } from 'react';
import { filesFromInput } from '../io/dropped-files';
import { loadDemoScene, openUserFiles } from '../state/scene-actions';
import { useViewerStore, type RenderMode } from '../state/viewer-store';

const BACKGROUNDS: Record<string, [number, number, number]> = { black: [0, 0, 0], white: [1, 1, 1], grey: [0.5, 0.5, 0.5] };
const bgName = (bg: readonly number[] | undefined) =>
  Object.entries(BACKGROUNDS).find(([, v]) => bg && v.every((x, i) => Math.abs(x - bg[i]) < 1e-6))?.[0] ?? 'scene';

/** Open files / folders, reload the demo, fit the view, pick the render mode. */
export function OpenPanel() {
  const fileInput = useRef<HTMLInputElement>(null);
  const folderInput = useRef<HTMLInputElement>(null);
  const requestFit = useViewerStore((s) => s.requestFit);
  const renderMode = useViewerStore((s) => s.renderMode);
  const setRenderMode = useViewerStore((s) => s.setRenderMode);
  const busy = useViewerStore((s) => s.busy);
  const sceneBg = useViewerStore((s) => s.scene?.background);
  const setBackground = useViewerStore((s) => s.setBackground);
  const onPick = (list: FileList | null) => {
    if (list && list.length) void openUserFiles(filesFromInput(list));
  };
  return (
    <div className="is-open-panel is-row" data-testid="open-panel">
      <button
        disabled={!!busy}
        onClick={() => fileInput.current?.click()}
        title=".ply, .compressed.ply, .spz, .sog, .splat, .voxel, or a mesh: .obj, .ply, .glb, .gltf"
      >
        Open file…
      </button>
      <button
        disabled={!!busy}
        onClick={() => folderInput.current?.click()}
        title="a scene folder (scene.json), a SOG folder (meta.json + .webp), or a dataset (transforms.json or COLMAP sparse/)"
      >
        Open folder…
      </button>
      <button disabled={!!busy} onClick={() => void loadDemoScene()}>
        Demo
      </button>
      <button onClick={requestFit}>Fit view</button>
      <select
        value={bgName(sceneBg)}
        data-testid="background-select"
        onChange={(e) => BACKGROUNDS[e.target.value] && setBackground(BACKGROUNDS[e.target.value])}
        title="background (Gaussian files store none; scene folders bring their own)"
      >
        <option value="scene" disabled>
          scene bg
        </option>
        <option value="black">black bg</option>
        <option value="white">white bg</option>
        <option value="grey">grey bg</option>
      </select>
      <select
        data-testid="render-mode"
        value={renderMode}
        onChange={(e) => setRenderMode(e.target.value as RenderMode)}
        title="render mode (region: what an edit in the box would change)"
      >
        <option value="color">colour</option>
        <option value="depth">depth</option>
        <option value="region">region</option>
      </select>
      <input
        ref={fileInput}
        data-testid="file-input"
        type="file"
        multiple
        accept=".ply,.spz,.sog,.splat,.voxel,.obj,.glb,.gltf,.bin,.json"
        hidden
        onChange={(e) => {
          onPick(e.target.files);
          e.target.value = '';
        }}
      />
      <input
        ref={(el) => {
          folderInput.current = el;
          el?.setAttribute('webkitdirectory', '');
        }}
        data-testid="folder-input"
        type="file"
        multiple
        hidden
        onChange={(e) => {
          onPick(e.target.files);
          e.target.value = '';
        }}
      />
    </div>
  );
}
