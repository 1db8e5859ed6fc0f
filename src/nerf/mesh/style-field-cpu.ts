import type { FieldLayout, StyleFieldRunner } from './style-field';
import { FIELD_ADAM } from './style-field';

/**
 * The neural style field on the CPU: the readable twin of mesh_field.wgsl.
 *
 *   CPU function            kernel entry point (mesh_field.wgsl)
 *   linearForward         ↔  linear_forward
 *   linearBackwardInput   ↔  linear_backward_input
 *   linearBackwardWeights ↔  linear_backward_weights, bias_backward
 *
 * `fourierEncode` runs once per mesh on the CPU for every backend, and `adamStep` on the CPU (the WebGPU runner
 * returns the gradient).
 *
 * Matrices are row-major: activations [rows][features], weights [in][out].
 */

/** γ(p) = [p, sin(2π·pB), cos(2π·pB)] for n points (3 per point) and B (3 × F). */
export function fourierEncode(
  points: Float32Array,
  n: number,
  B: Float32Array,
  F: number,
  out = new Float32Array(n * (3 + 2 * F)),
): Float32Array {
  const D = 3 + 2 * F;
  for (let r = 0; r < n; r++) {
    const x = points[3 * r],
      y = points[3 * r + 1],
      z = points[3 * r + 2];
    const o = r * D;
    out[o] = x;
    out[o + 1] = y;
    out[o + 2] = z;
    for (let j = 0; j < F; j++) {
      const a = 2 * Math.PI * (x * B[j] + y * B[F + j] + z * B[2 * F + j]);
      out[o + 3 + j] = Math.sin(a);
      out[o + 3 + F + j] = Math.cos(a);
    }
  }
  return out;
}

/** Y = X·W + b (optionally ReLU) for `n` rows; rows listed in `rows` only (all when null). */
export function linearForward(
  X: Float32Array,
  params: Float32Array,
  w: number,
  b: number,
  I: number,
  O: number,
  relu: boolean,
  n: number,
  Y: Float32Array,
): void {
  let r = 0;
  // four rows at a time: each weight is loaded once per four rows
  for (; r + 4 <= n; r += 4) {
    const y0 = r * O,
      y1 = y0 + O,
      y2 = y1 + O,
      y3 = y2 + O;
    for (let o = 0; o < O; o++) {
      const bo = params[b + o];
      Y[y0 + o] = bo;
      Y[y1 + o] = bo;
      Y[y2 + o] = bo;
      Y[y3 + o] = bo;
    }
    const x0 = r * I,
      x1 = x0 + I,
      x2 = x1 + I,
      x3 = x2 + I;
    for (let i = 0; i < I; i++) {
      const a0 = X[x0 + i],
        a1 = X[x1 + i],
        a2 = X[x2 + i],
        a3 = X[x3 + i];
      if (a0 === 0 && a1 === 0 && a2 === 0 && a3 === 0) continue;
      const wo = w + i * O;
      for (let o = 0; o < O; o++) {
        const wv = params[wo + o];
        Y[y0 + o] += a0 * wv;
        Y[y1 + o] += a1 * wv;
        Y[y2 + o] += a2 * wv;
        Y[y3 + o] += a3 * wv;
      }
    }
  }
  for (; r < n; r++) {
    const yo = r * O,
      xo = r * I;
    for (let o = 0; o < O; o++) Y[yo + o] = params[b + o];
    for (let i = 0; i < I; i++) {
      const a = X[xo + i];
      if (a === 0) continue;
      const wo = w + i * O;
      for (let o = 0; o < O; o++) Y[yo + o] += a * params[wo + o];
    }
  }
  if (relu) for (let k = 0; k < n * O; k++) if (Y[k] < 0) Y[k] = 0;
}

/**
 * dX = dY·Wᵀ for the listed rows, masked by the ReLU of the layer that produced X (`Xrelu`: dX = 0 where X = 0).
 */
export function linearBackwardInput(
  dY: Float32Array,
  params: Float32Array,
  w: number,
  I: number,
  O: number,
  rows: Uint32Array,
  X: Float32Array,
  Xrelu: boolean,
  dX: Float32Array,
): void {
  for (let k = 0; k < rows.length; k++) {
    const r = rows[k];
    const yo = r * O,
      xo = r * I;
    for (let i = 0; i < I; i++) {
      if (Xrelu && X[xo + i] <= 0) {
        dX[xo + i] = 0;
        continue;
      }
      const wo = w + i * O;
      let s = 0;
      for (let o = 0; o < O; o++) s += dY[yo + o] * params[wo + o];
      dX[xo + i] = s;
    }
  }
}

/** dW += Xᵀ·dY, db += Σ dY over the listed rows (added into `grads` at the layer's offsets). */
export function linearBackwardWeights(
  X: Float32Array,
  dY: Float32Array,
  grads: Float32Array,
  w: number,
  b: number,
  I: number,
  O: number,
  rows: Uint32Array,
): void {
  for (let k = 0; k < rows.length; k++) {
    const r = rows[k];
    const yo = r * O,
      xo = r * I;
    for (let o = 0; o < O; o++) grads[b + o] += dY[yo + o];
    for (let i = 0; i < I; i++) {
      const a = X[xo + i];
      if (a === 0) continue;
      const wo = w + i * O;
      for (let o = 0; o < O; o++) grads[wo + o] += a * dY[yo + o];
    }
  }
}

/**
 * One Adam step (PyTorch's form, bias-corrected; `t` is the 1-based step): m ← β1·m + (1−β1)·g,
 * v ← β2·v + (1−β2)·g², p ← p − lr·m̂/(√v̂ + ε).
 */
export function adamStep(params: Float32Array, grads: Float32Array, m: Float32Array, v: Float32Array, t: number, lr: number): void {
  const { beta1: b1, beta2: b2, eps } = FIELD_ADAM;
  const c1 = 1 / (1 - b1 ** t),
    c2 = 1 / (1 - b2 ** t);
  for (let i = 0; i < params.length; i++) {
    const g = grads[i];
    const mi = (m[i] = b1 * m[i] + (1 - b1) * g);
    const vi = (v[i] = b2 * v[i] + (1 - b2) * g * g);
    params[i] -= (lr * mi * c1) / (Math.sqrt(vi * c2) + eps);
  }
}

/**
 * The field over one slice of vertices on this thread: forward keeps every layer's input, backward
 * skips vertices whose output gradient is zero (not seen in the step's views, or outside the edit region).
 */
export class CpuStyleField implements StyleFieldRunner {
  readonly name = 'cpu';
  /** acts[k] = input of layer k (post-ReLU output of the layer before it; the encoding for layer 0). */
  private readonly acts: Float32Array[];
  private readonly outs: Float32Array[];
  private readonly dbuf: Float32Array[];
  private params: Float32Array = new Float32Array(0);

  constructor(
    readonly layout: FieldLayout,
    readonly encoded: Float32Array,
    readonly count: number,
  ) {
    const L = layout.layers;
    this.acts = L.map((l, k) => (k === 0 ? encoded : new Float32Array(count * l.in)));
    this.outs = L.map((l) => new Float32Array(count * l.out));
    this.dbuf = [new Float32Array(count * layout.config.width), new Float32Array(count * layout.config.width)];
  }

  async forward(params: Float32Array): Promise<Float32Array> {
    return this.forwardSync(params);
  }

  forwardSync(params: Float32Array): Float32Array {
    this.params = params;
    const { layers, trunk, color, disp } = this.layout;
    const n = this.count;
    const run = (k: number, X: Float32Array) => {
      const l = layers[k];
      linearForward(X, params, l.w, l.b, l.in, l.out, l.relu, n, this.outs[k]);
      return this.outs[k];
    };
    let h = this.encoded;
    for (const k of trunk) {
      this.acts[k] = h;
      h = run(k, h);
    }
    const top = h;
    for (const branch of [color, disp]) {
      h = top;
      for (const k of branch) {
        this.acts[k] = h;
        h = run(k, h);
      }
    }
    const c = this.outs[color[color.length - 1]],
      d = this.outs[disp[disp.length - 1]];
    const out = new Float32Array(n * 4);
    for (let r = 0; r < n; r++) {
      out[4 * r] = c[3 * r];
      out[4 * r + 1] = c[3 * r + 1];
      out[4 * r + 2] = c[3 * r + 2];
      out[4 * r + 3] = d[r];
    }
    return out;
  }

  async backward(dOut: Float32Array): Promise<Float32Array> {
    return this.backwardSync(dOut);
  }

  backwardSync(dOut: Float32Array, grads = new Float32Array(this.layout.paramCount)): Float32Array {
    const { layers, trunk, color, disp, config } = this.layout;
    const n = this.count,
      W = config.width;
    const params = this.params;
    const active: number[] = [];
    for (let r = 0; r < n; r++)
      if (dOut[4 * r] !== 0 || dOut[4 * r + 1] !== 0 || dOut[4 * r + 2] !== 0 || dOut[4 * r + 3] !== 0) active.push(r);
    if (!active.length) return grads;
    const rows = Uint32Array.from(active);
    const dTop = new Float32Array(n * W);
    const [bufA, bufB] = this.dbuf;
    for (const [branch, width, base] of [
      [color, 3, 0],
      [disp, 1, 3],
    ] as const) {
      // the branch output's gradient
      let dY: Float32Array = new Float32Array(n * width);
      for (const r of rows) for (let c = 0; c < width; c++) dY[r * width + c] = dOut[4 * r + base + c];
      for (let j = branch.length - 1; j >= 0; j--) {
        const k = branch[j],
          l = layers[k];
        const X = this.acts[k];
        linearBackwardWeights(X, dY, grads, l.w, l.b, l.in, l.out, rows);
        const dX = dY === bufA ? bufB : bufA;
        linearBackwardInput(dY, params, l.w, l.in, l.out, rows, X, true, dX);
        dY = dX;
      }
      for (const r of rows) for (let i = 0; i < W; i++) dTop[r * W + i] += dY[r * W + i];
    }
    let dY: Float32Array = dTop;
    for (let j = trunk.length - 1; j >= 0; j--) {
      const k = trunk[j],
        l = layers[k];
      const X = this.acts[k];
      linearBackwardWeights(X, dY, grads, l.w, l.b, l.in, l.out, rows);
      if (j === 0) break;
      const dX = dY === bufA ? bufB : bufA;
      linearBackwardInput(dY, params, l.w, l.in, l.out, rows, X, true, dX);
      dY = dX;
    }
    return grads;
  }
}
