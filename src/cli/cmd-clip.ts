import { UserError } from '../core/errors';
import { ClipModel } from '../edit/clip/clip-model';
import { isClipFolder } from '../edit/clip/clip-folder';
import { decodeImage } from '../io/images/image-codec';
import { isDirectory, nodeFiles } from '../io/node/node-files';
import { choiceFlag, parseCommand, requireFlag } from './args';

const USAGE = `usage: instruct-scene clip embed --model DIR [--image FILE]... [--text TEXT]... [--backend cpu|webgpu] [--json]

CLIP embeddings (Radford et al. 2021) as Hugging Face's CLIPModel computes them, from a model folder in its
layout (config.json, model.safetensors, vocab.json + merges.txt; e.g. openai/clip-vit-base-patch32).
Images of the model's size (vision_config.image_size) are used as they are; others are resized (shorter side,
bicubic) and centre-cropped. Texts are tokenized to 77 tokens (EOS kept) and pooled at the first EOS.
  --image FILE   a PNG or JPEG (repeatable)
  --text TEXT    a text (repeatable)
  --backend      cpu (default) or webgpu
  --json         print {"image_embeds": [[…], …], "text_embeds": [[…], …]}: L2-normalised, in the order given
Without --json: each image's cosine similarity to each text and CLIP's softmax over the texts.`;

export async function run(args: string[]): Promise<number> {
  const p = parseCommand(
    args,
    USAGE,
    {
      model: { type: 'string' },
      image: { type: 'string', multiple: true },
      text: { type: 'string', multiple: true },
      backend: { type: 'string' },
    },
    { positionals: [1, 1] },
  );
  if (!p) return 0;
  const [sub] = p.positionals;
  if (sub !== 'embed') throw new UserError(`unknown subcommand '${sub}' (expected: clip embed --model DIR …)`);
  const dir = requireFlag(p.values.model, 'model');
  if (!(await isDirectory(dir))) throw new UserError('no such model folder (expected a Hugging Face CLIP folder)', dir);
  if (!(await isClipFolder(dir, nodeFiles)))
    throw new UserError('not a CLIP model folder: config.json is missing or has no text_config / vision_config', dir);
  const backend = choiceFlag(p.values.backend, 'backend', ['cpu', 'webgpu'] as const, 'cpu');
  const imagePaths = (p.values.image ?? []) as unknown as string[];
  const texts = (p.values.text ?? []) as unknown as string[];
  if (!imagePaths.length && !texts.length) throw new UserError('nothing to embed: give --image FILE and/or --text TEXT');
  // decode the images first: a broken file fails before the model loads
  const images = [];
  for (const f of imagePaths) images.push(decodeImage(await nodeFiles.read(f), f));
  if (backend === 'webgpu') (await import('../io/node/node-webgpu')).installNodeWebGpu();
  const model = await ClipModel.load(dir, nodeFiles, {
    backend,
    towers: [...(images.length ? ['vision' as const] : []), ...(texts.length ? ['text' as const] : [])],
  });
  try {
    const imageEmbeds = await model.embedImages(images);
    const textEmbeds = await model.embedTexts(texts);
    if (p.values.json) {
      console.log(
        JSON.stringify({ image_embeds: imageEmbeds.map((e) => Array.from(e)), text_embeds: textEmbeds.map((e) => Array.from(e)) }),
      );
      return 0;
    }
    console.log(
      `${dir}: ${imageEmbeds.length} image${imageEmbeds.length === 1 ? '' : 's'}, ${textEmbeds.length} text${textEmbeds.length === 1 ? '' : 's'}, ${model.config.projectionDim}-d embeddings (${backend})`,
    );
    if (!imageEmbeds.length || !textEmbeds.length) return 0;
    const scale = Math.exp(model.logitScale);
    imageEmbeds.forEach((ie, i) => {
      const cos = textEmbeds.map((te) => te.reduce((s, v, k) => s + v * ie[k], 0));
      const mx = Math.max(...cos);
      const ex = cos.map((c) => Math.exp(scale * (c - mx)));
      const sum = ex.reduce((a, b) => a + b, 0);
      console.log(imagePaths[i]);
      texts.forEach((t, j) => console.log(`  ${cos[j].toFixed(4)}  p=${(ex[j] / sum).toFixed(3)}  ${JSON.stringify(t)}`));
    });
    return 0;
  } finally {
    model.dispose();
  }
}
