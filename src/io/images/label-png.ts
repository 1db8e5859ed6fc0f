import { decode as decodePngRaw, encode as encodePngRaw } from 'fast-png';
import { UserError } from '../../core/errors';

/**
 * Label images (instance masks): one 8-bit grey channel whose values are labels, not intensities
 * (0 background, 1 ground, 2 + k object k in the demo's `instances/`).
 */
export interface LabelImage {
  width: number;
  height: number;
  labels: Uint8Array;
}

export function encodeLabelPng(l: LabelImage): Uint8Array {
  return encodePngRaw({ width: l.width, height: l.height, data: l.labels, channels: 1, depth: 8 });
}

/** Decodes an 8-bit single-channel PNG of labels; `file` names it in errors. */
export function decodeLabelPng(bytes: Uint8Array, file: string): LabelImage {
  let png;
  try {
    png = decodePngRaw(bytes);
  } catch (e) {
    throw new UserError(`not a readable PNG (${(e as Error).message})`, file);
  }
  if (png.channels !== 1 || png.depth !== 8)
    throw new UserError(`a label image must be 8-bit grey (has ${png.channels} channels, ${png.depth} bits)`, file);
  return { width: png.width, height: png.height, labels: new Uint8Array(png.data as Uint8Array) };
}
