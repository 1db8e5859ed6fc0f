import type { Camera } from '../../core/camera';
import { cameraExtent } from '../../core/camera';
import { UserError } from '../../core/errors';
import type { Region } from '../regions/regions';
import { defaultDilation } from '../regions/regions';
import { defaultSelectMode, type SelectMode } from '../regions/select-object';
import type { EditableOptions, SceneKind } from '../scenes/create-editable';
import type { EditConfig, EditMethod } from './edit-config';
import { countActiveViews } from './edit-views';
import { IMAGE_LOSS_DEFAULTS } from './image-loss-step';
import { VOXE_SCHEDULE } from './sds-target';
import { CPU_FIELD, TEXT2MESH_FIELD } from '../../nerf/mesh/style-field';

/**
 * One edit, from what a user asks for (`EditOptions`: the CLI's flags, the viewer's panel) to everything the
 * loops and the editable need (`EditSpec`), with every default in this file. The CLI (`instruct-scene edit`)
 * and the viewer's edit worker both build their edits here.
 */

/** What a user may set; everything left out takes the default below. */
export interface EditOptions {
  instruction: string;
  /**
   * 'idu' (Instruct-NeRF2NeRF / Instruct-GS2GS), 'sds' (Instruct 3D-to-3D / Vox-E), or 'image-loss' (Text2Mesh's
   * CLIP loss; meshes; `instruction` is then the prompt). Default idu.
   */
  method?: EditMethod;
  seed?: number;
  /** Refit / distillation steps. */
  iters?: number;
  /** Samples per step (rays, or pixels of one view). */
  raysPerStep?: number;
  textScale?: number;
  imageScale?: number;
  /** Noise range of IDU's edits; given, it also bounds SDS's timesteps. */
  tMin?: number;
  tMax?: number;
  /** IDU: denoising steps per edit, steps between edit rounds, views per round, one view per round or all. */
  steps?: number;
  editEvery?: number;
  editCount?: number;
  iduMode?: 'one' | 'all';
  /** SDS: dynamic-scaling levels, λ, timestep weighting w(t). */
  sdsLevels?: number;
  /** SDS: the target's DDIM steps over the full schedule (1: the one-step x̂). */
  sdsSteps?: number;
  sdsLambda?: number;
  weighting?: 'sds' | 'uniform';
  /** Voxels, SDS: Vox-E's Pearson density weight. */
  pearson?: number;
  /** NeRF-Insert preservation weight W. */
  preserve?: number;
  lrColor?: number;
  lrDensity?: number;
  /** Gaussians: densify every N steps (0: off), until step N, above this view-space gradient. */
  densifyEvery?: number;
  densifyUntil?: number;
  densifyGrad?: number;
  checkpointEvery?: number;
  /** Region mask dilation in pixels (default: 2 % of the image side). */
  dilate?: number;
  /** What a region limits the edit to: the object in it, or all of it (default: object for boxes and spheres). */
  select?: SelectMode;
  /** Gaussians: GaussianEditor's anchor weight (positions, scales, rotations, opacities; 0: off). */
  anchor?: number;
  backend?: 'cpu' | 'webgpu';
  /** Meshes: the style field, 'small' (the CPU default) or 'paper' (Text2Mesh's; the WebGPU default). */
  field?: 'small' | 'paper';
  /** Image-loss edits: views per step, and the geometry term. */
  viewsPerStep?: number;
  geometry?: boolean;
}

/** Everything an edit runs with. */
export interface EditSpec {
  config: EditConfig;
  /** The editable's options of each scene kind. */
  editable: EditableOptions;
  /** Region mask dilation in pixels per camera. */
  dilate: (cam: Camera) => number;
  /** The dilation as given (null: the default, 2 % of the image side). */
  dilatePx: number | null;
  backend: 'cpu' | 'webgpu';
  kind: SceneKind;
  /** Training views the region covers enough of (all without a region). */
  activeViews: number;
  /** The object in the region, or the region (docs/editing.md, object selection). */
  select: SelectMode;
}

/**
 * SDS's λ with uniform w(t), chosen by measurement (bench/precise-edits.ts, "make the vase red" in the vase's box,
 * docs/editing.md): image-space targets already sit farther from the render the higher t, so DreamFusion's
 * w(t) = 1 − ᾱ_t is left to `--weighting sds`; λ sets the pull against the Gaussians' preservation and anchor
 * terms (vase vs the 2D edit: λ 1 → 24.0 dB, 4 → 25.8, 6 → 26.4; above 6 red fuzz spills past the rim).
 */
export const SDS_LAMBDA = 6;

/** The loop configuration's defaults (the CLI's; sized for a 2-core CPU). */
export const EDIT_DEFAULTS: Omit<EditConfig, 'method' | 'instruction'> = {
  textScale: 7.5,
  imageScale: 1.5,
  seed: 0,
  iters: 300,
  raysPerStep: 2048,
  preserveWeight: 0,
  preserveFraction: 0.25,
  checkpointEvery: 50,
  idu: { editEvery: 10, editCount: 1, tMin: 0.02, tMax: 0.98, steps: 20, mode: 'one' },
  sds: { schedule: { ...VOXE_SCHEDULE, weighting: 'uniform' }, lambda: SDS_LAMBDA, levels: 1, levelUntil: 0.4, steps: 1 },
};

/** Instruct-GS2GS's settings for `iduMode: 'all'` where the user gives none: t ∈ [0.70, 0.98], text scale 12.5, a round every third of the run. */
export const GS2GS_DEFAULTS = { tMin: 0.7, textScale: 12.5, roundsPerRun: 3 } as const;

/**
 * The Pearson density weight of voxel SDS edits: 0 by default, Vox-E's 200 with `--pearson 200` for edits that
 * change shape. The term only constrains density up to scale, so on colour edits it lets haze grow: on the demo's
 * vase it cost 1.8 dB near the vase and 1.1 dB against the 2D edit (bench/precise-edits.ts).
 */
export const PEARSON_DEFAULT = 0;

/**
 * GaussianEditor's anchor loss on Gaussian edits: one weight for positions, log-scales, rotations and opacity
 * logits (GaussianEditor's own configurations weigh the three geometry terms alike and leave colour free).
 */
export const ANCHOR_DEFAULT = 50;

/**
 * Mesh stylisation (Text2Mesh's neural style field; docs/mesh-stylisation.md): 200 steps (a "make it gold" edit
 * of the built-in model settles in ~100 with the CPU field); each step's loss takes every pixel of its view (a
 * rasterised view costs the same whatever the pixels kept); no dynamic scaling and no preservation term (a region
 * keeps the vertices outside it exactly). The field is the narrow CPU one on the CPU and the paper's on WebGPU.
 */
export const MESH_DEFAULTS = { iters: 200 } as const;

/** The style field of a preset name (default: the backend's). */
export function meshField(name: 'small' | 'paper' | undefined, backend: 'cpu' | 'webgpu') {
  return (name ?? (backend === 'webgpu' ? 'paper' : 'small')) === 'paper' ? TEXT2MESH_FIELD : CPU_FIELD;
}

/** 3DGS densification during Gaussian edits: every 100 steps until half the run, gradient threshold 0.0002. */
export const DENSIFY_DEFAULTS = { every: 100, untilFraction: 0.5, gradThreshold: 0.0002 } as const;

/**
 * The preservation weight W when the user gives none: NeRF-Insert's 10 for Gaussians (region Gaussians
 * spill past the region's edge: on the demo "make it red" vase edit, test-view outside PSNR 27 dB without,
 * 46 dB with, redness unchanged), 0 for voxel grids (gated to the region and merged back into the original,
 * which already keeps the outside).
 */
export function defaultPreserveWeight(kind: SceneKind): number {
  return kind === 'gaussians' ? 10 : 0;
}

/**
 * Default IDU views per round: IN2N edits one view every 10 steps over 15k steps (every view many times);
 * short CPU edits edit enough views per round that each view is edited about twice in `iters` steps.
 */
export function autoEditCount(iters: number, editEvery: number, activeViews: number): number {
  const rounds = Math.max(1, Math.ceil(iters / editEvery));
  return Math.min(activeViews, Math.max(1, Math.ceil((2 * activeViews) / rounds)));
}

/**
 * The viewer's edit settings from its panel: an orbit of `views` training views rendered from the scene,
 * each view edited about twice (a round every iters / (2·views) steps, one view per round), SDS without
 * dynamic scaling (the views are small), a checkpoint offered every 10 steps (the viewer keeps one every few
 * seconds in the browser's storage).
 */
export function viewerEditOptions(
  panel: Omit<EditOptions, 'editEvery' | 'editCount' | 'sdsLevels'> & { iters: number; views: number },
): EditOptions {
  const { views, ...rest } = panel;
  return { checkpointEvery: 10, ...rest, editEvery: Math.max(1, Math.floor(panel.iters / (2 * views))), editCount: 1, sdsLevels: 0 };
}

/**
 * Builds the full spec of an edit of a scene of `kind` from user options, the training cameras (Gaussian
 * densification's scene extent; which views the region covers) and the region. Inconsistent options and a
 * region that covers nothing are UserErrors, before any work.
 */
export function buildEditSpec(o: EditOptions, ctx: { kind: SceneKind; cameras: Camera[]; region?: Region }): EditSpec {
  if (!o.instruction.trim()) throw new UserError(o.method === 'image-loss' ? 'the prompt is empty' : 'the instruction is empty');
  const method = o.method ?? 'idu';
  const mesh = ctx.kind === 'mesh';
  if (method === 'image-loss' && !mesh) throw new UserError(`image-loss (CLIP) guidance stylises meshes, not ${ctx.kind} scenes`);
  if (mesh && o.preserve)
    throw new UserError(
      'meshes take no preservation term (a region keeps the vertices outside it exactly); leave the preservation weight out',
    );
  const d = EDIT_DEFAULTS;
  const iters = o.iters ?? (mesh ? MESH_DEFAULTS.iters : d.iters);
  const mode = o.iduMode ?? d.idu.mode;
  const gs2gs = mode === 'all';
  const config: EditConfig = {
    ...d,
    method,
    instruction: o.instruction,
    seed: o.seed ?? d.seed,
    iters,
    raysPerStep: o.raysPerStep ?? (mesh ? Math.max(1, ...ctx.cameras.map((c) => c.width * c.height)) : d.raysPerStep),
    textScale: o.textScale ?? (gs2gs ? GS2GS_DEFAULTS.textScale : d.textScale),
    imageScale: o.imageScale ?? d.imageScale,
    preserveWeight: o.preserve ?? defaultPreserveWeight(ctx.kind),
    checkpointEvery: o.checkpointEvery ?? d.checkpointEvery,
    idu: {
      editEvery: o.editEvery ?? (gs2gs ? Math.max(1, Math.ceil(iters / GS2GS_DEFAULTS.roundsPerRun)) : d.idu.editEvery),
      editCount: o.editCount ?? d.idu.editCount,
      mode,
      tMin: o.tMin ?? (gs2gs ? GS2GS_DEFAULTS.tMin : d.idu.tMin),
      tMax: o.tMax ?? d.idu.tMax,
      steps: o.steps ?? d.idu.steps,
    },
    sds: {
      ...d.sds,
      levels: o.sdsLevels ?? (mesh ? 0 : d.sds.levels),
      lambda: o.sdsLambda ?? d.sds.lambda,
      steps: o.sdsSteps ?? d.sds.steps,
      schedule: {
        ...d.sds.schedule,
        weighting: o.weighting ?? d.sds.schedule.weighting,
        ...(o.tMin !== undefined ? { tMin: o.tMin } : {}),
        ...(o.tMax !== undefined ? { tMax: o.tMax } : {}),
      },
    },
  };
  if (method === 'image-loss')
    config.imageLoss = {
      viewsPerStep: o.viewsPerStep ?? IMAGE_LOSS_DEFAULTS.viewsPerStep,
      geometry: o.geometry ?? IMAGE_LOSS_DEFAULTS.geometry,
    };
  if (config.idu.tMin > config.idu.tMax)
    throw new UserError(`the noise range is empty: t-min (${config.idu.tMin}) must not exceed t-max (${config.idu.tMax})`);
  if (config.sds.levels > 4) throw new UserError('sds-levels must be at most 4');
  const dilatePx = o.dilate ?? null;
  const dilate = (cam: Camera) => dilatePx ?? defaultDilation(cam);
  const activeViews = countActiveViews(ctx.cameras, ctx.region, dilate);
  if (!activeViews)
    throw new UserError(
      `the region '${ctx.region!.text}' covers (almost) nothing in every training view (< 0.5% of the pixels); move or enlarge it (check its coordinates against the scene box)`,
    );
  if (o.editCount === undefined && mode === 'one') config.idu.editCount = autoEditCount(iters, config.idu.editEvery, activeViews);
  const lr: { lrColor?: number; lrDensity?: number } = {};
  if (o.lrColor !== undefined) lr.lrColor = o.lrColor;
  if (o.lrDensity !== undefined) lr.lrDensity = o.lrDensity;
  const densifyEvery = o.densifyEvery ?? DENSIFY_DEFAULTS.every;
  const editable: EditableOptions = {
    voxel: { pearsonWeight: method === 'sds' ? (o.pearson ?? PEARSON_DEFAULT) : 0, ...lr },
    gaussians: {
      ...(lr.lrColor !== undefined ? { lrColor: lr.lrColor } : {}),
      densify: densifyEvery > 0,
      densifyEvery: Math.max(1, densifyEvery),
      densifyUntil: o.densifyUntil ?? Math.floor(iters * DENSIFY_DEFAULTS.untilFraction),
      densifyGradThreshold: o.densifyGrad ?? DENSIFY_DEFAULTS.gradThreshold,
      extent: cameraExtent(ctx.cameras).radius,
      seed: config.seed,
      ...anchorWeights(o.anchor ?? ANCHOR_DEFAULT),
    },
    mesh: { field: meshField(o.field, o.backend ?? 'cpu'), seed: config.seed },
  };
  const select = o.select ?? defaultSelectMode(ctx.region, ctx.kind);
  return { config, editable, dilate, dilatePx, backend: o.backend ?? 'cpu', kind: ctx.kind, activeViews, select };
}

/**
 * What a checkpoint records of a spec, and what a resume must match: the loop's configuration, the
 * editable's options and the dilation (the backend may differ: both give the same edit).
 */
export function specSettings(spec: EditSpec): Record<string, unknown> {
  return { config: spec.config, editable: spec.editable[spec.kind], dilatePx: spec.dilatePx, select: spec.select };
}

function anchorWeights(w: number) {
  return { anchorMeans: w, anchorScales: w, anchorRotations: w, anchorOpacity: w };
}

/** The first setting in which two `specSettings` differ, as "name (old, now new)", or null when they agree. */
export function settingsDifference(saved: Record<string, unknown>, now: Record<string, unknown>): string | null {
  const flat = (o: unknown, pre: string, out: Map<string, string>) => {
    if (o && typeof o === 'object' && !Array.isArray(o))
      for (const [k, v] of Object.entries(o as Record<string, unknown>)) flat(v, pre ? `${pre}.${k}` : k, out);
    else out.set(pre, JSON.stringify(o));
    return out;
  };
  const a = flat(saved, '', new Map()),
    b = flat(now, '', new Map());
  for (const k of new Set([...a.keys(), ...b.keys()]))
    if (a.get(k) !== b.get(k)) return `${k.replace(/^(config|editable)\./, '')} (${a.get(k) ?? 'unset'}, now ${b.get(k) ?? 'unset'})`;
  return null;
}
