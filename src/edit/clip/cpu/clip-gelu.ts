/**
 * CPU twin of src/shaders/clip_gelu.wgsl: the MLP activations of CLIP checkpoints and their derivatives.
 * quick_gelu x·σ(1.702x) (OpenAI's checkpoints), gelu 0.5x(1 + erf(x/√2)) (exact; erf to ~1e-7, the same
 * polynomial as the kernel), gelu_new / gelu_pytorch_tanh 0.5x(1 + tanh(√(2/π)(x + 0.044715x³))).
 */
import type { Activation } from '../clip-config';

/** The kernel's integer code of each activation (WGSL override constant ACT). */
export const ACT_CODE: Record<Activation, number> = { quick_gelu: 0, gelu: 1, gelu_new: 2, gelu_pytorch_tanh: 2 };

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const INV_SQRT2 = Math.SQRT1_2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/** erf(x) for x ≥ 0 … any x: Abramowitz & Stegun 7.1.26 refined (|error| < 1.5e-7). */
export function erf(x: number): number {
  const s = x < 0 ? -1 : 1;
  const a = Math.abs(x);
  const t = 1 / (1 + 0.3275911 * a);
  const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-a * a);
  return s * y;
}

function tanhStable(x: number): number {
  const t = Math.exp(-2 * Math.abs(x));
  const v = (1 - t) / (1 + t);
  return x < 0 ? -v : v;
}

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

export function activation(x: number, act: number): number {
  if (act === 0) return x * sigmoid(1.702 * x);
  if (act === 1) return 0.5 * x * (1 + erf(x * INV_SQRT2));
  return 0.5 * x * (1 + tanhStable(SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)));
}

export function activationDerivative(x: number, act: number): number {
  if (act === 0) {
    const s = sigmoid(1.702 * x);
    return s + 1.702 * x * s * (1 - s);
  }
  if (act === 1) return 0.5 * (1 + erf(x * INV_SQRT2)) + x * INV_SQRT_2PI * Math.exp(-0.5 * x * x);
  const u = SQRT_2_OVER_PI * (x + 0.044715 * x * x * x);
  const t = tanhStable(u);
  return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * SQRT_2_OVER_PI * (1 + 3 * 0.044715 * x * x);
}

export function clipGelu(out: Float32Array, x: Float32Array, act: Activation, n = x.length): void {
  const c = ACT_CODE[act];
  for (let i = 0; i < n; i++) out[i] = activation(x[i], c);
}

/** dx = dy·act'(x) */
export function clipGeluBackward(dx: Float32Array, dy: Float32Array, x: Float32Array, act: Activation, n = x.length): void {
  const c = ACT_CODE[act];
  for (let i = 0; i < n; i++) dx[i] = dy[i] * activationDerivative(x[i], c);
}
