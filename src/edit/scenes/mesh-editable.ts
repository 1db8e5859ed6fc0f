import type { Camera } from '../../core/camera';
import type { Image } from '../../core/image';
import type { Mesh } from '../../nerf/mesh/mesh';
import type { MeshRender } from '../../nerf/mesh/mesh-backend';
import type { MeshRenderMode, MeshStyleModel } from '../../nerf/mesh/mesh-style-model';
import type { AlphaTarget, EditableScene, PhotometricLoss, SourceRender, StateBlob } from './editable';

/**
 * A mesh under a Text2Mesh-style edit: its neural style field (colour offsets and displacements along the
 * normals, mesh-style-model.ts) is what the loops optimise. Renders and view losses go through the differentiable
 * rasteriser; gradients of every loss of a step add up and `step()` runs one backward pass of the field and one
 * Adam step. With a region, only vertices inside it change (the others keep colour and position bit for bit).
 *
 * View losses compare against the target composited over the background with the INPUT mesh's coverage in that
 * view: image editors repaint the backdrop too (a gold tint around the object), which would otherwise pull the
 * silhouette outwards; the displacement is learned from the object's own pixels and its shading.
 */
export class MeshEditable implements EditableScene {
  readonly kind = 'mesh' as const;
  readonly level = 0;

  constructor(
    readonly model: MeshStyleModel,
    readonly background: [number, number, number],
  ) {}

  get backendName(): string {
    return this.model.raster.name === this.model.runnerName
      ? this.model.raster.name
      : `${this.model.raster.name} (field: ${this.model.runnerName})`;
  }

  private toImage(r: MeshRender): Image {
    return { width: r.width, height: r.height, channels: 3, data: r.image };
  }

  async render(cam: Camera): Promise<Image> {
    await this.pendingStep;
    return this.toImage(await this.model.render(cam, this.background, 'color'));
  }

  /** A render in a given mode (the ImageLoss loops: colour, or the grey geometry render). */
  async renderMode(cam: Camera, mode: MeshRenderMode): Promise<Image> {
    await this.pendingStep;
    return this.toImage(await this.model.render(cam, this.background, mode));
  }

  /** Adds ∂L/∂image (RGB, the layout of the image) of the most recent `renderMode` / `render` to the pending gradient. */
  async addImageGradient(dImage: Float32Array): Promise<void> {
    await this.pendingStep;
    await this.model.backward(dImage);
  }

  async renderSource(cam: Camera): Promise<Image> {
    await this.pendingStep;
    return this.toImage(await this.model.render(cam, this.background, 'source'));
  }

  async renderSourceWithAlpha(cam: Camera): Promise<SourceRender> {
    await this.pendingStep;
    const r = await this.model.render(cam, this.background, 'source');
    this.sourceAlpha.set(cam, r.alpha);
    return { image: this.toImage(r), alpha: r.alpha };
  }

  private readonly sourceAlpha = new WeakMap<Camera, Float32Array>();

  /** The input mesh's coverage in a view (cached per camera object). */
  async coverage(cam: Camera): Promise<Float32Array> {
    let a = this.sourceAlpha.get(cam);
    if (!a) a = (await this.renderSourceWithAlpha(cam)).alpha;
    return a;
  }

  async addViewLoss(
    cam: Camera,
    target: Image,
    pixels: ArrayLike<number>,
    scale: number,
    photometric: PhotometricLoss = 'mse',
    alpha?: AlphaTarget,
  ): Promise<number> {
    await this.pendingStep;
    const n = pixels.length;
    if (!n) return 0;
    const cover = await this.coverage(cam);
    const bg = this.background;
    const r = await this.model.render(cam, this.background, 'color');
    const d = new Float32Array(r.image.length);
    const l1 = photometric === 'l1';
    const k = ((l1 ? 1 : 2) * scale) / (3 * n);
    let loss = 0;
    for (let q = 0; q < n; q++) {
      const p = pixels[q];
      for (let c = 0; c < 3; c++) {
        const a = cover[p];
        const e = r.image[p * 3 + c] - (a * target.data[p * target.channels + c] + (1 - a) * bg[c]);
        loss += l1 ? Math.abs(e) : e * e;
        d[p * 3 + c] += l1 ? k * Math.sign(e) : k * e;
      }
    }
    loss /= 3 * n;
    // a mesh's coverage only changes through its silhouette; opacity targets (preservation) are not offered for meshes
    void alpha;
    await this.model.backward(d);
    return loss;
  }

  regularize(): number {
    return 0;
  }

  step(): void {
    // the loops call step() synchronously; every other method awaits the field's update first
    this.pendingStep = this.pendingStep.then(() => this.model.stepField());
  }

  private pendingStep: Promise<void> = Promise.resolve();

  /** Resolves when every step() so far has been applied. */
  settled(): Promise<void> {
    return this.pendingStep;
  }

  setLevel(): void {}

  /** The state after the last settled step (await `settled()` first). */
  saveState(): StateBlob {
    const s = this.model.saveState();
    return { meta: { step: s.step, paramCount: s.params.length }, arrays: { params: s.params, 'adam.m': s.m, 'adam.v': s.v } };
  }

  loadState(s: StateBlob): void {
    this.model.loadState({
      params: s.arrays.params as Float32Array,
      m: s.arrays['adam.m'] as Float32Array,
      v: s.arrays['adam.v'] as Float32Array,
      step: s.meta.step as number,
    });
  }

  finalize(): void {}

  /** The stylised mesh. */
  async result(): Promise<Mesh> {
    await this.settled();
    return this.model.styled();
  }

  dispose(): void {
    this.model.dispose();
  }
}
