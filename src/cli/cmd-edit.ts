import { createHash } from 'node:crypto';
import { readdir, rm } from 'node:fs/promises';
import { UserError } from '../core/errors';
import { basename, joinPath } from '../core/paths';
import { framesOf, loadDataset, loadViews } from '../io/datasets/dataset';
import { encodePng } from '../io/images/image-codec';
import { nodeFiles, isDirectory } from '../io/node/node-files';
import { decodeCheckpoint, encodeCheckpoint } from '../edit/loops/checkpoint';
import {
  autoEditCount,
  defaultPreserveWeight,
  EDIT_DEFAULTS,
  now,
  prepareViews,
  type EditConfig,
  type EditEvent,
} from '../edit/loops/edit-session';
import { runEdit } from '../edit/loops/edit-run';
import { GaussianEditable } from '../edit/scenes/gaussian-editable';
import type { DiffusionPrior } from '../edit/diffusion/prior';
import { loadRegion } from '../edit/regions/region-load';
import type { Region } from '../edit/regions/regions';
import { almostEmpty, defaultDilation, regionMask } from '../edit/regions/regions';
import { choiceFlag, floatFlag, intFlag, parseCommand, requireFlag } from './args';
import { Progress, warn } from './progress';
import { loadEditableScene, saveEditedScene } from './edit-scene-io';
import { resolveModelDir } from './model-path';
import { cameraExtent } from '../core/camera';

const USAGE = `usage: instruct-scene edit SCENE --dataset DATASET --instruction TEXT (--out OUT | --resume OUT) [options]

Edits a fitted scene (a voxel or Gaussian scene folder from 'fit', or a .voxel / .ply / .splat file) so its
renders follow the instruction.

  --model builtin|DIR     InstructPix2Pix ONNX folder, or the built-in model (default builtin)
  --method idu|sds        iterative dataset update (Instruct-NeRF2NeRF) or score distillation
                          (Instruct 3D-to-3D / Vox-E)   (default idu)
  --region R              edit only inside box:x0,y0,z0,x1,y1,z1 | sphere:cx,cy,cz,r | hull:MASK_DIR
  --seed S                (default 0)          --iters N   refit / distillation steps (default idu 300, sds 300)
  --downscale K           --max-images N       dataset options as for 'fit'
  --rays N                rays per step (default 2048)
  --backend cpu|webgpu    where renders and gradients run (default cpu; the diffusion model runs on ONNX Runtime)
  --text-scale S          --image-scale S      guidance (default 7.5 / 1.5)
  IDU: --edit-every N (10)  --edit-count N (default: enough to edit every view twice in --iters steps)
       --t-min 0.02 --t-max 0.98  --steps 20 (DDIM)
       --idu-mode all       Instruct-GS2GS: every --edit-every steps (default iters/3) edit ALL views, then
                            refit on that fixed set (defaults then t ∈ [0.70, 0.98], text scale 12.5)
  SDS: --sds-levels L (1: start at N/2)  --sds-lambda X (1)  --pearson W (200)  --weighting sds|uniform
  --preserve W            NeRF-Insert preservation outside the region against the original:
                          W·(100·MSE(opacity) + 10·MSE(rgb)), as NeRF-Insert. Default: Gaussians 10 (region
                          Gaussians spill past the region's edge), voxels 0 (the edit is gated to the region
                          and merged back into the original, which keeps the outside)
  Gaussians: --densify-every N (100; 0 = off)  --densify-until N (default iters/2)  --densify-grad X (0.0002)
                          3DGS clone/split/prune during the edit, on the region's Gaussians only
  --lr-color X            Adam learning rate of the colour (voxels 0.1, Gaussians 0.025)
  --lr-density X          voxels: of the density (default 0.01: edits mostly recolour; raise it, e.g. 0.1, for
                          shape changes)
  --dilate PX             mask dilation in pixels (default 2% of the image side)
  --checkpoint-every N    (default 50)         --json   one JSON line per progress event

Writes OUT/ (the edited scene), OUT/edit-log.json and OUT/edited/*.png. After an interruption (even kill -9),
run the same command with --resume OUT instead of --out OUT: it continues from the last checkpoint and gives
the same result as an uninterrupted run.`;

const FLAGS = {
  dataset: { type: 'string' },
  instruction: { type: 'string' },
  model: { type: 'string' },
  method: { type: 'string' },
  region: { type: 'string' },
  seed: { type: 'string' },
  iters: { type: 'string' },
  out: { type: 'string' },
  resume: { type: 'string' },
  downscale: { type: 'string' },
  'max-images': { type: 'string' },
  rays: { type: 'string' },
  'text-scale': { type: 'string' },
  'image-scale': { type: 'string' },
  'edit-every': { type: 'string' },
  'edit-count': { type: 'string' },
  'idu-mode': { type: 'string' },
  't-min': { type: 'string' },
  't-max': { type: 'string' },
  steps: { type: 'string' },
  'sds-levels': { type: 'string' },
  'sds-lambda': { type: 'string' },
  pearson: { type: 'string' },
  weighting: { type: 'string' },
  backend: { type: 'string' },
  'densify-every': { type: 'string' },
  'densify-until': { type: 'string' },
  'densify-grad': { type: 'string' },
  preserve: { type: 'string' },
  'lr-color': { type: 'string' },
  'lr-density': { type: 'string' },
  dilate: { type: 'string' },
  'checkpoint-every': { type: 'string' },
} as const;

const CKPT = 'edit.ckpt';
const LOG = 'edit-log.json';

/** sha256 of a file, or of every file of a folder (sorted names, recursively) as name:hash lines. */
export async function hashPath(p: string): Promise<string> {
  const h = createHash('sha256');
  if (await isDirectory(p)) {
    const list = async (d: string, pre: string): Promise<string[]> => {
      const out: string[] = [];
      for (const e of (await readdir(d, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))) {
        if (e.name.endsWith('.tmp') || e.name === CKPT || e.name === LOG || e.name === 'edited') continue;
        if (e.isDirectory()) out.push(...(await list(joinPath(d, e.name), `${pre}${e.name}/`)));
        else out.push(`${pre}${e.name}`);
      }
      return out;
    };
    for (const f of await list(p, '')) h.update(`${f}:${await hashPath(joinPath(p, f))}\n`);
  } else h.update(await nodeFiles.read(p));
  return h.digest('hex');
}

export async function modelHashes(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (d: string, pre: string) => {
    for (const e of (await readdir(d, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (e.isDirectory()) await walk(joinPath(d, e.name), `${pre}${e.name}/`);
      else if (/\.(onnx|onnx_data|data|json|txt|pb)$/i.test(e.name) || e.name.includes('.onnx'))
        out[`${pre}${e.name}`] = await hashPath(joinPath(d, e.name));
    }
  };
  await walk(dir, '');
  return out;
}

export interface LoadedPrior {
  prior: DiffusionPrior;
  dir: string;
  id: string;
  /** Throws a UserError when the model cannot follow the instruction (the built-in model's vocabulary). */
  check(instruction: string): void;
  dispose(): Promise<void>;
}

/** Loads `builtin` or an ONNX folder (checked first: a failing folder is one UserError listing its problems). */
export async function loadPrior(model: string): Promise<LoadedPrior> {
  const dir = await resolveModelDir(model);
  if (!(await isDirectory(dir))) throw new UserError('the built-in model is missing from this installation (models/builtin)', dir);
  const [{ InstructPix2Pix }, { nodeRuntime }, { ip2pPrior }] = await Promise.all([
    import('../edit/diffusion/pipeline'),
    import('../io/node/node-ort'),
    import('../edit/diffusion/ip2p-prior'),
  ]);
  const pipe = await InstructPix2Pix.load(dir, nodeFiles, nodeRuntime());
  const id = model === 'builtin' ? `builtin:${pipe.info.name}` : pipe.info.name;
  return { prior: ip2pPrior(pipe, id), dir, id, dispose: () => pipe.dispose(), check: (s: string) => pipe.checkInstruction(s) };
}

function numFlag(v: string | boolean | undefined, name: string, dflt: number, lo: number, hi: number): number {
  return floatFlag(v, name, dflt, lo, hi);
}

export async function run(args: string[]): Promise<number> {
  const p = parseCommand(args, USAGE, FLAGS as never, { positionals: [1, 1] });
  if (!p) return 0;
  const v = p.values;
  const json = !!v.json;
  const scenePath = p.positionals[0];
  if (v.out && v.resume) throw new UserError('give either --out OUT (a new edit) or --resume OUT (continue one), not both');
  const out = typeof v.resume === 'string' ? v.resume : requireFlag(v.out, 'out');
  const resuming = typeof v.resume === 'string';
  const dsPath = requireFlag(v.dataset, 'dataset');
  const instruction = requireFlag(v.instruction, 'instruction');
  if (!instruction.trim()) throw new UserError('--instruction is empty');
  const method = choiceFlag(v.method, 'method', ['idu', 'sds'] as const, 'idu');
  const model = typeof v.model === 'string' ? v.model : 'builtin';
  const seed = intFlag(v.seed, 'seed', 0, 0);
  const backend = choiceFlag(v.backend, 'backend', ['cpu', 'webgpu'] as const, 'cpu');
  const cfg: EditConfig = {
    ...EDIT_DEFAULTS,
    method,
    instruction,
    seed,
    iters: intFlag(v.iters, 'iters', EDIT_DEFAULTS.iters, 1),
    raysPerStep: intFlag(v.rays, 'rays', EDIT_DEFAULTS.raysPerStep, 16),
    textScale: numFlag(v['text-scale'], 'text-scale', EDIT_DEFAULTS.textScale, 0, 100),
    imageScale: numFlag(v['image-scale'], 'image-scale', EDIT_DEFAULTS.imageScale, 0, 100),
    preserveWeight: numFlag(v.preserve, 'preserve', EDIT_DEFAULTS.preserveWeight, 0, 1e6),
    checkpointEvery: intFlag(v['checkpoint-every'], 'checkpoint-every', EDIT_DEFAULTS.checkpointEvery, 1),
    idu: {
      editEvery: intFlag(v['edit-every'], 'edit-every', EDIT_DEFAULTS.idu.editEvery, 1),
      editCount: intFlag(v['edit-count'], 'edit-count', EDIT_DEFAULTS.idu.editCount, 1),
      mode: choiceFlag(v['idu-mode'], 'idu-mode', ['one', 'all'] as const, 'one'),
      tMin: numFlag(v['t-min'], 't-min', EDIT_DEFAULTS.idu.tMin, 0.001, 1),
      tMax: numFlag(v['t-max'], 't-max', EDIT_DEFAULTS.idu.tMax, 0.001, 1),
      steps: intFlag(v.steps, 'steps', EDIT_DEFAULTS.idu.steps, 1),
    },
    sds: {
      ...EDIT_DEFAULTS.sds,
      levels: intFlag(v['sds-levels'], 'sds-levels', EDIT_DEFAULTS.sds.levels, 0),
      lambda: numFlag(v['sds-lambda'], 'sds-lambda', EDIT_DEFAULTS.sds.lambda, 0, 1e6),
      schedule: { ...EDIT_DEFAULTS.sds.schedule, weighting: choiceFlag(v.weighting, 'weighting', ['sds', 'uniform'] as const, 'sds') },
    },
  };
  if (cfg.idu.mode === 'all') {
    // Instruct-GS2GS: edit every view, then train on the fixed set; its t range and text scale
    if (v['t-min'] === undefined) cfg.idu.tMin = 0.7;
    if (v['text-scale'] === undefined) cfg.textScale = 12.5;
    if (v['edit-every'] === undefined) cfg.idu.editEvery = Math.max(1, Math.ceil(cfg.iters / 3));
  }
  if (cfg.idu.tMin > cfg.idu.tMax) throw new UserError(`--t-min (${cfg.idu.tMin}) must not exceed --t-max (${cfg.idu.tMax})`);
  if (v['t-min'] !== undefined) cfg.sds.schedule = { ...cfg.sds.schedule, tMin: cfg.idu.tMin };
  if (v['t-max'] !== undefined) cfg.sds.schedule = { ...cfg.sds.schedule, tMax: cfg.idu.tMax };
  const pearson = numFlag(v.pearson, 'pearson', 200, 0, 1e6);
  const lr: { lrColor?: number; lrDensity?: number } = {};
  if (v['lr-color'] !== undefined) lr.lrColor = numFlag(v['lr-color'], 'lr-color', 0.1, 0, 10);
  if (v['lr-density'] !== undefined) lr.lrDensity = numFlag(v['lr-density'], 'lr-density', 0.01, 0, 10);
  if (cfg.sds.levels > 4) throw new UserError('--sds-levels must be at most 4');
  const densifyEvery = intFlag(v['densify-every'], 'densify-every', 100, 0);
  const densify = {
    densify: densifyEvery > 0,
    densifyEvery: Math.max(1, densifyEvery),
    densifyUntil: intFlag(v['densify-until'], 'densify-until', Math.floor(cfg.iters / 2), 0),
    densifyGradThreshold: numFlag(v['densify-grad'], 'densify-grad', 0.0002, 0, 1e6),
  };

  // --- everything is checked before work starts ---
  const ckptPath = joinPath(out, CKPT);
  let resume = null;
  if (resuming) {
    if (!(await nodeFiles.exists(ckptPath))) {
      if (await nodeFiles.exists(joinPath(out, LOG))) {
        const log = JSON.parse(new TextDecoder().decode(await nodeFiles.read(joinPath(out, LOG))));
        if (log.status === 'done') {
          if (json) console.log(JSON.stringify({ event: 'done', out, resumed: false, note: 'already complete' }));
          else console.log(`${out}: this edit is already complete; nothing to resume`);
          return 0;
        }
      }
      throw new UserError(`no checkpoint to resume from (${CKPT} is missing; start the edit with --out)`, out);
    }
    resume = decodeCheckpoint(await nodeFiles.read(ckptPath), ckptPath);
  } else if ((await nodeFiles.exists(joinPath(out, CKPT))) || (await nodeFiles.exists(joinPath(out, 'scene.json')))) {
    throw new UserError(`already holds an edit; continue it with --resume ${out}, or choose a new --out`, out);
  }
  if (await nodeFiles.exists(joinPath(scenePath, CKPT))) throw new UserError('is an unfinished edit (resume it first)', scenePath);

  const ds = await loadDataset(dsPath, nodeFiles, {
    downscale: intFlag(v.downscale, 'downscale', 1, 1),
    maxImages: v['max-images'] === undefined ? undefined : intFlag(v['max-images'], 'max-images', 1, 1),
  });
  const frames = framesOf(ds, 'train');
  if (!frames.length) throw new UserError('the dataset has no training frames', ds.sources[0]);
  const parent = await loadEditableScene(scenePath, ds.background);
  if (v.preserve === undefined) cfg.preserveWeight = defaultPreserveWeight(parent.kind);
  const bounds = ds.sceneBox ?? parent.bounds;
  let region: Region | undefined;
  let activeViews = frames.length;
  if (typeof v.region === 'string') {
    region = await loadRegion(v.region, { dataset: ds, files: nodeFiles, listDir: (d) => readdir(d), bounds });
    const dil = (c: (typeof frames)[0]['camera']) => (v.dilate === undefined ? defaultDilation(c) : intFlag(v.dilate, 'dilate', 0, 0));
    activeViews = frames.filter((f) => !almostEmpty(regionMask(region!, f.camera, dil(f.camera)))).length;
    if (!activeViews)
      throw new UserError(
        `--region '${region.text}' covers (almost) nothing in every training view (< 0.5% of the pixels); check its coordinates against the scene box`,
      );
  }
  if (v['edit-count'] === undefined && cfg.idu.mode === 'one') cfg.idu.editCount = autoEditCount(cfg.iters, cfg.idu.editEvery, activeViews);
  const { prior, dir: modelDir, id: modelId, dispose, check } = await loadPrior(model);
  check(instruction);

  const parentHash = await hashPath(scenePath);
  const settings = {
    scene: scenePath,
    parentHash,
    dataset: dsPath,
    downscale: ds.downscale,
    views: frames.map((f) => f.file),
    model: modelId,
    region: region?.text ?? null,
    pearson,
    lr,
    dilate: v.dilate ?? null,
    cfg,
    densify: parent.kind === 'gaussians' ? densify : null,
  };
  if (resume) {
    const a = resume.settings as typeof settings;
    for (const k of ['parentHash', 'model', 'region', 'downscale', 'pearson', 'lr', 'dilate', 'densify'] as const)
      if (JSON.stringify(a[k]) !== JSON.stringify(settings[k]))
        throw new UserError(
          `the checkpoint was made with a different ${k} (${JSON.stringify(a[k])}, now ${JSON.stringify(settings[k])}); resume with the same options`,
          ckptPath,
        );
    if (JSON.stringify(a.views) !== JSON.stringify(settings.views))
      throw new UserError('the checkpoint was made with a different set of training views (--dataset / --max-images)', ckptPath);
    if (JSON.stringify(a.cfg) !== JSON.stringify(settings.cfg)) {
      const diff = Object.keys(cfg).find((k) => JSON.stringify((a.cfg as any)[k]) !== JSON.stringify((cfg as any)[k]));
      throw new UserError(
        `the checkpoint was made with a different ${diff} (${JSON.stringify((a.cfg as any)[diff!])}, now ${JSON.stringify((cfg as any)[diff!])}); resume with the same options`,
        ckptPath,
      );
    }
  }

  // --- work ---
  const progress = Progress.for(json);
  const emit = (ev: EditEvent) => {
    const label =
      ev.phase === 'refit' || ev.phase === 'sds'
        ? `views edited ${ev.viewsEdited ?? 0}${ev.loss !== undefined ? `  loss ${ev.loss.toExponential(2)}` : ''}`
        : '';
    progress.update({ ...ev }, label);
  };
  const started = new Date().toISOString();
  const t0 = now();
  const { views: loaded, missing } = await loadViews(ds, 'train', nodeFiles);
  if (missing.length) warn(`${missing.length} training images are missing (first: ${missing[0]}); editing the other ${loaded.length}`);
  if (backend === 'webgpu') (await import('../io/node/node-webgpu')).installNodeWebGpu();
  const scene = await parent.editable(
    region,
    { pearsonWeight: method === 'sds' ? pearson : 0, ...lr },
    { ...densify, extent: cameraExtent(frames.map((f) => f.camera)).radius, seed },
    backend,
  );
  const dilate = (c: (typeof frames)[0]['camera']) => (v.dilate === undefined ? defaultDilation(c) : intFlag(v.dilate, 'dilate', 0, 0));
  const views = await prepareViews(
    scene,
    loaded.map((l) => ({ file: l.frame.file, camera: l.frame.camera, image: l.image })),
    region,
    dilate,
    (i, n) => emit({ phase: 'prepare', step: i, total: n }),
  );
  const skipped = views.filter((x) => x.skipped).length;
  if (skipped && !json) warn(`${skipped} of ${views.length} views see (almost) nothing of the region and are not edited`);
  await nodeFiles.mkdir(out);
  const writeLog = async (status: string, extra: Record<string, unknown> = {}) => {
    const log = {
      format: 'instruct-scene-edit-log',
      version: 1,
      status,
      instruction,
      method,
      model: { id: modelId, dir: modelDir, files: await modelHashes(modelDir) },
      parent: { scene: scenePath, sha256: parentHash },
      dataset: { path: dsPath, downscale: ds.downscale, trainViews: views.length, skippedViews: skipped },
      region: region ? { text: region.text, ...region.describe() } : null,
      seed,
      settings: {
        ...cfg,
        pearsonWeight: method === 'sds' ? pearson : 0,
        learningRates: lr,
        dilatePx: v.dilate === undefined ? 'auto (2% of the image side)' : Number(v.dilate),
        ...(parent.kind === 'gaussians' ? { densify } : {}),
        backend,
      },
      started,
      ...extra,
    };
    await nodeFiles.write(joinPath(out, LOG), JSON.stringify(log, null, 2));
  };
  if (!resume) await writeLog('running');
  let stop = false;
  const onSig = () => {
    stop = true;
  };
  process.once('SIGINT', onSig);
  process.once('SIGTERM', onSig);
  const res = await runEdit({
    cfg,
    scene,
    prior,
    views,
    settings,
    resume: resume ?? undefined,
    saveCheckpoint: async (c) => nodeFiles.write(ckptPath, encodeCheckpoint(c)),
    onProgress: emit,
    shouldStop: () => stop,
  });
  process.off('SIGINT', onSig);
  process.off('SIGTERM', onSig);
  if (!res.complete) {
    await nodeFiles.write(ckptPath, encodeCheckpoint({ settings, loop: res.state, scene: scene.saveState() }));
    progress.done();
    console.error(
      `interrupted at step ${res.state.step}/${cfg.iters}; continue with: instruct-scene edit ${scenePath} ... --resume ${out}`,
    );
    scene.dispose?.();
    await dispose();
    return 130;
  }
  emit({ phase: 'save', step: 0, total: views.length });
  await saveEditedScene(parent, scene, out, {
    instruction,
    method,
    model: modelId,
    parent: scenePath,
    parentSha256: parentHash,
    region: region?.text ?? null,
    seed,
    log: LOG,
  });
  // the edited training images: IDU's final training set, SDS's renders of the edited scene
  for (let i = 0; i < views.length; i++) {
    const img = method === 'idu' ? (res.state.targets[i] ?? views[i].original) : await scene.render(views[i].camera);
    await nodeFiles.write(joinPath(out, 'edited', basename(views[i].file).replace(/\.[^.]*$/, '') + '.png'), encodePng(img));
    emit({ phase: 'save', step: i + 1, total: views.length });
  }
  const seconds = (now() - t0) / 1000;
  const st = res.state;
  await writeLog('done', {
    finished: new Date().toISOString(),
    steps: cfg.iters,
    viewsEdited: st.viewsEdited,
    ...(scene instanceof GaussianEditable
      ? { gaussians: { before: scene.orig.count, after: scene.count, densification: scene.densifyLog } }
      : {}),
    times: {
      sessionSeconds: seconds,
      editorSeconds: st.editorMs / 1000,
      refitSeconds: st.refitMs / 1000,
      renderSeconds: (st.renderMs ?? 0) / 1000,
      stepsPerSecond: cfg.iters / Math.max(1e-9, (st.editorMs + st.refitMs + (st.renderMs ?? 0)) / 1000),
      resumed: !!resume,
    },
  });
  await rm(ckptPath, { force: true });
  progress.done();
  scene.dispose?.();
  await dispose();
  if (json)
    console.log(
      JSON.stringify({
        event: 'done',
        out,
        steps: cfg.iters,
        viewsEdited: st.viewsEdited,
        editorSeconds: st.editorMs / 1000,
        renderSeconds: (st.renderMs ?? 0) / 1000,
        refitSeconds: st.refitMs / 1000,
      }),
    );
  else
    console.log(
      `edited scene written to ${out}/ (${cfg.iters} ${method} steps, ${st.viewsEdited} view edits; editor ${(st.editorMs / 1000).toFixed(1)} s, renders ${((st.renderMs ?? 0) / 1000).toFixed(1)} s, refit ${(st.refitMs / 1000).toFixed(1)} s)`,
    );
  return 0;
}
