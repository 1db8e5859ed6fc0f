/**
 * What the diffusion schedulers share: reading diffusers' `scheduler_config.json`, the beta schedules,
 * numpy-compatible spacing helpers, and the Scheduler interface. Values are computed in float64
 * (diffusers keeps betas and ᾱ in float32; the two agree to ~1e-6 relative).
 */
import { UserError } from '../../../core/errors';
import type { Rng } from '../../../core/rng';

export type BetaSchedule = 'linear' | 'scaled_linear' | 'squaredcos_cap_v2';
export type PredictionType = 'epsilon' | 'v_prediction' | 'sample';
export type TimestepSpacing = 'leading' | 'trailing' | 'linspace';

export interface Scheduler {
  /** diffusers class name this scheduler implements. */
  readonly className: string;
  readonly numTrainTimesteps: number;
  /** ᾱ_t for t = 0 … numTrainTimesteps−1. */
  readonly alphasCumprod: Float64Array;
  /** The timesteps of the current schedule (after setTimesteps), largest first; may be fractional (Euler). */
  readonly timesteps: number[];
  /** Euler family: σ for each schedule step plus the final one (length timesteps.length + 1). */
  readonly sigmas?: Float64Array;
  /** Standard deviation of the initial noise (multiply unit Gaussian noise by it). */
  readonly initNoiseSigma: number;
  /** x̂0 predicted by the last step() call (for previews), or null. */
  readonly lastPredOriginal: Float32Array | null;
  /**
   * Builds the schedule of `steps` steps. `span` (default numTrainTimesteps) spreads the steps over
   * [0, span) instead, like setting diffusers' config.num_train_timesteps = span before set_timesteps
   * (the Instruct-NeRF2NeRF way to denoise from an intermediate noise level).
   */
  setTimesteps(steps: number, span?: number): void;
  /** The UNet input for schedule step i (Euler divides by √(σ²+1); DDIM returns the sample). */
  scaleModelInput(sample: Float32Array, i: number): Float32Array;
  /** One denoising step from schedule step i given the model output; draws noise from rng when the sampler is stochastic. */
  step(modelOutput: Float32Array, i: number, sample: Float32Array, rng?: Rng): Float32Array;
  /** Noises x0 to training timestep t in this scheduler's sample space (DDIM: √ᾱ x0 + √(1−ᾱ) n; Euler: x0 + σ n). */
  addNoise(x0: Float32Array, noise: Float32Array, timestep: number): Float32Array;
  /** img2img: the schedule index to start at for noise level t ∈ [0,1] (diffusers' get_timesteps, its `strength`); timesteps.length means no step. */
  startIndexFor(t: number): number;
}

/** The scheduler settings we read, resolved against the class's diffusers defaults. */
export interface SchedulerConfig {
  className: string;
  numTrainTimesteps: number;
  betaStart: number;
  betaEnd: number;
  betaSchedule: BetaSchedule;
  trainedBetas: number[] | null;
  predictionType: PredictionType;
  timestepSpacing: TimestepSpacing;
  stepsOffset: number;
  rescaleBetasZeroSnr: boolean;
  // DDIM
  setAlphaToOne: boolean;
  clipSample: boolean;
  clipSampleRange: number;
  eta: number;
  // Euler
  interpolationType: 'linear' | 'log_linear';
  finalSigmasType: 'zero' | 'sigma_min';
}

type Raw = Record<string, unknown>;

/** Reads one field with its type and range, naming the file and the key when it is wrong. */
export class ConfigReader {
  constructor(
    readonly raw: Raw,
    readonly file: string,
  ) {}
  private bad(key: string, want: string): never {
    throw new UserError(`"${key}" must be ${want}, got ${JSON.stringify(this.raw[key])}`, this.file);
  }
  has(key: string): boolean {
    return this.raw[key] !== undefined && this.raw[key] !== null;
  }
  num(key: string, dflt: number, min = -Infinity, max = Infinity): number {
    if (!this.has(key)) return dflt;
    const v = this.raw[key];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) this.bad(key, `a number in [${min}, ${max}]`);
    return v;
  }
  int(key: string, dflt: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
    const v = this.num(key, dflt, min, max);
    if (!Number.isInteger(v)) this.bad(key, `an integer ≥ ${min}`);
    return v;
  }
  bool(key: string, dflt: boolean): boolean {
    if (!this.has(key)) return dflt;
    const v = this.raw[key];
    if (typeof v !== 'boolean') this.bad(key, 'true or false');
    return v;
  }
  choice<T extends string>(key: string, choices: readonly T[], dflt: T): T {
    if (!this.has(key)) return dflt;
    const v = this.raw[key];
    if (typeof v !== 'string' || !choices.includes(v as T)) this.bad(key, `one of ${choices.map((c) => `"${c}"`).join(', ')}`);
    return v as T;
  }
  /** Rejects a setting we do not implement (when it is set to something other than its neutral value). */
  unsupported(key: string, neutral: unknown[]): void {
    if (this.has(key) && !neutral.includes(this.raw[key])) {
      throw new UserError(
        `"${key}": ${JSON.stringify(this.raw[key])} is not supported by instruct-scene's ${this.raw._class_name ?? 'scheduler'}`,
        this.file,
      );
    }
  }
}

export function readCommonConfig(
  r: ConfigReader,
  className: string,
  defaults: { timestepSpacing: TimestepSpacing; predictionTypes: readonly PredictionType[] },
): SchedulerConfig {
  const numTrainTimesteps = r.int('num_train_timesteps', 1000, 2, 1_000_000);
  let trainedBetas: number[] | null = null;
  if (r.has('trained_betas')) {
    const tb = r.raw.trained_betas;
    if (!Array.isArray(tb) || tb.length !== numTrainTimesteps || !tb.every((b) => typeof b === 'number' && b > 0 && b < 1)) {
      throw new UserError(`"trained_betas" must be null or a list of ${numTrainTimesteps} numbers in (0, 1)`, r.file);
    }
    trainedBetas = tb as number[];
  }
  const cfg: SchedulerConfig = {
    className,
    numTrainTimesteps,
    betaStart: r.num('beta_start', 0.0001, 0, 1),
    betaEnd: r.num('beta_end', 0.02, 0, 1),
    betaSchedule: r.choice('beta_schedule', ['linear', 'scaled_linear', 'squaredcos_cap_v2'] as const, 'linear'),
    trainedBetas,
    predictionType: r.choice('prediction_type', defaults.predictionTypes, 'epsilon'),
    timestepSpacing: r.choice('timestep_spacing', ['leading', 'trailing', 'linspace'] as const, defaults.timestepSpacing),
    stepsOffset: r.int('steps_offset', 0, 0, numTrainTimesteps - 1),
    rescaleBetasZeroSnr: r.bool('rescale_betas_zero_snr', false),
    setAlphaToOne: r.bool('set_alpha_to_one', true),
    clipSample: r.bool('clip_sample', true),
    clipSampleRange: r.num('clip_sample_range', 1, 0),
    eta: r.num('eta', 0, 0, 1),
    interpolationType: r.choice('interpolation_type', ['linear', 'log_linear'] as const, 'linear'),
    finalSigmasType: r.choice('final_sigmas_type', ['zero', 'sigma_min'] as const, 'zero'),
  };
  if (cfg.betaEnd <= 0 && !trainedBetas && cfg.betaSchedule !== 'squaredcos_cap_v2')
    throw new UserError('"beta_end" must be positive', r.file);
  return cfg;
}

/** β_t for the configured schedule. */
export function makeBetas(cfg: SchedulerConfig): Float64Array {
  const T = cfg.numTrainTimesteps;
  let betas: Float64Array;
  if (cfg.trainedBetas) betas = Float64Array.from(cfg.trainedBetas);
  else if (cfg.betaSchedule === 'linear') betas = linspace(cfg.betaStart, cfg.betaEnd, T);
  else if (cfg.betaSchedule === 'scaled_linear') betas = linspace(Math.sqrt(cfg.betaStart), Math.sqrt(cfg.betaEnd), T).map((b) => b * b);
  else {
    // Glide cosine schedule: discretised ᾱ(t) = cos²((t + 0.008)/1.008 · π/2), β capped at 0.999.
    const abar = (t: number) => Math.cos(((t + 0.008) / 1.008) * (Math.PI / 2)) ** 2;
    betas = new Float64Array(T);
    for (let i = 0; i < T; i++) betas[i] = Math.min(1 - abar((i + 1) / T) / abar(i / T), 0.999);
  }
  if (cfg.rescaleBetasZeroSnr) betas = rescaleZeroTerminalSnr(betas);
  return betas;
}

/** Shifts and scales √ᾱ so the last timestep has zero SNR and the first keeps its value (Lin et al. 2023). */
export function rescaleZeroTerminalSnr(betas: Float64Array): Float64Array {
  const n = betas.length;
  const sq = new Float64Array(n);
  let prod = 1;
  for (let i = 0; i < n; i++) sq[i] = Math.sqrt((prod *= 1 - betas[i]));
  const a0 = sq[0],
    aT = sq[n - 1];
  for (let i = 0; i < n; i++) sq[i] = ((sq[i] - aT) * a0) / (a0 - aT);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const abar = sq[i] * sq[i];
    out[i] = 1 - (i === 0 ? abar : abar / (sq[i - 1] * sq[i - 1]));
  }
  return out;
}

export function cumprodAlphas(betas: Float64Array): Float64Array {
  const out = new Float64Array(betas.length);
  let p = 1;
  for (let i = 0; i < betas.length; i++) out[i] = p *= 1 - betas[i];
  return out;
}

/** numpy.linspace(a, b, n) (endpoint included, last value exactly b). */
export function linspace(a: number, b: number, n: number): Float64Array {
  const out = new Float64Array(n);
  if (n === 1) {
    out[0] = a;
    return out;
  }
  const step = (b - a) / (n - 1);
  for (let i = 0; i < n; i++) out[i] = a + i * step;
  out[n - 1] = b;
  return out;
}

/** numpy's round (half to even). */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * Timesteps of an inference schedule as diffusers' set_timesteps spaces them, largest first.
 * `integer` rounds the linspace spacing (DDIM); Euler keeps it fractional.
 */
export function spacedTimesteps(spacing: TimestepSpacing, span: number, steps: number, stepsOffset: number, integer: boolean): number[] {
  const out: number[] = [];
  if (spacing === 'linspace') {
    const ls = linspace(0, span - 1, steps);
    for (let i = steps - 1; i >= 0; i--) out.push(integer ? roundHalfEven(ls[i]) : ls[i]);
  } else if (spacing === 'leading') {
    const ratio = Math.floor(span / steps);
    for (let i = steps - 1; i >= 0; i--) out.push(i * ratio + stepsOffset);
  } else {
    // numpy.arange(span, 0, -span/steps): ceil((0 - span)/step) values span + k·step, rounded, minus 1.
    const step = -span / steps;
    const n = Math.ceil((0 - span) / step);
    for (let k = 0; k < n; k++) out.push(roundHalfEven(span + k * step) - 1);
  }
  return out;
}

/** numpy.interp(x, [0, 1, …, len−1], ys) */
export function interpIndex(x: number, ys: ArrayLike<number>): number {
  if (x <= 0) return ys[0];
  const last = ys.length - 1;
  if (x >= last) return ys[last];
  const i = Math.floor(x),
    f = x - i;
  return f === 0 ? ys[i] : ys[i] + (ys[i + 1] - ys[i]) * f;
}

export function checkSteps(steps: number, span: number, T: number): void {
  if (!Number.isInteger(steps) || steps < 1) throw new UserError(`the number of steps must be a positive integer, got ${steps}`);
  if (!Number.isInteger(span) || span < 1 || span > T)
    throw new UserError(`the timestep span must be an integer in [1, ${T}], got ${span}`);
  if (steps > span) throw new UserError(`cannot take ${steps} steps over ${span} training timesteps`);
}

/** diffusers img2img get_timesteps: start index for noise level t (diffusers' `strength`) over n steps. */
export function startIndexFor(t: number, n: number): number {
  if (!(t >= 0 && t <= 1)) throw new UserError(`the noise level t must be in [0, 1], got ${t}`);
  const init = Math.min(Math.floor(n * t), n);
  return Math.max(n - init, 0);
}

export function checkLengths(a: Float32Array, b: Float32Array, what: string): void {
  if (a.length !== b.length) throw new Error(`${what}: length mismatch (${a.length} vs ${b.length})`);
}
