import { useEffect } from 'react';
import { useEditStore } from '../state/edit-store';
import { useSelectionStore } from '../state/selection-store';
import {
  cancelEdit,
  checkInterruptedEdit,
  discardInterruptedEdit,
  pauseEdit,
  resumeEdit,
  resumeInterruptedEdit,
  startEdit,
  updateLiveSettings,
} from '../edit/edit-client';
import { ModelPicker } from './ModelPicker';
import { EditProgress } from './EditProgress';
import { HistoryControls } from './HistoryControls';
import { ExportControls } from './ExportControls';

/** The edit panel: instruction, model, method, live guidance settings, region, run/pause/cancel, progress, history, export. */
export function EditPanel() {
  const s = useEditStore();
  const selectionInfo = useSelectionStore((st) => st.info);
  const running = s.status !== 'idle';
  // live settings: forwarded to the running loop whenever they change
  useEffect(() => {
    updateLiveSettings();
  }, [s.textScale, s.imageScale, s.tMin, s.tMax, s.steps]);
  // an edit interrupted by a reload or a closed tab is offered once the panel shows
  useEffect(() => {
    void checkInterruptedEdit();
  }, []);
  return (
    <div className="is-panel" data-testid="edit-panel">
      <label>
        Instruction
        <textarea
          data-testid="instruction"
          value={s.instruction}
          rows={2}
          disabled={running}
          onChange={(e) => s.setInstruction(e.target.value)}
        />
      </label>
      <ModelPicker />
      <label>
        Method
        <select data-testid="method" value={s.method} disabled={running} onChange={(e) => s.setMethod(e.target.value as 'idu' | 'sds')}>
          <option value="idu">IDU (Instruct-NeRF2NeRF / GS2GS)</option>
          <option value="sds">SDS (Instruct 3D-to-3D, Vox-E)</option>
        </select>
      </label>
      <label>
        Text guidance {s.textScale.toFixed(1)}
        <input
          type="range"
          data-testid="text-guidance"
          min={1}
          max={20}
          step={0.5}
          value={s.textScale}
          onChange={(e) => s.setTextScale(Number(e.target.value))}
        />
      </label>
      <label>
        Image guidance {s.imageScale.toFixed(2)}
        <input
          type="range"
          data-testid="image-guidance"
          min={1}
          max={5}
          step={0.05}
          value={s.imageScale}
          onChange={(e) => s.setImageScale(Number(e.target.value))}
        />
      </label>
      <label>
        Noise range {s.tMin.toFixed(2)}–{s.tMax.toFixed(2)}
        <span className="is-row">
          <input
            type="range"
            min={0.02}
            max={0.98}
            step={0.01}
            value={s.tMin}
            onChange={(e) => s.setNoiseRange(Math.min(Number(e.target.value), s.tMax), s.tMax)}
          />
          <input
            type="range"
            min={0.02}
            max={0.98}
            step={0.01}
            value={s.tMax}
            onChange={(e) => s.setNoiseRange(s.tMin, Math.max(Number(e.target.value), s.tMin))}
          />
        </span>
      </label>
      <label>
        Denoising steps {s.steps}
        <input
          type="range"
          data-testid="steps"
          min={1}
          max={50}
          step={1}
          value={s.steps}
          onChange={(e) => s.setSteps(Number(e.target.value))}
        />
      </label>
      <label className="is-row">
        Iterations
        <input
          type="number"
          data-testid="iters"
          min={1}
          max={20000}
          value={s.iters}
          disabled={running}
          style={{ width: 80 }}
          onChange={(e) => s.set({ iters: Math.max(1, Number(e.target.value) || 1) })}
        />
        views
        <input
          type="number"
          data-testid="views"
          min={1}
          max={64}
          value={s.views}
          disabled={running}
          style={{ width: 50 }}
          onChange={(e) => s.set({ views: Math.max(1, Number(e.target.value) || 1) })}
        />
      </label>
      <label className="is-row" title="edit only inside the box (drag it in the view)">
        <input
          type="checkbox"
          data-testid="region-enabled"
          checked={s.regionEnabled}
          disabled={running}
          onChange={(e) => s.set({ regionEnabled: e.target.checked })}
        />{' '}
        limit to the region box
        <select
          value={s.gizmoMode}
          disabled={!s.regionEnabled}
          onChange={(e) => s.set({ gizmoMode: e.target.value as 'translate' | 'scale' })}
          title="what dragging the box does"
        >
          <option value="translate">move</option>
          <option value="scale">resize</option>
        </select>
      </label>
      {selectionInfo && (
        <div className="is-row" data-testid="selection-info" title="the region render mode shows what an edit in the box would change">
          {selectionInfo}
        </div>
      )}
      {s.interrupted && !running && (
        <div className="is-applied" data-testid="interrupted-edit">
          An edit was interrupted: “{s.interrupted.instruction}” ({s.interrupted.method.toUpperCase()}, step {s.interrupted.step}/
          {s.interrupted.iters}).{' '}
          <button data-testid="resume-interrupted" onClick={resumeInterruptedEdit}>
            Resume it
          </button>{' '}
          <button data-testid="discard-interrupted" onClick={discardInterruptedEdit}>
            Discard
          </button>
        </div>
      )}
      <div className="is-row">
        {!running && (
          <button data-testid="run" onClick={startEdit}>
            Run edit
          </button>
        )}
        {(s.status === 'running' || s.status === 'starting') && (
          <button data-testid="pause" onClick={pauseEdit}>
            Pause
          </button>
        )}
        {s.status === 'paused' && (
          <button data-testid="resume" onClick={resumeEdit}>
            Resume
          </button>
        )}
        {running && (
          <button data-testid="cancel" disabled={s.status === 'cancelling'} onClick={cancelEdit}>
            Cancel
          </button>
        )}
      </div>
      <EditProgress />
      <HistoryControls />
      <ExportControls />
    </div>
  );
}
