import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rmSync, writeFileSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { createImage, type Image } from '../src/core/image';
import { UserError } from '../src/core/errors';
import { nodeFiles } from '../src/io/node/node-files';
import { nodeRuntime } from '../src/io/node/node-ort';
import { InstructPix2Pix, LATENT_SCALE, guide } from '../src/edit/diffusion/pipeline';
import { checkModelFolder } from '../src/edit/diffusion/model-contract';
import { modelFolder, probeUnet, writeUnet } from './helpers/ip2p-models';

const rt = nodeRuntime();
const dirs: string[] = [];
async function folder(...a: Parameters<typeof modelFolder>): Promise<string> {
  const d = await modelFolder(...a);
  dirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function constImage(w: number, h: number, rgb: [number, number, number]): Image {
  const img = createImage(w, h, 3);
  for (let i = 0; i < w * h; i++) img.data.set(rgb, i * 3);
  return img;
}

describe('pipeline with probe UNets (real ONNX sessions, real contract)', () => {
  let dir: string;
  let pipe: InstructPix2Pix;
  beforeAll(async () => {
    dir = await folder();
    writeUnet(dir, probeUnet({ q: 1, kt: 0 }));
    pipe = await InstructPix2Pix.load(dir, nodeFiles, rt);
  });
  afterAll(() => pipe?.dispose());

  it('runs the three branches in the order [text, image, uncond] with image latents [img, img, 0]', async () => {
    const img = constImage(16, 16, [0.75, 0.75, 0.75]);
    const lat = await pipe.encodeImage(img);
    const text = await pipe.encodeText('make it red');
    const zt = { channels: 4, height: 2, width: 2, data: new Float32Array(16) };
    const [et, ei, eu] = await pipe.predictBranches(zt, 500, lat, text);
    // image latents = VAE mean, NOT scaled: rgb 0.75 → [-1,1] 0.5 → ×5 = 2.5 in channels 0..2, 0 in channel 3
    const m = (2.5 * 3) / 4;
    let S = 0;
    for (const v of text.cond) S += Math.abs(v);
    expect(S).toBeGreaterThan(0);
    for (const v of text.uncond) expect(v).toBe(0);
    expect(ei[0]).toBeCloseTo(m, 5); // image branch: image latents, empty text
    expect(eu[0]).toBeCloseTo(0, 6); // uncond: zero image, empty text
    expect(et[0]).toBeCloseTo(m + S, 3); // text branch: both
    const g = await pipe.predictNoise(zt, 500, lat, text, { textScale: 7.5, imageScale: 1.5 });
    expect(g[0]).toBeCloseTo(0 + 7.5 * S + 1.5 * m, 2);
    expect(Array.from(g)).toEqual(Array.from(guide(et, ei, eu, { textScale: 7.5, imageScale: 1.5 })));
    const g2 = await pipe.predictNoise(zt, 500, lat, text, { textScale: 2, imageScale: 0 });
    expect(g2[0]).toBeCloseTo(2 * S, 2);
  });

  it('scales latents by 0.18215 for encode and divides for decode', async () => {
    const img = constImage(16, 8, [0.75, 0.25, 0.5]);
    const mean = await pipe.encodeImage(img);
    const z = await pipe.encode(img);
    expect(z.width).toBe(2);
    expect(z.height).toBe(1);
    expect(mean.data[0]).toBeCloseTo(2.5, 5);
    expect(mean.data[2]).toBeCloseTo(-2.5, 5); // channel 1 of pixel 0
    expect(mean.data[4]).toBeCloseTo(0, 5);
    for (let i = 0; i < z.data.length; i++) expect(z.data[i]).toBeCloseTo(mean.data[i] * LATENT_SCALE, 6);
    const back = await pipe.decode(z);
    expect(back.width).toBe(16);
    expect(back.height).toBe(8);
    for (let i = 0; i < 16 * 8; i++) {
      expect(back.data[i * 3]).toBeCloseTo(0.75, 4);
      expect(back.data[i * 3 + 1]).toBeCloseTo(0.25, 4);
    }
  });

  it('same seed → same output; another seed → another output', async () => {
    // the built-in UNet with DDIM: the result keeps a trace of the initial noise (√(1−ᾱ_0)·ε̂)
    const p = await InstructPix2Pix.load(await folder(), nodeFiles, rt);
    const img = constImage(16, 16, [0.3, 0.6, 0.2]);
    const o = { steps: 4, restoreLuma: false, scheduler: 'ddim' as const };
    const a = await p.edit(img, 'make it red', { ...o, seed: 7 });
    const b = await p.edit(img, 'make it red', { ...o, seed: 7 });
    const c = await p.edit(img, 'make it red', { ...o, seed: 8 });
    expect(Array.from(a.data)).toEqual(Array.from(b.data));
    expect(Array.from(a.data)).not.toEqual(Array.from(c.data));
    await p.dispose();
  });
});

describe('variants: timestep scalar/int64, fp16, older latent_sample', () => {
  it('feeds the timestep as the model declares it (float [B] as is; int64 scalar rounded)', async () => {
    const d = await folder();
    writeUnet(d, probeUnet({ q: 0, kt: 1 }));
    const p = await InstructPix2Pix.load(d, nodeFiles, rt);
    const zt = { channels: 4, height: 1, width: 1, data: new Float32Array(4) };
    const zeros = { ...zt, data: new Float32Array(4) };
    const text = await p.encodeText('make it red');
    // uncond + (text − image)·s_T + (image − uncond)·s_I with all branches = t → t
    expect((await p.predictNoise(zt, 412.5, zeros, text))[0]).toBeCloseTo(412.5, 3);
    await p.dispose();
    writeUnet(d, probeUnet({ q: 0, kt: 1, timestep: { dtype: 'int64', rank: 0 } }));
    const p2 = await InstructPix2Pix.load(d, nodeFiles, rt);
    expect(p2.info.variant.timestepRank).toBe(0);
    expect(p2.info.variant.timestepDtype).toBe('int64');
    expect((await p2.predictNoise(zt, 412.6, zeros, text))[0]).toBeCloseTo(413, 4);
    await p2.dispose();
  });

  it('fp16 models: inputs fed as float16 bits, outputs read back; edits match fp32', async () => {
    const d16 = await folder({ fp16: true, timestep: { dtype: 'float16', rank: 1 } });
    const d32 = await folder();
    const p16 = await InstructPix2Pix.load(d16, nodeFiles, rt);
    const p32 = await InstructPix2Pix.load(d32, nodeFiles, rt);
    expect(p16.info.fp16).toBe(true);
    expect(p16.info.variant.dtypes.unet.sample).toBe('float16');
    const img = constImage(24, 16, [0.2, 0.5, 0.8]);
    const a = await p16.edit(img, 'make it red', { steps: 6, seed: 3 });
    const b = await p32.edit(img, 'make it red', { steps: 6, seed: 3 });
    let maxd = 0;
    for (let i = 0; i < a.data.length; i++) maxd = Math.max(maxd, Math.abs(a.data[i] - b.data[i]));
    expect(maxd).toBeLessThan(0.02);
    await p16.dispose();
    await p32.dispose();
  });

  it('older exports with latent_sample as the VAE encoder output', async () => {
    const d = await folder({ vaeOutput: 'latent_sample' });
    const p = await InstructPix2Pix.load(d, nodeFiles, rt);
    expect(p.info.variant.vaeOutput).toBe('latent_sample');
    expect(p.info.notes.join(' ')).toMatch(/latent_sample/);
    const m = await p.encodeImage(constImage(8, 8, [1, 0, 0.5]));
    expect(Array.from(m.data)).toEqual([5, -5, 0, 0]);
    await p.dispose();
  });
});

describe('img2img from a noise level', () => {
  let pipe: InstructPix2Pix;
  beforeAll(async () => {
    pipe = await InstructPix2Pix.load(await folder(), nodeFiles, rt);
  });
  afterAll(() => pipe?.dispose());

  it('starts at the scheduler step for the noise level t and runs only the rest', async () => {
    const img = constImage(16, 16, [0.5, 0.5, 0.5]);
    const counts: number[] = [];
    for (const t of [1, 0.5, 0.25]) {
      let total = -1;
      await pipe.edit(img, 'make it darker', { steps: 20, t, onStep: (_i, n) => (total = n) });
      counts.push(total);
    }
    expect(counts).toEqual([20, 10, 5]);
    let ddimTotal = -1;
    await pipe.edit(img, 'make it darker', { steps: 20, t: 0.7, scheduler: 'ddim', onStep: (_i, n) => (ddimTotal = n) });
    expect(ddimTotal).toBe(14);
    // Instruct-NeRF2NeRF: all steps spread below t·T
    const seen: number[] = [];
    await pipe.edit(img, 'make it darker', { steps: 20, t: 0.3, spread: true, scheduler: 'ddim', onStep: (_i, n) => seen.push(n) });
    expect(seen).toHaveLength(20);
    const few: number[] = [];
    await pipe.edit(img, 'make it darker', { steps: 20, t: 0.005, spread: true, scheduler: 'ddim', onStep: (_i, n) => few.push(n) });
    expect(few).toHaveLength(5); // 5 training timesteps cannot hold 20 steps
  });

  it('reports a preview of the clean latents after each step and can be cancelled between steps', async () => {
    const img = constImage(16, 16, [0.5, 0.5, 0.5]);
    const previews: number[] = [];
    const out = await pipe.edit(img, 'make it darker', {
      steps: 5,
      restoreLuma: false,
      onStep: (_i, _n, x0) => previews.push(x0 ? x0.data[0] : NaN),
    });
    expect(previews).toHaveLength(5);
    // the exact denoiser's x̂0 is the edited latents from the first step: 0.18215·5·(2·0.5·0.55 − 1)
    for (const v of previews) expect(v).toBeCloseTo(0.18215 * 5 * (0.55 - 1), 3);
    expect(out.data[0]).toBeCloseTo(0.275, 2);
    const ac = new AbortController();
    let steps = 0;
    const err = await pipe
      .edit(img, 'make it darker', {
        steps: 10,
        signal: ac.signal,
        onStep: (i) => {
          steps = i;
          if (i === 2) ac.abort(new Error('stop'));
        },
      })
      .catch((e) => e);
    expect(err.message).toBe('stop');
    expect(steps).toBe(2);
  });

  it('reuses the condition latents of an unchanged image, and notices an image changed in place', async () => {
    const img = constImage(16, 16, [0.8, 0.8, 0.8]);
    const a = await pipe.edit(img, 'make it darker', { steps: 3, restoreLuma: false });
    const b = await pipe.edit(img, 'make it darker', { steps: 3, restoreLuma: false });
    expect(Array.from(b.data)).toEqual(Array.from(a.data));
    img.data.fill(0.2);
    const c = await pipe.edit(img, 'make it darker', { steps: 3, restoreLuma: false });
    expect(c.data[0]).toBeCloseTo(0.2 * 0.55, 2);
  });

  it('IDU: noising a render and denoising conditioned on the original lands on the edited original', async () => {
    const original = constImage(16, 16, [0.8, 0.8, 0.8]);
    const render = constImage(16, 16, [0.1, 0.4, 0.9]);
    const out = await pipe.edit(original, 'make it darker', {
      init: render,
      t: 0.9,
      steps: 20,
      seed: 2,
      scheduler: 'ddim',
      restoreLuma: false,
    });
    for (let c = 0; c < 3; c++) expect(out.data[c]).toBeCloseTo(0.8 * 0.55, 1);
    // a weak noise level keeps more of the render
    const weak = await pipe.edit(original, 'make it darker', {
      init: render,
      t: 0.05,
      steps: 20,
      seed: 2,
      scheduler: 'ddim',
      restoreLuma: false,
    });
    const dist = (im: Image) => Math.abs(im.data[2] - 0.9);
    expect(dist(weak)).toBeLessThan(dist(out));
  });
});

describe('signature validation', () => {
  it('rejects a UNet with the wrong signature, naming file, input and expectation', async () => {
    const d = await folder();
    writeUnet(d, probeUnet({ sampleChannels: 4 }));
    const err = await InstructPix2Pix.load(d, nodeFiles, rt).catch((e) => e);
    expect(err).toBeInstanceOf(UserError);
    expect(err.message).toContain(join(d, 'unet/model.onnx'));
    expect(err.message).toMatch(/'sample' has size 4 on axis 1, expected 8/);
    writeUnet(d, probeUnet({ dropInput: 'encoder_hidden_states' }));
    const err2 = await InstructPix2Pix.load(d, nodeFiles, rt).catch((e) => e);
    expect(err2.message).toMatch(/missing input 'encoder_hidden_states'/);
    writeUnet(d, probeUnet({ timestep: { dtype: 'float32', rank: 0 }, dtype: 'float32' }));
    await (await InstructPix2Pix.load(d, nodeFiles, rt)).dispose(); // scalar float timestep is fine
  });

  it('lists missing files, a broken model and a missing external data file', async () => {
    const d = await folder();
    unlinkSync(join(d, 'vae_decoder', 'model.onnx'));
    writeFileSync(join(d, 'text_encoder', 'model.onnx'), 'not a model');
    const c = await checkModelFolder(d, nodeFiles);
    expect(c.problems.join('\n')).toMatch(/vae_decoder\/model.onnx: missing/);
    expect(c.problems.join('\n')).toMatch(/text_encoder\/model.onnx: not an ONNX model/);
    const err = await InstructPix2Pix.load(d, nodeFiles, rt).catch((e) => e);
    expect(err).toBeInstanceOf(UserError);
    expect(err.message).toMatch(/not a usable InstructPix2Pix model folder/);
  });

  it('hints at the cause for a PyTorch folder and a text-to-image UNet', async () => {
    const d = await folder();
    writeUnet(d, probeUnet({ sampleChannels: 4 }));
    unlinkSync(join(d, 'vae_encoder', 'model.onnx'));
    const { mkdirSync } = await import('node:fs');
    mkdirSync(join(d, 'vae'));
    writeFileSync(join(d, 'vae', 'diffusion_pytorch_model.safetensors'), '');
    const c = await checkModelFolder(d, nodeFiles);
    expect(c.problems.join('\n')).toMatch(/text-to-image Stable Diffusion UNet takes 4 channels/);
    expect(c.problems.join('\n')).toMatch(
      /vae_encoder\/model.onnx: missing .*PyTorch \(diffusers\) folder; export it to ONNX with optimum-cli/,
    );
  });

  it('a folder that is not a model at all gets one line', async () => {
    const err = await checkModelFolder('/nonexistent-ip2p-folder', nodeFiles).catch((e) => e);
    expect(err).toBeInstanceOf(UserError);
    expect(err.message).toMatch(/not an InstructPix2Pix model folder/);
  });
});
