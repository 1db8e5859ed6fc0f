import { describeValue, UserError } from '../../core/errors';
import { limits } from '../../core/limits';
import type { EditableScene, StateBlob } from '../scenes/editable';

/**
 * Field-by-field validation of edit checkpoints (`edit.ckpt`, see checkpoint.ts). A checkpoint is our own file
 * but lives on disk next to the user's data: a crash mid-copy, a disk error or a hand edit must give one line
 * saying it is damaged and how to start over, never an internal error or a resumed run on NaN parameters.
 *
 * `checkCheckpointHeader` runs on the JSON header before any array is cut from the payload;
 * `checkCheckpointArrays` on the arrays (finite floats); `checkResumeState` against the scene being resumed
 * (array names, types and lengths, a trial load, one training image per view of the right size).
 */

export function damagedCheckpoint(file: string, detail: string): UserError {
  return new UserError(`the checkpoint is damaged (${detail}); start the edit over with --out NEW_FOLDER, or delete ${file}`, file);
}

const TYPE_SIZE: Record<string, number> = { f32: 4, u8: 1, u32: 4 };

const isObj = (v: unknown): v is Record<string, any> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isInt = (v: unknown, lo: number, hi: number) => typeof v === 'number' && Number.isInteger(v) && v >= lo && v <= hi;
const isNum = (v: unknown, lo: number, hi: number) => typeof v === 'number' && Number.isFinite(v) && v >= lo && v <= hi;
/** The run's iteration count in stored settings (the edit spec's config), or undefined when absent or malformed. */
const itersOf = (s: Record<string, any>): number | undefined => {
  const cfg = isObj(s.spec) && isObj(s.spec.config) ? s.spec.config : s.cfg;
  return isObj(cfg) && isInt(cfg.iters, 1, Number.MAX_SAFE_INTEGER) ? cfg.iters : undefined;
};

/** Checks the header (everything but the arrays' contents); `payload` is the byte length after the header. */
export function checkCheckpointHeader(h: unknown, payload: number, file: string): void {
  const bad = (d: string) => damagedCheckpoint(file, d);
  if (!isObj(h)) throw bad('its header is not an object');
  if (h.version !== 1) throw bad(`version ${describeValue(h.version, 20)}, expected 1`);
  const s = h.settings;
  if (!isObj(s)) throw bad('settings missing');
  const iters = itersOf(s) ?? Number.MAX_SAFE_INTEGER;
  const L = h.loop;
  if (!isObj(L)) throw bad('loop state missing');
  if (!isInt(L.step, 0, iters)) throw bad(`loop.step ${describeValue(L.step, 20)} is not an integer in [0, ${iters}]`);
  if (!isInt(L.rng, -(2 ** 31), 2 ** 32 - 1)) throw bad('loop.rng is not a 32-bit integer');
  if (!isInt(L.cursor, 0, Number.MAX_SAFE_INTEGER)) throw bad('loop.cursor is not a non-negative integer');
  if (!isInt(L.viewsEdited, 0, Number.MAX_SAFE_INTEGER)) throw bad('loop.viewsEdited is not a non-negative integer');
  for (const k of ['editorMs', 'refitMs', 'renderMs'])
    if (L[k] !== undefined && !isNum(L[k], 0, 1e15)) throw bad(`loop.${k} is not a time`);
  if (L.lastLoss !== undefined && !isNum(L.lastLoss, -1e30, 1e30)) throw bad('loop.lastLoss is not finite');
  if (!Array.isArray(L.targets)) throw bad('loop.targets missing');
  if (Array.isArray(s.views) && L.targets.length !== s.views.length)
    throw bad(`it holds ${L.targets.length} training images for ${s.views.length} views`);
  if (!isObj(h.sceneMeta)) throw bad('scene state missing');
  if (!Array.isArray(h.arrays)) throw bad('array table missing');
  const names = new Set<string>();
  for (const e of h.arrays as unknown[]) {
    if (!isObj(e) || typeof e.name !== 'string') throw bad('an array entry has no name');
    const what = `array ${describeValue(e.name, 40)}`;
    if (names.has(e.name)) throw bad(`${what} is listed twice`);
    names.add(e.name);
    const size = TYPE_SIZE[e.type as string];
    if (!size) throw bad(`${what} has unknown type ${describeValue(e.type, 20)}`);
    if (!isInt(e.offset, 0, payload) || e.offset % 8 !== 0) throw bad(`${what} has a bad offset`);
    if (!isInt(e.length, 0, Math.floor(limits.tensorBytes / size))) throw bad(`${what} has a bad length`);
    if (e.offset + e.length * size > payload) throw bad(`${what} runs past the end of the file (truncated?)`);
  }
  (L.targets as unknown[]).forEach((t, i) => {
    if (t === null) return;
    if (!isObj(t) || !isInt(t.width, 1, 1e6) || !isInt(t.height, 1, 1e6) || t.width * t.height > limits.imagePixels)
      throw bad(`training image ${i} has a bad size`);
    const e = (h.arrays as { name: string; type: string; length: number }[]).find((a) => a.name === `target.${i}`);
    if (!e || e.type !== 'f32' || e.length !== t.width * t.height * 3) throw bad(`training image ${i} is missing or the wrong size`);
  });
}

/** Every float array finite (parameters, moments, training images). */
export function checkCheckpointArrays(arrays: Record<string, Float32Array | Uint8Array | Uint32Array>, file: string): void {
  for (const [name, a] of Object.entries(arrays)) {
    if (!(a instanceof Float32Array)) continue;
    for (let i = 0; i < a.length; i++)
      if (!Number.isFinite(a[i])) throw damagedCheckpoint(file, `${name} holds a non-finite value (${a[i]}) at ${i}`);
  }
}

/**
 * The settings the CLI stores and compares on --resume: the edit spec (`spec.config`, with `iters`), the
 * training views' file names (one training-image slot each). Returns the checkpoint.
 */
export function checkCheckpointSettings<C extends { settings: Record<string, unknown>; loop: { targets: unknown[] } }>(
  c: C,
  file: string,
): C {
  const s = c.settings as Record<string, any>;
  if (itersOf(s) === undefined) throw damagedCheckpoint(file, 'settings.spec.config missing');
  if (!Array.isArray(s.views) || !s.views.every((v: unknown) => typeof v === 'string'))
    throw damagedCheckpoint(file, 'settings.views must list file names');
  if (c.loop.targets.length !== s.views.length)
    throw damagedCheckpoint(file, `it holds ${c.loop.targets.length} training images for ${s.views.length} views`);
  return c;
}

const META_INT: Record<string, [number, number]> = {
  level: [0, 4],
  count: [0, Number.MAX_SAFE_INTEGER],
  shDegree: [0, 3],
  adamSteps: [0, Number.MAX_SAFE_INTEGER],
  rng: [-(2 ** 31), 2 ** 32 - 1],
};

/**
 * Checks a decoded checkpoint against the scene it is about to resume and the edit's views, then loads it into
 * `scene` once as a trial (the loop loads it again): meta fields of the same kinds as the scene's own
 * state, the same arrays with the same types, lengths that the scene accepts, one training image per view
 * of that view's size. Throws the one-line "damaged" UserError otherwise.
 */
export function checkResumeState(
  scene: EditableScene,
  ckpt: { loop: { targets: ({ width: number; height: number } | null)[] }; scene: StateBlob },
  views: { width: number; height: number }[],
  file: string,
): void {
  const bad = (d: string) => damagedCheckpoint(file, d);
  const template = scene.saveState();
  const blob = ckpt.scene;
  for (const [k, tv] of Object.entries(template.meta)) {
    const v = blob.meta[k];
    if (typeof tv === 'number') {
      const r = META_INT[k];
      if (r ? !isInt(v, r[0], r[1]) : !isNum(v, -1e30, 1e30)) throw bad(`scene ${k} ${describeValue(v, 20)} is out of range`);
    } else if (Array.isArray(tv)) {
      if (!Array.isArray(v) || v.length !== tv.length || !v.every((x) => isNum(x, -1e30, 1e30))) throw bad(`scene ${k} is malformed`);
    }
  }
  const want = Object.keys(template.arrays).sort();
  const have = Object.keys(blob.arrays).sort();
  if (want.join() !== have.join()) throw bad(`the scene arrays are ${have.join(', ') || 'none'}, expected ${want.join(', ')}`);
  for (const k of want) if (template.arrays[k].constructor !== blob.arrays[k].constructor) throw bad(`scene array ${k} has the wrong type`);
  if (ckpt.loop.targets.length !== views.length)
    throw bad(`it holds ${ckpt.loop.targets.length} training images for ${views.length} views`);
  ckpt.loop.targets.forEach((t, i) => {
    if (t && (t.width !== views[i].width || t.height !== views[i].height))
      throw bad(`training image ${i} is ${t.width}×${t.height}, its view is ${views[i].width}×${views[i].height}`);
  });
  try {
    scene.loadState(blob);
  } catch (e) {
    throw bad((e as Error).message);
  }
  const after = scene.saveState();
  for (const k of want)
    if (after.arrays[k].length !== blob.arrays[k].length)
      throw bad(`scene array ${k} holds ${blob.arrays[k].length} values, the scene takes ${after.arrays[k].length}`);
}
