import { pixelRay } from '../../core/rays';
import type { Camera } from '../../core/camera';
import { UserError } from '../../core/errors';
import type { Image } from '../../core/image';
import type { Mesh } from '../../nerf/mesh/mesh';
import type { MeshRasterBackend, MeshRender } from '../../nerf/mesh/mesh-backend';
import { MeshStyleModel, type MeshRenderMode } from '../../nerf/mesh/mesh-style-model';
import type { StyleFieldConfig, StyleFieldRunnerFactory } from '../../nerf/mesh/style-field';
import type { Region } from '../regions/regions';
import { defaultDilation, dilateMask } from '../regions/regions';
import type { EditableScene, ImageGradientTarget, LossSamples, LossTerm, Shading, SourceRender, StateBlob } from './editable';

/** A mesh edit's options (the edit spec fills them; see src/edit/loops/edit-spec.ts). */
export interface MeshEditOptions {
  /** The neural style field (its width, frequencies, learning-rate schedule; style-field.ts). */
  field: StyleFieldConfig;
  /** Seeds the field's initial weights and its Fourier matrix. */
  seed: number;
}

/** A stylised mesh (what `MeshEditable.export()` returns). */
export interface EditedMesh {
  kind: 'mesh';
  /** Displaced positions and per-vertex colours; the input's vertices and faces. */
  mesh: Mesh;
  background: [number, number, number];
  /** What the scene adds to the edit log (vertex counts, the field, the vertices a region lets change). */
  log: Record<string, unknown>;
}

/** Vertices inside the region (1) or not (0). */
export function regionGate(mesh: Mesh, region: Region): Uint8Array {
  const p = mesh.positions;
  const gate = new Uint8Array(p.length / 3);
  for (let i = 0; i < gate.length; i++) gate[i] = region.inside(p[3 * i], p[3 * i + 1], p[3 * i + 2]) ? 1 : 0;
  return gate;
}

/** The input mesh's coverage in one view: per-pixel α, and the pixels on or near the object (α > 0.01, dilated). */
interface Coverage {
  alpha: Float32Array;
  near: Uint8Array;
}

/**
 * A mesh under a Text2Mesh-style edit: its neural style field (colour offsets and displacements along the
 * normals, mesh-style-model.ts) is what the loops optimise. Renders and view losses go through the
 * differentiable rasteriser (the CPU twin or WebGPU); the gradients of every loss of a step add up and `step()`
 * runs one backward pass of the field and one Adam step. With a region, only vertices inside it change (the
 * others keep colour and position bit for bit).
 *
 * View losses (IDU's refit, SDS) count only the pixels on or near the input mesh (its coverage dilated by 2 % of
 * the image side) and compare against the target composited over the background with the input's coverage:
 * image editors repaint the backdrop too (a gold tint around the object), which would otherwise pull the
 * silhouette outwards; the displacement is learned from the object's own pixels and its shading. Image losses
 * (CLIP) take whole renders and their exact pixel gradients (`ImageGradientTarget`).
 */
export class MeshEditable implements EditableScene<EditedMesh>, ImageGradientTarget {
  readonly kind = 'mesh' as const;
  readonly sampling = 'view' as const;
  readonly level = 0;
  private readonly coverageOf = new WeakMap<Camera, Coverage>();
  private result: Mesh | null = null;

  private constructor(
    readonly model: MeshStyleModel,
    readonly background: [number, number, number],
    private readonly gate: Uint8Array | null,
  ) {}

  /**
   * A mesh edit limited to the vertices inside `region` (a UserError when none is), rendering with `raster` and
   * running the field with `runner` (default: this thread).
   */
  static async create(
    mesh: Mesh,
    background: [number, number, number],
    region: Region | undefined,
    o: MeshEditOptions,
    raster: MeshRasterBackend,
    runner?: StyleFieldRunnerFactory,
  ): Promise<MeshEditable> {
    const gate = region ? regionGate(mesh, region) : null;
    if (gate && !gate.some((x) => x)) throw new UserError(`the region '${region!.text}' contains no vertex of the mesh`);
    const model = await MeshStyleModel.create(mesh, { config: o.field, seed: o.seed, gate, runner, raster });
    return new MeshEditable(model, background, gate);
  }

  get backendName(): string {
    return this.model.raster.name === this.model.runnerName
      ? this.model.raster.name
      : `${this.model.raster.name} (field: ${this.model.runnerName})`;
  }

  private toImage(r: MeshRender): Image {
    return { width: r.width, height: r.height, channels: 3, data: r.image };
  }

  private modeOf(shading: Shading): MeshRenderMode {
    return shading === 'geometry' ? 'geometry' : 'color';
  }

  async render(cam: Camera): Promise<Image> {
    return this.toImage(await this.model.render(cam, this.background, 'color'));
  }

  /** A mesh changes everywhere its field reaches: no partial renders. */
  async renderPixels(): Promise<Image | null> {
    return null;
  }

  async renderSource(cam: Camera): Promise<SourceRender> {
    const r = await this.model.render(cam, this.background, 'source');
    if (!this.coverageOf.has(cam)) this.coverageOf.set(cam, coverage(r.alpha, cam));
    return { image: this.toImage(r), alpha: r.alpha, ...this.surfaceOf(r, cam) };
  }

  /**
   * Depth of the surface each pixel shows (its centre ray against the plane of the face the rasteriser found) and,
   * for a gated edit, the share of that face's corners the edit may change, times the pixel's coverage: the
   * depth-aware mask of a mesh (docs/editing.md, "Precise edits").
   */
  private surfaceOf(r: MeshRender, cam: Camera): { depth: Float32Array; gated?: Float32Array } {
    const { positions: P, indices: F } = this.model.base.mesh;
    const n = r.width * r.height;
    const depth = new Float32Array(n);
    const gated = this.gate ? new Float32Array(n) : undefined;
    const o = new Float32Array(3),
      d = new Float32Array(3);
    for (let p = 0; p < n; p++) {
      const f = r.faceId[p];
      if (f < 0) continue;
      const [a, b, c] = [F[3 * f], F[3 * f + 1], F[3 * f + 2]];
      pixelRay(cam, p % r.width, Math.floor(p / r.width), o, d, 0);
      const e1 = [0, 1, 2].map((k) => P[3 * b + k] - P[3 * a + k]),
        e2 = [0, 1, 2].map((k) => P[3 * c + k] - P[3 * a + k]);
      const nrm = [e1[1] * e2[2] - e1[2] * e2[1], e1[2] * e2[0] - e1[0] * e2[2], e1[0] * e2[1] - e1[1] * e2[0]];
      const den = nrm[0] * d[0] + nrm[1] * d[1] + nrm[2] * d[2];
      const t = den !== 0 ? (nrm[0] * (P[3 * a] - o[0]) + nrm[1] * (P[3 * a + 1] - o[1]) + nrm[2] * (P[3 * a + 2] - o[2])) / den : 0;
      depth[p] = t > 0 && Number.isFinite(t) ? t : 0;
      if (gated) gated[p] = (r.alpha[p] * (this.gate![a] + this.gate![b] + this.gate![c])) / 3;
    }
    return { depth, gated };
  }

  /** The input mesh's coverage in a view (cached per camera object). */
  private async coverage(cam: Camera): Promise<Coverage> {
    const c = this.coverageOf.get(cam);
    if (c) return c;
    await this.renderSource(cam);
    return this.coverageOf.get(cam)!;
  }

  async addLoss(samples: LossSamples, term: LossTerm): Promise<number> {
    if (samples.kind !== 'view') throw new Error('MeshEditable takes the pixels of one view per loss (sampling: view)');
    if (term.alphaWeight) throw new Error('a mesh takes no opacity term (its coverage changes only through the silhouette)');
    const { camera: cam, target } = samples;
    const cover = await this.coverage(cam);
    const pixels: number[] = [];
    for (let q = 0; q < samples.pixels.length; q++) if (cover.near[samples.pixels[q]]) pixels.push(samples.pixels[q]);
    const n = pixels.length;
    if (!n) return 0;
    const bg = this.background;
    const r = await this.model.render(cam, bg, 'color');
    const d = new Float32Array(r.image.length);
    const l1 = term.photometric === 'l1';
    const k = ((l1 ? 1 : 2) * term.scale) / (3 * n);
    const C = target.channels;
    let loss = 0;
    for (const p of pixels) {
      const a = cover.alpha[p];
      for (let c = 0; c < 3; c++) {
        const e = r.image[p * 3 + c] - (a * target.data[p * C + c] + (1 - a) * bg[c]);
        loss += l1 ? Math.abs(e) : e * e;
        d[p * 3 + c] += l1 ? k * Math.sign(e) : k * e;
      }
    }
    await this.model.backward(d);
    return loss / (3 * n);
  }

  async renderShaded(cam: Camera, shading: Shading): Promise<Image> {
    return this.toImage(await this.model.render(cam, this.background, this.modeOf(shading)));
  }

  async addImageGradient(cam: Camera, shading: Shading, dImage: Float32Array): Promise<void> {
    // the rasteriser keeps what its backward pass needs of its latest render only: render the view again
    await this.model.render(cam, this.background, this.modeOf(shading));
    await this.model.backward(dImage);
  }

  regularize(): number {
    return 0;
  }

  async step(): Promise<void> {
    await this.model.stepField();
    this.result = null;
  }

  setLevel(): void {}

  saveState(): StateBlob {
    const s = this.model.saveState();
    return { meta: { adamSteps: s.step }, arrays: { params: s.params, 'adam.m': s.m, 'adam.v': s.v } };
  }

  loadState(s: StateBlob): void {
    const step = s.meta.adamSteps;
    if (typeof step !== 'number' || !Number.isSafeInteger(step) || step < 0)
      throw new Error(`the style field's step count ${JSON.stringify(step)} is not a non-negative integer`);
    for (const k of ['params', 'adam.m', 'adam.v'])
      if (!(s.arrays[k] instanceof Float32Array)) throw new Error(`the style field's state has no float array '${k}'`);
    this.model.loadState({
      params: s.arrays.params as Float32Array,
      m: s.arrays['adam.m'] as Float32Array,
      v: s.arrays['adam.v'] as Float32Array,
      step,
    });
    this.result = null;
  }

  /** Evaluates the field once more for the stylised mesh `export()` returns. */
  async finalize(): Promise<void> {
    this.result = await this.model.styled();
  }

  export(): EditedMesh {
    if (!this.result) throw new Error('MeshEditable.export() before finalize()');
    const n = this.model.vertexCount;
    return {
      kind: 'mesh',
      mesh: this.result,
      background: this.background,
      log: {
        mesh: {
          vertices: n,
          faces: this.model.base.mesh.indices.length / 3,
          styledVertices: this.gate ? this.gate.reduce((s, g) => s + g, 0) : n,
          field: this.model.config,
          adamSteps: this.model.step,
        },
      },
    };
  }

  dispose(): void {
    this.model.dispose();
  }
}

function coverage(alpha: Float32Array, cam: Camera): Coverage {
  const { width: W, height: H } = cam;
  const cover = { width: W, height: H, channels: 1 as const, data: Float32Array.from(alpha, (a) => (a > 0.01 ? 1 : 0)) };
  const near = dilateMask(cover, defaultDilation(cam));
  return { alpha, near: Uint8Array.from(near.data, (x) => (x >= 0.5 ? 1 : 0)) };
}
