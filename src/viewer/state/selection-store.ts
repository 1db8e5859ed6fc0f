import { useEffect } from 'react';
import { create } from 'zustand';
import type { SceneData } from '../workers/scene-worker-protocol';
import { selectInWorker } from '../workers/scene-client';
import { useEditStore } from './edit-store';
import { useViewerStore } from './viewer-store';

/**
 * The region render mode shows what an edit in the box would change: the object the edit's selection picks
 * (`--select object`, docs/editing.md), computed in the scene worker whenever the box, the scene or the mode
 * changes (debounced), drawn as a recoloured copy of the scene. Meshes keep the box test (their edits change
 * the vertices inside the box).
 */
export interface SelectionState {
  /** The recoloured scene for the current scene and box, or null. */
  preview: { scene: SceneData; of: SceneData } | null;
  /** "selection: N of M Gaussians in the box", or why there is none. */
  info: string | null;
}

export const useSelectionStore = create<SelectionState>(() => ({ preview: null, info: null }));

const DEBOUNCE_MS = 250;

/** Keeps the selection preview in step with the scene, the box and the render mode (mount once). */
export function useSelectionPreview(): void {
  const scene = useViewerStore((s) => s.scene);
  const mode = useViewerStore((s) => s.renderMode);
  const region = useEditStore((s) => (s.regionEnabled ? s.region : null));
  useEffect(() => {
    const source =
      scene?.kind === 'gaussians' && scene.raw
        ? ({ kind: 'gaussians', gaussians: scene.raw } as const)
        : scene?.kind === 'voxel'
          ? ({ kind: 'voxel', grid: scene.grid } as const)
          : null;
    if (mode !== 'region' || !region || !scene || !source) {
      useSelectionStore.setState({ preview: null, info: null });
      return;
    }
    let cancelled = false;
    useSelectionStore.setState({ info: 'selecting the object in the box…' });
    const timer = setTimeout(() => {
      selectInWorker({ type: 'select', source, min: region.min, max: region.max })
        .then((r) => {
          if (cancelled) return;
          const what = scene.kind === 'gaussians' ? 'Gaussians' : 'occupied voxels';
          useSelectionStore.setState({
            preview: { scene: r.preview, of: scene },
            info: `selection: ${r.selected.toLocaleString('en-US')} of ${r.candidates.toLocaleString('en-US')} ${what} in the box`,
          });
        })
        .catch((e: Error) => {
          if (!cancelled) useSelectionStore.setState({ preview: null, info: e.message });
        });
    }, DEBOUNCE_MS);
    return () => {
      cancelled = true;
      clearTimeout(timer);
    };
  }, [scene, mode, region]);
}
