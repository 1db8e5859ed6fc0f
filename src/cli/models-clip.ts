/** `models check DIR` for a CLIP folder (Hugging Face CLIPModel layout): what cmd-models runs when it finds one. */
import { createImage } from '../core/image';
import { checkClipFolder } from '../edit/clip/clip-folder';
import { ClipModel } from '../edit/clip/clip-model';
import { nodeFiles } from '../io/node/node-files';

export async function checkClipModelsCommand(dir: string, opts: { json: boolean; run: boolean }): Promise<number> {
  const c = await checkClipFolder(dir, nodeFiles);
  let ran: { ok: boolean; seconds?: number; error?: string } | null = null;
  if (opts.run && c.problems.length === 0) {
    const t0 = performance.now();
    try {
      const model = await ClipModel.load(dir, nodeFiles);
      try {
        const [img] = await model.embedImages([createImage(model.imageSize, model.imageSize, 3, 0.5)]);
        const [txt] = await model.embedTexts(['a photo of a cat']);
        if (![...img, ...txt].every(Number.isFinite)) throw new Error('non-finite embeddings');
      } finally {
        model.dispose();
      }
      ran = { ok: true, seconds: (performance.now() - t0) / 1000 };
    } catch (e) {
      ran = { ok: false, error: (e as Error).message };
      c.problems.push(`run: ${(e as Error).message}`);
    }
  }
  const ok = c.problems.length === 0;
  const cfg = c.config;
  const summary = cfg
    ? {
        vision: {
          hidden_size: cfg.vision.hiddenSize,
          layers: cfg.vision.numLayers,
          image_size: cfg.vision.imageSize,
          patch_size: cfg.vision.patchSize,
          hidden_act: cfg.vision.hiddenAct,
        },
        text: {
          hidden_size: cfg.text.hiddenSize,
          layers: cfg.text.numLayers,
          vocab_size: cfg.text.vocabSize,
          max_positions: cfg.text.maxPositions,
          hidden_act: cfg.text.hiddenAct,
        },
        projection_dim: cfg.projectionDim,
      }
    : null;
  if (opts.json) {
    console.log(
      JSON.stringify(
        {
          dir,
          ok,
          kind: 'clip',
          problems: c.problems,
          notes: c.notes,
          config: summary,
          weights: c.weights,
          tokenizer: c.tokenizer,
          run: ran,
        },
        null,
        2,
      ),
    );
    return ok ? 0 : 1;
  }
  console.log(`${dir} — CLIP (Hugging Face CLIPModel)`);
  if (cfg)
    console.log(
      `  vision: ${cfg.vision.numLayers} layers × ${cfg.vision.hiddenSize}, ${cfg.vision.imageSize}² images in ${cfg.vision.patchSize}² patches, ${cfg.vision.hiddenAct}\n` +
        `  text:   ${cfg.text.numLayers} layers × ${cfg.text.hiddenSize}, ${cfg.text.vocabSize} tokens, ${cfg.text.maxPositions} positions, ${cfg.text.hiddenAct}\n` +
        `  projection: ${cfg.projectionDim}`,
    );
  for (const w of c.weights) console.log(`  ${w.file}: ${w.tensors} tensors (${w.dtypes.join(', ')})`);
  for (const n of c.notes) console.log(`  note: ${n}`);
  if (ran?.ok) console.log(`  run: embedded one image and one text (${ran.seconds!.toFixed(1)} s)`);
  if (ok) console.log('OK: the folder matches the CLIPModel contract');
  else {
    for (const pr of c.problems) console.error(`problem: ${pr}`);
    console.error(`instruct-scene models: error: ${dir}: ${c.problems.length} problem${c.problems.length > 1 ? 's' : ''}`);
  }
  return ok ? 0 : 1;
}
