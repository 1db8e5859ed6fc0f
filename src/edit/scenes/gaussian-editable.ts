import type { Camera } from '../../core/camera';
import type { Image } from '../../core/image';
import { Adam } from '../../nerf/common/adam';
import { Rng } from '../../core/rng';
import { cloneGaussians, createGaussians, SH_STRIDE, type Gaussians } from '../../nerf/gaussian/gaussians';
import { applyDensify, planDensify } from '../../nerf/gaussian/gaussian-densify';
import { createGrads, type GaussianGrads } from '../../nerf/gaussian/gaussian-project-cpu';
import { CpuGaussianBackend, type GaussianRasterBackend } from '../../nerf/gaussian/gaussian-backend';
import type { AlphaTarget, EditableScene, PhotometricLoss, SourceRender, StateBlob } from './editable';
import type { Region } from '../regions/regions';

export interface GaussianEditOptions {
  /** Adam learning rates (3DGS's, with a faster colour rate so colour edits land within a short edit). */
  lrMeans: number;
  lrScales: number;
  lrRotations: number;
  lrOpacity: number;
  lrColor: number;
  /**
   * 3DGS adaptive density control during the edit, on the Gaussians that may change (those inside the
   * region, their clones and split children; all of them without a region): every `densifyEvery` steps up to
   * step `densifyUntil`, clone/split those whose mean view-space gradient since the last round is at least
   * `densifyGradThreshold`, prune those below `minOpacity`. Gaussians outside the region are never touched.
   */
  densify: boolean;
  densifyEvery: number;
  densifyUntil: number;
  densifyGradThreshold: number;
  /** "Small" (cloned) vs "large" (split) Gaussians: max scale ≤ percentDense · extent. */
  percentDense: number;
  /** Scene extent (3DGS: 1.1 × the largest camera distance from their centre); set from the cameras. */
  extent: number;
  minOpacity: number;
  /** Upper bound on the count (default: twice the parent's count, at least parent + 20 000). */
  maxGaussians: number;
  /** Seed of the split samples. */
  seed: number;
}

export const GAUSSIAN_EDIT_DEFAULTS: GaussianEditOptions = {
  lrMeans: 1.6e-4,
  lrScales: 5e-3,
  lrRotations: 1e-3,
  lrOpacity: 0.05,
  lrColor: 0.025,
  densify: true,
  densifyEvery: 100,
  densifyUntil: Infinity,
  densifyGradThreshold: 0.0002,
  percentDense: 0.01,
  extent: 1,
  minOpacity: 0.005,
  maxGaussians: 0,
  seed: 0,
};

const GROUPS = ['means', 'logScales', 'rotations', 'opacityLogits', 'sh'] as const;
type Group = (typeof GROUPS)[number];
const WIDTH: Record<Group, number> = { means: 3, logScales: 3, rotations: 4, opacityLogits: 1, sh: SH_STRIDE };

/**
 * Gaussians under edit, rasterised by a GaussianRasterBackend (the CPU reference by default, or WebGPU).
 * GaussianEditor-style gating: with a region, only Gaussians whose
 * mean lies inside it (and the Gaussians densification makes from them) receive updates, so the outside is
 * kept exactly and no merge is needed. Densification follows 3DGS (see GaussianEditOptions.densify).
 */
export class GaussianEditable implements EditableScene {
  readonly kind = 'gaussians' as const;
  readonly level = 0;
  readonly orig: Gaussians;
  g: Gaussians;
  /** 1 for Gaussians that may change (null: all may). */
  gate: Uint8Array | null;
  /** Rounds of densification so far, with what they did (for logs and tests). */
  readonly densifyLog: { step: number; cloned: number; split: number; pruned: number; count: number }[] = [];
  private grads!: GaussianGrads;
  private tmp!: GaussianGrads;
  private adam!: Adam;
  private readonly o: GaussianEditOptions;
  /** Densification statistics since the last round: Σ‖∂L/∂mean2D‖ (NDC units) and the number of views that drew each. */
  private gradAccum!: Float32Array;
  private denom!: Float32Array;
  private rng: Rng;
  private readonly maxCount: number;

  private readonly raster: GaussianRasterBackend;

  constructor(
    g: Gaussians,
    readonly background: [number, number, number],
    readonly region: Region | undefined,
    opts: Partial<GaussianEditOptions> = {},
    backend?: GaussianRasterBackend,
  ) {
    this.o = { ...GAUSSIAN_EDIT_DEFAULTS, ...opts };
    this.raster = backend ?? new CpuGaussianBackend();
    this.orig = cloneGaussians(g);
    this.g = cloneGaussians(g);
    const n = this.g.count;
    this.gate = region ? new Uint8Array(n) : null;
    if (this.gate)
      for (let i = 0; i < n; i++)
        this.gate[i] = region!.inside(this.g.means[3 * i], this.g.means[3 * i + 1], this.g.means[3 * i + 2]) ? 1 : 0;
    this.maxCount = this.o.maxGaussians > 0 ? this.o.maxGaussians : Math.max(2 * n, n + 20_000);
    this.rng = new Rng(this.o.seed);
    this.bind();
  }

  /** (Re)creates gradients, statistics and the optimiser for the current Gaussians (moments from `moments`, else zero). */
  private bind(moments?: Record<Group, { m: Float32Array; v: Float32Array; t: Uint32Array }>, steps = 0): void {
    const n = this.g.count;
    this.grads = createGrads(n);
    this.tmp = createGrads(n);
    this.gradAccum = new Float32Array(n);
    this.denom = new Float32Array(n);
    const o = this.o;
    const lr: Record<Group, number> = {
      means: o.lrMeans,
      logScales: o.lrScales,
      rotations: o.lrRotations,
      opacityLogits: o.lrOpacity,
      sh: o.lrColor,
    };
    this.adam = new Adam(GROUPS.map((name) => ({ name, params: this.g[name], grads: this.grads[name], lr: lr[name] })));
    if (moments) for (const name of GROUPS) this.adam.importState(name, moments[name]);
    this.adam.steps = steps;
  }

  get count(): number {
    return this.g.count;
  }

  get backendName(): string {
    return this.raster.name;
  }

  private async renderOf(g: Gaussians, cam: Camera): Promise<SourceRender> {
    const r = await this.raster.render(g, cam, this.background);
    return { image: { width: r.width, height: r.height, channels: 3, data: r.image }, alpha: r.alpha };
  }

  async render(cam: Camera): Promise<Image> {
    return (await this.renderOf(this.g, cam)).image;
  }

  async renderSource(cam: Camera): Promise<Image> {
    return (await this.renderOf(this.orig, cam)).image;
  }

  async renderSourceWithAlpha(cam: Camera): Promise<SourceRender> {
    return this.renderOf(this.orig, cam);
  }

  async addViewLoss(
    cam: Camera,
    target: Image,
    pixels: ArrayLike<number>,
    scale: number,
    photometric: PhotometricLoss = 'mse',
    alpha?: AlphaTarget,
  ): Promise<number> {
    const n = pixels.length;
    if (!n) return 0;
    // render + backward back to back: the backend keeps what backward needs from the most recent render
    const fwd = await this.raster.render(this.g, cam, this.background);
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
    loss /= 3 * n;
    // opacity term: weight · mean over the pixels of (α − α*)²
    let dA: Float32Array | null = null;
    if (alpha && alpha.weight > 0) {
      dA = new Float32Array(fwd.alpha.length);
      const ka = (2 * alpha.weight * scale) / n;
      let la = 0;
      for (let r = 0; r < n; r++) {
        const p = pixels[r];
        const e = fwd.alpha[p] - alpha.target[p];
        la += e * e;
        dA[p] += ka * e;
      }
      loss += (alpha.weight * la) / n;
    }
    await this.raster.backward(d, dA, this.tmp);
    for (const name of GROUPS) {
      const a = this.grads[name],
        b = this.tmp[name];
      for (let i = 0; i < a.length; i++) a[i] += b[i];
    }
    // densification statistics (3DGS: the view-space positional gradient in NDC units, per view that draws the Gaussian)
    if (this.o.densify) {
      const sx = cam.width / 2,
        sy = cam.height / 2,
        xy = this.tmp.xy,
        rad = fwd.radius,
        gate = this.gate;
      for (let i = 0; i < this.g.count; i++) {
        if (rad[i] <= 0 || (gate && !gate[i])) continue;
        this.gradAccum[i] += Math.hypot(xy[2 * i] * sx, xy[2 * i + 1] * sy);
        this.denom[i]++;
      }
    }
    return loss;
  }

  regularize(): number {
    return 0;
  }

  step(): void {
    if (this.gate) {
      for (const name of GROUPS) {
        const w = WIDTH[name],
          a = this.grads[name];
        for (let i = 0; i < this.gate.length; i++) if (!this.gate[i]) a.fill(0, i * w, (i + 1) * w);
      }
    }
    this.adam.step();
    const s = this.adam.steps;
    if (this.o.densify && s % this.o.densifyEvery === 0 && s <= this.o.densifyUntil) this.densify(s);
  }

  /** One round of 3DGS density control on the Gaussians that may change; optimiser state follows the rows. */
  private densify(step: number): void {
    const plan = planDensify(this.g, this.gradAccum, this.denom, null, {
      gradThr: this.o.densifyGradThreshold,
      percentDense: this.o.percentDense,
      extent: this.o.extent,
      minOpacity: this.o.minOpacity,
      maxScreen: Infinity,
      maxWorld: Infinity,
      maxCount: this.maxCount,
      rng: this.rng,
      eligible: this.gate,
    });
    const moments = {} as Record<Group, { m: Float32Array; v: Float32Array; t: Uint32Array }>;
    const nNew = plan.newOnes.count;
    for (const name of GROUPS) {
      const w = WIDTH[name],
        st = this.adam.exportState(name);
      const pick = <T extends Float32Array | Uint32Array>(a: T, make: (len: number) => T): T => {
        const out = make((plan.keep.length + nNew) * w);
        plan.keep.forEach((i, r) => out.set(a.subarray(i * w, (i + 1) * w), r * w));
        return out;
      };
      moments[name] = {
        m: pick(st.m, (l) => new Float32Array(l)),
        v: pick(st.v, (l) => new Float32Array(l)),
        t: pick(st.t, (l) => new Uint32Array(l)),
      };
    }
    if (this.gate) {
      const gate = new Uint8Array(plan.keep.length + nNew).fill(1);
      plan.keep.forEach((i, r) => (gate[r] = this.gate![i]));
      this.gate = gate;
    }
    this.g = applyDensify(this.g, plan);
    this.bind(moments, this.adam.steps);
    this.densifyLog.push({ step, cloned: plan.cloned, split: plan.split, pruned: plan.pruned, count: this.g.count });
  }

  setLevel(): void {}

  saveState(): StateBlob {
    const arrays: StateBlob['arrays'] = {};
    for (const name of GROUPS) arrays[name] = this.g[name];
    for (const name of GROUPS) {
      const s = this.adam.exportState(name);
      arrays[`adam.${name}.m`] = s.m;
      arrays[`adam.${name}.v`] = s.v;
      arrays[`adam.${name}.t`] = s.t;
    }
    arrays.gradAccum = this.gradAccum;
    arrays.denom = this.denom;
    if (this.gate) arrays.gate = this.gate;
    return {
      meta: {
        count: this.g.count,
        shDegree: this.g.shDegree,
        adamSteps: this.adam.steps,
        rng: this.rng.state,
        densifyLog: this.densifyLog,
      },
      arrays,
    };
  }

  loadState(s: StateBlob): void {
    const n = s.meta.count as number;
    if (!Number.isInteger(n) || n < 0) throw new Error(`checkpoint holds an invalid Gaussian count (${s.meta.count})`);
    for (const name of GROUPS) {
      const len = (s.arrays[name] as Float32Array | undefined)?.length;
      if (len !== n * WIDTH[name])
        throw new Error(`checkpoint's ${name} holds ${len} values, expected ${n * WIDTH[name]} for ${n} Gaussians`);
    }
    if (!!this.gate !== !!s.arrays.gate) throw new Error('checkpoint was made with a different region setting');
    const g = createGaussians(n, (s.meta.shDegree as number | undefined) ?? this.g.shDegree);
    for (const name of GROUPS) g[name].set(s.arrays[name] as Float32Array);
    this.g = g;
    if (this.gate) this.gate = Uint8Array.from(s.arrays.gate as Uint8Array);
    const moments = {} as Record<Group, { m: Float32Array; v: Float32Array; t: Uint32Array }>;
    for (const name of GROUPS)
      moments[name] = {
        m: s.arrays[`adam.${name}.m`] as Float32Array,
        v: s.arrays[`adam.${name}.v`] as Float32Array,
        t: s.arrays[`adam.${name}.t`] as Uint32Array,
      };
    this.bind(moments, s.meta.adamSteps as number);
    if (s.arrays.gradAccum) this.gradAccum.set(s.arrays.gradAccum as Float32Array);
    if (s.arrays.denom) this.denom.set(s.arrays.denom as Float32Array);
    if (typeof s.meta.rng === 'number') this.rng.state = s.meta.rng;
    this.densifyLog.length = 0;
    if (Array.isArray(s.meta.densifyLog)) this.densifyLog.push(...(s.meta.densifyLog as GaussianEditable['densifyLog']));
  }

  finalize(): void {}

  /** Frees the backend's device memory. */
  dispose(): void {
    this.raster.dispose?.();
  }
}
