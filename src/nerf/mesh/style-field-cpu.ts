import { matmulABt } from '../../core/matmul';
import type { FieldLayout, StyleFieldRunner } from './style-field';

/**
 * The neural style field on the CPU: the readable twin of mesh_field.wgsl.
 *
 *   CPU function            kernel entry point (mesh_field.wgsl)
 *   linearForward         ↔  linear_forward
 *   linearBackwardInput   ↔  linear_backward_input
 *   linearBackwardWeights ↔  linear_backward_weights, bias_backward
 *
 * `fourierEncode` runs once per mesh on the CPU for every backend, and the optimiser (the project's Adam,
 * src/nerf/common/adam.ts, in mesh-style-model.ts) on the CPU (the WebGPU runner returns the gradient).
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

/**
 * Y = X·W + b (optionally ReLU) for `n` rows, as X·Wtᵀ over the transposed weights `Wt` (scratch, I·O) in the
 * register-tiled kernel of src/core/matmul.ts: about twice as fast as row-by-row updates.
 */
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
  Wt: Float32Array = new Float32Array(I * O),
): void {
  for (let i = 0; i < I; i++) for (let o = 0; o < O; o++) Wt[o * I + i] = params[w + i * O + o];
  matmulABt(Y, X, Wt, n, O, I);
  for (let r = 0, k = 0; r < n; r++)
    for (let o = 0; o < O; o++, k++) {
      const y = Y[k] + params[b + o];
      Y[k] = relu && y < 0 ? 0 : y;
    }
}

/**
 * dX = dY·Wᵀ for the listed rows, masked by the ReLU of the layer that produced X (`Xrelu`: dX = 0 where X = 0).
 * W is stored [in][out], so each dX entry is a dot product over a contiguous weight row; rows go two at a time.
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
  let k = 0;
  for (; k + 2 <= rows.length; k += 2) {
    const ra = rows[k],
      rb = rows[k + 1];
    const ya = ra * O,
      yb = rb * O,
      xa = ra * I,
      xb = rb * I;
    for (let i = 0; i < I; i++) {
      const wo = w + i * O;
      let sa = 0,
        sb = 0;
      for (let o = 0; o < O; o++) {
        const wv = params[wo + o];
        sa += dY[ya + o] * wv;
        sb += dY[yb + o] * wv;
      }
      dX[xa + i] = Xrelu && X[xa + i] <= 0 ? 0 : sa;
      dX[xb + i] = Xrelu && X[xb + i] <= 0 ? 0 : sb;
    }
  }
  for (; k < rows.length; k++) {
    const r = rows[k];
    const yo = r * O,
      xo = r * I;
    for (let i = 0; i < I; i++) {
      const wo = w + i * O;
      let s = 0;
      for (let o = 0; o < O; o++) s += dY[yo + o] * params[wo + o];
      dX[xo + i] = Xrelu && X[xo + i] <= 0 ? 0 : s;
    }
  }
}

/**
 * dW += Xᵀ·dY, db += Σ dY over the listed rows (added into `grads` at the layer's offsets), in 4 × 4 tiles of
 * (inputs × outputs) summed over the rows in local variables.
 */
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
  const R = rows.length;
  for (let o = 0; o < O; o++) {
    let s = 0;
    for (let k = 0; k < R; k++) s += dY[rows[k] * O + o];
    grads[b + o] += s;
  }
  let i = 0;
  for (; i + 4 <= I; i += 4) {
    let o = 0;
    for (; o + 4 <= O; o += 4) {
      let s00 = 0,
        s01 = 0,
        s02 = 0,
        s03 = 0,
        s10 = 0,
        s11 = 0,
        s12 = 0,
        s13 = 0,
        s20 = 0,
        s21 = 0,
        s22 = 0,
        s23 = 0,
        s30 = 0,
        s31 = 0,
        s32 = 0,
        s33 = 0;
      for (let k = 0; k < R; k++) {
        const r = rows[k];
        const xo = r * I + i,
          yo = r * O + o;
        const a0 = X[xo],
          a1 = X[xo + 1],
          a2 = X[xo + 2],
          a3 = X[xo + 3];
        const g0 = dY[yo],
          g1 = dY[yo + 1],
          g2 = dY[yo + 2],
          g3 = dY[yo + 3];
        s00 += a0 * g0;
        s01 += a0 * g1;
        s02 += a0 * g2;
        s03 += a0 * g3;
        s10 += a1 * g0;
        s11 += a1 * g1;
        s12 += a1 * g2;
        s13 += a1 * g3;
        s20 += a2 * g0;
        s21 += a2 * g1;
        s22 += a2 * g2;
        s23 += a2 * g3;
        s30 += a3 * g0;
        s31 += a3 * g1;
        s32 += a3 * g2;
        s33 += a3 * g3;
      }
      const g = w + i * O + o;
      grads[g] += s00;
      grads[g + 1] += s01;
      grads[g + 2] += s02;
      grads[g + 3] += s03;
      grads[g + O] += s10;
      grads[g + O + 1] += s11;
      grads[g + O + 2] += s12;
      grads[g + O + 3] += s13;
      grads[g + 2 * O] += s20;
      grads[g + 2 * O + 1] += s21;
      grads[g + 2 * O + 2] += s22;
      grads[g + 2 * O + 3] += s23;
      grads[g + 3 * O] += s30;
      grads[g + 3 * O + 1] += s31;
      grads[g + 3 * O + 2] += s32;
      grads[g + 3 * O + 3] += s33;
    }
    for (; o < O; o++) weightColumn(X, dY, grads, w, I, O, rows, i, i + 4, o);
  }
  for (let o = 0; o < O; o++) weightColumn(X, dY, grads, w, I, O, rows, i, I, o);
}

/** dW[i][o] for i ∈ [i0, i1) and one output o (the tiles' remainders). */
function weightColumn(
  X: Float32Array,
  dY: Float32Array,
  grads: Float32Array,
  w: number,
  I: number,
  O: number,
  rows: Uint32Array,
  i0: number,
  i1: number,
  o: number,
) {
  for (let i = i0; i < i1; i++) {
    let s = 0;
    for (let k = 0; k < rows.length; k++) s += X[rows[k] * I + i] * dY[rows[k] * O + o];
    grads[w + i * O + o] += s;
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
  /** Scratch for transposed weights (the largest layer). */
  private readonly wt: Float32Array;

  constructor(
    readonly layout: FieldLayout,
    readonly encoded: Float32Array,
    readonly count: number,
  ) {
    const L = layout.layers;
    this.acts = L.map((l, k) => (k === 0 ? encoded : new Float32Array(count * l.in)));
    this.outs = L.map((l) => new Float32Array(count * l.out));
    this.dbuf = [new Float32Array(count * layout.config.width), new Float32Array(count * layout.config.width)];
    this.wt = new Float32Array(Math.max(...L.map((l) => l.in * l.out)));
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
      linearForward(X, params, l.w, l.b, l.in, l.out, l.relu, n, this.outs[k], this.wt);
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
