import type { Image } from '../../src/core/image';
import type { ImageLoss, ImageLossResult } from '../../src/edit/loops/image-loss';

/**
 * An analytic image loss for tests: the mean squared distance of the object's pixels (those that differ from the
 * backdrop colour) to one target colour. It has the CLIP loss's interface and a known direction (a random CLIP
 * model has none), so a test can check that the image-loss step steers the field the right way. Grey geometry
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
