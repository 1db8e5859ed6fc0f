/// <reference lib="webworker" />
import { lookAtCamera, type Camera } from '../../core/camera';
import type { Image } from '../../core/image';
import { UserError } from '../../core/errors';
import type { EditConfig } from '../../edit/loops/edit-config';
import { editLog } from '../../edit/loops/edit-log';
import { runEdit } from '../../edit/loops/edit-run';
import { buildEditSpec, settingsDifference, specSettings, viewerEditOptions, type EditSpec } from '../../edit/loops/edit-spec';
import { openEdit } from '../../edit/loops/open-edit';
import { initialLoopState, type LoopState } from '../../edit/loops/loop-state';
import type { EditEvent } from '../../edit/loops/run-loop';
import { sourceFrames, type EditView } from '../../edit/loops/edit-views';
import { boxRegion, type Region } from '../../edit/regions/regions';
import type { Selection } from '../../edit/regions/selection';
import { sourceBounds, type AnyEditable, type EditedScene } from '../../edit/scenes/create-editable';
import { meshEditCameras } from '../../edit/loops/mesh-stylize';
import { ip2pPrior } from '../../edit/diffusion/ip2p-prior';
import { InstructPix2Pix } from '../../edit/diffusion/pipeline';
import { webRuntime } from '../../edit/diffusion/ort-web';
import { loadRemotePipeline } from '../../edit/diffusion/remote/remote-pipeline';
import { RemoteRuntime } from '../../edit/diffusion/remote/remote-runtime';
import { urlFiles } from '../../io/files/url-files';
import type { FileSource } from '../../io/files/files';
import { packSplats, splatTransferables } from '../three/splat-data';
import type { SceneData } from '../workers/scene-worker-protocol';
import { MemoryFiles } from '../io/memory-files';
import { builtinModelFiles } from './builtin-model-files';
import type { EditReply, EditRequest, EditSettings, EditSource, LiveSettings, ModelSource, Thumb } from './edit-protocol';
import { clearSavedEdit, readSavedEdit, saveEditCheckpoint, saveEditStart, savableModel } from './saved-edit';

/**
 * Runs an edit (the project's IDU / SDS loops with the InstructPix2Pix pipeline on onnxruntime-web) off the main
 * thread, built from the panel's settings by the same edit spec as the CLI's. Live settings are applied to the
 * running loop's config between steps; pause stops the loop at a step boundary and keeps its live state in
 * memory, resume continues it. The edit is checkpointed to the browser's storage as it runs (the CLI's
 * checkpoint code), so `restore` continues it after the tab was closed or reloaded, with the same result.
 */
const post = (msg: EditReply, transfer: Transferable[] = []) => (self as unknown as DedicatedWorkerGlobalScope).postMessage(msg, transfer);

interface Job {
  spec: EditSpec;
  cfg: EditConfig;
  settings: EditSettings;
  source: EditSource;
  region: Region | undefined;
  /** What the edit may change (the object in the region box, by default). */
  selection: Selection | undefined;
  scene: AnyEditable;
  views: EditView[];
  prior: Awaited<ReturnType<typeof loadPrior>>;
  /** The loop's live state (mutated by the loop; thumbnails and rejections read it). */
  state: LoopState;
  /** Checkpoints go to the browser's storage (the model can be loaded again after a reload). */
  kept: boolean;
  /** Continued from the browser's storage after a reload. */
  resumed: boolean;
  paused: boolean;
  cancelled: boolean;
  running: boolean;
  lastThumbs: (Image | null)[];
}
let job: Job | null = null;
/** A pause asked for while the edit was still starting (model loading, view renders). */
let pendingPause = false;
let pendingCancel = false;

async function modelFiles(m: Exclude<ModelSource, { source: 'server' }>): Promise<{ files: FileSource; id: string }> {
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

/**
 * Cancels the model server calls of the edit being loaded or run (a server model's calls can take long; a local
 * model's run cannot be interrupted). Set while a server model is in use.
 */
let cancelRemote: ((reason: Error) => void) | null = null;
self.addEventListener('message', (ev: MessageEvent<EditRequest>) => {
  if (ev.data?.type === 'cancel') cancelRemote?.(new Error('edit cancelled'));
});

async function loadServerPrior(m: Extract<ModelSource, { source: 'server' }>) {
  const rt = new RemoteRuntime(m.url);
  const loading = new AbortController();
  cancelRemote = (reason) => {
    loading.abort(reason);
    rt.abortAll(reason);
  };
  post({ type: 'status', text: `connecting to ${rt.server.base}…` });
  const pipe = await loadRemotePipeline(rt, { signal: loading.signal, onProgress: (msg) => post({ type: 'status', text: msg }) });
  const name = pipe.info.builtin ? `builtin:${pipe.info.name}` : pipe.info.name;
  return { prior: ip2pPrior(pipe, `${name} @ ${m.url}`), pipe, id: m.url, providers: [`server ${rt.server.base}`] };
}

async function loadPrior(m: ModelSource, wasmPaths?: string) {
  cancelRemote = null;
  if (m.source === 'server') return loadServerPrior(m);
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

function orbitCameras(source: EditSource, n: number, size: number): Camera[] {
  const b = sourceBounds(source);
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

/** Yields to the worker's message queue when the loop has run for more than ~30 ms since the last time. */
function throttledYield(): () => Promise<void> {
  let last = performance.now();
  return async () => {
    if (performance.now() - last > 30) {
      await yieldToMessages();
      last = performance.now();
    }
  };
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

/**
 * The edit's spec, editable scene and views for panel settings (the training views: renders of the scene on an
 * orbit; a mesh's are placed around it as `stylize` places them). A mesh's style field runs on WebGPU (the
 * paper's field) when the adapter is a hardware GPU, else on this thread's CPU (the small field).
 */
async function prepare(s: EditSettings, src: EditSource) {
  const region: Region | undefined = s.region ? boxRegion(s.region.min, s.region.max) : undefined;
  const mesh = src.kind === 'mesh';
  const cams = mesh ? meshEditCameras(src.mesh, s.method, s.views, s.size, s.seed) : orbitCameras(src, s.views, s.size);
  const panel = {
    instruction: s.instruction,
    method: s.method,
    iters: s.iters,
    views: s.views,
    seed: s.seed,
    raysPerStep: s.raysPerStep,
    textScale: s.textScale,
    imageScale: s.imageScale,
    tMin: s.tMin,
    tMax: s.tMax,
    steps: s.steps,
  };
  const options = viewerEditOptions(panel);
  if (mesh) {
    options.backend = (await softwareGpu()) ? 'cpu' : 'webgpu';
    // a mesh's views are few and small: every pixel of a view each step (the edit spec's mesh default)
    delete options.raysPerStep;
  }
  const spec = buildEditSpec(options, { kind: src.kind, cameras: cams, region });
  post({ type: 'status', text: `rendering the training views${mesh ? ` (${spec.backend === 'webgpu' ? 'WebGPU' : 'CPU'})` : ''}…` });
  // the "capture" of each view is the render of the scene as it is now
  const { scene, views, selection } = await openEdit(src, spec, region, (sc) => sourceFrames(sc, cams));
  return { spec, region, selection, scene, views };
}

function newJob(
  s: EditSettings,
  src: EditSource,
  prior: Job['prior'],
  p: Awaited<ReturnType<typeof prepare>>,
  state: LoopState,
  kept: boolean,
  resumed = false,
): Job {
  return {
    ...p,
    cfg: p.spec.config,
    settings: s,
    source: src,
    prior,
    state,
    kept,
    resumed,
    paused: pendingPause,
    cancelled: false,
    running: false,
    lastThumbs: p.views.map(() => null),
  };
}

/** Runs a job unless a cancel came while it was being prepared. */
async function launch(j: Job): Promise<void> {
  job = j;
  pendingPause = false;
  if (pendingCancel) {
    pendingCancel = false;
    job = null;
    j.scene.dispose();
    await j.prior.pipe.dispose();
    if (j.kept) await clearSavedEdit();
    post({ type: 'cancelled' });
    return;
  }
  await runJob(j);
}

async function start(req: Extract<EditRequest, { type: 'start' }>): Promise<void> {
  const s = req.settings;
  if (!s.instruction.trim()) throw new UserError('the instruction is empty');
  const prior = await loadPrior(req.model, req.ortWasmPaths);
  prior.pipe.checkInstruction(s.instruction);
  const src = req.scene;
  const p = await prepare(s, src);
  const kept =
    savableModel(req.model) &&
    (await saveEditStart({ settings: s, model: req.model, ortWasmPaths: req.ortWasmPaths, startedAt: new Date().toISOString() }, src).catch(
      () => false,
    ));
  if (!kept) await clearSavedEdit().catch(() => {});
  await launch(newJob(s, src, prior, p, initialLoopState(p.spec.config, p.views), kept));
}

/** Continues the edit kept in the browser's storage. */
async function restore(req: Extract<EditRequest, { type: 'restore' }>): Promise<void> {
  const saved = await readSavedEdit();
  if (!saved) throw new UserError('there is no interrupted edit to resume');
  const { job: kept, source: src, checkpoint } = saved;
  const s = kept.settings;
  const prior = await loadPrior(kept.model, req.ortWasmPaths ?? kept.ortWasmPaths);
  const p = await prepare(s, src);
  let state = initialLoopState(p.spec.config, p.views);
  if (checkpoint) {
    const savedSpec = (checkpoint.settings.spec ?? {}) as ReturnType<typeof specSettings>;
    // live settings (guidance, noise range, steps) continue as they were at the checkpoint
    Object.assign(p.spec.config, savedSpec.config);
    const diff = settingsDifference(savedSpec, specSettings(p.spec));
    if (diff) throw new UserError(`the interrupted edit cannot be resumed: its ${diff} differs`);
    p.scene.loadState(checkpoint.scene);
    if (checkpoint.loop.targets.length !== p.views.length) throw new UserError('the interrupted edit cannot be resumed: its views differ');
    state = checkpoint.loop;
  }
  const c = p.spec.config;
  post({
    type: 'restored',
    scene: sceneData(src, 'interrupted edit'),
    settings: { ...s, textScale: c.textScale, imageScale: c.imageScale, tMin: c.idu.tMin, tMax: c.idu.tMax, steps: c.idu.steps },
    step: state.step,
  });
  await launch(newJob(s, src, prior, p, state, true, true));
}

/** A scene as the viewer shows it. */
function sceneData(x: EditSource | EditedScene, name: string): SceneData {
  if (x.kind === 'gaussians')
    return { kind: 'gaussians', name, splats: packSplats(x.gaussians), background: x.background, raw: x.gaussians };
  if (x.kind === 'mesh') return { kind: 'mesh', name, mesh: x.mesh, background: x.background };
  const stepRatio = 'render' in x ? x.render?.stepRatio : undefined;
  return { kind: 'voxel', name, grid: x.grid, background: x.background, stepRatio };
}

async function runJob(j: Job): Promise<void> {
  j.running = true;
  let lastPost = 0;
  const onProgress = (ev: EditEvent) => {
    // refit steps can come every few ms: post them at most ~8 times a second (edits, merges and the last step always)
    const t = performance.now();
    if (ev.phase === 'refit' && ev.step < ev.total && t - lastPost < 120) return;
    lastPost = t;
    const thumbs: Thumb[] = [];
    if (ev.phase === 'edit') {
      j.state.targets.forEach((t, i) => {
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
  // checkpoints record the live settings in use at that step; they are written at most every 2 s (and at most a
  // tenth of the time: large scenes take a while to write), and always on pause
  let nextKeep = 0;
  const keep = async (loop: LoopState, always = false) => {
    const t0 = performance.now();
    if (!always && t0 < nextKeep) return;
    await saveEditCheckpoint({ settings: { spec: specSettings(j.spec) }, loop, scene: j.scene.saveState() }).catch(() => {});
    const t1 = performance.now();
    nextKeep = t1 + Math.max(2000, 10 * (t1 - t0));
  };
  const res = await runEdit({
    cfg: j.cfg,
    scene: j.scene,
    prior: j.prior.prior,
    views: j.views,
    state: j.state,
    saveCheckpoint: j.kept ? (c) => keep(c.loop) : undefined,
    onProgress,
    shouldStop: () => j.paused || j.cancelled,
    yield: throttledYield(),
  }).catch((e) => {
    j.running = false;
    throw e;
  });
  j.running = false;
  if (j.cancelled) {
    job = null;
    j.scene.dispose();
    await j.prior.pipe.dispose();
    if (j.kept) await clearSavedEdit();
    post({ type: 'cancelled' });
    return;
  }
  if (!res.complete) {
    if (j.kept) await keep(j.state, true);
    post({ type: 'paused', step: res.state.step });
    return;
  }
  // SDS: thumbnails are renders of the edited scene
  const finalThumbs: Thumb[] = [];
  if (j.cfg.method === 'sds')
    for (let i = 0; i < j.views.length; i++) finalThumbs.push(thumbOf(i, await j.scene.render(j.views[i].camera)));
  if (finalThumbs.length) post({ type: 'progress', ev: { phase: 'save', step: j.cfg.iters, total: j.cfg.iters }, thumbs: finalThumbs });
  const edited = j.scene.export();
  const log = editLog(j.spec, {
    status: 'done',
    model: { id: j.prior.id, providers: j.prior.providers },
    region: j.region,
    selection: j.selection,
    result: { state: j.state, scene: edited, resumed: j.resumed },
  });
  job = null;
  await j.prior.pipe.dispose();
  if (j.kept) await clearSavedEdit();
  const scene = sceneData(edited, 'edited');
  j.scene.dispose();
  post({ type: 'done', scene, log }, scene.kind === 'gaussians' ? splatTransferables(scene.splats) : []);
}

self.onmessage = async (ev: MessageEvent<EditRequest>) => {
  const req = ev.data;
  try {
    if (req.type === 'start') {
      if (job) throw new UserError('an edit is already running');
      pendingPause = false;
      pendingCancel = false;
      await start(req);
    } else if (req.type === 'restore') {
      if (job) throw new UserError('an edit is already running');
      pendingPause = false;
      pendingCancel = false;
      await restore(req);
    } else if (req.type === 'update') {
      if (job) {
        applyLive(job.cfg, req);
        const c = job.cfg;
        post({
          type: 'applied',
          step: job.state.step,
          settings: { textScale: c.textScale, imageScale: c.imageScale, tMin: c.idu.tMin, tMax: c.idu.tMax, steps: c.idu.steps },
        });
      }
    } else if (req.type === 'reject') {
      if (job && req.index >= 0 && req.index < job.state.targets.length) {
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
          j.scene.dispose();
          await j.prior.pipe.dispose();
          if (j.kept) await clearSavedEdit();
          post({ type: 'cancelled' });
        }
      } else pendingCancel = true;
    }
  } catch (e) {
    const kept = job?.kept;
    job = null;
    // an edit that failed is not offered again after a reload
    if (kept || req.type === 'restore') await clearSavedEdit().catch(() => {});
    post({ type: 'error', message: (e as Error).message });
  }
};
