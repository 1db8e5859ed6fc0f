/**
 * DDIM (Song et al. 2021) as diffusers' DDIMScheduler: x_{t'} = √ᾱ_{t'}·x̂0 + √(1 − ᾱ_{t'} − s²)·ε̂ + s·z with
 * s = η·√((1 − ᾱ_{t'})/(1 − ᾱ_t)·(1 − ᾱ_t/ᾱ_{t'})), t' = t − span/steps (integer division), ᾱ_{−k} = 1 when
 * set_alpha_to_one else ᾱ_0. η = 0 (the default) is deterministic.
 */
import { UserError } from '../../../core/errors';
import type { Rng } from '../../../core/rng';
import {
  checkLengths,
  checkSteps,
  ConfigReader,
  cumprodAlphas,
  makeBetas,
  readCommonConfig,
  spacedTimesteps,
  startIndexFor,
  type Scheduler,
  type SchedulerConfig,
} from './scheduler-common';

export class DdimScheduler implements Scheduler {
  readonly className: string;
  readonly numTrainTimesteps: number;
  readonly alphasCumprod: Float64Array;
  readonly finalAlphaCumprod: number;
  readonly initNoiseSigma = 1;
  timesteps: number[] = [];
  lastPredOriginal: Float32Array | null = null;
  private span: number;

  constructor(readonly config: SchedulerConfig) {
    this.className = config.className;
    this.numTrainTimesteps = config.numTrainTimesteps;
    this.alphasCumprod = cumprodAlphas(makeBetas(config));
    this.finalAlphaCumprod = config.setAlphaToOne ? 1 : this.alphasCumprod[0];
    this.span = config.numTrainTimesteps;
    for (let t = this.numTrainTimesteps - 1; t >= 0; t--) this.timesteps.push(t);
  }

  static fromConfig(r: ConfigReader, className: string): DdimScheduler {
    r.unsupported('thresholding', [false]);
    return new DdimScheduler(
      readCommonConfig(r, className, { timestepSpacing: 'leading', predictionTypes: ['epsilon', 'v_prediction', 'sample'] }),
    );
  }

  setTimesteps(steps: number, span = this.numTrainTimesteps): void {
    checkSteps(steps, span, this.numTrainTimesteps);
    const ts = spacedTimesteps(this.config.timestepSpacing, span, steps, this.config.stepsOffset, true);
    const bad = ts.find((t) => t < 0 || t >= this.numTrainTimesteps);
    if (bad !== undefined) {
      throw new UserError(
        `${steps} steps with steps_offset ${this.config.stepsOffset} and "${this.config.timestepSpacing}" spacing reach timestep ${bad}, outside [0, ${this.numTrainTimesteps - 1}]; use fewer steps`,
      );
    }
    this.timesteps = ts;
    this.span = span;
    this.lastPredOriginal = null;
  }

  /** The timestep the step from schedule index i lands on (negative: past the end, uses the final ᾱ). */
  prevTimestep(i: number): number {
    return this.timesteps[this.index(i)] - Math.floor(this.span / this.timesteps.length);
  }

  scaleModelInput(sample: Float32Array, i: number): Float32Array {
    this.index(i);
    return sample;
  }

  step(modelOutput: Float32Array, i: number, sample: Float32Array, rng?: Rng): Float32Array {
    checkLengths(modelOutput, sample, 'DDIM step');
    const t = this.timesteps[this.index(i)];
    const prev = this.prevTimestep(i);
    const a = this.alphasCumprod[t];
    const aPrev = prev >= 0 ? this.alphasCumprod[prev] : this.finalAlphaCumprod;
    const b = 1 - a;
    const sa = Math.sqrt(a),
      sb = Math.sqrt(b);
    const eta = this.config.eta;
    const variance = ((1 - aPrev) / b) * (1 - a / aPrev);
    const std = eta * Math.sqrt(Math.max(0, variance));
    if (std > 0 && !rng) throw new Error('DDIM with eta > 0 needs an Rng');
    const dirScale = Math.sqrt(Math.max(0, 1 - aPrev - std * std));
    const saPrev = Math.sqrt(aPrev);
    const pred = this.config.predictionType;
    const clip = this.config.clipSample,
      range = this.config.clipSampleRange;
    const out = new Float32Array(sample.length);
    const x0s = new Float32Array(sample.length);
    for (let k = 0; k < sample.length; k++) {
      const x = sample[k],
        m = modelOutput[k];
      let x0: number, eps: number;
      if (pred === 'epsilon') {
        x0 = (x - sb * m) / sa;
        eps = m;
      } else if (pred === 'sample') {
        x0 = m;
        eps = (x - sa * x0) / sb;
      } else {
        x0 = sa * x - sb * m;
        eps = sa * m + sb * x;
      }
      if (clip) x0 = Math.min(range, Math.max(-range, x0));
      x0s[k] = x0;
      let y = saPrev * x0 + dirScale * eps;
      if (std > 0) y += std * rng!.normal();
      out[k] = y;
    }
    this.lastPredOriginal = x0s;
    return out;
  }

  addNoise(x0: Float32Array, noise: Float32Array, timestep: number): Float32Array {
    checkLengths(x0, noise, 'addNoise');
    const t = Math.min(this.numTrainTimesteps - 1, Math.max(0, Math.round(timestep)));
    const a = Math.sqrt(this.alphasCumprod[t]),
      b = Math.sqrt(1 - this.alphasCumprod[t]);
    return x0.map((v, k) => a * v + b * noise[k]);
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
