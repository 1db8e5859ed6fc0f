import { UserError } from '../core/errors';
import { createImage } from '../core/image';
import { checkModelFolder, COMPONENTS } from '../edit/diffusion/model-contract';
import { formatSpec } from '../edit/diffusion/onnx/signature';
import { InstructPix2Pix } from '../edit/diffusion/pipeline';
import { nodeFiles } from '../io/node/node-files';
import { nodeRuntime } from '../io/node/node-ort';
import { parseCommand } from './args';
import { resolveModelDir } from './model-path';
import { isClipFolder } from '../edit/clip/clip-folder';
import { checkClipModelsCommand } from './models-clip';

const USAGE = `usage: instruct-scene models check DIR|builtin [--run] [--json]

Checks an InstructPix2Pix model folder (optimum layout): the four ONNX files, their input/output names,
ranks, fixed sizes and dtypes (fp32 or fp16; timestep scalar or [B], float or int; latent_parameters or the
older latent_sample), external data files, tokenizer and scheduler config. Prints what is wrong and exits 1.
A CLIP folder (Hugging Face CLIPModel: config.json, model.safetensors, vocab.json + merges.txt) is checked
against its config: every tensor's name, shape and dtype, and the tokenizer.
  --run    also load the sessions and run one guided denoising step on a small image (CLIP: embed an image and a text)`;

export async function run(args: string[]): Promise<number> {
  const p = parseCommand(args, USAGE, { run: { type: 'boolean' } }, { positionals: [2, 2] });
  if (!p) return 0;
  const [sub, target] = p.positionals;
  if (sub !== 'check') throw new UserError(`unknown subcommand '${sub}' (expected: models check DIR)`);
  const dir = await resolveModelDir(target);
  // a CLIP folder (config.json of a CLIPModel) has its own contract
  if (await isClipFolder(dir, nodeFiles)) return checkClipModelsCommand(dir, { json: !!p.values.json, run: !!p.values.run });
  const c = await checkModelFolder(dir, nodeFiles);
  let ran: { ok: boolean; seconds?: number; error?: string } | null = null;
  if (p.values.run && c.problems.length === 0) {
    const t0 = performance.now();
    try {
      const pipe = await InstructPix2Pix.load(dir, nodeFiles, nodeRuntime());
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
  if (p.values.json) {
    const components = Object.fromEntries(
      COMPONENTS.map((k) => [
        k,
        c.components[k]
          ? {
              path: c.components[k]!.path,
              opset: c.components[k]!.info.opset,
              inputs: c.components[k]!.info.inputs,
              outputs: c.components[k]!.info.outputs,
              externalData: c.components[k]!.info.externalData,
            }
          : null,
      ]),
    );
    console.log(
      JSON.stringify(
        { dir, ok, problems: c.problems, notes: c.notes, builtin: !!c.builtin, variant: c.variant, components, run: ran },
        null,
        2,
      ),
    );
  } else {
    console.log(`${dir}${c.builtin ? ` — ${c.builtin.name}` : ''}`);
    for (const k of COMPONENTS) {
      const f = c.components[k];
      if (!f) continue;
      console.log(
        `  ${k.padEnd(13)} opset ${f.info.opset}${f.info.externalData.length ? `, external data: ${f.info.externalData.join(', ')}` : ''}`,
      );
      console.log(`    in : ${f.info.inputs.map(formatSpec).join('; ')}`);
      console.log(`    out: ${f.info.outputs.map(formatSpec).join('; ')}`);
    }
    for (const n of c.notes) console.log(`  note: ${n}`);
    if (ran?.ok) console.log(`  run: one guided step OK (${ran.seconds!.toFixed(1)} s)`);
    if (ok) console.log('OK: the folder matches the InstructPix2Pix contract');
    else {
      for (const pr of c.problems) console.error(`problem: ${pr}`);
      console.error(
        `instruct-scene models: error: ${dir}: ${c.problems.length} problem${c.problems.length > 1 ? 's' : ''}; see README "Getting the InstructPix2Pix model"`,
      );
    }
  }
  return ok ? 0 : 1;
}
