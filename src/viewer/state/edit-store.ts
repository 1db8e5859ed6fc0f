import { create } from 'zustand';

export type EditMethod = 'idu' | 'sds';

/** Edit settings; guidance, noise range and steps may change while an edit runs (the loop reads them each step). */
export interface EditState {
  instruction: string;
  method: EditMethod;
  textGuidance: number;
  imageGuidance: number;
  noiseRange: [number, number];
  steps: number;
  setInstruction(s: string): void;
  setMethod(m: EditMethod): void;
  setTextGuidance(v: number): void;
  setImageGuidance(v: number): void;
  setNoiseRange(r: [number, number]): void;
  setSteps(n: number): void;
}

/** The sample instruction shown when the viewer opens on the demo scene. */
export const SAMPLE_INSTRUCTION = 'make the vase gold';

export const useEditStore = create<EditState>((set) => ({
  instruction: SAMPLE_INSTRUCTION,
  method: 'idu',
  textGuidance: 7.5,
  imageGuidance: 1.5,
  noiseRange: [0.02, 0.98],
  steps: 20,
  setInstruction: (instruction) => set({ instruction }),
  setMethod: (method) => set({ method }),
  setTextGuidance: (textGuidance) => set({ textGuidance }),
  setImageGuidance: (imageGuidance) => set({ imageGuidance }),
  setNoiseRange: (noiseRange) => set({ noiseRange }),
  setSteps: (steps) => set({ steps }),
}));
