import { useEffect, useState } from 'react';
import { filesFromDrop } from '../io/dropped-files';
import { openUserFiles } from '../state/scene-actions';

/** Drag and drop anywhere on the page: files or folders; shows a hint while dragging. */
export function DropZone() {
  const [over, setOver] = useState(false);
  useEffect(() => {
    const onOver = (e: DragEvent) => {
      if (!e.dataTransfer?.types.includes('Files')) return;
      e.preventDefault();
      setOver(true);
    };
    const onLeave = (e: DragEvent) => {
      if (e.relatedTarget === null) setOver(false);
    };
    const onDrop = async (e: DragEvent) => {
      e.preventDefault();
      setOver(false);
      if (!e.dataTransfer) return;
      const files = await filesFromDrop(e.dataTransfer);
      if (files.length) await openUserFiles(files);
    };
    window.addEventListener('dragover', onOver);
    window.addEventListener('dragleave', onLeave);
    window.addEventListener('drop', onDrop);
    return () => {
      window.removeEventListener('dragover', onOver);
      window.removeEventListener('dragleave', onLeave);
      window.removeEventListener('drop', onDrop);
    };
  }, []);
  return over ? (
    <div className="is-drop">
      Drop a .ply, .compressed.ply, .spz, .sog, .splat or .voxel file, a mesh (.obj, .glb, .gltf), a scene or SOG folder, or a dataset
      folder (transforms.json or COLMAP)
    </div>
  ) : null;
}
