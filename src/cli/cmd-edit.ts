import { createReadStream } from 'node:fs';
import { createHash } from 'node:crypto';
import { readdir, rm } from 'node:fs/promises';
import { UserError } from '../core/errors';
import { basename, joinPath } from '../core/paths';
import { framesOf, loadDataset, loadViews } from '../io/datasets/dataset';
import { encodePng } from '../io/images/image-codec';
import { nodeFiles, isDirectory } from '../io/node/node-files';
import { encodeCheckpoint } from '../edit/loops/checkpoint';
import { checkResumeState } from '../edit/loops/checkpoint-check';
import { datasetRoot, prepareOutput } from '../io/node/output-guard';
import { editLog } from '../edit/loops/edit-log';
import { runEdit } from '../edit/loops/edit-run';
import { buildEditSpec, specSettings, type EditOptions } from '../edit/loops/edit-spec';
import { openEdit } from '../edit/loops/open-edit';
import { now, type EditEvent } from '../edit/loops/run-loop';
import { sourceBounds } from '../edit/scenes/create-editable';
import type { DiffusionPrior } from '../edit/diffusion/prior';
import { loadRegion } from '../edit/regions/region-load';
import type { Region } from '../edit/regions/regions';
import { choiceFlag, floatFlag, instructionFlag, intFlag, parseCommand, requireFlag } from './args';
import { Progress, warn } from './progress';
import { isMeshInput, loadEditSource, saveEditedScene } from './edit-scene-io';
import { CKPT, LOG, checkResumeSettings, openEditOutput } from './edit-output';
import { isModelUrl, remoteOptionsFromEnv, resolveModelDir } from './model-path';
import { RemoteError } from '../edit/diffusion/remote/oip-client';
import { dirLabel } from '../core/paths';

const USAGE = `usage: instruct-scene edit SCENE --dataset DATASET --instruction TEXT (--out OUT | --resume OUT) [options]

Edits a fitted scene (a voxel or Gaussian scene folder from 'fit', a .voxel file, or a Gaussian file:
.ply, .compressed.ply, .spz, .sog, SOG meta.json, .splat) so its renders follow the instruction.

  --model builtin|DIR|URL InstructPix2Pix ONNX folder, the built-in model (default), or a model server
                          (http://HOST:PORT[/PREFIX]: 'instruct-scene serve', Triton, KServe)
  --method idu|sds        iterative dataset update (Instruct-NeRF2NeRF) or score distillation
                          (Instruct 3D-to-3D / Vox-E)   (default idu)
  --region R              edit only inside box:x0,y0,z0,x1,y1,z1 | sphere:cx,cy,cz,r | hull:MASK_DIR
  --select object|region  with a box or sphere: edit the object inside it, found by a graph cut (default), or
                          everything in it; hull regions are the object already. Masks are depth-aware: a pixel
                          is edited when the surface it shows belongs to the selection
  --seed S                (default 0)          --iters N   refit / distillation steps (default idu 300, sds 300)
  --downscale K           --max-images N       dataset options as for 'fit'
  --rays N                rays per step (default 2048)
  --backend cpu|webgpu    where renders and gradients run (default cpu; the diffusion model runs on ONNX Runtime)
  --text-scale S          --image-scale S      guidance (default 7.5 / 1.5)
  IDU: --edit-every N (10)  --edit-count N (default: enough to edit every view twice in --iters steps)
       --t-min 0.02 --t-max 0.98  --steps 20 (DDIM)
       --idu-mode all       Instruct-GS2GS: every --edit-every steps (default iters/3) edit ALL views, then
                            refit on that fixed set (defaults then t ∈ [0.70, 0.98], text scale 12.5)
  SDS: --sds-levels L (1: start at N/2)  --sds-lambda X (6)  --weighting uniform|sds (uniform; sds: w(t) = 1 − ᾱ_t)
       --pearson W (0)      Vox-E's density term (Vox-E: 200), for edits that change the shape
       --sds-steps K (1)    the target's DDIM steps over the full schedule: 1 = SDS's one-step estimate;
                            K > 1 = ⌈K·t⌉ steps from t (DreamGaussian's multi-step target)
  --preserve W            NeRF-Insert preservation outside the region against the original:
                          W·(100·MSE(opacity) + 10·MSE(rgb)), as NeRF-Insert. Default: Gaussians 10 (region
                          Gaussians spill past the region's edge), voxels 0 (the edit is gated to the region
                          and merged back into the original, which keeps the outside)
  Gaussians: --anchor W (50; 0 = off) GaussianEditor's anchor loss: the edited Gaussians keep their positions,
                          scales, rotations and opacities near the original (colours are free)
             --densify-every N (100; 0 = off)  --densify-until N (default iters/2)  --densify-grad X (0.0002)
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
  'sds-steps': { type: 'string' },
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
  select: { type: 'string' },
  anchor: { type: 'string' },
  'checkpoint-every': { type: 'string' },
} as const;

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
  } else {
    // streamed: a model's weights can be gigabytes
    for await (const chunk of createReadStream(p)) h.update(chunk as Buffer);
  }
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

/** Loads `builtin`, an ONNX folder or a model server (checked first: a failing model is one UserError listing its problems). */
export async function loadPrior(model: string): Promise<LoadedPrior> {
  const remote = isModelUrl(model);
  const dir = remote ? model : await resolveModelDir(model);
  if (!remote && !(await isDirectory(dir)))
    throw new UserError('the built-in model is missing from this installation (models/builtin)', dir);
  const [{ InstructPix2Pix }, { nodeRuntime }, { ip2pPrior }] = await Promise.all([
    import('../edit/diffusion/pipeline'),
    import('../io/node/node-ort'),
    import('../edit/diffusion/ip2p-prior'),
  ]);
  const pipe = remote
    ? await (await import('../edit/diffusion/remote/remote-pipeline')).loadRemotePipeline(model, remoteOptionsFromEnv())
    : await InstructPix2Pix.load(dir, nodeFiles, nodeRuntime());
  const name = pipe.info.builtin ? `builtin:${pipe.info.name}` : pipe.info.name;
  const id = remote ? `${name} @ ${model}` : model === 'builtin' ? `builtin:${pipe.info.name}` : pipe.info.name;
  return { prior: ip2pPrior(pipe, id), dir, id, dispose: () => pipe.dispose(), check: (s: string) => pipe.checkInstruction(s) };
}

type Flag = string | boolean | undefined;
/** A flag's value, or undefined when it is not given (the spec's default applies then). */
const intOpt = (v: Flag, name: string, min: number) => (v === undefined ? undefined : intFlag(v, name, 0, min));
const numOpt = (v: Flag, name: string, lo: number, hi: number) => (v === undefined ? undefined : floatFlag(v, name, 0, lo, hi));

/** The edit options given on the command line (flag ranges checked here; defaults and consistency in buildEditSpec). */
function editOptions(v: Record<string, Flag>, instruction: string): EditOptions {
  return {
    instruction,
    method: choiceFlag(v.method, 'method', ['idu', 'sds'] as const, 'idu'),
    seed: intFlag(v.seed, 'seed', 0, 0),
    iters: intOpt(v.iters, 'iters', 1),
    raysPerStep: intOpt(v.rays, 'rays', 16),
    textScale: numOpt(v['text-scale'], 'text-scale', 0, 100),
    imageScale: numOpt(v['image-scale'], 'image-scale', 0, 100),
    preserve: numOpt(v.preserve, 'preserve', 0, 1e6),
    checkpointEvery: intOpt(v['checkpoint-every'], 'checkpoint-every', 1),
    editEvery: intOpt(v['edit-every'], 'edit-every', 1),
    editCount: intOpt(v['edit-count'], 'edit-count', 1),
    iduMode: v['idu-mode'] === undefined ? undefined : choiceFlag(v['idu-mode'], 'idu-mode', ['one', 'all'] as const, 'one'),
    tMin: numOpt(v['t-min'], 't-min', 0.001, 1),
    tMax: numOpt(v['t-max'], 't-max', 0.001, 1),
    steps: intOpt(v.steps, 'steps', 1),
    sdsLevels: intOpt(v['sds-levels'], 'sds-levels', 0),
    sdsLambda: numOpt(v['sds-lambda'], 'sds-lambda', 0, 1e6),
    sdsSteps: intOpt(v['sds-steps'], 'sds-steps', 1),
    weighting: v.weighting === undefined ? undefined : choiceFlag(v.weighting, 'weighting', ['sds', 'uniform'] as const, 'sds'),
    pearson: numOpt(v.pearson, 'pearson', 0, 1e6),
    lrColor: numOpt(v['lr-color'], 'lr-color', 0, 10),
    lrDensity: numOpt(v['lr-density'], 'lr-density', 0, 10),
    densifyEvery: intOpt(v['densify-every'], 'densify-every', 0),
    densifyUntil: intOpt(v['densify-until'], 'densify-until', 0),
    densifyGrad: numOpt(v['densify-grad'], 'densify-grad', 0, 1e6),
    dilate: intOpt(v.dilate, 'dilate', 0),
    select: v.select === undefined ? undefined : choiceFlag(v.select, 'select', ['object', 'region'] as const, 'object'),
    anchor: numOpt(v.anchor, 'anchor', 0, 1e6),
    backend: choiceFlag(v.backend, 'backend', ['cpu', 'webgpu'] as const, 'cpu'),
  };
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
  const instruction = instructionFlag(v.instruction);
  const options = editOptions(v, instruction);
  const model = typeof v.model === 'string' ? v.model : 'builtin';

  // --- everything is checked before work starts ---
  await prepareOutput({
    out,
    kind: 'dir',
    inputs: [scenePath, datasetRoot(dsPath), model === 'builtin' || isModelUrl(model) ? undefined : model],
    flag: resuming ? '--resume' : '--out',
  });
  const opened = await openEditOutput({ out, input: scenePath, resuming, json, what: 'edit' });
  if (opened === 'done') return 0;
  const { ckptPath, resume } = opened;
  if (await isMeshInput(scenePath))
    throw new UserError("is a mesh; meshes are stylised with 'instruct-scene stylize MESH --instruction TEXT --out OUT'", scenePath);

  const ds = await loadDataset(dsPath, nodeFiles, {
    downscale: intFlag(v.downscale, 'downscale', 1, 1),
    maxImages: v['max-images'] === undefined ? undefined : intFlag(v['max-images'], 'max-images', 1, 1),
  });
  const frames = framesOf(ds, 'train');
  if (!frames.length) throw new UserError('the dataset has no training frames', ds.sources[0]);
  const parent = await loadEditSource(scenePath, ds.background);
  let region: Region | undefined;
  if (typeof v.region === 'string')
    region = await loadRegion(v.region, {
      dataset: ds,
      files: nodeFiles,
      listDir: (d) => readdir(d),
      bounds: ds.sceneBox ?? sourceBounds(parent.source),
    });
  const spec = buildEditSpec(options, { kind: parent.source.kind, cameras: frames.map((f) => f.camera), region });
  const cfg = spec.config;
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
    spec: specSettings(spec),
  };
  if (resume) {
    const a = resume.settings as typeof settings;
    if (JSON.stringify(a.views) !== JSON.stringify(settings.views))
      throw new UserError('the checkpoint was made with a different set of training views (--dataset / --max-images)', ckptPath);
    checkResumeSettings(
      a,
      settings,
      ['parentHash', 'model', 'region', 'downscale'],
      ckptPath,
      'the checkpoint was made by an older version of instruct-scene; start the edit again with --out',
    );
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
  if (spec.backend === 'webgpu') (await import('../io/node/node-webgpu')).installNodeWebGpu();
  const { scene, views, selection } = await openEdit(
    parent.source,
    spec,
    region,
    loaded.map((l) => ({ file: l.frame.file, camera: l.frame.camera, image: l.image })),
    (i, n) => emit({ phase: 'prepare', step: i, total: n }),
  );
  if (resume)
    checkResumeState(
      scene,
      resume,
      views.map((x) => x.original),
      ckptPath,
    );
  const skipped = views.filter((x) => x.skipped).length;
  if (skipped && !json) warn(`${skipped} of ${views.length} views see (almost) nothing of the region and are not edited`);
  await nodeFiles.mkdir(out);
  const logInfo = {
    model: isModelUrl(modelDir) ? { id: modelId, server: modelDir } : { id: modelId, dir: modelDir, files: await modelHashes(modelDir) },
    parent: { scene: scenePath, sha256: parentHash },
    dataset: { path: dsPath, downscale: ds.downscale, trainViews: views.length, skippedViews: skipped },
    region,
    selection,
    started,
  };
  const writeLog = (log: Record<string, unknown>) => nodeFiles.write(joinPath(out, LOG), JSON.stringify(log, null, 2));
  if (!resume) await writeLog(editLog(spec, { status: 'running', ...logInfo }));
  let stop = false;
  const onSig = () => {
    stop = true;
  };
  process.once('SIGINT', onSig);
  process.once('SIGTERM', onSig);
  let savedStep = resume ? resume.loop.step : -1;
  const res = await runEdit({
    cfg,
    scene,
    prior,
    views,
    settings,
    resume: resume ?? undefined,
    saveCheckpoint: async (c) => {
      await nodeFiles.write(ckptPath, encodeCheckpoint(c));
      savedStep = c.loop.step;
    },
    onProgress: emit,
    shouldStop: () => stop,
  }).catch(async (e) => {
    if (!(e instanceof RemoteError)) throw e;
    // the model server failed mid-edit: say where the edit can continue from
    progress.done();
    scene.dispose();
    await dispose();
    throw new UserError(
      savedStep >= 0
        ? `${e.message}; the edit stopped (last checkpoint: step ${savedStep}/${cfg.iters}); once the server is back, continue with --resume ${out}`
        : `${e.message}; the edit stopped before its first checkpoint; once the server is back, start it again with --out ${out}`,
    );
  });
  process.off('SIGINT', onSig);
  process.off('SIGTERM', onSig);
  if (!res.complete) {
    await nodeFiles.write(ckptPath, encodeCheckpoint({ settings, loop: res.state, scene: scene.saveState() }));
    progress.done();
    console.error(
      `interrupted at step ${res.state.step}/${cfg.iters}; continue with: instruct-scene edit ${scenePath} ... --resume ${out}`,
    );
    scene.dispose();
    await dispose();
    return 130;
  }
  emit({ phase: 'save', step: 0, total: views.length });
  const edited = scene.export();
  await saveEditedScene(out, parent, edited, {
    instruction,
    method: cfg.method,
    model: modelId,
    parent: scenePath,
    parentSha256: parentHash,
    region: region?.text ?? null,
    seed: cfg.seed,
    log: LOG,
  });
  // the edited training images: IDU's final training set, SDS's renders of the edited scene
  for (let i = 0; i < views.length; i++) {
    const img = cfg.method === 'idu' ? (res.state.targets[i] ?? views[i].original) : await scene.render(views[i].camera);
    await nodeFiles.write(joinPath(out, 'edited', basename(views[i].file).replace(/\.[^.]*$/, '') + '.png'), encodePng(img));
    emit({ phase: 'save', step: i + 1, total: views.length });
  }
  const seconds = (now() - t0) / 1000;
  const st = res.state;
  await writeLog(editLog(spec, { status: 'done', ...logInfo, result: { state: st, scene: edited, seconds, resumed: !!resume } }));
  await rm(ckptPath, { force: true });
  progress.done();
  scene.dispose();
  await dispose();
  if (json)
    console.log(
      JSON.stringify({
        event: 'done',
        out,
        steps: cfg.iters,
        viewsEdited: st.viewsEdited,
        editorSeconds: st.editorMs / 1000,
        renderSeconds: st.renderMs / 1000,
        refitSeconds: st.refitMs / 1000,
      }),
    );
  else
    console.log(
      `edited scene written to ${dirLabel(out)} (${cfg.iters} ${cfg.method} steps, ${st.viewsEdited} view edits; editor ${(st.editorMs / 1000).toFixed(1)} s, renders ${(st.renderMs / 1000).toFixed(1)} s, refit ${(st.refitMs / 1000).toFixed(1)} s)`,
    );
  return 0;
}
