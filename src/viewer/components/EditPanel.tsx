import { useEditStore } from '../state/edit-store';

/** The edit panel: instruction, method and guidance settings (the edit loop is wired in as it lands). */
export function EditPanel() {
  const { instruction, method, textGuidance, imageGuidance, setInstruction, setMethod, setTextGuidance, setImageGuidance } = useEditStore();
  return (
    <div className="is-panel" data-testid="edit-panel">
      <label>
        Instruction
        <textarea data-testid="instruction" value={instruction} rows={2} onChange={(e) => setInstruction(e.target.value)} />
      </label>
      <label>
        Method
        <select value={method} onChange={(e) => setMethod(e.target.value as 'idu' | 'sds')}>
          <option value="idu">IDU (Instruct-NeRF2NeRF / GS2GS)</option>
          <option value="sds">SDS (Instruct 3D-to-3D, Vox-E)</option>
        </select>
      </label>
      <label>
        Text guidance {textGuidance.toFixed(1)}
        <input type="range" min={1} max={20} step={0.5} value={textGuidance} onChange={(e) => setTextGuidance(Number(e.target.value))} />
      </label>
      <label>
        Image guidance {imageGuidance.toFixed(2)}
        <input type="range" min={1} max={5} step={0.05} value={imageGuidance} onChange={(e) => setImageGuidance(Number(e.target.value))} />
      </label>
    </div>
  );
}
