import { useState } from 'react';
import { exportInWorker } from '../workers/scene-client';
import { editLogs } from '../state/history-store';
import { useViewerStore } from '../state/viewer-store';
import type { ExportFormat } from '../io/export-scene';

/** Export the current scene (.ply / .splat / .voxel in a scene-folder zip, a mesh as .glb) or multiview renders (zip), with the edit log. */
export function ExportControls() {
  const scene = useViewerStore((s) => s.scene);
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const formats: ExportFormat[] =
    scene?.kind === 'voxel' ? ['voxel', 'multiview'] : scene?.kind === 'mesh' ? ['glb', 'multiview'] : ['ply', 'splat', 'multiview'];
  const run = async (format: ExportFormat) => {
    if (!scene) return;
    setBusy(format);
    setError(null);
    try {
      const f = await exportInWorker({ type: 'export', scene, options: { format, editLogs: editLogs() } });
      const type = f.name.endsWith('.glb') ? 'model/gltf-binary' : 'application/zip';
      const url = URL.createObjectURL(new Blob([f.bytes as Uint8Array<ArrayBuffer>], { type }));
      const a = document.createElement('a');
      a.href = url;
      a.download = f.name;
      a.click();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(null);
    }
  };
  return (
    <div data-testid="export">
      <div className="is-row">
        Export
        {formats.map((f) => (
          <button key={f} data-testid={`export-${f}`} disabled={!scene || !!busy} onClick={() => void run(f)}>
            {busy === f ? '…' : f === 'multiview' ? 'views (zip)' : `.${f}`}
          </button>
        ))}
      </div>
      {error && <div className="is-error">{error}</div>}
    </div>
  );
}
