import { useViewerStore } from './viewer-store';
import { useHistoryStore } from './history-store';
import { sceneWorker, type Opened } from '../workers/scene-client';
import { basename } from '../../core/paths';
import { meshBounds } from '../../nerf/mesh/mesh';
import { useEditStore } from './edit-store';

function show(r: Opened): void {
  const st = useViewerStore.getState();
  if (r.dataset) st.setDataset(r.dataset.name, r.dataset.cameras);
  else st.setDataset(null, []);
  if (r.scene) {
    useHistoryStore.getState().clear();
    st.setScene(r.scene);
    // a mesh: the region box starts around it, switched off (stylise the whole mesh unless asked)
    if (r.scene.kind === 'mesh') {
      const { min, max } = meshBounds(r.scene.mesh);
      useEditStore.getState().set({ regionEnabled: false, region: { min, max } });
    }
  }
  st.setBusy(null);
}

async function run(busy: string, fn: () => Promise<Opened>): Promise<boolean> {
  const st = useViewerStore.getState();
  st.setBusy(busy);
  st.setError(null);
  st.setBusy(busy);
  try {
    show(await fn());
    return true;
  } catch (e) {
    useViewerStore.getState().setError((e as Error).message);
    return false;
  }
}

/** Generates the built-in demo scene (splats, or `voxel`: a voxel grid of `res` vertices on its long axis) in the worker and shows it. */
export function loadDemoScene(kind: 'gaussians' | 'voxel' = 'gaussians', res?: number): Promise<boolean> {
  return run('generating the demo scene…', () => sceneWorker(kind === 'voxel' ? { type: 'demo-voxel', res } : { type: 'demo' }));
}

/** Shows parsing progress in the busy line. */
const parsing = (fraction: number, what: string) => useViewerStore.getState().setBusy(`parsing ${what}… ${Math.round(fraction * 100)}%`);

/** Opens files the user picked or dropped (relative paths for folders), parsed in the worker. */
export function openUserFiles(files: { path: string; data: Blob | Uint8Array }[]): Promise<boolean> {
  const what = files.length === 1 ? files[0].path : `${files.length} files`;
  const background = useViewerStore.getState().fileBackground;
  return run(`opening ${what}…`, () => sceneWorker({ type: 'open', files, background }, [], parsing));
}

/** `?scene=URL`: downloads a scene file (any Gaussian format, or .voxel) and opens it. */
export function loadSceneFromUrl(url: string): Promise<boolean> {
  return run(`downloading ${url}…`, async () => {
    const res = await fetch(url);
    if (!res.ok) throw new Error(`${url}: HTTP ${res.status} ${res.statusText}`);
    const data = new Uint8Array(await res.arrayBuffer());
    const name = basename(new URL(url, window.location.href).pathname) || 'scene';
    const background = useViewerStore.getState().fileBackground;
    return sceneWorker({ type: 'open', files: [{ path: name, data }], background }, [data.buffer], parsing);
  });
}
