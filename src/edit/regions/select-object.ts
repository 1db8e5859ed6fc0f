import type { SceneSource } from '../scenes/create-editable';
import type { Region } from './regions';
import { selectGaussianObject } from './select-gaussians';
import { selectVoxelObject } from './select-voxels';
import { regionSelection, type Selection } from './selection';

/**
 * What an edit may change (`--select`, docs/editing.md): `'object'` — the object inside a rough box or sphere,
 * found by a graph cut (select-voxels.ts, select-gaussians.ts); `'region'` — everything in the region (hull
 * regions are already the user's object). The selection makes the depth-aware 2D masks (`classify`) and the
 * editable's gate (which vertices / Gaussians may change; undefined: the region's own).
 */
export type SelectMode = 'object' | 'region';

export interface EditSelection {
  selection: Selection;
  gate?: Uint8Array;
}

/** The default mode for a region: object selection inside boxes and spheres, the region itself for hulls and meshes. */
export function defaultSelectMode(region: Region | undefined, kind?: SceneSource['kind']): SelectMode {
  return region && region.kind !== 'hull' && kind !== 'mesh' ? 'object' : 'region';
}

/** Selects what an edit of `source` in `region` may change; refuses empty and whole-scene selections (UserError). */
export function selectForEdit(source: SceneSource, region: Region, mode: SelectMode): EditSelection {
  // a mesh's edit is held to the vertices in the region (mesh-editable.ts): the region is its selection
  if (mode === 'region' || source.kind === 'mesh') return { selection: regionSelection(region) };
  switch (source.kind) {
    case 'voxel': {
      const s = selectVoxelObject(source.grid, region);
      return { selection: s.selection, gate: s.gate };
    }
    case 'gaussians': {
      const s = selectGaussianObject(source.gaussians, region);
      return { selection: s.selection, gate: s.gate };
    }
  }
}
