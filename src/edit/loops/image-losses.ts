import { UserError } from '../../core/errors';
import type { Image } from '../../core/image';
import { joinPath } from '../../core/paths';
import type { FileSource } from '../../io/files/files';
import { parseJson } from '../../io/files/files';
import type { ImageLoss, ImageLossResult } from './image-loss';

/**
 * An analytic image loss: the mean squared distance of the object's pixels (those that differ from the backdrop
 * colour) to one target colour. A stand-in with the same interface as the CLIP loss, for checking the image-loss
 * path end to end without a CLIP model (as the built-in model stands in for InstructPix2Pix). Grey geometry
 * renders carry no colour, so their loss is zero.
 */
export class TargetColorLoss implements ImageLoss {
  readonly id: string;
  constructor(
    readonly color: [number, number, number],
    readonly imageSize = 128,
    readonly backdrop: [number, number, number] = [1, 1, 1],
  ) {
    this.id = `target-color:${color.map((c) => c.toFixed(3)).join(',')}`;
  }

  async evaluate(renders: Image[], _rng: unknown, kind: 'color' | 'geometry' = 'color'): Promise<ImageLossResult> {
    const grads = renders.map((r) => new Float32Array(r.data.length));
    if (kind === 'geometry') return { loss: 0, grads };
    let loss = 0,
      n = 0;
    const px: [number, number][] = [];
    renders.forEach((r, v) => {
      for (let p = 0; p < r.width * r.height; p++) {
        const C = r.channels;
        let backdrop = true;
        for (let c = 0; c < 3; c++) if (Math.abs(r.data[p * C + c] - this.backdrop[c]) > 1e-6) backdrop = false;
        if (!backdrop) px.push([v, p]);
      }
    });
    n = px.length;
    if (!n) return { loss: 0, grads };
    for (const [v, p] of px) {
      const r = renders[v],
        C = r.channels;
      for (let c = 0; c < 3; c++) {
        const e = r.data[p * C + c] - this.color[c];
        loss += e * e;
        grads[v][p * C + c] = (2 * e) / (3 * n);
      }
    }
    return { loss: loss / (3 * n), grads };
  }
}

/**
 * The image loss of `stylize --prompt TEXT --clip DIR`. DIR is a CLIP model folder (Hugging Face layout:
 * config.json, model.safetensors, vocab.json, merges.txt) for Text2Mesh's CLIP loss, or a folder with an
 * `image-loss.json` naming an analytic loss (`{"kind": "target-color", "color": [r, g, b], "imageSize": 128}`).
 */
export async function loadImageLoss(dir: string, prompt: string, files: FileSource): Promise<ImageLoss> {
  const analytic = joinPath(dir, 'image-loss.json');
  if (await files.exists(analytic)) {
    const j = parseJson(await files.read(analytic), analytic);
    if (j?.kind !== 'target-color')
      throw new UserError(`unknown image loss kind ${JSON.stringify(j?.kind)} (expected "target-color")`, analytic);
    const c = j.color;
    if (!Array.isArray(c) || c.length !== 3 || !c.every((v: unknown) => typeof v === 'number' && v >= 0 && v <= 1))
      throw new UserError('"color" must be three numbers in [0, 1]', analytic);
    const size = j.imageSize ?? 128;
    if (!Number.isInteger(size) || size < 16 || size > 1024) throw new UserError('"imageSize" must be an integer in [16, 1024]', analytic);
    void prompt;
    return new TargetColorLoss(c as [number, number, number], size);
  }
  if (await files.exists(joinPath(dir, 'config.json')))
    throw new UserError(
      "CLIP guidance needs the project's CLIP encoders, which this build does not include yet; use --instruction TEXT with the instruction editor",
      dir,
    );
  throw new UserError('not a CLIP model folder (no config.json; expected the Hugging Face layout of openai/clip-vit-base-patch32)', dir);
}
