import type { Camera } from '../core/camera';
import type { Image } from '../core/image';
import { Adam } from '../nerf/adam';
import { cloneGaussians, SH_STRIDE, type Gaussians } from '../nerf/gaussians';
import { createGrads, rasterizeBackward, rasterizeForward, renderGaussiansCpu, type GaussianGrads } from '../nerf/gaussian-raster-cpu';
import type { EditableScene, StateBlob, PhotometricLoss } from './editable';
import type { Region } from './regions';

export interface GaussianEditOptions {
  /** Adam learning rates (3DGS's, with a faster colour rate so colour edits land within a short edit). */
  lrMeans: number;
  lrScales: number;
  lrRotations: number;
  lrOpacity: number;
  lrColor: number;
}

export const GAUSSIAN_EDIT_DEFAULTS: GaussianEditOptions = { lrMeans: 1.6e-4, lrScales: 5e-3, lrRotations: 1e-3, lrOpacity: 0.05, lrColor: 0.025 };

const GROUPS = ['means', 'logScales', 'rotations', 'opacityLogits', 'sh'] as const;
const WIDTH: Record<(typeof GROUPS)[number], number> = { means: 3, logScales: 3, rotations: 4, opacityLogits: 1, sh: SH_STRIDE };

/**
 * Gaussians under edit (CPU rasteriser). GaussianEditor-style gating: with a region, only Gaussians whose
 * mean lies inside it receive updates (so the outside is preserved exactly and no merge is needed);
 * densification is not run during edits (the count stays fixed, which keeps checkpoints simple).
 */
export class GaussianEditable implements EditableScene {
  readonly kind = 'gaussians' as const;
  readonly level = 0;
  readonly orig: Gaussians;
  readonly g: Gaussians;
  /** 1 for Gaussians that may change. */
  readonly gate: Uint8Array | null;
  private grads: GaussianGrads;
  private tmp: GaussianGrads;
  private adam: Adam;

  constructor(g: Gaussians, readonly background: [number, number, number], readonly region: Region | undefined, opts: Partial<GaussianEditOptions> = {}) {
    const o = { ...GAUSSIAN_EDIT_DEFAULTS, ...opts };
    this.orig = cloneGaussians(g);
    this.g = cloneGaussians(g);
    const n = this.g.count;
    this.gate = region ? new Uint8Array(n) : null;
    if (this.gate) for (let i = 0; i < n; i++) this.gate[i] = region!.inside(this.g.means[3 * i], this.g.means[3 * i + 1], this.g.means[3 * i + 2]) ? 1 : 0;
    this.grads = createGrads(n);
    this.tmp = createGrads(n);
    const lr = { means: o.lrMeans, logScales: o.lrScales, rotations: o.lrRotations, opacityLogits: o.lrOpacity, sh: o.lrColor };
    this.adam = new Adam(GROUPS.map((name) => ({ name, params: this.g[name], grads: this.grads[name], lr: lr[name] })));
  }

  async render(cam: Camera): Promise<Image> {
    return renderGaussiansCpu(this.g, cam, this.background).image;
  }

  async renderSource(cam: Camera): Promise<Image> {
    return renderGaussiansCpu(this.orig, cam, this.background).image;
  }

  async addViewLoss(cam: Camera, target: Image, pixels: ArrayLike<number>, scale: number, photometric: PhotometricLoss = 'mse'): Promise<number> {
    const n = pixels.length;
    if (!n) return 0;
    const fwd = rasterizeForward(this.g, cam, this.background);
    const d = new Float32Array(fwd.image.length);
    const l1 = photometric === 'l1';
    const k = ((l1 ? 1 : 2) * scale) / (3 * n);
    let loss = 0;
    for (let r = 0; r < n; r++) {
      const p = pixels[r];
      for (let c = 0; c < 3; c++) {
        const e = fwd.image[p * 3 + c] - target.data[p * target.channels + c];
        loss += l1 ? Math.abs(e) : e * e;
        d[p * 3 + c] += l1 ? k * Math.sign(e) : k * e;
      }
    }
    rasterizeBackward(this.g, cam, fwd, d, null, this.tmp);
    for (const name of GROUPS) {
      const a = this.grads[name], b = this.tmp[name];
      for (let i = 0; i < a.length; i++) a[i] += b[i];
    }
    return loss / (3 * n);
  }

  regularize(): number {
    return 0;
  }

  step(): void {
    if (this.gate) {
      for (const name of GROUPS) {
        const w = WIDTH[name], a = this.grads[name];
        for (let i = 0; i < this.gate.length; i++) if (!this.gate[i]) a.fill(0, i * w, (i + 1) * w);
      }
    }
    this.adam.step();
  }

  setLevel(): void {}

  saveState(): StateBlob {
    const arrays: StateBlob['arrays'] = {};
    for (const name of GROUPS) arrays[name] = this.g[name];
    for (const name of GROUPS) {
      const s = this.adam.exportState(name);
      arrays[`adam.${name}.m`] = s.m; arrays[`adam.${name}.v`] = s.v; arrays[`adam.${name}.t`] = s.t;
    }
    return { meta: { count: this.g.count, adamSteps: this.adam.steps }, arrays };
  }

  loadState(s: StateBlob): void {
    if (s.meta.count !== this.g.count) throw new Error(`checkpoint holds ${s.meta.count} Gaussians, the scene ${this.g.count}`);
    for (const name of GROUPS) this.g[name].set(s.arrays[name] as Float32Array);
    for (const name of GROUPS)
      this.adam.importState(name, { m: s.arrays[`adam.${name}.m`] as Float32Array, v: s.arrays[`adam.${name}.v`] as Float32Array, t: s.arrays[`adam.${name}.t`] as Uint32Array });
    this.adam.steps = s.meta.adamSteps as number;
  }

  finalize(): void {}
}
