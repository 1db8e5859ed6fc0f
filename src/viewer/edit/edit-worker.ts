/// <reference lib="webworker" />
import { cameraExtent, lookAtCamera, type Camera } from '../../core/camera';
import type { Image } from '../../core/image';
import { UserError } from '../../core/errors';
import {
  defaultPreserveWeight,
  EDIT_DEFAULTS,
  initialLoopState,
  prepareViews,
  type EditConfig,
  type EditEvent,
  type EditView,
  type LoopState,
} from '../../edit/loops/edit-session';
import { runEdit } from '../../edit/loops/edit-run';
import type { EditableScene } from '../../edit/scenes/editable';
import { boxRegion, defaultDilation, type Region } from '../../edit/regions/regions';
import { GaussianEditable } from '../../edit/scenes/gaussian-editable';
import { VoxelEditable } from '../../edit/scenes/voxel-editable';
import { MeshEditable } from '../../edit/scenes/mesh-editable';
import { prepareMeshEdit } from '../../edit/loops/mesh-stylize';
import { createMeshRaster } from '../../nerf/mesh/mesh-backend';
import { CPU_FIELD, TEXT2MESH_FIELD } from '../../nerf/mesh/style-field';
import { webGpuFieldRunner } from '../../nerf/mesh/style-field-webgpu';
import { ip2pPrior } from '../../edit/diffusion/ip2p-prior';
import { InstructPix2Pix } from '../../edit/diffusion/pipeline';
import { webRuntime } from '../../edit/diffusion/ort-web';
import { urlFiles } from '../../io/files/url-files';
import type { FileSource } from '../../io/files/files';
import { gaussianBounds } from '../../nerf/gaussian/gaussians';
import { VoxelScene } from '../../nerf/voxel/voxel-scene';
import { packSplats, splatTransferables } from '../three/splat-data';
import { MemoryFiles } from '../io/memory-files';
import { builtinModelFiles } from './builtin-model-files';
import type { EditReply, EditRequest, EditSettings, EditSource, LiveSettings, ModelSource, Thumb } from './edit-protocol';

/**
 * Runs an edit (the project's IDU / SDS loops with the InstructPix2Pix pipeline on onnxruntime-web) off the main
 * thread. Live settings are applied to the running loop's config between steps; pause stops the loop at a step
 * boundary and keeps its state in memory, resume continues it bit-exactly (the loops' checkpoint mechanism).
 */
const post = (msg: EditReply, transfer: Transferable[] = []) => (self as unknown as DedicatedWorkerGlobalScope).postMessage(msg, transfer);

interface Job {
  cfg: EditConfig;
  settings: EditSettings;
  source: EditSource;
  scene: EditableScene;
  views: EditView[];
  prior: Awaited<ReturnType<typeof loadPrior>>;
  state: LoopState | null;
  paused: boolean;
  cancelled: boolean;
  running: boolean;
  lastThumbs: (Image | null)[];
}
let job: Job | null = null;
/** A pause asked for while the edit was still starting (model loading, view renders). */
let pendingPause = false;
let pendingCancel = false;

async function modelFiles(m: ModelSource): Promise<{ files: FileSource; id: string }> {
  if (m.source === 'builtin') return { files: builtinModelFiles, id: 'builtin' };
  if (m.source === 'url') {
    const files = urlFiles(m.url, {
      onProgress: (p) =>
        post({
          type: 'status',
          text: `${p.fromCache ? 'cached' : 'downloading'} ${p.path}: ${(p.loaded / 1e6).toFixed(1)}${p.total ? ` / ${(p.total / 1e6).toFixed(1)}` : ''} MB`,
        }),
    });
    return { files, id: m.url };
  }
  // a picked folder: strip the folder's own name so paths are relative to the model root
  const list = m.files;
  const root = list.length && list.every((f) => f.path.includes('/')) ? list[0].path.split('/')[0] + '/' : '';
  return {
    files: new MemoryFiles(list.map((f) => [f.path.startsWith(root) ? f.path.slice(root.length) : f.path, f.data])),
    id: root.replace(/\/$/, '') || 'local model',
  };
}

/**
 * True when WebGPU here is a software rasteriser (SwiftShader, a fallback adapter) or missing: the ONNX models then
 * run faster on onnxruntime-web's wasm backend than on its WebGPU provider.
 */
async function softwareGpu(): Promise<boolean> {
  const gpu = (navigator as Navigator & { gpu?: GPU }).gpu;
  if (!gpu) return true;
  const a = await gpu.requestAdapter().catch(() => null);
  if (!a) return true;
  const info = (a as GPUAdapter & { info?: GPUAdapterInfo; isFallbackAdapter?: boolean }).info;
  return (
    !!(a as { isFallbackAdapter?: boolean }).isFallbackAdapter ||
    /swiftshader|llvmpipe|lavapipe/i.test(`${info?.vendor} ${info?.architecture} ${info?.description}`)
  );
}

async function loadPrior(m: ModelSource, wasmPaths?: string) {
  const { files, id } = await modelFiles(m);
  post({ type: 'status', text: 'loading the model…' });
  const rt = await webRuntime({ wasmOnly: await softwareGpu(), wasmPaths });
  const pipe = await InstructPix2Pix.load('.', files, rt, { onProgress: (msg) => post({ type: 'status', text: msg }) });
  return {
    prior: ip2pPrior(pipe, m.source === 'builtin' ? `builtin:${pipe.info.name}` : pipe.info.name),
    pipe,
    id,
    providers: rt.usedProviders,
  };
}

function orbitCameras(source: Exclude<EditSource, { kind: 'mesh' }>, n: number, size: number): Camera[] {
  const b = source.kind === 'gaussians' ? gaussianBounds(source.gaussians) : source.grid.box;
  const c: [number, number, number] = [0, 1, 2].map((a) => (b.min[a] + b.max[a]) / 2) as [number, number, number];
  const r = Math.max(1e-3, Math.hypot(b.max[0] - b.min[0], b.max[1] - b.min[1], b.max[2] - b.min[2]) / 2);
  const dist = (r / Math.sin((40 * Math.PI) / 360)) * 0.9;
  const cams: Camera[] = [];
  for (let i = 0; i < n; i++) {
    const az = (2 * Math.PI * i) / n,
      el = ((25 + 15 * Math.sin(3 * az)) * Math.PI) / 180;
    cams.push(
      lookAtCamera(
        [c[0] + dist * Math.cos(el) * Math.cos(az), c[1] + dist * Math.sin(el), c[2] + dist * Math.cos(el) * Math.sin(az)],
        c,
        [0, 1, 0],
        size,
        size,
        40,
      ),
    );
  }
  return cams;
}

function thumbOf(index: number, img: Image): Thumb {
  const rgba = new Uint8ClampedArray(img.width * img.height * 4);
  for (let p = 0; p < img.width * img.height; p++) {
    for (let c = 0; c < 3; c++) rgba[p * 4 + c] = Math.round(255 * img.data[p * img.channels + Math.min(c, img.channels - 1)]);
    rgba[p * 4 + 3] = 255;
  }
  return { index, width: img.width, height: img.height, rgba };
}

/** Resolves after pending messages (pause, cancel, live settings) have been handled: a macrotask, unclamped. */
const channel = new MessageChannel();
const waiting: (() => void)[] = [];
channel.port1.onmessage = () => waiting.shift()?.();
function yieldToMessages(): Promise<void> {
  return new Promise((r) => {
    waiting.push(r);
    channel.port2.postMessage(0);
  });
}

/**
 * The scene as the loop sees it, yielding to the worker's message queue about every 30 ms of work: the loops'
 * awaits on CPU scenes resolve as microtasks, so without this no pause / cancel / settings message would be read
 * until the edit ended.
 */
function responsive(scene: EditableScene): EditableScene {
  let last = performance.now();
  const maybeYield = async () => {
    if (performance.now() - last > 30) {
      await yieldToMessages();
      last = performance.now();
    }
  };
  return new Proxy(scene, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver);
      if (typeof v !== 'function') return v;
      if (prop === 'addViewLoss' || prop === 'addRayLoss' || prop === 'render') {
        return async (...args: unknown[]) => {
          await maybeYield();
          return (v as (...a: unknown[]) => unknown).apply(target, args);
        };
      }
      return (v as (...a: unknown[]) => unknown).bind(target);
    },
  });
}

function applyLive(cfg: EditConfig, s: Partial<LiveSettings>): void {
  if (s.textScale !== undefined) cfg.textScale = s.textScale;
  if (s.imageScale !== undefined) cfg.imageScale = s.imageScale;
  if (s.tMin !== undefined) {
    cfg.idu.tMin = s.tMin;
    cfg.sds.schedule = { ...cfg.sds.schedule, tMin: s.tMin };
  }
  if (s.tMax !== undefined) {
    cfg.idu.tMax = s.tMax;
    cfg.sds.schedule = { ...cfg.sds.schedule, tMax: s.tMax };
  }
  if (s.steps !== undefined) cfg.idu.steps = s.steps;
}

async function start(req: Extract<EditRequest, { type: 'start' }>): Promise<void> {
  const s = req.settings;
  if (!s.instruction.trim()) throw new UserError('the instruction is empty');
  const prior = await loadPrior(req.model, req.ortWasmPaths);
  prior.pipe.checkInstruction(s.instruction);
  const cfg: EditConfig = {
    ...EDIT_DEFAULTS,
    method: s.method,
    instruction: s.instruction,
    seed: s.seed,
    iters: s.iters,
    raysPerStep: s.raysPerStep,
    textScale: s.textScale,
    imageScale: s.imageScale,
    checkpointEvery: Number.MAX_SAFE_INTEGER,
    idu: { ...EDIT_DEFAULTS.idu, tMin: s.tMin, tMax: s.tMax, steps: s.steps, editEvery: Math.max(1, Math.floor(s.iters / (2 * s.views))) },
    sds: { ...EDIT_DEFAULTS.sds, levels: 0, schedule: { ...EDIT_DEFAULTS.sds.schedule, tMin: s.tMin, tMax: s.tMax } },
  };
  const region: Region | undefined = s.region ? boxRegion(s.region.min, s.region.max) : undefined;
  const src = req.scene;
  if (src.kind === 'mesh') return startMesh(req, prior, region);
  cfg.preserveWeight = defaultPreserveWeight(src.kind);
  const cams = orbitCameras(src, s.views, s.size);
  const scene: EditableScene =
    src.kind === 'gaussians'
      ? new GaussianEditable(src.gaussians, src.background, region, {
          extent: cameraExtent(cams).radius,
          densifyUntil: Math.floor(s.iters / 2),
          seed: s.seed,
        })
      : new VoxelEditable(
          src.grid,
          src.background,
          region,
          { pearsonWeight: s.method === 'sds' ? 200 : 0 },
          new VoxelScene(src.grid, src.background, { stepRatio: src.stepRatio, near: 0 }).marchParams(),
        );
  post({ type: 'status', text: 'rendering the training views…' });
  // the "capture" of each view is the render of the scene as it is now
  const frames = [];
  for (let i = 0; i < cams.length; i++)
    frames.push({ file: `view_${String(i).padStart(3, '0')}.png`, camera: cams[i], image: await scene.renderSource(cams[i]) });
  const views = await prepareViews(scene, frames, region, (c) => defaultDilation(c));
  if (views.every((v) => v.skipped)) throw new UserError('the region covers (almost) nothing in every view; move or enlarge the box');
  job = {
    cfg,
    settings: s,
    source: src,
    scene,
    views,
    prior,
    state: null,
    paused: pendingPause,
    cancelled: false,
    running: false,
    lastThumbs: views.map(() => null),
  };
  pendingPause = false;
  if (pendingCancel) {
    pendingCancel = false;
    job = null;
    await prior.pipe.dispose();
    post({ type: 'cancelled' });
    return;
  }
  await runJob(job);
}

/**
 * A mesh: Text2Mesh's neural style field fitted through the same loops (mesh-stylize.ts sets up the views and the
 * loop config), on WebGPU with the paper's field when the device is a real GPU, else on this thread's CPU with
 * the small field.
 */
async function startMesh(
  req: Extract<EditRequest, { type: 'start' }>,
  prior: Awaited<ReturnType<typeof loadPrior>>,
  region: Region | undefined,
): Promise<void> {
  const s = req.settings;
  const src = req.scene as Extract<EditSource, { kind: 'mesh' }>;
  const gpu = !(await softwareGpu());
  const raster = await createMeshRaster(gpu ? 'webgpu' : 'cpu');
  post({ type: 'status', text: `rendering the views (${gpu ? 'WebGPU' : 'CPU'})…` });
  const setup = await prepareMeshEdit(
    {
      mesh: src.mesh,
      guidance: {
        kind: 'instruction',
        prior: prior.prior,
        instruction: s.instruction,
        method: s.method,
        textScale: s.textScale,
        imageScale: s.imageScale,
      },
      field: gpu ? TEXT2MESH_FIELD : CPU_FIELD,
      runner: gpu ? webGpuFieldRunner : undefined,
      raster,
      region,
      iters: s.iters,
      views: s.views,
      seed: s.seed,
      size: s.size,
      background: src.background,
    },
    { idu: { tMin: s.tMin, tMax: s.tMax, steps: s.steps }, tMin: s.tMin, tMax: s.tMax },
  );
  job = {
    cfg: setup.cfg,
    settings: s,
    source: src,
    scene: setup.scene,
    views: setup.views,
    prior,
    state: null,
    paused: pendingPause,
    cancelled: false,
    running: false,
    lastThumbs: setup.views.map(() => null),
  };
  pendingPause = false;
  if (pendingCancel) {
    pendingCancel = false;
    job = null;
    setup.scene.dispose();
    await prior.pipe.dispose();
    post({ type: 'cancelled' });
    return;
  }
  await runJob(job);
}

async function runJob(j: Job): Promise<void> {
  j.running = true;
  // the loop mutates this state object in place: thumbnails read its targets, pause/resume keep it
  j.state ??= initialLoopState(j.cfg, j.views);
  const state = j.state;
  let lastPost = 0;
  const onProgress = (ev: EditEvent) => {
    // refit steps can come every few ms: post them at most ~8 times a second (edits, merges and the last step always)
    const t = performance.now();
    if (ev.phase === 'refit' && ev.step < ev.total && t - lastPost < 120) return;
    lastPost = t;
    const thumbs: Thumb[] = [];
    const targets = j.state?.targets;
    if (ev.phase === 'edit' && targets) {
      targets.forEach((t, i) => {
        if (t && t !== j.lastThumbs[i]) {
          j.lastThumbs[i] = t;
          thumbs.push(thumbOf(i, t));
        }
      });
    }
    post(
      { type: 'progress', ev, thumbs },
      thumbs.map((t) => t.rgba.buffer as ArrayBuffer),
    );
  };
  const res = await runEdit({
    cfg: j.cfg,
    scene: responsive(j.scene),
    prior: j.prior.prior,
    views: j.views,
    settings: {},
    resume: { settings: {}, loop: state, scene: j.scene.saveState() },
    onProgress,
    shouldStop: () => j.paused || j.cancelled,
  }).catch((e) => {
    j.running = false;
    throw e;
  });
  // runEdit's state object is the one the loop mutates; keep it for thumbnails and resume
  j.state = res.state;
  j.running = false;
  if (j.cancelled) {
    job = null;
    await j.prior.pipe.dispose();
    post({ type: 'cancelled' });
    return;
  }
  if (!res.complete) {
    post({ type: 'paused', step: res.state.step });
    return;
  }
  // SDS: thumbnails are renders of the edited scene
  const finalThumbs: Thumb[] = [];
  if (j.cfg.method === 'sds')
    for (let i = 0; i < j.views.length; i++) finalThumbs.push(thumbOf(i, await j.scene.render(j.views[i].camera)));
  if (finalThumbs.length) post({ type: 'progress', ev: { phase: 'save', step: j.cfg.iters, total: j.cfg.iters }, thumbs: finalThumbs });
  const log = {
    format: 'instruct-scene-edit-log',
    version: 1,
    status: 'done',
    instruction: j.cfg.instruction,
    method: j.cfg.method,
    model: { id: j.prior.id, providers: j.prior.providers },
    region: j.settings.region,
    seed: j.cfg.seed,
    settings: { ...j.cfg },
    views: j.views.length,
    viewsEdited: res.state.viewsEdited,
    times: { editorSeconds: res.state.editorMs / 1000, refitSeconds: res.state.refitMs / 1000 },
    finished: new Date().toISOString(),
  };
  job = null;
  await j.prior.pipe.dispose();
  if (j.scene instanceof MeshEditable) {
    const mesh = await j.scene.result();
    j.scene.dispose();
    post({ type: 'done', scene: { kind: 'mesh', name: 'edited', mesh, background: j.source.background }, log }, [
      mesh.positions.buffer as ArrayBuffer,
      mesh.colors!.buffer as ArrayBuffer,
    ]);
  } else if (j.scene instanceof GaussianEditable) {
    const g = j.scene.g;
    const splats = packSplats(g);
    post(
      { type: 'done', scene: { kind: 'gaussians', name: 'edited', splats, background: j.source.background, raw: g }, log },
      splatTransferables(splats),
    );
  } else {
    const grid = (j.scene as VoxelEditable).grid;
    const stepRatio = j.source.kind === 'voxel' ? j.source.stepRatio : 0.5;
    post({ type: 'done', scene: { kind: 'voxel', name: 'edited', grid, background: j.source.background, stepRatio }, log });
  }
}

self.onmessage = async (ev: MessageEvent<EditRequest>) => {
  const req = ev.data;
  try {
    if (req.type === 'start') {
      if (job) throw new UserError('an edit is already running');
      pendingPause = false;
      pendingCancel = false;
      await start(req);
    } else if (req.type === 'update') {
      if (job) {
        applyLive(job.cfg, req);
        const c = job.cfg;
        post({
          type: 'applied',
          step: job.state?.step ?? 0,
          settings: { textScale: c.textScale, imageScale: c.imageScale, tMin: c.idu.tMin, tMax: c.idu.tMax, steps: c.idu.steps },
        });
      }
    } else if (req.type === 'reject') {
      if (job?.state && req.index >= 0 && req.index < job.state.targets.length) {
        job.state.targets[req.index] = null;
        job.lastThumbs[req.index] = null;
        post({ type: 'rejected', index: req.index });
      }
    } else if (req.type === 'pause') {
      if (job) job.paused = true;
      else pendingPause = true;
    } else if (req.type === 'resume') {
      if (job && !job.running) {
        job.paused = false;
        post({ type: 'resumed' });
        await runJob(job);
      }
    } else if (req.type === 'cancel') {
      if (job) {
        job.cancelled = true;
        if (!job.running) {
          const j = job;
          job = null;
          await j.prior.pipe.dispose();
          post({ type: 'cancelled' });
        }
      } else pendingCancel = true;
    }
  } catch (e) {
    job = null;
    post({ type: 'error', message: (e as Error).message });
  }
};
