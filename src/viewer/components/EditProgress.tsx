import { useEditStore } from '../state/edit-store';
import { rejectView } from '../edit/edit-client';

/** Progress of the running edit: phase, step bar, loss, and thumbnails of the edited views (click one to reject it). */
export function EditProgress() {
  const { progress, statusText, thumbs, error, status, applied } = useEditStore();
  return (
    <div className="is-progress" data-testid="edit-progress">
      {statusText && (
        <div className="is-busy" data-testid="edit-status">
          {statusText}
        </div>
      )}
      {progress && status !== 'idle' && (
        <div>
          <progress max={progress.total} value={progress.step} style={{ width: '100%' }} />
          <div data-testid="edit-step">
            {progress.phase} {progress.step}/{progress.total}
            {progress.viewsEdited !== undefined ? ` · ${progress.viewsEdited} view edits` : ''}
            {progress.loss !== undefined ? ` · loss ${progress.loss.toExponential(2)}` : ''}
          </div>
        </div>
      )}
      {applied && status !== 'idle' && (
        <div className="is-applied" data-testid="edit-applied">
          {applied}
        </div>
      )}
      {thumbs.some(Boolean) && (
        <div className="is-thumbs" data-testid="thumbs">
          {thumbs.map((t, i) =>
            t ? (
              <img
                key={i}
                src={t}
                alt={`edited view ${i}`}
                data-testid={`thumb-${i}`}
                title={`view ${i}: click to reject this edit (the view trains on its original image until it is edited again)`}
                style={{ cursor: status !== 'idle' ? 'pointer' : 'default' }}
                onClick={() => {
                  if (status !== 'idle') rejectView(i);
                }}
              />
            ) : null,
          )}
        </div>
      )}
      {error && (
        <div className="is-error" data-testid="edit-error">
          {error}
        </div>
      )}
    </div>
  );
}
