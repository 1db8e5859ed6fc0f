import { useHistoryStore } from '../state/history-store';

/** Undo / redo of edit operations and the before/after toggle of the last edit. */
export function HistoryControls() {
  const { done, undone, showBefore, undo, redo, setShowBefore } = useHistoryStore();
  const last = done[done.length - 1];
  return (
    <div className="is-row" data-testid="history">
      <button data-testid="undo" disabled={!done.length} onClick={undo} title={last ? `undo "${last.label}"` : 'nothing to undo'}>
        Undo
      </button>
      <button data-testid="redo" disabled={!undone.length} onClick={redo}>
        Redo
      </button>
      <label className="is-row" title="show the scene before the last edit">
        <input
          type="checkbox"
          data-testid="before-after"
          disabled={!last}
          checked={showBefore}
          onChange={(e) => setShowBefore(e.target.checked)}
        />{' '}
        before
      </label>
      <span data-testid="history-count">
        {done.length} edit{done.length === 1 ? '' : 's'}
      </span>
    </div>
  );
}
