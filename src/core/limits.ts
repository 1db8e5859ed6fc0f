import { UserError } from './errors';

/**
 * Limits on what a reader accepts, so that a lying header or a hostile file can never make us allocate
 * without bound. Every reader checks sizes and counts against the file's length first, and against these
 * limits second. The values and how to raise them are listed in docs/limits.md; in Node each can be
 * overridden with an environment variable (`INSTRUCT_SCENE_MAX_…`, read by src/io/node/node-limits.ts).
 */
export interface Limits {
  /** Largest file any reader reads whole (bytes). */
  fileBytes: number;
  /** Largest JSON file (transforms.json, scene.json, configs; bytes). */
  jsonBytes: number;
  /** Largest decoded image (width × height). */
  imagePixels: number;
  /** Most Gaussians / points / PLY vertices in one file. */
  elements: number;
  /** Most voxel-grid vertices. */
  voxelVertices: number;
  /** Largest single tensor or array in a checkpoint or weight file (bytes). */
  tensorBytes: number;
}

export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  fileBytes: 4 * 1024 ** 3,
  jsonBytes: 256 * 1024 ** 2,
  imagePixels: 8192 * 8192,
  elements: 32 * 1024 ** 2,
  voxelVertices: 128 * 1024 ** 2,
  tensorBytes: 4 * 1024 ** 3,
});

/** The limits in force (defaults unless overridden). */
export const limits: Limits = { ...DEFAULT_LIMITS };

/** The environment variable that overrides each limit (Node). */
export const LIMIT_ENV: Record<keyof Limits, string> = {
  fileBytes: 'INSTRUCT_SCENE_MAX_FILE_BYTES',
  jsonBytes: 'INSTRUCT_SCENE_MAX_JSON_BYTES',
  imagePixels: 'INSTRUCT_SCENE_MAX_IMAGE_PIXELS',
  elements: 'INSTRUCT_SCENE_MAX_ELEMENTS',
  voxelVertices: 'INSTRUCT_SCENE_MAX_VOXEL_VERTICES',
  tensorBytes: 'INSTRUCT_SCENE_MAX_TENSOR_BYTES',
};

/** Overrides some limits (positive integers). */
export function setLimits(partial: Partial<Limits>): void {
  for (const [k, v] of Object.entries(partial) as [keyof Limits, number][]) {
    if (!Number.isSafeInteger(v) || v <= 0) throw new UserError(`limit ${k} must be a positive integer, got ${v}`);
    limits[k] = v;
  }
}

/** Restores the defaults (tests). */
export function resetLimits(): void {
  Object.assign(limits, DEFAULT_LIMITS);
}

/**
 * How to raise a limit where the code runs, or null where there is no knob (a browser): the Node adapter installs
 * one that names the environment variable (src/io/node/node-limits.ts).
 */
let raiseHint: ((k: keyof Limits) => string) | null = null;

/** Sets (or, with null, removes) the "raise it with …" part of over-limit messages. */
export function setLimitRaiseHint(f: ((k: keyof Limits) => string) | null): void {
  raiseHint = f;
}

/** "the limit is N; raise it with ENV=N" (Node) or "the limit is N": the tail of every over-limit message. */
export function limitHint(k: keyof Limits): string {
  const base = `the limit is ${limits[k].toLocaleString('en-US')}`;
  return raiseHint ? `${base}; ${raiseHint(k)}` : base;
}

/** Throws a UserError when `value` exceeds limit `k`. */
export function checkLimit(k: keyof Limits, value: number, what: string, file?: string): void {
  if (!(value <= limits[k])) throw new UserError(`${what} (${value.toLocaleString('en-US')}) is over the limit: ${limitHint(k)}`, file);
}
