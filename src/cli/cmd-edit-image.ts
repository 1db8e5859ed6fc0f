import * as path from 'node:path';
import { UserError } from '../core/errors';
import { decodeImage, encodeImage } from '../io/images/image-codec';
import { nodeFiles } from '../io/node/node-files';
import { choiceFlag, floatFlag, instructionFlag, intFlag, parseCommand, requireFlag } from './args';
import { loadPipelineFor } from './model-path';
import { Progress, warn } from './progress';
import { prepareOutput } from '../io/node/output-guard';

const USAGE = `usage: instruct-scene edit-image IMAGE --instruction TEXT --out FILE [options]

Edits one image with a plain-language instruction (InstructPix2Pix, dual classifier-free guidance).

options:
  --model builtin|DIR|URL  model folder in the optimum layout (default: builtin, the small stand-in that makes
                         colour/tone edits only; see README "Getting the InstructPix2Pix model"), or a model
                         server: http://HOST:PORT[/PREFIX] ('instruct-scene serve', Triton, KServe)
  --steps N              denoising steps (default 20)
  --text-scale S         text guidance s_T (default 7.5)
  --image-scale S        image guidance s_I (default 1.5)
  --seed S               random seed (default 0); same seed → same result
  --strength T           start from the input noised to level T in (0, 1] (img2img); default 1 = from pure noise
  --scheduler NAME       euler-ancestral | ddim (default: the model's scheduler_config.json)
  --size N               working size of the longer side (default: the image's, at most 512 for real models)
  --keep-detail on|off   add back the luminance detail the VAE loses (default: on for builtin, off otherwise)
  --json                 JSON progress lines and a JSON summary`;

export async function run(args: string[]): Promise<number> {
  const p = parseCommand(
    args,
    USAGE,
    {
      instruction: { type: 'string', short: 'i' },
      out: { type: 'string', short: 'o' },
      model: { type: 'string' },
      steps: { type: 'string' },
      'text-scale': { type: 'string' },
      'image-scale': { type: 'string' },
      seed: { type: 'string' },
      strength: { type: 'string' },
      scheduler: { type: 'string' },
      size: { type: 'string' },
      'keep-detail': { type: 'string' },
    },
    { positionals: [1, 1] },
  );
  if (!p) return 0;
  const input = p.positionals[0];
  const instruction = instructionFlag(p.values.instruction);
  const out = requireFlag(p.values.out, 'out');
  const steps = intFlag(p.values.steps, 'steps', 20, 1);
  if (steps > 1000) throw new UserError('--steps must be at most 1000');
  const textScale = floatFlag(p.values['text-scale'], 'text-scale', 7.5, 0, 100);
  const imageScale = floatFlag(p.values['image-scale'], 'image-scale', 1.5, 0, 100);
  const seed = intFlag(p.values.seed, 'seed', 0, 0);
  // --strength is the noise level t (the name diffusers' img2img gives it)
  const t = floatFlag(p.values.strength, 'strength', 1, 0, 1);
  if (t === 0) throw new UserError('--strength must be above 0 (0 would return the input unchanged)');
  const scheduler =
    p.values.scheduler === undefined
      ? undefined
      : choiceFlag(p.values.scheduler, 'scheduler', ['euler-ancestral', 'ddim'] as const, 'euler-ancestral');
  const size = p.values.size === undefined ? undefined : intFlag(p.values.size, 'size', 512, 8);
  if (size !== undefined && size > 4096) throw new UserError('--size must be at most 4096');
  const restoreLuma =
    p.values['keep-detail'] === undefined
      ? undefined
      : choiceFlag(p.values['keep-detail'], 'keep-detail', ['on', 'off'] as const, 'on') === 'on';
  const ext = path.extname(out).toLowerCase();
  if (!['.png', '.jpg', '.jpeg'].includes(ext)) throw new UserError('--out must end in .png, .jpg or .jpeg', out);
  const model = typeof p.values.model === 'string' ? p.values.model : 'builtin';
  await prepareOutput({ out, kind: 'file', inputs: [input, model === 'builtin' ? undefined : model] });

  const json = p.values.json as boolean | undefined;
  const progress = Progress.for(json);
  const img = decodeImage(await nodeFiles.read(input), input);
  const t0 = performance.now();
  let loaded = 0;
  const pipe = await loadPipelineFor((p.values.model as string | undefined) ?? 'builtin', (msg) =>
    progress.update({ phase: 'load', step: loaded++, total: 4 }, msg),
  );
  try {
    const ignored = pipe.checkInstruction(instruction);
    if (ignored.length)
      warn(
        `the built-in stand-in ignores ${ignored.map((w) => `'${w}'`).join(', ')}: it changes the colours of the whole image (the edit loops can limit it to a region)`,
      );
    const edited = await pipe.edit(img, instruction, {
      steps,
      textScale,
      imageScale,
      seed,
      t,
      scheduler,
      size,
      restoreLuma,
      onStep: (step, total) => progress.update({ phase: 'denoise', step, total }),
    });
    progress.done();
    await nodeFiles.write(out, encodeImage(edited, out));
    const seconds = (performance.now() - t0) / 1000;
    if (json)
      console.log(
        JSON.stringify({
          out,
          model: pipe.info.name,
          builtin: pipe.info.builtin,
          runtime: pipe.info.runtime,
          instruction,
          steps,
          textScale,
          imageScale,
          seed,
          strength: t,
          width: edited.width,
          height: edited.height,
          seconds,
        }),
      );
    else
      console.log(
        `wrote ${out} (${edited.width}×${edited.height}, ${pipe.info.builtin ? 'built-in stand-in model' : pipe.info.name}, ${seconds.toFixed(1)} s)`,
      );
  } finally {
    progress.done();
    await pipe.dispose();
  }
  return 0;
}
