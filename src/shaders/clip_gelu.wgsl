// CLIP MLP activations and their derivatives (twin: src/edit/clip/cpu/clip-gelu.ts), 1D over elements.
// ACT: 0 quick_gelu x·σ(1.702x), 1 gelu 0.5x(1 + erf(x/√2)) (erf: Abramowitz & Stegun 7.1.26, |error| < 1.5e-7),
// 2 tanh form 0.5x(1 + tanh(√(2/π)(x + 0.044715x³))).

override WG: u32 = 64;
override ACT: u32 = 0;

struct Params {
  n: u32,
  _p0: u32,
  _p1: u32,
  _p2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

const SQRT_2_OVER_PI: f32 = 0.7978845608028654;
const INV_SQRT2: f32 = 0.7071067811865476;
const INV_SQRT_2PI: f32 = 0.3989422804014327;

fn erf_approx(v: f32) -> f32 {
  let a = abs(v);
  let t = 1.0 / (1.0 + 0.3275911 * a);
  let y = 1.0 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * exp(-a * a);
  return select(y, -y, v < 0.0);
}

fn tanh_stable(v: f32) -> f32 {
  let t = exp(-2.0 * abs(v));
  let r = (1.0 - t) / (1.0 + t);
  return select(r, -r, v < 0.0);
}

fn sigmoid(v: f32) -> f32 {
  return 1.0 / (1.0 + exp(-v));
}

fn act(v: f32) -> f32 {
  if (ACT == 0u) {
    return v * sigmoid(1.702 * v);
  }
  if (ACT == 1u) {
    return 0.5 * v * (1.0 + erf_approx(v * INV_SQRT2));
  }
  return 0.5 * v * (1.0 + tanh_stable(SQRT_2_OVER_PI * (v + 0.044715 * v * v * v)));
}

fn act_derivative(v: f32) -> f32 {
  if (ACT == 0u) {
    let s = sigmoid(1.702 * v);
    return s + 1.702 * v * s * (1.0 - s);
  }
  if (ACT == 1u) {
    return 0.5 * (1.0 + erf_approx(v * INV_SQRT2)) + v * INV_SQRT_2PI * exp(-0.5 * v * v);
  }
  let u = SQRT_2_OVER_PI * (v + 0.044715 * v * v * v);
  let t = tanh_stable(u);
  return 0.5 * (1.0 + t) + 0.5 * v * (1.0 - t * t) * SQRT_2_OVER_PI * (1.0 + 3.0 * 0.044715 * v * v);
}

@compute @workgroup_size(WG)
fn gelu(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.n) {
    return;
  }
  out[i] = act(x[i]);
}

@compute @workgroup_size(WG)
fn gelu_backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.n) {
    return;
  }
  out[i] = dy[i] * act_derivative(x[i]);
}
