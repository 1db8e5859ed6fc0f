import { Rng } from '../../core/rng';

/**
 * Text2Mesh's neural style field (Michel et al., CVPR 2022; docs/mesh-stylisation.md): an MLP on Fourier features
 * of each vertex's position in the mesh's unit bounding sphere, with a colour branch and a displacement branch.
 *
 *   γ(p) = [p, sin(2π·pB), cos(2π·pB)],  B ∈ R^{3×F}, B ~ N(0, σ²)   (fixed, not trained)
 *   trunk: Linear(3 + 2F → W) + ReLU, then `depth` × [Linear(W → W) + ReLU]
 *   colour: `branchDepth` × [Linear(W → W) + ReLU], Linear(W → 3)      → colour = base + tanh(·)/2
 *   displacement: `branchDepth` × [Linear(W → W) + ReLU], Linear(W → 1) → offset = 0.1·tanh(·) along the normal
 *
 * The last layer of each branch starts at zero, so the first render is the input mesh. This file holds the
 * configuration, the parameter layout (one flat Float32Array: per layer, weights [in][out] then biases) and the
 * initialisation; style-field-cpu.ts (CPU twin) and style-field-webgpu.ts run it.
 */
export interface StyleFieldConfig {
  /** Hidden width W. */
  width: number;
  /** Trunk layers after the first. */
  depth: number;
  /** Hidden layers of each branch before its output layer. */
  branchDepth: number;
  /** Fourier frequencies F and their standard deviation σ. */
  frequencies: number;
  sigma: number;
  /** Adam learning rate, multiplied by `lrDecay` every `lrEvery` steps. */
  lr: number;
  lrDecay: number;
  lrEvery: number;
  /** Maximum displacement as a fraction of the bounding-sphere radius (0.1·tanh). */
  maxDisplacement: number;
}

/** The paper's field (its public code's demo settings): W 256, depth 4, 256 frequencies, σ 5, lr 5e-4 × 0.9 / 100. */
export const TEXT2MESH_FIELD: StyleFieldConfig = {
  width: 256,
  depth: 4,
  branchDepth: 2,
  frequencies: 256,
  sigma: 5,
  lr: 5e-4,
  lrDecay: 0.9,
  lrEvery: 100,
  maxDisplacement: 0.1,
};

/**
 * The CPU default: the same structure (depth, branches, σ, output maps, schedule) at width 64 with 64 frequencies,
 * about 1/15 of the paper's multiply-adds per vertex, so a 15k-vertex mesh stylises in about a minute on two cores
 * (bench/mesh.ts; docs/mesh-stylisation.md says what it trades away). The learning rate is 1e-3: at 5e-4 the
 * narrower field's outputs move about half as fast per Adam step (a "make it gold" edit needs ~2× the steps).
 */
export const CPU_FIELD: StyleFieldConfig = { ...TEXT2MESH_FIELD, width: 64, frequencies: 64, lr: 1e-3 };

export interface LayerSpec {
  in: number;
  out: number;
  relu: boolean;
  /** Offset of its weights ([in][out]) and biases ([out]) in the flat parameter array. */
  w: number;
  b: number;
}

/** The layers in evaluation order: trunk, colour branch, displacement branch; and where each branch starts. */
export interface FieldLayout {
  config: StyleFieldConfig;
  inputs: number;
  layers: LayerSpec[];
  trunk: number[];
  color: number[];
  disp: number[];
  paramCount: number;
}

export function fieldLayout(c: StyleFieldConfig): FieldLayout {
  const layers: LayerSpec[] = [];
  let off = 0;
  const add = (i: number, o: number, relu: boolean) => {
    layers.push({ in: i, out: o, relu, w: off, b: off + i * o });
    off += i * o + o;
    return layers.length - 1;
  };
  const inputs = 3 + 2 * c.frequencies;
  const trunk = [add(inputs, c.width, true)];
  for (let i = 0; i < c.depth; i++) trunk.push(add(c.width, c.width, true));
  const color: number[] = [],
    disp: number[] = [];
  for (let i = 0; i < c.branchDepth; i++) color.push(add(c.width, c.width, true));
  color.push(add(c.width, 3, false));
  for (let i = 0; i < c.branchDepth; i++) disp.push(add(c.width, c.width, true));
  disp.push(add(c.width, 1, false));
  return { config: c, inputs, layers, trunk, color, disp, paramCount: off };
}

/** Multiply-adds per vertex of one forward pass (backward costs about twice that). */
export function macsPerVertex(l: FieldLayout): number {
  return l.layers.reduce((s, x) => s + x.in * x.out, 0);
}

/**
 * Initial parameters: PyTorch's default Linear initialisation (weights and biases U(−1/√in, 1/√in)), the last
 * layer of each branch zero. Deterministic for a seed.
 */
export function initFieldParams(l: FieldLayout, seed: number): Float32Array {
  const p = new Float32Array(l.paramCount);
  const rng = new Rng(seed);
  const last = new Set([l.color[l.color.length - 1], l.disp[l.disp.length - 1]]);
  l.layers.forEach((L, i) => {
    if (last.has(i)) return;
    const k = 1 / Math.sqrt(L.in);
    for (let j = 0; j < L.in * L.out + L.out; j++) p[L.w + j] = rng.uniform(-k, k);
  });
  return p;
}

/** The Fourier matrix B (3 × F, row-major), B ~ N(0, σ²); fixed for a seed. */
export function fourierMatrix(c: StyleFieldConfig, seed: number): Float32Array {
  const rng = new Rng(seed ^ 0x5eed);
  const B = new Float32Array(3 * c.frequencies);
  for (let i = 0; i < B.length; i++) B[i] = rng.normal() * c.sigma;
  return B;
}

/** The learning rate at an (0-based) step: lr · decay^⌊step / every⌋. */
export function fieldLearningRate(c: StyleFieldConfig, step: number): number {
  return c.lr * c.lrDecay ** Math.floor(step / c.lrEvery);
}

/** Adam moments (β1 0.9, β2 0.999, ε 1e-8: PyTorch's defaults, which Text2Mesh uses). */
export const FIELD_ADAM = { beta1: 0.9, beta2: 0.999, eps: 1e-8 } as const;

/**
 * Runs the field's MLP over a fixed set of encoded vertices: a forward pass for the current parameters (keeping
 * what the backward pass needs) and the parameter gradient for ∂L/∂outputs of that pass. Implementations: one
 * thread (style-field-cpu.ts), a pool of threads over slices of the vertices (a Node adapter), WebGPU.
 * Outputs are 4 per vertex: the colour branch's three pre-tanh values, then the displacement branch's.
 */
export interface StyleFieldRunner {
  readonly name: string;
  forward(params: Float32Array): Promise<Float32Array>;
  backward(dOut: Float32Array): Promise<Float32Array>;
  dispose?(): void;
}

/** Makes a runner for `layout` over the encoded inputs of `count` vertices (`inputs` values each). */
export type StyleFieldRunnerFactory = (layout: FieldLayout, encoded: Float32Array, count: number) => Promise<StyleFieldRunner>;
