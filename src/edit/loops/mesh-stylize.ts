import type { Camera } from '../../core/camera';
import type { Image } from '../../core/image';
import { Rng } from '../../core/rng';
import type { Mesh } from '../../nerf/mesh/mesh';
import { boundingSphere } from '../../nerf/mesh/mesh';
import type { MeshRasterBackend } from '../../nerf/mesh/mesh-backend';
import { MeshStyleModel } from '../../nerf/mesh/mesh-style-model';
import { randomViews, ringViews, type MeshViewOptions } from '../../nerf/mesh/mesh-views';
import type { StyleFieldConfig, StyleFieldRunnerFactory } from '../../nerf/mesh/style-field';
import type { DiffusionPrior } from '../diffusion/prior';
import type { Region } from '../regions/regions';
import { defaultDilation, dilateMask } from '../regions/regions';
import { UserError } from '../../core/errors';
import { MeshEditable } from '../scenes/mesh-editable';
import { runEdit } from './edit-run';
import { autoEditCount, EDIT_DEFAULTS, now, prepareViews, type EditConfig, type EditEvent, type EditView } from './edit-session';
import type { ImageLoss } from './image-loss';
import { runImageLossLoop } from './image-loss-loop';

/**
 * Mesh stylisation (docs/mesh-stylisation.md): Text2Mesh's neural style field, guided either by the instruction
 * editor (InstructPix2Pix or the built-in model, through the same IDU and SDS loops as scene edits) or by a
 * differentiable image loss (Text2Mesh's CLIP loss). Platform-neutral: the CLI and the viewer's worker both call it.
 */
export type MeshGuidance =
  | { kind: 'instruction'; prior: DiffusionPrior; instruction: string; method: 'idu' | 'sds'; textScale?: number; imageScale?: number }
  | { kind: 'image-loss'; loss: ImageLoss; viewsPerStep?: number; geometry?: boolean };

export interface StylizeOptions {
  mesh: Mesh;
  guidance: MeshGuidance;
  field: StyleFieldConfig;
  raster: MeshRasterBackend;
  runner?: StyleFieldRunnerFactory;
  region?: Region;
  /** Optimisation steps (default MESH_EDIT_DEFAULTS.iters). */
  iters?: number;
  /** Views of the IDU ring / SDS set (default 8). */
  views?: number;
  seed?: number;
  /** Square render size for the instruction editor (default 128); the image loss sets its own. */
  size?: number;
  background?: [number, number, number];
  onProgress?(ev: EditEvent): void;
  shouldStop?(): boolean;
}

export const MESH_EDIT_DEFAULTS = { iters: 200, views: 8, size: 128, background: [1, 1, 1] as [number, number, number] };

export interface StylizeResult {
  mesh: Mesh;
  /** The edited views the field was fitted to (IDU: the final training images; SDS and image losses: renders of the result). */
  views: { camera: Camera; image: Image }[];
  /** The views' renders of the input mesh. */
  sources: Image[];
  steps: number;
  complete: boolean;
  viewsEdited: number;
  times: { editorSeconds: number; refitSeconds: number; renderSeconds: number; totalSeconds: number };
  config: Record<string, unknown>;
  editable: MeshEditable;
}

/** Vertices inside the region (1) or not (0). */
export function regionGate(mesh: Mesh, region: Region): Uint8Array {
  const p = mesh.positions;
  const gate = new Uint8Array(p.length / 3);
  for (let i = 0; i < gate.length; i++) gate[i] = region.inside(p[3 * i], p[3 * i + 1], p[3 * i + 2]) ? 1 : 0;
  return gate;
}

/** Keeps only pixels on or near the object (the source render's coverage dilated): the loss then ignores the backdrop. */
function restrictToObject(v: EditView): void {
  const { width: W, height: H } = v.camera;
  const cover = { width: W, height: H, channels: 1 as const, data: Float32Array.from(v.sourceAlpha, (a) => (a > 0.01 ? 1 : 0)) };
  const near = dilateMask(cover, defaultDilation(v.camera));
  v.pixels = v.pixels.filter((p) => near.data[p] >= 0.5);
}

/** What an instruction-guided mesh edit runs on: the editable, its views (a ring, or Text2Mesh-style views for SDS), the loop config. */
export interface MeshEditSetup {
  scene: MeshEditable;
  views: EditView[];
  cfg: EditConfig;
  sources: Image[];
  config: Record<string, unknown>;
}

/**
 * Sets up an instruction-guided stylisation for the IDU / SDS loops (the CLI runs it to the end, the viewer's worker
 * drives it with pause / resume and live settings). `edit` overrides parts of the loop config (noise range, steps).
 */
export async function prepareMeshEdit(
  o: StylizeOptions & { guidance: Extract<MeshGuidance, { kind: 'instruction' }> },
  edit: { idu?: Partial<EditConfig['idu']>; tMin?: number; tMax?: number } = {},
): Promise<MeshEditSetup> {
  const seed = o.seed ?? 0;
  const iters = o.iters ?? MESH_EDIT_DEFAULTS.iters;
  const background = o.background ?? MESH_EDIT_DEFAULTS.background;
  const gate = o.region ? regionGate(o.mesh, o.region) : null;
  if (gate && !gate.some((x) => x)) throw new UserError('no vertex of the mesh lies inside the region');
  const model = await MeshStyleModel.create(o.mesh, { config: o.field, seed, gate, runner: o.runner, raster: o.raster });
  const scene = new MeshEditable(model, background);
  const { center, radius } = boundingSphere(o.mesh);
  const g = o.guidance;
  const size = o.size ?? MESH_EDIT_DEFAULTS.size;
  const rng = new Rng(seed ^ 0x7a11);
  const nViews = o.views ?? MESH_EDIT_DEFAULTS.views;
  const viewOpts: MeshViewOptions = { center, radius, size };
  const cameras = g.method === 'sds' ? randomViews(viewOpts, nViews, rng) : ringViews(viewOpts, nViews, rng);
  const sources: Image[] = [];
  for (const c of cameras) sources.push(await scene.renderSource(c));
  const frames = cameras.map((camera, k) => ({ file: `view_${String(k).padStart(3, '0')}.png`, camera, image: sources[k] }));
  const views = await prepareViews(scene, frames, o.region, defaultDilation);
  for (const v of views) restrictToObject(v);
  for (const v of views) if (!v.pixels.length) v.skipped = true;
  const active = views.filter((v) => !v.skipped).length;
  if (!active) throw new UserError('the region covers (almost) nothing of the mesh in every view');
  const cfg: EditConfig = {
    ...EDIT_DEFAULTS,
    method: g.method,
    instruction: g.instruction,
    textScale: g.textScale ?? EDIT_DEFAULTS.textScale,
    imageScale: g.imageScale ?? EDIT_DEFAULTS.imageScale,
    seed,
    iters,
    raysPerStep: size * size,
    checkpointEvery: Number.MAX_SAFE_INTEGER,
    idu: { ...EDIT_DEFAULTS.idu, editCount: autoEditCount(iters, EDIT_DEFAULTS.idu.editEvery, active), ...edit.idu },
    sds: { ...EDIT_DEFAULTS.sds, levels: 0 },
  };
  if (edit.tMin !== undefined) cfg.sds.schedule = { ...cfg.sds.schedule, tMin: edit.tMin };
  if (edit.tMax !== undefined) cfg.sds.schedule = { ...cfg.sds.schedule, tMax: edit.tMax };
  const config: Record<string, unknown> = {
    field: o.field,
    iters,
    views: nViews,
    size,
    seed,
    background,
    method: g.method,
    instruction: g.instruction,
    edit: cfg,
  };
  return { scene, views, cfg, sources, config };
}

export async function stylizeMesh(o: StylizeOptions): Promise<StylizeResult> {
  const t0 = now();
  const g = o.guidance;
  if (g.kind === 'image-loss') return stylizeWithImageLoss(o, g, t0);
  const setup = await prepareMeshEdit({ ...o, guidance: g });
  const { scene, views, cfg } = setup;
  const res = await runEdit({ cfg, scene, prior: g.prior, views, settings: {}, onProgress: o.onProgress, shouldStop: o.shouldStop });
  await scene.settled();
  const st = res.state;
  const out = [];
  for (let i = 0; i < views.length; i++)
    out.push({
      camera: views[i].camera,
      image: g.method === 'idu' ? (st.targets[i] ?? views[i].original) : await scene.render(views[i].camera),
    });
  return {
    mesh: await scene.result(),
    views: out,
    sources: setup.sources,
    steps: st.step,
    complete: res.complete,
    viewsEdited: st.viewsEdited,
    times: {
      editorSeconds: st.editorMs / 1000,
      refitSeconds: st.refitMs / 1000,
      renderSeconds: st.renderMs / 1000,
      totalSeconds: (now() - t0) / 1000,
    },
    config: setup.config,
    editable: scene,
  };
}

/** Text2Mesh's own optimisation: each step renders a few views drawn around the front view against the image loss. */
async function stylizeWithImageLoss(
  o: StylizeOptions,
  g: Extract<MeshGuidance, { kind: 'image-loss' }>,
  t0: number,
): Promise<StylizeResult> {
  const seed = o.seed ?? 0;
  const iters = o.iters ?? MESH_EDIT_DEFAULTS.iters;
  const background = o.background ?? MESH_EDIT_DEFAULTS.background;
  const gate = o.region ? regionGate(o.mesh, o.region) : null;
  if (gate && !gate.some((x) => x)) throw new UserError('no vertex of the mesh lies inside the region');
  const model = await MeshStyleModel.create(o.mesh, { config: o.field, seed, gate, runner: o.runner, raster: o.raster });
  const scene = new MeshEditable(model, background);
  const { center, radius } = boundingSphere(o.mesh);
  const size = g.loss.imageSize;
  const viewOpts: MeshViewOptions = { center, radius, size };
  const nViews = o.views ?? MESH_EDIT_DEFAULTS.views;
  const cameras = ringViews(viewOpts, nViews, new Rng(seed ^ 0x7a11));
  const sources: Image[] = [];
  for (const c of cameras) sources.push(await scene.renderSource(c));
  const viewsPerStep = g.viewsPerStep ?? 5;
  const geometry = g.geometry ?? true;
  const st = await runImageLossLoop(
    scene,
    g.loss,
    { iters, seed, viewsPerStep, geometry, cameras: (n, r) => randomViews(viewOpts, n, r) },
    undefined,
    { onProgress: o.onProgress, shouldStop: o.shouldStop },
  );
  await scene.settled();
  const views = [];
  for (const c of cameras) views.push({ camera: c, image: await scene.render(c) });
  return {
    mesh: await scene.result(),
    views,
    sources,
    steps: st.step,
    complete: st.step >= iters,
    viewsEdited: 0,
    times: { editorSeconds: st.lossMs / 1000, refitSeconds: 0, renderSeconds: st.renderMs / 1000, totalSeconds: (now() - t0) / 1000 },
    config: { field: o.field, iters, views: nViews, size, seed, background, loss: g.loss.id, viewsPerStep, geometry },
    editable: scene,
  };
}
