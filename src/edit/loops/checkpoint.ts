import { UserError } from '../../core/errors';
import { jsonDepth, MAX_JSON_DEPTH } from '../../io/files/files';
import type { Image } from '../../core/image';
import type { StateBlob } from '../scenes/editable';
import type { LoopState } from './edit-session';
import { checkCheckpointArrays, checkCheckpointHeader, damagedCheckpoint } from './checkpoint-check';

/**
 * Edit checkpoints: one binary file holding the loop state (step, RNG state, IDU training images, timings),
 * the scene's state (parameters + optimiser moments) and the run's settings, so `--resume` continues exactly.
 * Layout: "ISCK" | u32 header length | JSON header | zero padding to 8 bytes | array bytes (each 8-aligned).
 */
const MAGIC = [0x49, 0x53, 0x43, 0x4b];
type Arr = Float32Array | Uint8Array | Uint32Array;
const TYPES: Record<string, { ctor: new (b: ArrayBuffer, o: number, n: number) => Arr; size: number }> = {
  f32: { ctor: Float32Array, size: 4 },
  u8: { ctor: Uint8Array, size: 1 },
  u32: { ctor: Uint32Array, size: 4 },
};
const typeOf = (a: Arr) => (a instanceof Float32Array ? 'f32' : a instanceof Uint32Array ? 'u32' : 'u8');

export interface Checkpoint {
  /** The run's settings (so --resume can check it continues the same edit). */
  settings: Record<string, unknown>;
  loop: LoopState;
  scene: StateBlob;
}

export function encodeCheckpoint(c: Checkpoint): Uint8Array {
  const arrays: Record<string, Arr> = {};
  for (const [k, v] of Object.entries(c.scene.arrays)) arrays[`scene.${k}`] = v;
  const targets: ({ width: number; height: number } | null)[] = c.loop.targets.map((t, i) => {
    if (!t) return null;
    arrays[`target.${i}`] = t.data;
    return { width: t.width, height: t.height };
  });
  const entries: { name: string; type: string; offset: number; length: number }[] = [];
  let off = 0;
  for (const [name, a] of Object.entries(arrays)) {
    entries.push({ name, type: typeOf(a), offset: off, length: a.length });
    off += Math.ceil(a.byteLength / 8) * 8;
  }
  const header = JSON.stringify({
    version: 1,
    settings: c.settings,
    loop: { ...c.loop, targets },
    sceneMeta: c.scene.meta,
    arrays: entries,
  });
  const hb = new TextEncoder().encode(header);
  const start = Math.ceil((8 + hb.length) / 8) * 8;
  const out = new Uint8Array(start + off);
  out.set(MAGIC, 0);
  new DataView(out.buffer).setUint32(4, hb.length, true);
  out.set(hb, 8);
  for (const e of entries) {
    const a = arrays[e.name];
    out.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), start + e.offset);
  }
  return out;
}

export function decodeCheckpoint(bytes: Uint8Array, file: string): Checkpoint {
  if (bytes.length < 8 || MAGIC.some((m, i) => bytes[i] !== m))
    throw new UserError(
      `not an edit checkpoint (damaged or another file); start the edit over with --out NEW_FOLDER, or delete ${file}`,
      file,
    );
  const hl = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(4, true);
  if (8 + hl > bytes.length) throw damagedCheckpoint(file, 'truncated');
  let h: any;
  try {
    const text = new TextDecoder().decode(bytes.subarray(8, 8 + hl));
    if (jsonDepth(text) > MAX_JSON_DEPTH) throw new Error('too deep');
    h = JSON.parse(text);
  } catch {
    throw damagedCheckpoint(file, 'broken header');
  }
  const start = Math.ceil((8 + hl) / 8) * 8;
  checkCheckpointHeader(h, Math.max(0, bytes.length - start), file);
  const buf = bytes.slice(start).buffer as ArrayBuffer;
  const arrays: Record<string, Arr> = {};
  for (const e of h.arrays as { name: string; type: string; offset: number; length: number }[]) {
    const t = TYPES[e.type];
    if (!t || e.offset + e.length * t.size > buf.byteLength) throw new UserError(`truncated checkpoint (array ${e.name})`, file);
    arrays[e.name] = new t.ctor(buf, e.offset, e.length).slice();
  }
  checkCheckpointArrays(arrays, file);
  const scene: StateBlob = { meta: h.sceneMeta, arrays: {} };
  for (const [k, v] of Object.entries(arrays)) if (k.startsWith('scene.')) scene.arrays[k.slice(6)] = v;
  const targets: (Image | null)[] = (h.loop.targets as ({ width: number; height: number } | null)[]).map((t, i) =>
    t ? { width: t.width, height: t.height, channels: 3, data: arrays[`target.${i}`] as Float32Array } : null,
  );
  return { settings: h.settings, loop: { ...h.loop, targets }, scene };
}
