/**
 * Euler samplers in σ-space (k-diffusion / diffusers EulerDiscreteScheduler and EulerAncestralDiscreteScheduler):
 * x = x0 + σ·ε with σ_t = √((1 − ᾱ_t)/ᾱ_t); the UNet sees x/√(σ² + 1). The ancestral variant splits each step
 * into a deterministic move to σ_down and fresh noise of size σ_up (σ_up² + σ_down² = σ_next²).
 */
import type { Rng } from '../../../core/rng';
import {
  checkLengths,
  checkSteps,
  ConfigReader,
  cumprodAlphas,
  interpIndex,
  linspace,
  makeBetas,
  readCommonConfig,
  spacedTimesteps,
  startIndexFor,
  type Scheduler,
  type SchedulerConfig,
} from './scheduler-common';

export class EulerScheduler implements Scheduler {
  readonly className: string;
  readonly numTrainTimesteps: number;
  readonly alphasCumprod: Float64Array;
  /** σ_t of every training timestep. */
  readonly trainSigmas: Float64Array;
  timesteps: number[] = [];
  sigmas: Float64Array;
  lastPredOriginal: Float32Array | null = null;

  constructor(
    readonly config: SchedulerConfig,
    readonly ancestral: boolean,
  ) {
    this.className = config.className;
    this.numTrainTimesteps = config.numTrainTimesteps;
    const ac = cumprodAlphas(makeBetas(config));
    // With a zero terminal SNR, diffusers keeps the last ᾱ at 2⁻²⁴ so that σ stays finite.
    if (config.rescaleBetasZeroSnr) ac[ac.length - 1] = 2 ** -24;
    this.alphasCumprod = ac;
    this.trainSigmas = ac.map((a) => Math.sqrt((1 - a) / a));
    // Before setTimesteps: every training timestep, largest first (as diffusers initialises).
    this.sigmas = new Float64Array([...this.trainSigmas].reverse().concat(0));
    for (let t = this.numTrainTimesteps - 1; t >= 0; t--) this.timesteps.push(t);
  }

  static fromConfig(r: ConfigReader, className: string, ancestral: boolean): EulerScheduler {
    r.unsupported('use_karras_sigmas', [false]);
    r.unsupported('use_exponential_sigmas', [false]);
    r.unsupported('use_beta_sigmas', [false]);
    r.unsupported('timestep_type', ['discrete']);
    r.unsupported('sigma_min', []);
    r.unsupported('sigma_max', []);
    const cfg = readCommonConfig(r, className, { timestepSpacing: 'linspace', predictionTypes: ['epsilon', 'v_prediction'] });
    if (ancestral) {
      r.unsupported('interpolation_type', ['linear']);
      r.unsupported('final_sigmas_type', ['zero']);
    }
    return new EulerScheduler(cfg, ancestral);
  }

  get initNoiseSigma(): number {
    let max = 0;
    for (const s of this.sigmas) if (s > max) max = s;
    const sp = this.config.timestepSpacing;
    return sp === 'linspace' || sp === 'trailing' ? max : Math.sqrt(max * max + 1);
  }

  setTimesteps(steps: number, span = this.numTrainTimesteps): void {
    checkSteps(steps, span, this.numTrainTimesteps);
    const c = this.config;
    const ts = spacedTimesteps(c.timestepSpacing, span, steps, c.stepsOffset, false);
    const train = this.trainSigmas;
    // log_linear: σ evenly spaced in log from σ_max to σ_min (steps + 1 values, as diffusers builds them).
    const sig =
      c.interpolationType === 'log_linear'
        ? [...linspace(Math.log(train[train.length - 1]), Math.log(train[0]), steps + 1)].map(Math.exp)
        : ts.map((t) => interpIndex(t, train));
    const last = c.finalSigmasType === 'sigma_min' ? train[0] : 0;
    this.timesteps = ts;
    this.sigmas = new Float64Array([...sig, last]);
    this.lastPredOriginal = null;
  }

  /** σ at a (possibly fractional) training timestep, interpolated like diffusers' set_timesteps. */
  sigmaAt(timestep: number): number {
    return interpIndex(timestep, this.trainSigmas);
  }

  scaleModelInput(sample: Float32Array, i: number): Float32Array {
    const s = 1 / Math.sqrt(this.sigmas[this.index(i)] ** 2 + 1);
    return sample.map((v) => v * s);
  }

  step(modelOutput: Float32Array, i: number, sample: Float32Array, rng?: Rng): Float32Array {
    checkLengths(modelOutput, sample, 'Euler step');
    i = this.index(i);
    const sigma = this.sigmas[i],
      next = this.sigmas[i + 1];
    let target = next,
      up = 0;
    if (this.ancestral) {
      up = Math.sqrt(Math.max(0, (next * next * (sigma * sigma - next * next)) / (sigma * sigma)));
      target = Math.sqrt(Math.max(0, next * next - up * up));
      if (up > 0 && !rng) throw new Error('Euler-ancestral step needs an Rng');
    }
    const dt = target - sigma;
    const v = this.config.predictionType === 'v_prediction';
    const cOut = -sigma / Math.sqrt(sigma * sigma + 1),
      cSkip = 1 / (sigma * sigma + 1);
    const out = new Float32Array(sample.length);
    const x0s = new Float32Array(sample.length);
    for (let k = 0; k < sample.length; k++) {
      const x = sample[k];
      const x0 = v ? modelOutput[k] * cOut + x * cSkip : x - sigma * modelOutput[k];
      x0s[k] = x0;
      let y = x + ((x - x0) / sigma) * dt;
      if (up > 0) y += rng!.normal() * up;
      out[k] = y;
    }
    this.lastPredOriginal = x0s;
    return out;
  }

  addNoise(x0: Float32Array, noise: Float32Array, timestep: number): Float32Array {
    checkLengths(x0, noise, 'addNoise');
    const s = this.sigmaAt(timestep);
    return x0.map((v, k) => v + noise[k] * s);
  }

  startIndexFor(t: number): number {
    return startIndexFor(t, this.timesteps.length);
  }

  private index(i: number): number {
    if (!Number.isInteger(i) || i < 0 || i >= this.timesteps.length)
      throw new Error(`schedule index ${i} out of range [0, ${this.timesteps.length})`);
    return i;
  }
}
