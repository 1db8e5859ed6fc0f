import type { Camera } from '../../core/camera';
import type { Mesh } from './mesh';
import { faceAdjacency } from './mesh';
import type { MeshRasterBackend, MeshRender } from './mesh-backend';
import { MESH_GREY } from './mesh-scene';
import { composeBackward, composeStyled, normalizedPositions, styleBase, type StyleBase } from './style-compose';
import type { FieldLayout, StyleFieldConfig, StyleFieldRunner, StyleFieldRunnerFactory } from './style-field';
import { FIELD_ADAM, fieldLayout, fieldLearningRate, fourierMatrix, initFieldParams } from './style-field';
import { CpuStyleField, fourierEncode } from './style-field-cpu';
import { Adam } from '../common/adam';

/** What a render shows: the stylised mesh, its geometry in grey (Text2Mesh's geometry term), or the input mesh. */
export type MeshRenderMode = 'color' | 'geometry' | 'source';

export interface MeshStyleOptions {
  config: StyleFieldConfig;
  seed: number;
  /** 1 for vertices the edit may change (an edit region); null = all. */
  gate?: Uint8Array | null;
  /** Runs the MLP (default: this thread). */
  runner?: StyleFieldRunnerFactory;
  raster: MeshRasterBackend;
}

/** Checkpointable state: the field's parameters, Adam's moments and the step count. */
export interface MeshStyleState {
  params: Float32Array;
  m: Float32Array;
  v: Float32Array;
  step: number;
}

export const cpuFieldRunner: StyleFieldRunnerFactory = async (layout, encoded, count) => new CpuStyleField(layout, encoded, count);

/**
 * A mesh being stylised by a neural style field (Text2Mesh): renders of the stylised mesh, gradients of
 * image losses accumulated into the field's parameters, and Adam steps with Text2Mesh's schedule.
 * Gradients from several renders (views, the geometry term, preservation) add up until `step()`, which runs
 * one backward pass of the field for all of them.
 */
export class MeshStyleModel {
  readonly base: StyleBase;
  readonly layout: FieldLayout;
  readonly params: Float32Array;
  step = 0;
  /** The project's Adam (PyTorch's dense form: `'rows'` with no mask) over the field's parameters. */
  private readonly adam: Adam;
  private readonly grads: Float32Array;
  private raw: Float32Array | null = null;
  private readonly positions: Float32Array;
  private readonly colors: Float32Array;
  private readonly grey: Float32Array;
  private readonly adjacency: Int32Array;
  private readonly dColors: Float32Array;
  private readonly dPositions: Float32Array;
  private pending = false;
  private lastMode: MeshRenderMode | null = null;

  private constructor(
    mesh: Mesh,
    readonly config: StyleFieldConfig,
    readonly seed: number,
    gate: Uint8Array | null,
    private readonly runner: StyleFieldRunner,
    readonly raster: MeshRasterBackend,
  ) {
    this.base = styleBase(mesh, gate);
    this.layout = fieldLayout(config);
    this.params = initFieldParams(this.layout, seed);
    this.grads = new Float32Array(this.params.length);
    this.adam = new Adam([{ name: 'field', params: this.params, grads: this.grads, lr: 0 }], { ...FIELD_ADAM, sparse: 'rows' });
    const n3 = mesh.positions.length;
    this.positions = mesh.positions.slice();
    this.colors = this.base.baseColors.slice();
    this.grey = new Float32Array(n3).fill(MESH_GREY);
    this.adjacency = faceAdjacency(mesh.indices, n3 / 3);
    this.dColors = new Float32Array(n3);
    this.dPositions = new Float32Array(n3);
  }

  static async create(mesh: Mesh, o: MeshStyleOptions): Promise<MeshStyleModel> {
    const gate = o.gate ?? null;
    const layout = fieldLayout(o.config);
    const n = mesh.positions.length / 3;
    // the field only runs on the vertices it may change
    const rows = gate ? Array.from(gate.keys()).filter((i) => gate[i]) : null;
    const pts = normalizedPositions(styleBase(mesh));
    const sel = rows ? Float32Array.from(rows.flatMap((i) => [pts[3 * i], pts[3 * i + 1], pts[3 * i + 2]])) : pts;
    const count = rows ? rows.length : n;
    const encoded = fourierEncode(sel, count, fourierMatrix(o.config, o.seed), o.config.frequencies);
    const runner = await (o.runner ?? cpuFieldRunner)(layout, encoded, count);
    const model = new MeshStyleModel(mesh, o.config, o.seed, gate, runner, o.raster);
    model.rows = rows ? Uint32Array.from(rows) : null;
    return model;
  }

  /** Vertices the field runs on (null = all), in the runner's row order. */
  private rows: Uint32Array | null = null;

  get vertexCount(): number {
    return this.base.mesh.positions.length / 3;
  }

  get runnerName(): string {
    return this.runner.name;
  }

  /** Field outputs for every vertex (4 each; zeros for vertices outside the gate), evaluated once per parameter update. */
  private async outputs(): Promise<Float32Array> {
    if (this.raw) return this.raw;
    const out = await this.runner.forward(this.params);
    let raw = out;
    if (this.rows) {
      raw = new Float32Array(this.vertexCount * 4);
      this.rows.forEach((v, r) => raw.set(out.subarray(4 * r, 4 * r + 4), 4 * v));
    }
    composeStyled(this.base, raw, this.config.maxDisplacement, this.positions, this.colors);
    this.raw = raw;
    return raw;
  }

  /** The stylised mesh (colours clamped to [0, 1], displaced positions), same vertices and faces as the input. */
  async styled(): Promise<Mesh> {
    await this.outputs();
    return { positions: this.positions.slice(), indices: this.base.mesh.indices, colors: this.colors.slice() };
  }

  async render(cam: Camera, background: [number, number, number], mode: MeshRenderMode = 'color'): Promise<MeshRender> {
    const m = this.base.mesh;
    let input;
    if (mode === 'source') input = { positions: m.positions, indices: m.indices, colors: this.base.baseColors, adjacency: this.adjacency };
    else {
      await this.outputs();
      input = {
        positions: this.positions,
        indices: m.indices,
        colors: mode === 'geometry' ? this.grey : this.colors,
        adjacency: this.adjacency,
      };
    }
    this.lastMode = mode;
    return this.raster.render(input, cam, background);
  }

  /** Adds the gradient of a loss on the most recent render (∂L/∂image, RGB) to the pending gradient. */
  async backward(dImage: Float32Array): Promise<void> {
    if (this.lastMode === 'source' || this.lastMode === null)
      throw new Error('MeshStyleModel.backward: the last render was not of the stylised mesh');
    const g = await this.raster.backward(dImage);
    if (this.lastMode === 'color') for (let i = 0; i < g.colors.length; i++) this.dColors[i] += g.colors[i];
    for (let i = 0; i < g.positions.length; i++) this.dPositions[i] += g.positions[i];
    this.pending = true;
  }

  /** One Adam step of the field from the pending gradient (Text2Mesh's learning-rate schedule). */
  async stepField(): Promise<void> {
    const raw = await this.outputs();
    if (this.pending) {
      const dRaw = composeBackward(this.base, raw, this.config.maxDisplacement, this.dColors, this.dPositions);
      let d = dRaw;
      if (this.rows) {
        d = new Float32Array(this.rows.length * 4);
        this.rows.forEach((v, r) => d.set(dRaw.subarray(4 * v, 4 * v + 4), 4 * r));
      }
      const grads = await this.runner.backward(d);
      this.grads.set(grads);
      this.adam.setLr('field', fieldLearningRate(this.config, this.step));
      this.adam.steps = this.step; // the bias correction counts the loop's steps (t = step + 1)
      this.adam.step();
      this.dColors.fill(0);
      this.dPositions.fill(0);
      this.pending = false;
      this.raw = null;
    }
    this.step++;
  }

  saveState(): MeshStyleState {
    const { m, v } = this.adam.moments('field');
    return { params: this.params.slice(), m: m.slice(), v: v.slice(), step: this.step };
  }

  loadState(s: MeshStyleState): void {
    for (const k of ['params', 'm', 'v'] as const)
      if (s[k].length !== this.params.length)
        throw new Error(`style field state holds ${s[k].length} ${k} values, expected ${this.params.length} (another field size?)`);
    this.params.set(s.params);
    const { m, v } = this.adam.moments('field');
    m.set(s.m);
    v.set(s.v);
    this.step = s.step;
    this.raw = null;
  }

  dispose(): void {
    this.runner.dispose?.();
    this.raster.dispose?.();
  }
}
