import { rm } from 'node:fs/promises';
import { UserError } from '../core/errors';
import { basename, dirLabel, joinPath } from '../core/paths';
import { encodeCheckpoint, type Checkpoint } from '../edit/loops/checkpoint';
import { checkResumeState } from '../edit/loops/checkpoint-check';
import { editLog } from '../edit/loops/edit-log';
import { runEdit, type EditGuide, type EditRunResult } from '../edit/loops/edit-run';
import { buildEditSpec, MESH_DEFAULTS, specSettings, type EditOptions } from '../edit/loops/edit-spec';
import { MESH_VIEW_DEFAULTS, meshEditCameras, meshLossCameras } from '../edit/loops/mesh-stylize';
import { sourceFrames } from '../edit/loops/edit-views';
import { openEdit } from '../edit/loops/open-edit';
import { now, type EditEvent } from '../edit/loops/run-loop';
import type { ImageLoss } from '../edit/loops/image-loss';
import { boxRegion, parseRegionSpec, sphereRegion, validateRegion, type Region } from '../edit/regions/regions';
import type { EditedMesh } from '../edit/scenes/mesh-editable';
import type { SceneSource } from '../edit/scenes/create-editable';
import type { EditMethod } from '../edit/loops/edit-config';
import type { Mesh } from '../nerf/mesh/mesh';
import { encodePng } from '../io/images/image-codec';
import { isDirectory, nodeFiles } from '../io/node/node-files';
import { prepareOutput } from '../io/node/output-guard';
import { nodeFieldRunner } from '../io/node/node-style-field-pool';
import { faceCount, meshBounds, vertexCount } from '../nerf/mesh/mesh';
import { fieldLayout, macsPerVertex, TEXT2MESH_FIELD } from '../nerf/mesh/style-field';
import { choiceFlag, floatFlag, instructionFlag, intFlag, parseCommand, requireFlag } from './args';
import { hashPath, loadPrior, modelHashes, type LoadedPrior } from './cmd-edit';
import { loadEditSource, saveEditedScene, type LoadedSource } from './edit-scene-io';
import { LOG, checkResumeSettings, openEditOutput } from './edit-output';
import { isModelUrl } from './model-path';
import { Progress, warn } from './progress';

const USAGE = `usage: instruct-scene stylize MESH (--instruction TEXT [--model builtin|DIR|URL] [--method idu|sds] | --prompt TEXT --clip DIR)
                              [--region R] [--iters N] [--views N] [--seed S] [--backend cpu|webgpu] [--json]
                              (--out OUT | --resume OUT)

Stylises a mesh (.obj, .ply with faces, .glb, .gltf, or a mesh scene folder from 'stylize') with Text2Mesh's
neural style field: per-vertex colours and displacements along the normals, fitted so the mesh's renders follow
the guidance.

  --instruction TEXT      guide with the instruction editor (InstructPix2Pix or the built-in model)
    --model builtin|DIR|URL  (default builtin; a URL is a model server, as for 'edit')
    --method idu|sds      iterative dataset update on a ring of views, or score distillation (default idu)
    --text-scale S        --image-scale S      guidance (default 7.5 / 1.5)
  --prompt TEXT --clip DIR  guide with Text2Mesh's CLIP loss (a Hugging Face CLIP folder: config.json,
                          model.safetensors, vocab.json, merges.txt); 5 views a step and the grey geometry term
  --region R              stylise only vertices inside box:x0,y0,z0,x1,y1,z1 or sphere:cx,cy,cz,r (mesh
                          coordinates); the other vertices keep their colour and position exactly
  --iters N               optimisation steps (default ${MESH_DEFAULTS.iters})
  --views N               training views around the mesh (default ${MESH_VIEW_DEFAULTS.views})
  --size N                render size for the editor, N×N pixels (default ${MESH_VIEW_DEFAULTS.size} with the built-in model,
                          256 with an InstructPix2Pix folder; the CLIP loss renders at its model's input size)
  --seed S                (default 0)
  --backend cpu|webgpu    where the rasteriser, the field and CLIP run (default cpu)
  --field small|paper     the style field: 'paper' is Text2Mesh's (width 256, 256 frequencies); 'small' (width 64,
                          64 frequencies) is the CPU default (default: small on cpu, paper on webgpu)
  --threads N             CPU threads for the field (default: all cores)
  --checkpoint-every N    (default 50)
  --json                  one JSON line per progress event, then a summary

Writes OUT/scene.json (kind mesh), OUT/scene.glb (the stylised mesh: displaced positions, per-vertex colours as
COLOR_0, same vertices and faces, the input's coordinates), OUT/edit-log.json and OUT/views/*.png (the edited
views). The input is never modified. OUT/edit.ckpt is kept while the run goes; if it is interrupted (Ctrl-C),
run the same command with --resume OUT instead of --out OUT to continue with the same result.`;

const FLAGS = {
  instruction: { type: 'string' },
  model: { type: 'string' },
  method: { type: 'string' },
  prompt: { type: 'string' },
  clip: { type: 'string' },
  region: { type: 'string' },
  iters: { type: 'string' },
  views: { type: 'string' },
  size: { type: 'string' },
  seed: { type: 'string' },
  backend: { type: 'string' },
  field: { type: 'string' },
  threads: { type: 'string' },
  'text-scale': { type: 'string' },
  'image-scale': { type: 'string' },
  'checkpoint-every': { type: 'string' },
  out: { type: 'string' },
  resume: { type: 'string' },
} as const;

/** --region for a mesh: a box or a sphere in the mesh's own coordinates. */
function meshRegion(text: string): Region {
  const spec = parseRegionSpec(text);
  if (spec.kind === 'box') return boxRegion(spec.min, spec.max, text);
  if (spec.kind === 'sphere') return sphereRegion(spec.center, spec.radius, text);
  throw new UserError(`--region '${text}': mesh stylisation takes box: or sphere: regions (a visual hull needs a dataset's masks)`);
}

type Flag = string | boolean | undefined;
type MeshSource = Extract<SceneSource, { kind: 'mesh' }>;

export async function run(args: string[]): Promise<number> {
  const p = parseCommand(args, USAGE, FLAGS as never, { positionals: [1, 1] });
  if (!p) return 0;
  const v = p.values as Record<string, Flag>;
  const json = !!v.json;
  const input = p.positionals[0];
  if (v.out && v.resume) throw new UserError('give either --out OUT (a new stylisation) or --resume OUT (continue one), not both');
  const resuming = typeof v.resume === 'string';
  const out = resuming ? (v.resume as string) : requireFlag(v.out, 'out');
  const byInstruction = v.instruction !== undefined,
    byPrompt = v.prompt !== undefined;
  if (byInstruction === byPrompt)
    throw new UserError('give exactly one of --instruction TEXT (the instruction editor) or --prompt TEXT --clip DIR (CLIP)');
  if (byPrompt && v.clip === undefined) throw new UserError('--prompt needs --clip DIR (a CLIP model folder)');
  if (byInstruction && v.clip !== undefined) throw new UserError('--clip goes with --prompt, not --instruction');
  if (byPrompt && (v.model !== undefined || v.method !== undefined))
    throw new UserError('--model and --method go with --instruction (the instruction editor)');
  let text: string;
  if (byInstruction) text = instructionFlag(v.instruction);
  else {
    text = requireFlag(v.prompt, 'prompt');
    if (!text.trim()) throw new UserError('--prompt is empty');
  }
  const method = byPrompt ? 'image-loss' : choiceFlag(v.method, 'method', ['idu', 'sds'] as const, 'idu');
  const model = typeof v.model === 'string' ? v.model : 'builtin';
  const clipDir = byPrompt ? requireFlag(v.clip, 'clip') : undefined;
  const nViews = intFlag(v.views, 'views', MESH_VIEW_DEFAULTS.views, 1);
  if (nViews > 256) throw new UserError('--views must be at most 256');
  const sizeGiven = v.size === undefined ? undefined : intFlag(v.size, 'size', 0, 16);
  if (sizeGiven !== undefined && sizeGiven > 1024) throw new UserError('--size must be at most 1024');
  if (byPrompt && sizeGiven !== undefined)
    throw new UserError("--size goes with --instruction (the CLIP loss renders at its model's input size)");
  const backend = choiceFlag(v.backend, 'backend', ['cpu', 'webgpu'] as const, 'cpu');
  const threads = v.threads === undefined ? undefined : intFlag(v.threads, 'threads', 1, 1);
  const options: EditOptions = {
    instruction: text,
    method,
    seed: intFlag(v.seed, 'seed', 0, 0),
    iters: v.iters === undefined ? undefined : intFlag(v.iters, 'iters', 0, 1),
    textScale: v['text-scale'] === undefined ? undefined : floatFlag(v['text-scale'], 'text-scale', 0, 0, 100),
    imageScale: v['image-scale'] === undefined ? undefined : floatFlag(v['image-scale'], 'image-scale', 0, 0, 100),
    checkpointEvery: v['checkpoint-every'] === undefined ? undefined : intFlag(v['checkpoint-every'], 'checkpoint-every', 0, 1),
    backend,
    field: v.field === undefined ? undefined : choiceFlag(v.field, 'field', ['small', 'paper'] as const, 'small'),
  };
  const region = typeof v.region === 'string' ? meshRegion(v.region) : undefined;

  // --- everything is checked before work starts ---
  const modelInput = byInstruction && model !== 'builtin' && !isModelUrl(model) ? model : clipDir;
  await prepareOutput({ out, kind: 'dir', inputs: [input, modelInput], flag: resuming ? '--resume' : '--out' });
  const opened = await openEditOutput({ out, input, resuming, json, what: 'stylisation' });
  if (opened === 'done') return 0;
  const { ckptPath, resume } = opened;

  const parent = await loadEditSource(input, MESH_VIEW_DEFAULTS.background);
  if (parent.source.kind !== 'mesh')
    throw new UserError(
      `is a ${parent.source.kind} scene; stylize takes meshes (edit a ${parent.source.kind} scene with 'instruct-scene edit')`,
      input,
    );
  const mesh = parent.source.mesh;
  if (region) {
    const bounds = meshBounds(mesh);
    validateRegion(region, bounds);
    const p3 = mesh.positions;
    let inside = 0;
    for (let i = 0; i < p3.length; i += 3) if (region.inside(p3[i], p3[i + 1], p3[i + 2])) inside++;
    if (!inside)
      throw new UserError(`--region '${region.text}' contains no vertex of the mesh (its vertices span ${JSON.stringify(bounds)})`);
  }
  if (clipDir !== undefined && !(await isDirectory(clipDir))) throw new UserError('no such CLIP model folder', clipDir);
  if (clipDir !== undefined && !(await nodeFiles.exists(joinPath(clipDir, 'config.json'))))
    throw new UserError(
      'not a CLIP model folder (no config.json; expected the Hugging Face layout of openai/clip-vit-base-patch32)',
      clipDir,
    );
  let loaded: LoadedPrior | null = null;
  let loss: ImageLoss | null = null;
  if (byInstruction) {
    loaded = await loadPrior(model);
    try {
      loaded.check(text);
    } catch (e) {
      await loaded.dispose();
      throw e;
    }
  } else {
    const { loadText2MeshLoss } = await import('../edit/clip/text2mesh-loss');
    if (backend === 'webgpu') (await import('../io/node/node-webgpu')).installNodeWebGpu();
    loss = await loadText2MeshLoss(clipDir!, nodeFiles, text, { backend });
  }
  try {
    return await stylize({
      input,
      out,
      json,
      text,
      method,
      threads,
      options,
      region,
      mesh,
      parent,
      resume,
      ckptPath,
      loaded,
      loss,
      nViews,
      sizeGiven,
      model,
      clipDir,
    });
  } finally {
    loss?.dispose?.();
    await loaded?.dispose();
  }
}

/** A checked stylisation, ready to run. */
interface Job {
  input: string;
  out: string;
  json: boolean;
  text: string;
  method: EditMethod;
  threads: number | undefined;
  options: EditOptions;
  region: Region | undefined;
  mesh: Mesh;
  parent: LoadedSource;
  resume: Checkpoint | null;
  ckptPath: string;
  loaded: LoadedPrior | null;
  loss: ImageLoss | null;
  nViews: number;
  sizeGiven: number | undefined;
  model: string;
  clipDir: string | undefined;
}

async function stylize(j: Job): Promise<number> {
  const { input, out, json, text, method, options, region, mesh, parent, resume, ckptPath, loaded, loss } = j;
  const backend = options.backend ?? 'cpu';
  const size = loss ? loss.imageSize : (j.sizeGiven ?? (j.model === 'builtin' ? MESH_VIEW_DEFAULTS.size : 256));
  const cams = meshEditCameras(mesh, method, j.nViews, size, options.seed ?? 0);
  const spec = buildEditSpec(options, { kind: 'mesh', cameras: cams, region });
  const cfg = spec.config;
  const modelId = loaded ? loaded.id : loss!.id;
  const parentHash = await hashPath(input);
  const settings = {
    scene: input,
    parentHash,
    views: cams.map((_, i) => `view_${String(i).padStart(3, '0')}.png`),
    size,
    model: modelId,
    region: region?.text ?? null,
    spec: specSettings(spec),
  };
  if (resume) {
    const a = resume.settings as typeof settings;
    checkResumeSettings(
      a,
      settings,
      ['parentHash', 'model', 'region', 'size'],
      ckptPath,
      'the checkpoint was not made by stylize; start again with --out',
      a.spec && a.views.length !== settings.views.length ? `views (${a.views.length}, now ${settings.views.length})` : null,
    );
  }

  // --- work ---
  const progress = Progress.for(json);
  const emit = (ev: EditEvent) => {
    const loss = ev.loss !== undefined ? `loss ${ev.loss.toExponential(2)}` : '';
    const label =
      ev.phase === 'refit' || ev.phase === 'sds' ? (method === 'image-loss' ? loss : `views edited ${ev.viewsEdited ?? 0}  ${loss}`) : '';
    progress.update({ ...ev }, label);
  };
  const started = new Date().toISOString();
  const t0 = now();
  if (backend === 'webgpu') (await import('../io/node/node-webgpu')).installNodeWebGpu();
  const source: SceneSource = { ...(parent.source as MeshSource), fieldRunner: backend === 'cpu' ? nodeFieldRunner(j.threads) : undefined };
  const { scene, views } = await openEdit(
    source,
    spec,
    region,
    (sc) => sourceFrames(sc, cams),
    (i, n) => emit({ phase: 'prepare', step: i, total: n }),
  );
  try {
    if (resume)
      checkResumeState(
        scene,
        resume,
        views.map((x) => x.original),
        ckptPath,
      );
    await nodeFiles.mkdir(out);
    const logInfo = {
      model: loaded
        ? isModelUrl(loaded.dir)
          ? { id: modelId, server: loaded.dir }
          : { id: modelId, dir: loaded.dir, files: await modelHashes(loaded.dir) }
        : { id: modelId, clip: j.clipDir, files: await modelHashes(j.clipDir!) },
      parent: { scene: input, sha256: parentHash, vertices: vertexCount(mesh), faces: faceCount(mesh) },
      region,
      started,
    };
    const writeLog = (log: Record<string, unknown>) =>
      nodeFiles.write(
        joinPath(out, LOG),
        JSON.stringify(
          {
            ...log,
            kind: 'mesh',
            views: { count: views.length, size },
            field: { macsPerVertex: macsPerVertex(fieldLayout(spec.editable.mesh.field)), runsOn: scene.backendName },
          },
          null,
          2,
        ),
      );
    if (!resume) await writeLog(editLog(spec, { status: 'running', ...logInfo }));
    let stop = false;
    const onSig = () => {
      stop = true;
    };
    process.once('SIGINT', onSig);
    process.once('SIGTERM', onSig);
    const guide: EditGuide = loss ? { imageLoss: { loss, cameras: meshLossCameras(mesh, size) } } : { prior: loaded!.prior };
    let res: EditRunResult;
    try {
      res = await runEdit({
        cfg,
        scene,
        views,
        ...guide,
        settings,
        resume: resume ?? undefined,
        saveCheckpoint: (c) => nodeFiles.write(ckptPath, encodeCheckpoint(c)),
        onProgress: emit,
        shouldStop: () => stop,
      });
    } finally {
      process.off('SIGINT', onSig);
      process.off('SIGTERM', onSig);
      progress.done();
    }
    if (!res.complete) {
      await nodeFiles.write(ckptPath, encodeCheckpoint({ settings, loop: res.state, scene: scene.saveState() }));
      console.error(
        `interrupted at step ${res.state.step}/${cfg.iters}; continue with: instruct-scene stylize ${input} ... --resume ${out}`,
      );
      return 130;
    }
    const save = Progress.for(json);
    save.update({ phase: 'save', step: 0, total: views.length }, '');
    const edited = scene.export() as EditedMesh;
    await saveEditedScene(out, parent, edited, {
      ...(loss ? { prompt: text } : { instruction: text }),
      method,
      model: modelId,
      parent: input,
      parentSha256: parentHash,
      region: region?.text ?? null,
      seed: cfg.seed,
      field: spec.editable.mesh.field === TEXT2MESH_FIELD ? 'paper' : 'small',
      log: LOG,
    });
    // the edited views: IDU's final training set, renders of the result otherwise
    for (let i = 0; i < views.length; i++) {
      const img = method === 'idu' ? (res.state.targets[i] ?? views[i].original) : await scene.render(views[i].camera);
      await nodeFiles.write(joinPath(out, 'views', settings.views[i]), encodePng(img));
      save.update({ phase: 'save', step: i + 1, total: views.length }, '');
    }
    save.done();
    const seconds = (now() - t0) / 1000;
    const st = res.state;
    await writeLog(editLog(spec, { status: 'done', ...logInfo, result: { state: st, scene: edited, seconds, resumed: !!resume } }));
    await rm(ckptPath, { force: true });
    if (edited.mesh.positions.length !== mesh.positions.length) warn('the stylised mesh has a different vertex count (a bug)');
    if (json)
      console.log(
        JSON.stringify({
          event: 'done',
          out,
          steps: cfg.iters,
          viewsEdited: st.viewsEdited,
          vertices: vertexCount(mesh),
          seconds,
          backend: scene.backendName,
          resumed: !!resume,
        }),
      );
    else
      console.log(
        `stylised ${basename(input)} (${vertexCount(mesh)} vertices) → ${dirLabel(out)} (${cfg.iters} ${method} steps${method === 'image-loss' ? '' : `, ${st.viewsEdited} view edits`}, ${seconds.toFixed(1)} s)`,
      );
    return 0;
  } finally {
    scene.dispose();
  }
}
