import * as path from 'node:path';
import { UserError } from '../core/errors';
import { createImage } from '../core/image';
import type { FileSource } from '../io/files/files';
import { checkModelFolder, COMPONENTS, type ModelCheck } from '../edit/diffusion/model-contract';
import { formatSpec } from '../edit/diffusion/onnx/signature';
import { InstructPix2Pix } from '../edit/diffusion/pipeline';
import type { OnnxRuntime } from '../edit/diffusion/runtime';
import { nodeFiles } from '../io/node/node-files';
import { nodeRuntime } from '../io/node/node-ort';
import { choiceFlag, intFlag, parseCommand, requireFlag } from './args';
import { isModelUrl, remoteOptionsFromEnv, resolveModelDir } from './model-path';
import { isClipFolder } from '../edit/clip/clip-folder';
import { checkClipModelsCommand } from './models-clip';

const USAGE = `usage: instruct-scene models check DIR|builtin|URL [--run] [--json]
       instruct-scene models triton-repo DIR|builtin --out REPO [options]

check: checks an InstructPix2Pix model folder (optimum layout) or the models of an inference server
(http(s)://HOST:PORT[/PREFIX], KServe v2 / Triton): the four models' input/output names, ranks, fixed sizes and
dtypes (fp32 or fp16; timestep scalar or [B], float or int; latent_parameters or the older latent_sample),
external data files, tokenizer and scheduler config. Prints what is wrong and exits 1.
A CLIP folder (Hugging Face CLIPModel: config.json, model.safetensors, vocab.json + merges.txt) is checked
against its config: every tensor's name, shape and dtype, and the tokenizer.
  --run    also load the sessions and run one guided denoising step on a small image (CLIP: embed an image and a text)

triton-repo: writes a Triton Inference Server model repository: REPO/<name>/config.pbtxt and
REPO/<name>/1/model.onnx (+ external data) for text_encoder, unet, vae_encoder, vae_decoder and
pipeline_config (the tokenizer and scheduler config). Then: tritonserver --model-repository=REPO
  --out REPO              the repository folder (created)
  --model-prefix P        name the models P_text_encoder, …; clients use http://HOST:PORT/P
  --max-batch N           max_batch_size of the models that can batch (default 8; 0 = no batching)
  --instances N           instances of each model per GPU (default 1)
  --kind gpu|cpu          instance group kind (default gpu)
  --force                 replace models already in REPO`;

async function checkTarget(target: string): Promise<{ c: ModelCheck; files: FileSource; runtime: () => OnnxRuntime }> {
  if (isModelUrl(target)) {
    const [{ RemoteRuntime }, { checkModelServer }] = await Promise.all([
      import('../edit/diffusion/remote/remote-runtime'),
      import('../edit/diffusion/remote/remote-pipeline'),
    ]);
    const rt = new RemoteRuntime(target, remoteOptionsFromEnv());
    const { check, files } = await checkModelServer(rt);
    return { c: check, files, runtime: () => rt };
  }
  const dir = await resolveModelDir(target);
  return { c: await checkModelFolder(dir, nodeFiles), files: nodeFiles, runtime: () => nodeRuntime() };
}

async function check(target: string, p: { values: Record<string, unknown> }): Promise<number> {
  // a CLIP folder (config.json of a CLIPModel) has its own contract
  if (!isModelUrl(target)) {
    const dir = await resolveModelDir(target);
    if (await isClipFolder(dir, nodeFiles)) return checkClipModelsCommand(dir, { json: !!p.values.json, run: !!p.values.run });
  }
  const { c, files, runtime } = await checkTarget(target);
  const dir = c.dir;
  let ran: { ok: boolean; seconds?: number; error?: string } | null = null;
  if (p.values.run && c.problems.length === 0) {
    const t0 = performance.now();
    try {
      const pipe = await InstructPix2Pix.open(c, files, runtime());
      try {
        const [W, H] = pipe.workingSize(64, 64, 64);
        const img = createImage(W, H, 3, 0.5);
        const cond = await pipe.encodeImage(img, [W, H]);
        const z = await pipe.encode(img, [W, H]);
        const words = pipe.builtinInfo ? `make it ${Object.values(pipe.builtinInfo.edits)[0][0]}` : 'make it red';
        await pipe.predictNoise(z, 500, cond, await pipe.encodeText(words)); // non-finite outputs throw
        await pipe.decode(z);
      } finally {
        await pipe.dispose();
      }
      ran = { ok: true, seconds: (performance.now() - t0) / 1000 };
    } catch (e) {
      ran = { ok: false, error: (e as Error).message };
      c.problems.push(`run: ${(e as Error).message}`);
    }
  }
  const ok = c.problems.length === 0;
  const server = c.source === 'server';
  if (p.values.json) {
    const components = Object.fromEntries(
      COMPONENTS.map((k) => [
        k,
        c.components[k]
          ? {
              path: c.components[k]!.path,
              opset: server ? null : c.components[k]!.info.opset,
              inputs: c.components[k]!.info.inputs,
              outputs: c.components[k]!.info.outputs,
              externalData: c.components[k]!.info.externalData,
            }
          : null,
      ]),
    );
    console.log(
      JSON.stringify(
        { dir, source: c.source, ok, problems: c.problems, notes: c.notes, builtin: !!c.builtin, variant: c.variant, components, run: ran },
        null,
        2,
      ),
    );
  } else {
    console.log(`${dir}${c.builtin ? ` — ${c.builtin.name}` : ''}`);
    for (const k of COMPONENTS) {
      const f = c.components[k];
      if (!f) continue;
      if (server) console.log(`  ${k.padEnd(13)} ${f.path}${f.info.producer ? ` (${f.info.producer})` : ''}`);
      else
        console.log(
          `  ${k.padEnd(13)} opset ${f.info.opset}${f.info.externalData.length ? `, external data: ${f.info.externalData.join(', ')}` : ''}`,
        );
      console.log(`    in : ${f.info.inputs.map(formatSpec).join('; ')}`);
      console.log(`    out: ${f.info.outputs.map(formatSpec).join('; ')}`);
    }
    for (const n of c.notes) console.log(`  note: ${n}`);
    if (ran?.ok) console.log(`  run: one guided step OK (${ran.seconds!.toFixed(1)} s)`);
    if (ok) console.log(`OK: the ${server ? "server's models match" : 'folder matches'} the InstructPix2Pix contract`);
    else {
      for (const pr of c.problems) console.error(`problem: ${pr}`);
      console.error(
        `instruct-scene models: error: ${dir}: ${c.problems.length} problem${c.problems.length > 1 ? 's' : ''}; see README "${server ? 'Remote inference' : 'Getting the InstructPix2Pix model'}"`,
      );
    }
  }
  return ok ? 0 : 1;
}

async function tritonRepo(target: string, p: { values: Record<string, unknown> }): Promise<number> {
  const v = p.values as Record<string, string | boolean | undefined>;
  const out = requireFlag(v.out, 'out');
  const dir = await resolveModelDir(target);
  if (path.resolve(out) === path.resolve(dir) || path.resolve(out).startsWith(path.resolve(dir) + path.sep))
    throw new UserError('--out must not be inside the model folder (inputs are never modified)', out);
  const prefix = typeof v['model-prefix'] === 'string' ? v['model-prefix'] : '';
  if (prefix && !/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(prefix))
    throw new UserError(`--model-prefix takes letters, digits, '_', '.' and '-', got '${prefix}'`);
  const { writeTritonRepo } = await import('../io/node/triton-repo');
  const written = await writeTritonRepo(dir, out, {
    prefix,
    maxBatch: intFlag(v['max-batch'], 'max-batch', 8, 0),
    instances: intFlag(v.instances, 'instances', 1, 1),
    kind: choiceFlag(v.kind, 'kind', ['gpu', 'cpu'] as const, 'gpu'),
    force: !!v.force,
  });
  if (v.json) console.log(JSON.stringify({ out, models: written }, null, 2));
  else {
    console.log(`wrote the Triton model repository ${out}/ (${written.map((w) => w.name).join(', ')})`);
    console.log(`serve it:  tritonserver --model-repository=${path.resolve(out)}`);
    console.log(
      `use it:    --model http://HOST:8000${prefix ? `/${prefix}` : ''}   (browsers need a CORS proxy in front; see docs/remote-inference.md)`,
    );
  }
  return 0;
}

export async function run(args: string[]): Promise<number> {
  const p = parseCommand(
    args,
    USAGE,
    {
      run: { type: 'boolean' },
      out: { type: 'string' },
      'model-prefix': { type: 'string' },
      'max-batch': { type: 'string' },
      instances: { type: 'string' },
      kind: { type: 'string' },
      force: { type: 'boolean' },
    },
    { positionals: [2, 2] },
  );
  if (!p) return 0;
  const [sub, target] = p.positionals;
  const v = p.values;
  if (sub === 'check') {
    for (const f of ['out', 'model-prefix', 'max-batch', 'instances', 'kind', 'force'])
      if (v[f] !== undefined) throw new UserError(`--${f} belongs to 'models triton-repo', not 'models check'`);
    return check(target, p);
  }
  if (sub === 'triton-repo') {
    if (v.run) throw new UserError(`--run belongs to 'models check'`);
    return tritonRepo(target, p);
  }
  throw new UserError(`unknown subcommand '${sub}' (expected: models check DIR|URL, or models triton-repo DIR --out REPO)`);
}
