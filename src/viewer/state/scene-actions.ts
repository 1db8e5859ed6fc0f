import { useViewerStore } from './viewer-store';
import { sceneWorker } from '../workers/scene-client';
import { basename } from '../../core/paths';

/** Generates the built-in demo scene (splats, or `voxel`: a voxel grid of `res` vertices on its long axis) in the worker and shows it. */
export async function loadDemoScene(kind: 'gaussians' | 'voxel' = 'gaussians', res?: number): Promise<void> {
  const st = useViewerStore.getState();
  st.setBusy('generating the demo scene…');
  try {
    const scene = await sceneWorker(kind === 'voxel' ? { type: 'demo-voxel', res } : { type: 'demo' });
    st.setScene(scene);
    st.setBusy(null);
  } catch (e) {
    st.setError(`demo scene: ${(e as Error).message}`);
  }
}

/** Opens one file's bytes (.ply / .splat / voxel scene) via the worker. */
export async function openSceneBytes(name: string, bytes: ArrayBuffer): Promise<void> {
  const st = useViewerStore.getState();
  st.setBusy(`reading ${name}…`);
  try {
    const scene = await sceneWorker({ type: 'parse', name, bytes }, [bytes]);
    st.setScene(scene);
    st.setBusy(null);
  } catch (e) {
    st.setError((e as Error).message);
  }
}

/** `?scene=URL`: downloads a scene file and opens it. */
export async function loadSceneFromUrl(url: string): Promise<void> {
  const st = useViewerStore.getState();
  st.setBusy(`downloading ${url}…`);
  try {
    const res = await fetch(url);
    if (!res.ok) throw new Error(`${url}: HTTP ${res.status} ${res.statusText}`);
    const bytes = await res.arrayBuffer();
    await openSceneBytes(basename(new URL(url, window.location.href).pathname) || url, bytes);
  } catch (e) {
    st.setError((e as Error).message);
  }
}
