import { resolve } from 'node:path';
import { UserError } from '../core/errors';
import { basename, joinPath } from '../core/paths';
import { MESH_EDIT_DEFAULTS, stylizeMesh, type MeshGuidance, type StylizeResult } from '../edit/loops/mesh-stylize';
import type { EditEvent } from '../edit/loops/edit-session';
import { loadImageLoss } from '../edit/loops/image-losses';
import { boxRegion, parseRegionSpec, sphereRegion, validateRegion, type Region } from '../edit/regions/regions';
import { encodePng } from '../io/images/image-codec';
import { nodeFiles, isDirectory } from '../io/node/node-files';
import { nodeFieldRunner } from '../io/node/node-style-field-pool';
import { readMeshFile, saveMeshScene } from '../io/scenes/load-mesh';
import { meshBounds, vertexCount, faceCount } from '../nerf/mesh/mesh';
import { createMeshRaster } from '../nerf/mesh/mesh-backend';
import { CPU_FIELD, TEXT2MESH_FIELD, macsPerVertex, fieldLayout } from '../nerf/mesh/style-field';
import { choiceFlag, floatFlag, intFlag, parseCommand, requireFlag } from './args';
import { hashPath, loadPrior, modelHashes } from './cmd-edit';
import { Progress, warn } from './progress';

const USAGE = `usage: instruct-scene stylize MESH (--instruction TEXT [--model builtin|DIR] [--method idu|sds] | --prompt TEXT --clip DIR)
                              [--region R] [--iters N] [--views N] [--seed S] [--backend cpu|webgpu] [--json] --out DIR

Stylises a mesh (.obj, .ply, .glb, .gltf) with Text2Mesh's neural style field: per-vertex colours and
displacements along the normals, fitted so the mesh's renders follow the guidance.

  --instruction TEXT      guide with the instruction editor (InstructPix2Pix or the built-in model)
    --model builtin|DIR   (default builtin)
    --method idu|sds      iterative dataset update on a ring of views, or score distillation (default idu)
    --text-scale S        --image-scale S      guidance (default 7.5 / 1.5)
  --prompt TEXT --clip DIR  guide with Text2Mesh's CLIP loss (a CLIP model folder)
  --region R              stylise only vertices inside box:x0,y0,z0,x1,y1,z1 or sphere:cx,cy,cz,r (mesh
                          coordinates); the other vertices keep their colour and position exactly
  --iters N               optimisation steps (default ${MESH_EDIT_DEFAULTS.iters})
  --views N               views of the ring the editor edits (default ${MESH_EDIT_DEFAULTS.views})
  --size N                render size for the editor, N×N pixels (default ${MESH_EDIT_DEFAULTS.size} with the built-in model,
                          256 with an InstructPix2Pix folder; the CLIP loss renders at its model's input size)
  --seed S                (default 0)
  --backend cpu|webgpu    where the rasteriser and the field run (default cpu)
  --field small|paper     the style field: 'paper' is Text2Mesh's (width 256, 256 frequencies); 'small' (width 64,
                          64 frequencies) is the CPU default (default: small on cpu, paper on webgpu)
  --threads N             CPU threads for the field (default: all cores)
  --json                  one JSON line per progress event, then a summary

Writes OUT/scene.json (kind mesh), OUT/scene.glb (the stylised mesh: displaced positions, per-vertex colours as
COLOR_0, same vertices and faces, the input's coordinates), OUT/edit-log.json and OUT/views/*.png (the edited
views). The input is never modified.`;

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
  out: { type: 'string' },
} as const;

const LOG = 'edit-log.json';

/** --region for a mesh: a box or a sphere in the mesh's own coordinates. */
function meshRegion(text: string): Region {
  const spec = parseRegionSpec(text);
  if (spec.kind === 'box') return boxRegion(spec.min, spec.max, text);
  if (spec.kind === 'sphere') return sphereRegion(spec.center, spec.radius, text);
  throw new UserError(`--region '${text}': mesh stylisation takes box: or sphere: regions (a visual hull needs a dataset's masks)`);
}

export async function run(args: string[]): Promise<number> {
  const p = parseCommand(args, USAGE, FLAGS as never, { positionals: [1, 1] });
  if (!p) return 0;
  const v = p.values;
  const json = !!v.json;
  const input = p.positionals[0];
  const out = requireFlag(v.out, 'out');
  const byInstruction = v.instruction !== undefined,
    byPrompt = v.prompt !== undefined;
  if (byInstruction === byPrompt)
    throw new UserError('give exactly one of --instruction TEXT (the instruction editor) or --prompt TEXT --clip DIR (CLIP)');
  if (byPrompt && v.clip === undefined) throw new UserError('--prompt needs --clip DIR (a CLIP model folder)');
  if (byInstruction && v.clip !== undefined) throw new UserError('--clip goes with --prompt, not --instruction');
  if (byPrompt && (v.model !== undefined || v.method !== undefined))
    throw new UserError('--model and --method go with --instruction (the instruction editor)');
  const text = requireFlag(byInstruction ? v.instruction : v.prompt, byInstruction ? 'instruction' : 'prompt');
  if (!text.trim()) throw new UserError(`--${byInstruction ? 'instruction' : 'prompt'} is empty`);
  const method = choiceFlag(v.method, 'method', ['idu', 'sds'] as const, 'idu');
  const model = typeof v.model === 'string' ? v.model : 'builtin';
  const iters = intFlag(v.iters, 'iters', MESH_EDIT_DEFAULTS.iters, 1);
  const nViews = intFlag(v.views, 'views', MESH_EDIT_DEFAULTS.views, 1);
  if (nViews > 256) throw new UserError('--views must be at most 256');
  const size = intFlag(v.size, 'size', byInstruction && model !== 'builtin' ? 256 : MESH_EDIT_DEFAULTS.size, 16);
  if (size > 1024) throw new UserError('--size must be at most 1024');
  const seed = intFlag(v.seed, 'seed', 0, 0);
  const backend = choiceFlag(v.backend, 'backend', ['cpu', 'webgpu'] as const, 'cpu');
  const fieldName = choiceFlag(v.field, 'field', ['small', 'paper'] as const, backend === 'webgpu' ? 'paper' : 'small');
  const field = fieldName === 'paper' ? TEXT2MESH_FIELD : CPU_FIELD;
  const threads = v.threads === undefined ? undefined : intFlag(v.threads, 'threads', 1, 1);
  const textScale = floatFlag(v['text-scale'], 'text-scale', 7.5, 0, 100);
  const imageScale = floatFlag(v['image-scale'], 'image-scale', 1.5, 0, 100);
  const region = typeof v.region === 'string' ? meshRegion(v.region) : undefined;

  // --- everything is checked before work starts ---
  if ((await nodeFiles.exists(joinPath(out, 'scene.json'))) || (await nodeFiles.exists(joinPath(out, LOG))))
    throw new UserError('already holds a scene; choose a new --out (results are never overwritten)', out);
  if (resolve(out) === resolve(input)) throw new UserError('--out must not be the input', out);
  const mesh = await readMeshFile(input, nodeFiles);
  const bounds = meshBounds(mesh);
  if (region) {
    validateRegion(region, bounds);
    const p3 = mesh.positions;
    let inside = 0;
    for (let i = 0; i < p3.length; i += 3) if (region.inside(p3[i], p3[i + 1], p3[i + 2])) inside++;
    if (!inside)
      throw new UserError(`--region '${region.text}' contains no vertex of the mesh (its vertices span ${JSON.stringify(bounds)})`);
  }
  let guidance: MeshGuidance;
  let guide: Record<string, unknown>;
  let disposePrior: (() => Promise<void>) | undefined;
  if (byInstruction) {
    const loaded = await loadPrior(model);
    loaded.check(text);
    disposePrior = loaded.dispose;
    guidance = { kind: 'instruction', prior: loaded.prior, instruction: text, method, textScale, imageScale };
    guide = {
      instruction: text,
      method,
      model: { id: loaded.id, dir: loaded.dir, files: await modelHashes(loaded.dir) },
      textScale,
      imageScale,
    };
  } else {
    const dir = requireFlag(v.clip, 'clip');
    if (!(await isDirectory(dir))) throw new UserError('no such CLIP model folder', dir);
    const loss = await loadImageLoss(dir, text, nodeFiles);
    guidance = { kind: 'image-loss', loss };
    guide = { prompt: text, method: 'image-loss', loss: { id: loss.id, dir } };
  }
  if (backend === 'webgpu') (await import('../io/node/node-webgpu')).installNodeWebGpu();
  const raster = await createMeshRaster(backend);
  const runner = backend === 'webgpu' ? (await import('../nerf/mesh/style-field-webgpu')).webGpuFieldRunner : nodeFieldRunner(threads);

  // --- work ---
  const progress = Progress.for(json);
  const emit = (ev: EditEvent) =>
    progress.update(
      { ...ev },
      ev.phase === 'refit' || ev.phase === 'sds' ? (ev.loss !== undefined ? `loss ${ev.loss.toExponential(2)}` : '') : '',
    );
  const parentHash = await hashPath(input);
  const started = new Date().toISOString();
  let stop = false;
  const onSig = () => {
    stop = true;
  };
  process.once('SIGINT', onSig);
  process.once('SIGTERM', onSig);
  let res: StylizeResult;
  try {
    res = await stylizeMesh({
      mesh,
      guidance,
      field,
      raster,
      runner,
      region,
      iters,
      views: nViews,
      seed,
      size,
      onProgress: emit,
      shouldStop: () => stop,
    });
  } finally {
    process.off('SIGINT', onSig);
    process.off('SIGTERM', onSig);
  }
  if (!res.complete) {
    progress.done();
    res.editable.dispose();
    await disposePrior?.();
    console.error(`interrupted at step ${res.steps}/${iters}; nothing written (run the command again)`);
    return 130;
  }
  emit({ phase: 'save', step: 0, total: res.views.length });
  const meta = {
    input,
    inputSha256: parentHash,
    ...guide,
    ...(guide.model ? { model: (guide.model as { id: string }).id } : {}),
    region: region?.text ?? null,
    seed,
    field: fieldName,
    log: LOG,
  };
  await saveMeshScene(out, res.mesh, [1, 1, 1], nodeFiles, { stylize: meta });
  for (let i = 0; i < res.views.length; i++) {
    await nodeFiles.write(joinPath(out, 'views', `view_${String(i).padStart(3, '0')}.png`), encodePng(res.views[i].image));
    emit({ phase: 'save', step: i + 1, total: res.views.length });
  }
  const log = {
    format: 'instruct-scene-edit-log',
    version: 1,
    status: 'done',
    kind: 'mesh',
    ...guide,
    parent: { scene: input, sha256: parentHash, vertices: vertexCount(mesh), faces: faceCount(mesh) },
    region: region ? { text: region.text, ...region.describe(), vertices: res.editable.model.base.gate?.reduce((s, g) => s + g, 0) } : null,
    seed,
    settings: {
      ...res.config,
      fieldPreset: fieldName,
      macsPerVertex: macsPerVertex(fieldLayout(field)),
      backend: res.editable.backendName,
    },
    started,
    finished: new Date().toISOString(),
    steps: res.steps,
    viewsEdited: res.viewsEdited,
    times: {
      sessionSeconds: res.times.totalSeconds,
      editorSeconds: res.times.editorSeconds,
      refitSeconds: res.times.refitSeconds,
      renderSeconds: res.times.renderSeconds,
      stepsPerSecond: res.steps / Math.max(1e-9, res.times.totalSeconds),
    },
  };
  await nodeFiles.write(joinPath(out, LOG), JSON.stringify(log, null, 2));
  progress.done();
  res.editable.dispose();
  await disposePrior?.();
  if (res.mesh.positions.length !== mesh.positions.length) warn('the stylised mesh has a different vertex count (a bug)');
  const summary = {
    event: 'done',
    out,
    steps: res.steps,
    viewsEdited: res.viewsEdited,
    vertices: vertexCount(mesh),
    seconds: res.times.totalSeconds,
    backend: res.editable.backendName,
  };
  if (json) console.log(JSON.stringify(summary));
  else
    console.log(
      `stylised ${basename(input)} (${vertexCount(mesh)} vertices) → ${out}/ (${res.steps} steps, ${res.viewsEdited} view edits, ${res.times.totalSeconds.toFixed(1)} s)`,
    );
  return 0;
}
