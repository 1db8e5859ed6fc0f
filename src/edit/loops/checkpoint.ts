import { UserError } from '../../core/errors';
import type { Image } from '../../core/image';
import type { StateBlob } from '../scenes/editable';
import type { LoopState } from './loop-state';
import { jsonDepth, MAX_JSON_DEPTH } from '../../io/files/files';
import { checkCheckpointArrays, checkCheckpointHeader, damagedCheckpoint } from './checkpoint-check';

/**
 * Edit checkpoints: one binary file holding the loop state (step, RNG state, IDU training images, timings),
 * the scene's state (parameters + optimiser moments) and the run's settings, so a resume continues exactly.
 * The CLI writes them beside the edit (`--resume`); the viewer keeps them in the browser's origin private file
 * system (a reload resumes).
 *
 * Layout of a bundle (checkpoints, and the viewer's saved source scene): "ISCK" | u32 header length | JSON
 * header | zero padding to 8 bytes | array bytes (each 8-aligned). The header holds the JSON fields and a
 * table of the named typed arrays.
 */
const MAGIC = [0x49, 0x53, 0x43, 0x4b];
type Arr = Float32Array | Uint8Array | Uint32Array;
const TYPES: Record<string, { ctor: new (b: ArrayBuffer, o: number, n: number) => Arr; size: number }> = {
  f32: { ctor: Float32Array, size: 4 },
  u8: { ctor: Uint8Array, size: 1 },
  u32: { ctor: Uint32Array, size: 4 },
};
const typeOf = (a: Arr) => (a instanceof Float32Array ? 'f32' : a instanceof Uint32Array ? 'u32' : 'u8');

/** JSON fields plus named typed arrays, as one binary file. */
export interface Bundle {
  header: Record<string, unknown>;
  arrays: Record<string, Arr>;
}

export function encodeBundle(b: Bundle): Uint8Array {
  const entries: { name: string; type: string; offset: number; length: number }[] = [];
  let off = 0;
  for (const [name, a] of Object.entries(b.arrays)) {
    entries.push({ name, type: typeOf(a), offset: off, length: a.length });
    off += Math.ceil(a.byteLength / 8) * 8;
  }
  const hb = new TextEncoder().encode(JSON.stringify({ ...b.header, arrays: entries }));
  const start = Math.ceil((8 + hb.length) / 8) * 8;
  const out = new Uint8Array(start + off);
  out.set(MAGIC, 0);
  new DataView(out.buffer).setUint32(4, hb.length, true);
  out.set(hb, 8);
  for (const e of entries) {
    const a = b.arrays[e.name];
    out.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), start + e.offset);
  }
  return out;
}

/**
 * Reads `encodeBundle`'s bytes; garbage and truncation are UserErrors naming `file` (one line saying the file is
 * damaged and how to start over). `checkHeader` sees the JSON header (array table included) and the payload's
 * length before any array is cut from it (checkpoint-check.ts validates checkpoints field by field there).
 */
export function decodeBundle(bytes: Uint8Array, file: string, checkHeader?: (h: Record<string, unknown>, payload: number) => void): Bundle {
  if (bytes.length < 8 || MAGIC.some((m, i) => bytes[i] !== m))
    throw new UserError(
      `not an edit checkpoint (damaged or another file); start the edit over with --out NEW_FOLDER, or delete ${file}`,
      file,
    );
  const hl = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(4, true);
  if (8 + hl > bytes.length) throw damagedCheckpoint(file, 'truncated');
  let h: Record<string, unknown>;
  try {
    const text = new TextDecoder().decode(bytes.subarray(8, 8 + hl));
    if (jsonDepth(text) > MAX_JSON_DEPTH) throw new Error('too deep');
    h = JSON.parse(text);
  } catch {
    throw damagedCheckpoint(file, 'broken header');
  }
  if (typeof h !== 'object' || h === null || Array.isArray(h)) throw damagedCheckpoint(file, 'its header is not an object');
  const table = h.arrays;
  if (!Array.isArray(table)) throw damagedCheckpoint(file, 'array table missing');
  const start = Math.ceil((8 + hl) / 8) * 8;
  checkHeader?.(h, Math.max(0, bytes.length - start));
  const buf = bytes.slice(start).buffer as ArrayBuffer;
  const arrays: Record<string, Arr> = {};
  for (const e of table as { name: string; type: string; offset: number; length: number }[]) {
    const t = TYPES[e?.type];
    if (!t || !(e.offset >= 0) || !(e.length >= 0) || e.offset % 8 || e.offset + e.length * t.size > buf.byteLength)
      throw damagedCheckpoint(file, `array ${String(e?.name)} runs past the end of the file (truncated?)`);
    arrays[e.name] = new t.ctor(buf, e.offset, e.length).slice();
  }
  delete h.arrays;
  return { header: h, arrays };
}

export interface Checkpoint {
  /** The run's settings (so a resume can check it continues the same edit). */
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
  return encodeBundle({ header: { version: 1, settings: c.settings, loop: { ...c.loop, targets }, sceneMeta: c.scene.meta }, arrays });
}

export function decodeCheckpoint(bytes: Uint8Array, file: string): Checkpoint {
  const { header: h, arrays } = decodeBundle(bytes, file, (hh, payload) => checkCheckpointHeader(hh, payload, file));
  checkCheckpointArrays(arrays, file);
  const loop = h.loop as Omit<LoopState, 'targets'> & { targets: unknown };
  const scene: StateBlob = { meta: (h.sceneMeta as Record<string, unknown>) ?? {}, arrays: {} };
  for (const [k, v] of Object.entries(arrays)) if (k.startsWith('scene.')) scene.arrays[k.slice(6)] = v;
  const targets: (Image | null)[] = (loop.targets as ({ width: number; height: number } | null)[]).map((t, i) => {
    if (!t) return null;
    const data = arrays[`target.${i}`];
    if (!(data instanceof Float32Array) || data.length !== t.width * t.height * 3) throw damagedCheckpoint(file, `training image ${i}`);
    return { width: t.width, height: t.height, channels: 3, data };
  });
  return { settings: (h.settings as Record<string, unknown>) ?? {}, loop: { ...loop, targets }, scene };
}
