import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '../src/core/rng';
import { UserError } from '../src/core/errors';
import { nodeFiles } from '../src/io/node/node-files';
import { createScheduler, loadScheduler, DdimScheduler, EulerScheduler, type Scheduler } from '../src/edit/diffusion/schedulers/schedulers';

/** The released InstructPix2Pix scheduler_config.json (timbrooks/instruct-pix2pix). */
const IP2P = {
  _class_name: 'EulerAncestralDiscreteScheduler',
  _diffusers_version: '0.12.0.dev0',
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  beta_start: 0.00085,
  num_train_timesteps: 1000,
  prediction_type: 'epsilon',
  steps_offset: 1,
  trained_betas: null,
};

// Independent statement of the formulas: β_t = (√β0 + t/(T−1)·(√β1 − √β0))², ᾱ_t = Π(1 − β), σ_t = √((1 − ᾱ_t)/ᾱ_t).
function sdAlphasCumprod(T = 1000, b0 = 0.00085, b1 = 0.012): number[] {
  const out: number[] = [];
  let p = 1;
  for (let t = 0; t < T; t++) {
    const s = Math.sqrt(b0) + (t / (T - 1)) * (Math.sqrt(b1) - Math.sqrt(b0));
    p *= 1 - s * s;
    out.push(p);
  }
  return out;
}
const AC = sdAlphasCumprod();
const sigmaOf = (t: number) => {
  // linear interpolation between integer timesteps
  const i = Math.floor(t),
    f = t - i;
  const s = (k: number) => Math.sqrt((1 - AC[k]) / AC[k]);
  return f === 0 ? s(i) : s(i) * (1 - f) + s(i + 1) * f;
};

function closeArrays(a: ArrayLike<number>, b: ArrayLike<number>, tol: number) {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < a.length; i++)
    expect(Math.abs(a[i] - b[i]), `index ${i}: ${a[i]} vs ${b[i]}`).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(b[i])));
}

function randn(n: number, seed: number): Float32Array {
  const r = new Rng(seed);
  return Float32Array.from({ length: n }, () => r.normal());
}

describe('the released IP2P schedule (Euler-ancestral)', () => {
  const s = createScheduler(IP2P) as EulerScheduler;

  it('has the Stable Diffusion noise schedule (published values)', () => {
    closeArrays(s.alphasCumprod, AC, 1e-12);
    // Lin et al. 2023 ("Common Diffusion Noise Schedules and Sample Steps are Flawed"): SD's √ᾱ_T = 0.068265.
    expect(Math.sqrt(s.alphasCumprod[999])).toBeCloseTo(0.068265, 6);
    // k-diffusion / diffusers: SD σ_max = 14.6146, σ_min = 0.0292.
    expect(s.trainSigmas[999]).toBeCloseTo(14.6146, 4);
    expect(s.trainSigmas[0]).toBeCloseTo(0.0292, 4);
    // diffusers' AysSchedules pairs SD timesteps with σ (3 decimals).
    const ayT = [999, 850, 736, 645, 545, 455, 343, 233, 124, 24];
    const ayS = [14.615, 6.475, 3.861, 2.697, 1.886, 1.396, 0.963, 0.652, 0.399, 0.152];
    ayT.forEach((t, i) => expect(Math.abs(s.trainSigmas[t] - ayS[i])).toBeLessThan(0.004));
  });

  for (const steps of [20, 10]) {
    it(`${steps} steps: linspace timesteps (the class default; the config has no timestep_spacing) and interpolated σ`, () => {
      s.setTimesteps(steps);
      const ts = Array.from({ length: steps }, (_, k) => (999 * (steps - 1 - k)) / (steps - 1));
      closeArrays(s.timesteps, ts, 1e-12);
      expect(s.timesteps[0]).toBe(999);
      expect(s.timesteps[steps - 1]).toBe(0);
      closeArrays(s.sigmas, [...ts.map(sigmaOf), 0], 1e-10);
      expect(s.initNoiseSigma).toBeCloseTo(14.6146, 4);
    });
  }

  it('leading spacing adds steps_offset and scales the initial noise by √(σ_max² + 1)', () => {
    const l = createScheduler({ ...IP2P, timestep_spacing: 'leading' });
    l.setTimesteps(20);
    expect(l.timesteps).toEqual(Array.from({ length: 20 }, (_, k) => (19 - k) * 50 + 1));
    expect(l.initNoiseSigma).toBeCloseTo(Math.sqrt(sigmaOf(951) ** 2 + 1), 10);
    const tr = createScheduler({ ...IP2P, timestep_spacing: 'trailing' });
    tr.setTimesteps(10);
    expect(tr.timesteps).toEqual([999, 899, 799, 699, 599, 499, 399, 299, 199, 99]);
  });

  it('scales the model input by 1/√(σ² + 1)', () => {
    s.setTimesteps(10);
    const x = randn(16, 1);
    const y = s.scaleModelInput(x, 3);
    const k = 1 / Math.sqrt(sigmaOf(s.timesteps[3]) ** 2 + 1);
    closeArrays(
      y,
      Array.from(x, (v) => v * k),
      1e-6,
    );
  });

  it('one ancestral step: x + ε·(σ_down − σ) + σ_up·z, σ_up = √(σ_to²(σ²−σ_to²)/σ²), σ_down = √(σ_to² − σ_up²)', () => {
    s.setTimesteps(20);
    const x = randn(16, 21),
      e = randn(16, 22);
    const i = 7;
    const sg = sigmaOf(s.timesteps[i]),
      to = sigmaOf(s.timesteps[i + 1]);
    const up = Math.sqrt((to * to * (sg * sg - to * to)) / (sg * sg)),
      down = Math.sqrt(to * to - up * up);
    const z = new Rng(99);
    const expected = Array.from(x, (v, k) => v + e[k] * (down - sg) + up * z.normal());
    closeArrays(s.step(e, i, x, new Rng(99)), expected, 1e-5);
    closeArrays(
      s.lastPredOriginal!,
      Array.from(x, (v, k) => v - sg * e[k]),
      1e-5,
    );
  });

  it('with an exact ε predictor it lands on x0 for any seed; same seed → same path, different seeds → different paths', () => {
    const x0 = randn(64, 5).map((v) => v * 0.5);
    const run = (seed: number, exact: boolean) => {
      s.setTimesteps(20);
      const rng = new Rng(seed);
      let x: Float32Array = randn(64, 100).map((v) => v * s.initNoiseSigma);
      const mid: Float32Array[] = [];
      s.timesteps.forEach((_, i) => {
        const sigma = s.sigmas![i];
        const inp = s.scaleModelInput(x, i);
        // exact: ε = (x − x0)/σ in σ-space; otherwise a fixed function of the UNet input (an imperfect model)
        const eps = exact ? x.map((v, k) => (v - x0[k]) / sigma) : inp.map((v) => 0.9 * v);
        x = s.step(eps, i, x, rng);
        mid.push(x);
      });
      return { x, mid };
    };
    for (const seed of [1, 2]) closeArrays(run(seed, true).x, x0, 1e-5);
    const a = run(3, false),
      b = run(3, false),
      c = run(4, false);
    expect(a.x).toEqual(b.x);
    expect(Math.max(...a.mid[5].map((v, k) => Math.abs(v - c.mid[5][k])))).toBeGreaterThan(0.01);
  });

  it('img2img: addNoise is x0 + σ·n, and the scaled input equals √ᾱ·x0 + √(1−ᾱ)·n (DDIM space)', () => {
    const l = createScheduler({ ...IP2P, timestep_spacing: 'leading' });
    l.setTimesteps(20);
    const x0 = randn(32, 7),
      n = randn(32, 8);
    const i = l.startIndexFor(0.6);
    expect(i).toBe(8);
    const t = l.timesteps[i];
    const noised = l.addNoise(x0, n, t);
    closeArrays(
      noised,
      Array.from(x0, (v, k) => v + sigmaOf(t) * n[k]),
      1e-5,
    );
    const a = AC[t];
    closeArrays(
      l.scaleModelInput(noised, i),
      Array.from(x0, (v, k) => Math.sqrt(a) * v + Math.sqrt(1 - a) * n[k]),
      1e-5,
    );
  });

  it('v-prediction: an exact v predictor also lands on x0', () => {
    const v = createScheduler({ ...IP2P, prediction_type: 'v_prediction' });
    v.setTimesteps(10);
    const x0 = randn(32, 9);
    let x: Float32Array = randn(32, 10).map((q) => q * v.initNoiseSigma);
    const rng = new Rng(0);
    v.timesteps.forEach((_, i) => {
      const sigma = v.sigmas![i];
      const c = 1 / Math.sqrt(sigma * sigma + 1);
      // the model sees c·x = √ᾱ·x0 + √(1−ᾱ)·ε with √ᾱ = c, √(1−ᾱ) = σ·c; v = √ᾱ·ε − √(1−ᾱ)·x0
      const pred = x.map((q, k) => c * ((q - x0[k]) / sigma) - sigma * c * x0[k]);
      x = v.step(pred, i, x, rng);
    });
    closeArrays(x, x0, 1e-5);
  });
});

describe('DDIM', () => {
  const ddim = (extra: object = {}) =>
    createScheduler(IP2P, 'scheduler_config.json', { _class_name: 'DDIMScheduler', ...extra }) as DdimScheduler;

  it('20 steps on the IP2P config: leading spacing with steps_offset 1; final step uses ᾱ = 1', () => {
    const s = ddim();
    s.setTimesteps(20);
    expect(s.timesteps).toEqual(Array.from({ length: 20 }, (_, k) => (19 - k) * 50 + 1));
    expect(s.timesteps.slice(0, 3)).toEqual([951, 901, 851]);
    expect(s.prevTimestep(0)).toBe(901);
    expect(s.prevTimestep(19)).toBe(-49);
    expect(s.initNoiseSigma).toBe(1);
    closeArrays(s.alphasCumprod, AC, 1e-12);
    // Stable Diffusion's well-known 50-step DDIM schedule: 981, 961, …, 21, 1.
    s.setTimesteps(50);
    expect(s.timesteps[0]).toBe(981);
    expect(s.timesteps[49]).toBe(1);
  });

  it('linspace and trailing spacing round like numpy (half to even)', () => {
    const lin = ddim({ timestep_spacing: 'linspace' });
    lin.setTimesteps(10);
    expect(lin.timesteps).toEqual([999, 888, 777, 666, 555, 444, 333, 222, 111, 0]);
    const tr = ddim({ timestep_spacing: 'trailing' });
    tr.setTimesteps(16);
    // numpy.round(numpy.arange(1000, 0, -62.5)) − 1
    expect(tr.timesteps).toEqual([999, 937, 874, 811, 749, 687, 624, 561, 499, 437, 374, 311, 249, 187, 124, 61]);
  });

  it('with an exact ε predictor for a known x0, DDIM recovers x0 (from pure noise and from an img2img start)', () => {
    const s = ddim({ clip_sample: false });
    const x0 = randn(128, 11).map((v) => v * 2); // beyond [−1, 1]: clipping must be off to recover it
    const eps = (x: Float32Array, t: number) => x.map((v, k) => (v - Math.sqrt(AC[t]) * x0[k]) / Math.sqrt(1 - AC[t]));
    s.setTimesteps(20);
    let x: Float32Array = randn(128, 12);
    s.timesteps.forEach((t, i) => (x = s.step(eps(x, t), i, x)));
    closeArrays(x, x0, 1e-4);
    const start = s.startIndexFor(0.5);
    expect(start).toBe(10);
    x = s.addNoise(x0, randn(128, 13), s.timesteps[start]);
    for (let i = start; i < s.timesteps.length; i++) x = s.step(eps(x, s.timesteps[i]), i, x);
    closeArrays(x, x0, 1e-4);
    closeArrays(s.lastPredOriginal!, x0, 1e-4);
  });

  it('clip_sample (the diffusers default when the config omits it) clamps x̂0 to [−1, 1]', () => {
    const s = ddim();
    expect(s.config.clipSample).toBe(true);
    s.setTimesteps(10);
    const x = new Float32Array([3, -3, 0.5]);
    const out = s.step(new Float32Array(3), 9, x); // ε = 0 → x̂0 = x/√ᾱ, then clamped; last step lands on x̂0
    closeArrays(out, [1, -1, 0.5 / Math.sqrt(AC[s.timesteps[9]])], 1e-6);
  });

  it('v-prediction and x0-prediction recover x0; eta > 0 is stochastic and seeded', () => {
    for (const pt of ['v_prediction', 'sample']) {
      const s = ddim({ clip_sample: false, prediction_type: pt });
      s.setTimesteps(10);
      const x0 = randn(32, 14);
      let x: Float32Array = randn(32, 15);
      s.timesteps.forEach((t, i) => {
        const a = Math.sqrt(AC[t]),
          b = Math.sqrt(1 - AC[t]);
        const e = x.map((v, k) => (v - a * x0[k]) / b);
        x = s.step(pt === 'sample' ? x0 : e.map((ek, k) => a * ek - b * x0[k]), i, x);
      });
      closeArrays(x, x0, 1e-4);
    }
    const s = ddim({ clip_sample: false, eta: 1 });
    s.setTimesteps(10);
    const go = (seed: number) => {
      const rng = new Rng(seed);
      let x: Float32Array = randn(32, 16);
      s.timesteps.forEach(
        (_, i) =>
          (x = s.step(
            x.map((v) => 0.5 * v),
            i,
            x,
            rng,
          )),
      );
      return x;
    };
    expect(go(1)).toEqual(go(1));
    expect(go(1)).not.toEqual(go(2));
  });

  it('one step with eta = 1 follows the DDIM posterior: σ = √((1−ᾱ′)/(1−ᾱ)·(1−ᾱ/ᾱ′))', () => {
    const s = ddim({ clip_sample: false, eta: 1 });
    s.setTimesteps(20);
    const x = randn(16, 31),
      e = randn(16, 32);
    const i = 4,
      a = AC[s.timesteps[i]],
      ap = AC[s.timesteps[i] - 50];
    const sd = Math.sqrt(((1 - ap) / (1 - a)) * (1 - a / ap));
    const z = new Rng(5);
    const expected = Array.from(x, (v, k) => {
      const x0 = (v - Math.sqrt(1 - a) * e[k]) / Math.sqrt(a);
      return Math.sqrt(ap) * x0 + Math.sqrt(1 - ap - sd * sd) * e[k] + sd * z.normal();
    });
    closeArrays(s.step(e, i, x, new Rng(5)), expected, 1e-5);
  });

  it('Instruct-NeRF2NeRF span: 20 steps over [0, T) with T < 1000', () => {
    const s = ddim();
    s.setTimesteps(20, 700);
    expect(s.timesteps[0]).toBe(19 * 35 + 1);
    expect(s.prevTimestep(0)).toBe(18 * 35 + 1);
  });
});

describe('Euler (non-ancestral)', () => {
  it('is deterministic and follows x + ε·(σ_next − σ)', () => {
    const s = createScheduler({ ...IP2P, _class_name: 'EulerDiscreteScheduler' });
    s.setTimesteps(10);
    const x = randn(8, 1),
      e = randn(8, 2);
    const y = s.step(e, 2, x);
    const d = s.sigmas![3] - s.sigmas![2];
    closeArrays(
      y,
      Array.from(x, (v, k) => v + e[k] * d),
      1e-6,
    );
  });
});

describe('img2img start index (diffusers get_timesteps)', () => {
  it('follows int(n·t) (diffusers: strength)', () => {
    const s: Scheduler = createScheduler(IP2P);
    s.setTimesteps(20);
    expect([1, 0, 0.5, 0.75, 0.3, 0.01].map((x) => s.startIndexFor(x))).toEqual([0, 20, 10, 5, 14, 20]);
    expect(() => s.startIndexFor(1.5)).toThrow(UserError);
  });
});

describe('config errors', () => {
  const err = (cfg: object, re: RegExp) => {
    let e: unknown = null;
    try {
      createScheduler(cfg, 'model/scheduler/scheduler_config.json');
    } catch (x) {
      e = x;
    }
    expect(e).toBeInstanceOf(UserError);
    expect((e as Error).message).toMatch(/^model\/scheduler\/scheduler_config\.json: /);
    expect((e as Error).message).toMatch(re);
  };
  it('name the file and the problem', async () => {
    err(
      { ...IP2P, _class_name: 'PNDMScheduler' },
      /"PNDMScheduler" is not supported; supported: EulerAncestralDiscreteScheduler, EulerDiscreteScheduler, DDIMScheduler/,
    );
    err({ beta_start: 0.1 }, /no "_class_name"/);
    err({ ...IP2P, beta_schedule: 'cosine' }, /"beta_schedule" must be one of "linear", "scaled_linear", "squaredcos_cap_v2"/);
    err({ ...IP2P, num_train_timesteps: 10.5 }, /"num_train_timesteps" must be/);
    err({ ...IP2P, use_karras_sigmas: true }, /"use_karras_sigmas": true is not supported/);
    err({ ...IP2P, _class_name: 'DDIMScheduler', thresholding: true }, /"thresholding": true is not supported/);
    err({ ...IP2P, trained_betas: [0.1, 0.2] }, /"trained_betas" must be null or a list of 1000 numbers/);
    err({ ...IP2P, prediction_type: 'sample' }, /"prediction_type" must be one of "epsilon", "v_prediction"/);
    const s = createScheduler({ ...IP2P, _class_name: 'DDIMScheduler' });
    expect(() => s.setTimesteps(1000)).toThrow(/reach timestep 1000/);
    expect(() => s.setTimesteps(0)).toThrow(UserError);
    const dir = mkdtempSync(join(tmpdir(), 'sched-'));
    try {
      writeFileSync(join(dir, 'scheduler_config.json'), '{"_class_name": ');
      await expect(loadScheduler(join(dir, 'scheduler_config.json'), nodeFiles)).rejects.toThrow(/scheduler_config\.json: broken JSON/);
      writeFileSync(join(dir, 'scheduler_config.json'), JSON.stringify(IP2P));
      const l = await loadScheduler(join(dir, 'scheduler_config.json'), nodeFiles);
      expect(l.className).toBe('EulerAncestralDiscreteScheduler');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  it('linear betas and the cosine schedule', () => {
    const lin = createScheduler({ _class_name: 'DDIMScheduler', beta_schedule: 'linear', beta_start: 0.0001, beta_end: 0.02 });
    expect(1 - lin.alphasCumprod[0]).toBeCloseTo(0.0001, 12);
    expect(lin.alphasCumprod[1] / lin.alphasCumprod[0]).toBeCloseTo(1 - (0.0001 + (0.02 - 0.0001) / 999), 12);
    const cos = createScheduler({ _class_name: 'DDIMScheduler', beta_schedule: 'squaredcos_cap_v2' });
    const f = (t: number) => Math.cos(((t + 0.008) / 1.008) * (Math.PI / 2)) ** 2;
    expect(cos.alphasCumprod[499]).toBeCloseTo(f(0.5) / f(0), 6);
    const zsnr = createScheduler({ ...IP2P, _class_name: 'DDIMScheduler', rescale_betas_zero_snr: true });
    expect(zsnr.alphasCumprod[999]).toBeCloseTo(0, 12);
    expect(zsnr.alphasCumprod[0]).toBeCloseTo(AC[0], 12);
  });
});
