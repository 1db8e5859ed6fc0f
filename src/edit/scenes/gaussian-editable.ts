import type { Camera } from '../../core/camera';
import type { Image } from '../../core/image';
import { Adam } from '../../nerf/common/adam';
import { Rng } from '../../core/rng';
import { cloneGaussians, createGaussians, setColor, SH_STRIDE, type Gaussians } from '../../nerf/gaussian/gaussians';
import { applyDensify, planDensify } from '../../nerf/gaussian/gaussian-densify';
import { createGrads, type GaussianGrads } from '../../nerf/gaussian/gaussian-project-cpu';
import { CpuGaussianBackend, type GaussianRasterBackend } from '../../nerf/gaussian/gaussian-backend';
import type { EditableScene, LossSamples, LossTerm, SourceRender, StateBlob } from './editable';
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
  /**
   * GaussianEditor's anchor loss (Chen et al., CVPR 2024): the Gaussians that may change are pulled back to
   * their original geometry, weight · mean over them of ‖θ − θ*‖² per attribute — positions (world units),
   * log-scales, rotations (quaternion components) and opacity logits; colours are free. 0 turns an attribute
   * off. Densified children inherit their parent's anchors (moved with the densification: a split child's
   * anchor keeps its offset from the parent and its smaller scale).
   */
  anchorMeans: number;
  anchorScales: number;
  anchorRotations: number;
  anchorOpacity: number;
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
  anchorMeans: 0,
  anchorScales: 0,
  anchorRotations: 0,
  anchorOpacity: 0,
};

/** The anchored attributes and the option holding each one's weight. */
const ANCHORED = [
  ['means', 'anchorMeans'],
  ['logScales', 'anchorScales'],
  ['rotations', 'anchorRotations'],
  ['opacityLogits', 'anchorOpacity'],
] as const;

const GROUPS = ['means', 'logScales', 'rotations', 'opacityLogits', 'sh'] as const;
type Group = (typeof GROUPS)[number];
const WIDTH: Record<Group, number> = { means: 3, logScales: 3, rotations: 4, opacityLogits: 1, sh: SH_STRIDE };

/** What a Gaussian edit exports: the edited Gaussians. */
export interface EditedGaussians {
  kind: 'gaussians';
  gaussians: Gaussians;
  background: [number, number, number];
  /** What the scene adds to the edit log (counts before and after, the densification rounds). */
  log: Record<string, unknown>;
}

/**
 * Gaussians under edit, rasterised by a GaussianRasterBackend (the CPU reference by default, or WebGPU).
 * GaussianEditor-style gating: with a region, only Gaussians whose
 * mean lies inside it (and the Gaussians densification makes from them) receive updates, so the outside is
 * kept exactly and no merge is needed. Densification follows 3DGS (see GaussianEditOptions.densify).
 */
export class GaussianEditable implements EditableScene<EditedGaussians> {
  readonly kind = 'gaussians' as const;
  readonly sampling = 'view' as const;
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
  /** The anchors (original values, per Gaussian of the current set) of the anchored attributes. */
  private anchors: Record<(typeof ANCHORED)[number][0], Float32Array>;

  /**
   * `gate`, when given, says which Gaussians may change (an object selection, docs/editing.md); default: those
   * whose mean is inside the region.
   */
  constructor(
    g: Gaussians,
    readonly background: [number, number, number],
    readonly region: Region | undefined,
    opts: Partial<GaussianEditOptions> = {},
    backend?: GaussianRasterBackend,
    gate?: Uint8Array,
  ) {
    this.o = { ...GAUSSIAN_EDIT_DEFAULTS, ...opts };
    this.raster = backend ?? new CpuGaussianBackend();
    this.orig = cloneGaussians(g);
    this.g = cloneGaussians(g);
    const n = this.g.count;
    if (gate && gate.length !== n) throw new Error(`the gate has ${gate.length} rows, the scene ${n} Gaussians`);
    this.gate = gate ? gate.slice() : region ? new Uint8Array(n) : null;
    if (this.gate && !gate)
      for (let i = 0; i < n; i++)
        this.gate[i] = region!.inside(this.g.means[3 * i], this.g.means[3 * i + 1], this.g.means[3 * i + 2]) ? 1 : 0;
    this.anchors = {
      means: this.g.means.slice(0, 3 * n),
      logScales: this.g.logScales.slice(0, 3 * n),
      rotations: this.g.rotations.slice(0, 4 * n),
      opacityLogits: this.g.opacityLogits.slice(0, n),
    };
    this.maxCount = this.o.maxGaussians > 0 ? this.o.maxGaussians : Math.max(2 * n, n + 20_000);
    this.rng = new Rng(this.o.seed);
    this.bind();
  }

  /** Creates gradients, densification statistics and the optimiser for the current Gaussians. */
  private bind(): void {
    this.newGrads();
    const o = this.o;
    const lr: Record<Group, number> = {
      means: o.lrMeans,
      logScales: o.lrScales,
      rotations: o.lrRotations,
      opacityLogits: o.lrOpacity,
      sh: o.lrColor,
    };
    this.adam = new Adam(GROUPS.map((name) => ({ name, params: this.g[name], grads: this.grads[name], lr: lr[name], width: WIDTH[name] })));
  }

  private newGrads(): void {
    const n = this.g.count;
    this.grads = createGrads(n);
    this.tmp = createGrads(n);
    this.gradAccum = new Float32Array(n);
    this.denom = new Float32Array(n);
  }

  /** The optimiser's arrays for the current Gaussians and gradients. */
  private adamArrays(): Record<Group, { params: Float32Array; grads: Float32Array }> {
    return Object.fromEntries(GROUPS.map((name) => [name, { params: this.g[name], grads: this.grads[name] }])) as Record<
      Group,
      { params: Float32Array; grads: Float32Array }
    >;
  }

  get count(): number {
    return this.g.count;
  }

  get backendName(): string {
    return this.raster.name;
  }

  private async renderOf(g: Gaussians, cam: Camera): Promise<SourceRender> {
    const r = await this.raster.render(g, cam, this.background);
    // the rasteriser's depth is camera-space z: distance along the unit ray is z·√(1 + x² + y²)
    const depth = new Float32Array(r.depth.length);
    for (let y = 0; y < cam.height; y++) {
      const ny = (y + 0.5 - cam.cy) / cam.fy;
      for (let x = 0; x < cam.width; x++) {
        const nx = (x + 0.5 - cam.cx) / cam.fx;
        depth[y * cam.width + x] = r.depth[y * cam.width + x] * Math.sqrt(1 + nx * nx + ny * ny);
      }
    }
    return { image: { width: r.width, height: r.height, channels: 3, data: r.image }, alpha: r.alpha, depth };
  }

  async render(cam: Camera): Promise<Image> {
    return (await this.renderOf(this.g, cam)).image;
  }

  /** A rasteriser renders whole views: nothing is saved by rendering some pixels. */
  async renderPixels(): Promise<Image | null> {
    return null;
  }

  async renderSource(cam: Camera): Promise<SourceRender> {
    const r = await this.renderOf(this.orig, cam);
    if (this.gate) {
      // the gate as a colour (1 or 0, no view dependence), rendered over black
      this.gateGaussians ??= gateColourGaussians(this.orig, this.gate);
      const f = await this.raster.render(this.gateGaussians, cam, [0, 0, 0]);
      r.gated = f.image.filter((_, i) => i % 3 === 0);
    }
    return r;
  }
  private gateGaussians: Gaussians | null = null;

  async addLoss(samples: LossSamples, term: LossTerm): Promise<number> {
    if (samples.kind !== 'view') throw new Error('GaussianEditable takes the pixels of one view per loss (sampling: view)');
    const { camera: cam, pixels, target } = samples;
    const scale = term.scale,
      photometric = term.photometric ?? 'mse';
    const alpha = term.alphaWeight && samples.targetAlpha ? { target: samples.targetAlpha, weight: term.alphaWeight } : null;
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

  /** The anchor loss (see GaussianEditOptions.anchorMeans) on the Gaussians that may change; returns its value. */
  regularize(): number {
    const n = this.g.count,
      gate = this.gate;
    let active = 0;
    for (let i = 0; i < n; i++) if (!gate || gate[i]) active++;
    if (!active) return 0;
    let loss = 0;
    for (const [name, opt] of ANCHORED) {
      const w = this.o[opt];
      if (!(w > 0)) continue;
      const p = this.g[name],
        a = this.anchors[name],
        grad = this.grads[name],
        k = WIDTH[name];
      let sum = 0;
      for (let i = 0; i < n; i++) {
        if (gate && !gate[i]) continue;
        for (let c = i * k; c < i * k + k; c++) {
          const d = p[c] - a[c];
          sum += d * d;
          grad[c] += ((2 * w) / active) * d;
        }
      }
      loss += (w * sum) / active;
    }
    return loss;
  }

  step(): void {
    this.adam.step(this.gate);
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
    const nNew = plan.newOnes.count;
    if (this.gate) {
      const gate = new Uint8Array(plan.keep.length + nNew).fill(1);
      plan.keep.forEach((i, r) => (gate[r] = this.gate![i]));
      this.gate = gate;
    }
    this.anchors = densifyAnchors(this.anchors, this.g, plan);
    this.g = applyDensify(this.g, plan);
    this.newGrads();
    this.adam.remapRows(plan.keep, nNew, this.adamArrays());
    this.densifyLog.push({ step, cloned: plan.cloned, split: plan.split, pruned: plan.pruned, count: this.g.count });
  }

  setLevel(): void {}

  saveState(): StateBlob {
    const arrays: StateBlob['arrays'] = {};
    for (const name of GROUPS) arrays[name] = this.g[name];
    Object.assign(arrays, this.adam.exportState('adam.'));
    arrays.gradAccum = this.gradAccum;
    arrays.denom = this.denom;
    if (this.gate) arrays.gate = this.gate;
    for (const [name] of ANCHORED) arrays[`anchor.${name}`] = this.anchors[name];
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
    for (const [name] of ANCHORED) {
      const len = (s.arrays[`anchor.${name}`] as Float32Array | undefined)?.length;
      if (len !== undefined && len !== n * WIDTH[name])
        throw new Error(`checkpoint's anchor.${name} holds ${len} values, expected ${n * WIDTH[name]} for ${n} Gaussians`);
    }
    for (const name of ['gradAccum', 'denom', 'gate'] as const) {
      const len = s.arrays[name]?.length;
      if (len !== undefined && len !== n) throw new Error(`checkpoint's ${name} holds ${len} values, expected ${n} for ${n} Gaussians`);
    }
    if (!!this.gate !== !!s.arrays.gate) throw new Error('checkpoint was made with a different region setting');
    const g = createGaussians(n, (s.meta.shDegree as number | undefined) ?? this.g.shDegree);
    for (const name of GROUPS) g[name].set(s.arrays[name] as Float32Array);
    const previous = this.g;
    this.g = g;
    this.bind();
    try {
      this.adam.importState(s.arrays, 'adam.', s.meta.adamSteps as number);
    } catch (e) {
      this.g = previous;
      this.bind();
      throw e;
    }
    if (this.gate) this.gate = Uint8Array.from(s.arrays.gate as Uint8Array);
    for (const [name] of ANCHORED) {
      const a = s.arrays[`anchor.${name}`] as Float32Array | undefined;
      // checkpoints without anchors: the current values (nothing had moved them if the loss was off)
      this.anchors[name] = a ? a.slice() : g[name].slice(0, n * WIDTH[name]);
    }
    if (s.arrays.gradAccum) this.gradAccum.set(s.arrays.gradAccum as Float32Array);
    if (s.arrays.denom) this.denom.set(s.arrays.denom as Float32Array);
    if (typeof s.meta.rng === 'number') this.rng.state = s.meta.rng;
    this.densifyLog.length = 0;
    if (Array.isArray(s.meta.densifyLog)) this.densifyLog.push(...(s.meta.densifyLog as GaussianEditable['densifyLog']));
  }

  finalize(): void {}

  export(): EditedGaussians {
    return {
      kind: 'gaussians',
      gaussians: this.g,
      background: this.background,
      log: { gaussians: { before: this.orig.count, after: this.count, densification: this.densifyLog } },
    };
  }

  /** Frees the backend's device memory. */
  dispose(): void {
    this.raster.dispose?.();
  }
}

/**
 * The anchors after a densification round: kept rows keep theirs; a new Gaussian inherits its parent's, moved
 * the way densification moved it (its offset from the parent's mean, the log-scale change of a split).
 */
function densifyAnchors(
  anchors: Record<(typeof ANCHORED)[number][0], Float32Array>,
  g: Gaussians,
  plan: ReturnType<typeof planDensify>,
): Record<(typeof ANCHORED)[number][0], Float32Array> {
  const out = {} as Record<(typeof ANCHORED)[number][0], Float32Array>;
  const nk = plan.keep.length,
    nn = plan.newOnes.count;
  for (const [name] of ANCHORED) {
    const k = WIDTH[name],
      a = anchors[name],
      b = new Float32Array((nk + nn) * k);
    plan.keep.forEach((i, r) => b.set(a.subarray(i * k, i * k + k), r * k));
    plan.parents.forEach((par, j) => {
      for (let c = 0; c < k; c++) {
        const shift = name === 'means' || name === 'logScales' ? plan.newOnes[name][j * k + c] - g[name][par * k + c] : 0;
        b[(nk + j) * k + c] = a[par * k + c] + shift;
      }
    });
    out[name] = b;
  }
  return out;
}

/** The Gaussians with their colour set to their gate value (1 or 0) and no higher SH bands. */
function gateColourGaussians(g: Gaussians, gate: Uint8Array): Gaussians {
  const out = cloneGaussians(g);
  out.sh.fill(0);
  for (let i = 0; i < out.count; i++) setColor(out, i, gate[i], gate[i], gate[i]);
  return out;
}
