import { useRef, useState } from 'react';
import { filesFromInput } from '../io/dropped-files';
import { useEditStore } from '../state/edit-store';

/**
 * The InstructPix2Pix model: the built-in stand-in, a local ONNX folder, a URL (downloaded once, cached), or a
 * model server (Open Inference Protocol: `instruct-scene serve`, Triton, KServe) that runs the models remotely.
 */
export function ModelPicker() {
  const model = useEditStore((s) => s.model);
  const set = useEditStore((s) => s.set);
  const busy = useEditStore((s) => s.status !== 'idle');
  const [url, setUrl] = useState(model.source === 'url' ? model.url : '');
  const [server, setServer] = useState(model.source === 'server' ? model.url : '');
  const folder = useRef<HTMLInputElement | null>(null);
  const label = model.source === 'builtin' ? 'built-in' : model.source === 'url' ? 'url' : model.source === 'server' ? 'server' : 'folder';
  return (
    <div className="is-model" data-testid="model-picker">
      <label>
        Model
        <select
          disabled={busy}
          value={label}
          onChange={(e) => {
            const v = e.target.value;
            if (v === 'built-in') set({ model: { source: 'builtin' } });
            else if (v === 'url') set({ model: { source: 'url', url } });
            else if (v === 'server') set({ model: { source: 'server', url: server } });
            else folder.current?.click();
          }}
        >
          <option value="built-in">built-in (colour and tone edits)</option>
          <option value="folder">{model.source === 'files' ? `local folder (${model.files.length} files)` : 'local ONNX folder…'}</option>
          <option value="url">URL…</option>
          <option value="server">server URL…</option>
        </select>
      </label>
      {model.source === 'url' && (
        <input
          type="text"
          placeholder="https://…/instruct-pix2pix-onnx/"
          value={url}
          disabled={busy}
          onChange={(e) => {
            setUrl(e.target.value);
            set({ model: { source: 'url', url: e.target.value } });
          }}
        />
      )}
      {model.source === 'server' && (
        <input
          type="url"
          data-testid="model-server-url"
          title="A model server (instruct-scene serve, Triton, KServe): http(s)://HOST:PORT[/PREFIX]. It must allow this page's origin (serve --cors)."
          placeholder="http://gpu-box:8000"
          value={server}
          disabled={busy}
          onChange={(e) => {
            setServer(e.target.value);
            set({ model: { source: 'server', url: e.target.value.trim() } });
          }}
        />
      )}
      <input
        ref={(el) => {
          folder.current = el;
          el?.setAttribute('webkitdirectory', '');
        }}
        type="file"
        multiple
        hidden
        onChange={(e) => {
          if (e.target.files?.length) set({ model: { source: 'files', files: filesFromInput(e.target.files) } });
          e.target.value = '';
        }}
      />
    </div>
  );
}
