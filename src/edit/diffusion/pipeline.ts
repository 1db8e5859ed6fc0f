/**
 * The InstructPix2Pix pipeline (Brooks et al. 2023; docs/instructpix2pix.md) over ONNX models, one implementation for both runtimes
 * (onnxruntime-node and onnxruntime-web, passed in as an `OnnxRuntime`). Sessions are created once at load
 * and reused. The folder's signature is validated before any session is created.
 *
 * Conventions:
 * - Images: `Image` from src/core/image (HWC, [0,1]); the VAE sees CHW in [−1,1].
 * - `Latents` are NCHW for one image: data[(c·h + y)·w + x].
 * - Image-condition latents = VAE encoder mean (first 4 channels of `latent_parameters`), NOT scaled.
 *   Latents being denoised are scaled by 0.18215; decode divides by 0.18215.
 * - Dual classifier-free guidance, one UNet batch of three in the order [text, image, uncond]:
 *   text states [prompt, "", ""], image latents [img, img, 0];
 *   ε̃ = ε_u + s_T·(ε_text − ε_image) + s_I·(ε_image − ε_u).
 */
import { UserError } from '../../core/errors';
import { compositeOver, createImage, resizeImage, type Image } from '../../core/image';
import { joinPath } from '../../core/paths';
import { Rng } from '../../core/rng';
import type { FileSource } from '../../io/files/files';
import { fromF16Bits, toF16Bits } from './onnx/half';
import { checkModelFolder, type BuiltinInfo, type Component, type ModelCheck, type ModelVariant } from './model-contract';
import type { OnnxRuntime, RtSession, RtTensor } from './runtime';
import { loadTokenizer, type ClipTokenizer } from './tokenizer/tokenizer';
import { createScheduler, type Scheduler } from './schedulers/schedulers';
import { checkBuiltinInstruction } from './builtin-words';
import type { Latents } from './latents';

export const LATENT_SCALE = 0.18215;
const LUMA = [0.299, 0.587, 0.114];

export type { Latents };

/** Text-encoder states for one instruction and for the empty prompt, [77·hidden] each. */
export interface TextEmbeddings {
  instruction: string;
  cond: Float32Array;
  uncond: Float32Array;
  hidden: number;
}

/** The dual classifier-free guidance scales s_T (instruction) and s_I (image). */
export interface GuidanceScales {
  textScale: number;
  imageScale: number;
}

export const DEFAULT_SCALES: GuidanceScales = { textScale: 7.5, imageScale: 1.5 };

export interface EditOptions {
  /** denoising steps over the full schedule (img2img runs the tail of it); default 20 */
  steps?: number;
  textScale?: number;
  imageScale?: number;
  seed?: number;
  /**
   * Noise level t ∈ (0, 1] to start from: 1 = from pure noise (plain InstructPix2Pix); below 1 = img2img:
   * the latents of `init` (default: the input image) noised to t, then denoised. IDU: init = the render,
   * image = the original capture.
   */
  t?: number;
  /** start image for img2img (resized to the input image's size) */
  init?: Image;
  /**
   * img2img schedule. false (default, diffusers img2img): the last ⌊steps·t⌋ steps of a `steps`-step
   * schedule. true (Instruct-NeRF2NeRF): all `steps` spread over training timesteps [0, t·T), starting at
   * the first of them.
   */
  spread?: boolean;
  /** override the folder's scheduler: 'euler-ancestral' or 'ddim' */
  scheduler?: 'euler-ancestral' | 'ddim';
  /**
   * Add back the luminance detail the VAE loses from the input (luminance of x − D(E(x))) to the edit
   * (`restoreLumaDetail`). Default: on for the built-in model (its VAE is an 8×8 pooling), off for real models.
   * The SDS prior's `restoreDetail` does the same to its targets.
   */
  restoreLuma?: boolean;
  /** working size of the longer side (multiple of 8/64 applied); default: the image's own size, at most 512 for real models */
  size?: number;
  /**
   * Called after each denoising step; `preview` is the scheduler's current estimate of the clean latents
   * (decode it with `decode` for a live preview), when the scheduler provides one.
   */
  onStep?: (step: number, total: number, preview: Latents | null) => void;
  /** cancels the edit: between steps, and the model call in flight when the runtime can abort it (a server) */
  signal?: AbortSignal;
}

export interface PipelineInfo {
  dir: string;
  runtime: string;
  builtin: boolean;
  name: string;
  fp16: boolean;
  variant: ModelVariant;
  notes: string[];
}

function toTensorFloat(rt: OnnxRuntime, dtype: string, data: Float32Array, dims: number[]): RtTensor {
  return dtype === 'float16' ? rt.tensor('float16', toF16Bits(data), dims) : rt.tensor('float32', data, dims);
}

/** Reads a float32 or float16 output as Float32Array (float16 comes as raw bits in a Uint16Array, or as Float16Array). */
export function tensorToF32(t: RtTensor): Float32Array {
  const d = t.data as ArrayLike<number>;
  if (t.type === 'float16') return d instanceof Uint16Array ? fromF16Bits(d) : Float32Array.from(d);
  if (d instanceof Float32Array) return d;
  return Float32Array.from(d);
}

function checkFiniteOut(a: Float32Array, what: string): void {
  for (let i = 0; i < a.length; i++) {
    if (!Number.isFinite(a[i]))
      throw new UserError(
        `${what} produced a non-finite value (${a[i]}) at index ${i}${what.includes('unet') ? ' — with fp16 models this is an overflow; try the fp32 export' : ''}`,
      );
  }
}

/** HWC [0,1] image → CHW [−1,1]. */
function imageToChw(img: Image): Float32Array {
  const { width: w, height: h } = img;
  const rgb = compositeOver(img, [1, 1, 1]);
  const out = new Float32Array(3 * w * h);
  const C = rgb.channels;
  for (let i = 0; i < w * h; i++) {
    for (let c = 0; c < 3; c++) out[c * w * h + i] = 2 * rgb.data[i * C + (C === 1 ? 0 : c)] - 1;
  }
  return out;
}

/** CHW [−1,1] → HWC [0,1] RGB, clamped. */
function chwToImage(chw: Float32Array, w: number, h: number): Image {
  const img = createImage(w, h, 3);
  for (let i = 0; i < w * h; i++) {
    for (let c = 0; c < 3; c++) {
      const v = (chw[c * w * h + i] + 1) / 2;
      img.data[i * 3 + c] = v < 0 ? 0 : v > 1 ? 1 : v;
    }
  }
  return img;
}

export class InstructPix2Pix {
  private uncondCache: Float32Array | null = null;
  private textCache = new Map<string, TextEmbeddings>();

  private constructor(
    readonly info: PipelineInfo,
    private readonly rt: OnnxRuntime,
    private readonly sessions: Record<Component, RtSession>,
    readonly tokenizer: ClipTokenizer,
    private readonly schedulerConfig: Record<string, unknown>,
    readonly builtinInfo: BuiltinInfo | null,
    private readonly filesDir: string,
  ) {}

  /**
   * Loads a model folder: checks everything first (throws one UserError listing every problem), then
   * creates the four sessions once.
   */
  static async load(
    dir: string,
    files: FileSource,
    runtime: OnnxRuntime,
    opts: { readExternal?: boolean; onProgress?: (msg: string) => void } = {},
  ): Promise<InstructPix2Pix> {
    const check = await checkModelFolder(dir, files, { readExternal: opts.readExternal ?? !runtime.loadsByPath });
    return InstructPix2Pix.open(check, files, runtime, opts);
  }

  /**
   * Creates the sessions of an already checked model — a folder (`load`) or an inference server's models
   * (`loadRemotePipeline` in ./remote): throws one UserError listing the check's problems, if any. The tokenizer and
   * scheduler config are read from `files` under `check.filesDir`.
   */
  static async open(
    check: ModelCheck,
    files: FileSource,
    runtime: OnnxRuntime,
    opts: { onProgress?: (msg: string) => void } = {},
  ): Promise<InstructPix2Pix> {
    if (check.problems.length || !check.variant) throw modelProblems(check);
    const dir = check.dir;
    const tokenizer = await loadTokenizer(joinPath(check.filesDir, 'tokenizer'), files);
    const sessions = {} as Record<Component, RtSession>;
    for (const comp of ['text_encoder', 'vae_encoder', 'unet', 'vae_decoder'] as const) {
      opts.onProgress?.(`loading ${comp}`);
      const f = check.components[comp]!;
      try {
        sessions[comp] = await runtime.createSession({
          path: f.path,
          bytes: f.bytes,
          externalData: f.externalData.map((e) => ({ path: e.path, data: e.data ?? new Uint8Array() })),
        });
      } catch (e) {
        for (const s of Object.values(sessions)) await s.release();
        if (e instanceof UserError) throw e;
        throw new UserError(`${runtime.name} cannot load it (${String((e as Error)?.message ?? e).split('\n')[0]})`, f.path);
      }
      // The runtime's view must agree with the file's.
      const want = [...check.components[comp]!.info.inputs.map((i) => i.name)].sort().join(',');
      const got = [...sessions[comp].inputNames].sort().join(',');
      if (want !== got) {
        for (const s of Object.values(sessions)) await s.release();
        throw new UserError(
          `the runtime reports inputs ${got}, the ${check.source === 'server' ? 'server' : 'file'} declares ${want}`,
          f.path,
        );
      }
    }
    // The bytes are in the sessions now; drop our copies.
    for (const c of Object.values(check.components)) (c as { bytes: Uint8Array }).bytes = new Uint8Array();
    const builtin = check.builtin;
    const name = builtin ? builtin.name : String(check.modelIndex?._name_or_path ?? dir);
    const info: PipelineInfo = {
      dir,
      runtime: runtime.name,
      builtin: !!builtin,
      name,
      fp16: check.variant.fp16,
      variant: check.variant,
      notes: check.notes,
    };
    return new InstructPix2Pix(info, runtime, sessions, tokenizer, check.schedulerConfig!, builtin, check.filesDir);
  }

  /** Releases the sessions. */
  async dispose(): Promise<void> {
    for (const s of Object.values(this.sessions)) await s.release();
  }

  /** A fresh scheduler from the folder's config (or the named override). */
  scheduler(kind?: 'euler-ancestral' | 'ddim'): Scheduler {
    const overrides: Record<string, unknown> = {};
    if (kind === 'ddim') overrides._class_name = 'DDIMScheduler';
    else if (kind === 'euler-ancestral') overrides._class_name = 'EulerAncestralDiscreteScheduler';
    return createScheduler(this.schedulerConfig, joinPath(this.filesDir, 'scheduler', 'scheduler_config.json'), overrides);
  }

  /** ᾱ_t for t = 0..T−1 from the folder's scheduler config. */
  get alphasCumprod(): Float32Array {
    return Float32Array.from(this.scheduler().alphasCumprod);
  }

  /**
   * Throws a UserError when the built-in model cannot do the instruction (real models take anything). Returns
   * the words it will ignore (e.g. the object in "make the vase gold": the stand-in edits the whole image or
   * the selected region), for a warning.
   */
  checkInstruction(instruction: string): string[] {
    if (!this.builtinInfo) return [];
    const c = checkBuiltinInstruction(instruction, this.builtinInfo, this.tokenizer);
    if (c.error) throw new UserError(c.error);
    return c.ignored;
  }

  private async runText(text: string, signal?: AbortSignal): Promise<Float32Array> {
    const ids = this.tokenizer.encodeForModel(text);
    const v = this.info.variant;
    const t =
      v.idsDtype === 'int32'
        ? this.rt.tensor('int32', Int32Array.from(ids), [1, ids.length])
        : this.rt.tensor(
            'int64',
            BigInt64Array.from(ids, (x) => BigInt(x)),
            [1, ids.length],
          );
    const out = await this.sessions.text_encoder.run({ input_ids: t }, { signal });
    const hs = tensorToF32(out.last_hidden_state);
    checkFiniteOut(hs, 'text_encoder');
    if (hs.length !== 77 * v.hiddenSize)
      throw new UserError(`text_encoder returned ${out.last_hidden_state.dims.join('×')}, expected 1×77×${v.hiddenSize}`);
    return hs;
  }

  /** Text states for an instruction and for the empty prompt (cached). */
  async encodeText(instruction: string, signal?: AbortSignal): Promise<TextEmbeddings> {
    const hit = this.textCache.get(instruction);
    if (hit) return hit;
    this.checkInstruction(instruction);
    if (!this.uncondCache) this.uncondCache = await this.runText('', signal);
    const e: TextEmbeddings = {
      instruction,
      cond: await this.runText(instruction, signal),
      uncond: this.uncondCache,
      hidden: this.info.variant.hiddenSize,
    };
    if (this.textCache.size > 32) this.textCache.clear();
    this.textCache.set(instruction, e);
    return e;
  }

  /** The working size for an image: multiples of 8 (built-in) or 64 (real UNets), or the size the UNet fixes. */
  workingSize(width: number, height: number, size?: number): [number, number] {
    const fixed = this.info.variant.latentSize;
    if (fixed) return [fixed[1] * 8, fixed[0] * 8];
    const m = this.info.builtin ? 8 : 64;
    const long = Math.max(width, height);
    const target = size ?? (this.info.builtin ? long : Math.min(long, 512));
    const s = target / long;
    const r = (v: number) => Math.max(m, Math.round((v * s) / m) * m);
    return [r(width), r(height)];
  }

  /** VAE encoder mean of an image (any size is resized to a multiple of 8 first), NOT scaled. */
  async encodeImage(img: Image, size?: [number, number], signal?: AbortSignal): Promise<Latents> {
    const [W, H] = size ?? this.workingSize(img.width, img.height);
    const x = imageToChw(resizeImage(img, W, H));
    const v = this.info.variant;
    const out = await this.sessions.vae_encoder.run(
      { sample: toTensorFloat(this.rt, v.dtypes.vae_encoder.sample, x, [1, 3, H, W]) },
      { signal },
    );
    const t = out[v.vaeOutput];
    const d = tensorToF32(t);
    checkFiniteOut(d, 'vae_encoder');
    const [, C, h, w] = t.dims;
    if (t.dims.length !== 4 || (C !== 4 && C !== 8) || h * 8 !== H || w * 8 !== W)
      throw new UserError(`vae_encoder returned ${t.dims.join('×')} for a ${W}×${H} image, expected 1×8×${H / 8}×${W / 8}`);
    return { channels: 4, height: h, width: w, data: d.slice(0, 4 * h * w) };
  }

  private condCache = new WeakMap<Image, { W: number; H: number; data: Float32Array; lat: Latents }>();

  /**
   * The condition image's VAE mean, cached per Image object (IDU edits each original view many times).
   * A cached entry is reused only while the image's pixels are unchanged (compared against a copy).
   */
  private async conditionLatents(image: Image, W: number, H: number, signal?: AbortSignal): Promise<Latents> {
    const hit = this.condCache.get(image);
    if (hit && hit.W === W && hit.H === H && hit.data.length === image.data.length && hit.data.every((v, i) => v === image.data[i])) {
      return { ...hit.lat, data: hit.lat.data.slice() };
    }
    const lat = await this.encodeImage(image, [W, H], signal);
    this.condCache.set(image, { W, H, data: image.data.slice(), lat: { ...lat, data: lat.data.slice() } });
    return lat;
  }

  /** z = 0.18215·E(x) (VAE mean): the latents that get noised and denoised (SDS, img2img). */
  async encode(img: Image, size?: [number, number], signal?: AbortSignal): Promise<Latents> {
    const m = await this.encodeImage(img, size, signal);
    for (let i = 0; i < m.data.length; i++) m.data[i] *= LATENT_SCALE;
    return m;
  }

  /** x = D(z / 0.18215) as an RGB image in [0,1] at 8× the latent size. */
  async decode(z: Latents, signal?: AbortSignal): Promise<Image> {
    const { height: h, width: w } = z;
    const data = new Float32Array(4 * h * w);
    for (let i = 0; i < data.length; i++) data[i] = z.data[i] / LATENT_SCALE;
    const v = this.info.variant;
    const out = await this.sessions.vae_decoder.run(
      { latent_sample: toTensorFloat(this.rt, v.dtypes.vae_decoder.latent_sample, data, [1, 4, h, w]) },
      { signal },
    );
    const s = tensorToF32(out.sample);
    checkFiniteOut(s, 'vae_decoder');
    const [, C, H, W] = out.sample.dims;
    if (out.sample.dims.length !== 4 || C !== 3 || H !== 8 * h || W !== 8 * w || s.length < 3 * H * W)
      throw new UserError(`vae_decoder returned ${out.sample.dims.join('×')} for ${h}×${w} latents, expected 1×3×${8 * h}×${8 * w}`);
    return chwToImage(s, W, H);
  }

  private textTensorCache = new WeakMap<TextEmbeddings, { batch: RtTensor; cond: RtTensor; uncond: RtTensor }>();

  /** The UNet's encoder_hidden_states for a text, built once per text: batch [prompt, "", ""] and single rows. */
  private textTensors(text: TextEmbeddings): { batch: RtTensor; cond: RtTensor; uncond: RtTensor } {
    const hit = this.textTensorCache.get(text);
    if (hit) return hit;
    const hid = text.hidden,
      m = 77 * hid,
      ed = this.info.variant.dtypes.unet.encoder_hidden_states;
    const batch = new Float32Array(3 * m);
    batch.set(text.cond, 0);
    batch.set(text.uncond, m);
    batch.set(text.uncond, 2 * m);
    const t = {
      batch: toTensorFloat(this.rt, ed, batch, [3, 77, hid]),
      cond: toTensorFloat(this.rt, ed, text.cond, [1, 77, hid]),
      uncond: toTensorFloat(this.rt, ed, text.uncond, [1, 77, hid]),
    };
    this.textTensorCache.set(text, t);
    return t;
  }

  /**
   * The three raw UNet predictions in batch order [text, image, uncond] for VP-form latents z_t (already
   * scaled by the scheduler's scaleModelInput when sampling), each [4·h·w].
   */
  async predictBranches(
    zt: Latents,
    timestep: number,
    image: Latents,
    text: TextEmbeddings,
    signal?: AbortSignal,
  ): Promise<[Float32Array, Float32Array, Float32Array]> {
    const { height: h, width: w } = zt;
    if (image.height !== h || image.width !== w)
      throw new Error(`image latents ${image.width}×${image.height} differ from noisy latents ${w}×${h}`);
    const n = 4 * h * w;
    const v = this.info.variant;
    const sample = new Float32Array(3 * 2 * n);
    for (let b = 0; b < 3; b++) {
      sample.set(zt.data.subarray(0, n), b * 2 * n);
      if (b < 2) sample.set(image.data.subarray(0, n), b * 2 * n + n); // [img, img, zeros]
    }
    const ehsTensors = this.textTensors(text);
    const tsType = v.timestepDtype;
    const tsTensor = (B: number): RtTensor => {
      const dims = v.timestepRank === 0 ? [] : [B];
      const count = v.timestepRank === 0 ? 1 : B;
      if (tsType === 'int64') return this.rt.tensor('int64', new BigInt64Array(count).fill(BigInt(Math.round(timestep))), dims);
      if (tsType === 'int32') return this.rt.tensor('int32', new Int32Array(count).fill(Math.round(timestep)), dims);
      return toTensorFloat(this.rt, tsType, new Float32Array(count).fill(timestep), dims);
    };
    const sd = v.dtypes.unet.sample;
    const run = async (B: number, s: Float32Array, e: RtTensor): Promise<Float32Array> => {
      const out = await this.sessions.unet.run(
        { sample: toTensorFloat(this.rt, sd, s, [B, 8, h, w]), timestep: tsTensor(B), encoder_hidden_states: e },
        { signal },
      );
      const o = out.out_sample;
      const d = tensorToF32(o);
      if (d.length !== B * n) throw new UserError(`unet returned ${o.dims.join('×')}, expected ${B}×4×${h}×${w}`);
      checkFiniteOut(d, 'unet');
      return d;
    };
    let eps: Float32Array;
    if (v.unetBatch === 1) {
      eps = new Float32Array(3 * n);
      for (let b = 0; b < 3; b++)
        eps.set(await run(1, sample.subarray(b * 2 * n, (b + 1) * 2 * n), b === 0 ? ehsTensors.cond : ehsTensors.uncond), b * n);
    } else eps = await run(3, sample, ehsTensors.batch);
    return [eps.slice(0, n), eps.slice(n, 2 * n), eps.slice(2 * n, 3 * n)];
  }

  /**
   * One guided noise prediction ε̃(z_t, t; image, text) — what SDS needs. `zt` is in VP form
   * (z_t = √ᾱ_t·z + √(1−ᾱ_t)·ε, z scaled by 0.18215), `timestep` a training timestep in [0, 1000),
   * `imageLatents` the unscaled VAE mean of the condition image (`encodeImage`).
   */
  async predictNoise(
    zt: Latents,
    timestep: number,
    imageLatents: Latents,
    text: TextEmbeddings,
    scales: GuidanceScales = DEFAULT_SCALES,
    signal?: AbortSignal,
  ): Promise<Float32Array> {
    const [et, ei, eu] = await this.predictBranches(zt, timestep, imageLatents, text, signal);
    return guide(et, ei, eu, scales);
  }

  /**
   * Edits an image with an instruction. With `t` < 1 this is img2img from noise level t,
   * starting from `init` (default the image itself) and conditioned on `image`.
   */
  async edit(image: Image, instruction: string, opts: EditOptions = {}): Promise<Image> {
    const steps = opts.steps ?? 20;
    const scales = { textScale: opts.textScale ?? DEFAULT_SCALES.textScale, imageScale: opts.imageScale ?? DEFAULT_SCALES.imageScale };
    const t = opts.t ?? 1;
    if (!(steps >= 1 && Number.isInteger(steps))) throw new UserError(`steps must be a positive integer, got ${steps}`);
    if (!(t > 0 && t <= 1)) throw new UserError(`the noise level t must be in (0, 1], got ${t}`);
    const signal = opts.signal;
    const text = await this.encodeText(instruction, signal);
    const [W, H] = this.workingSize(image.width, image.height, opts.size);
    const imgLat = await this.conditionLatents(image, W, H, signal);
    const { height: h, width: w } = imgLat;
    const n = 4 * h * w;
    const sched = this.scheduler(opts.scheduler);
    sched.setTimesteps(steps);
    const rng = new Rng(opts.seed ?? 0);
    const noise = new Float32Array(n);
    for (let i = 0; i < n; i++) noise[i] = rng.normal();
    let start = 0;
    let lat: Float32Array;
    if (t >= 1) {
      lat = new Float32Array(n);
      for (let i = 0; i < n; i++) lat[i] = noise[i] * sched.initNoiseSigma;
    } else {
      const z0 = opts.init ? (await this.encode(opts.init, [W, H], signal)).data : imgLat.data.map((v) => v * LATENT_SCALE);
      if (opts.spread) {
        const span = Math.max(1, Math.min(sched.numTrainTimesteps, Math.round(t * sched.numTrainTimesteps)));
        sched.setTimesteps(Math.min(steps, span), span);
        start = 0;
      } else start = sched.startIndexFor(t);
      lat = start < sched.timesteps.length ? sched.addNoise(z0, noise, sched.timesteps[start]) : z0;
    }
    const ts = sched.timesteps;
    const total = ts.length - start;
    for (let i = start; i < ts.length; i++) {
      if (signal?.aborted) throw signal.reason ?? new Error('edit cancelled');
      const inp = sched.scaleModelInput(lat, i);
      const eps = await this.predictNoise({ channels: 4, height: h, width: w, data: inp }, ts[i], imgLat, text, scales, signal);
      lat = sched.step(eps, i, lat, rng);
      const x0 = sched.lastPredOriginal;
      opts.onStep?.(i - start + 1, total, x0 ? { channels: 4, height: h, width: w, data: x0 } : null);
    }
    let out = await this.decode({ channels: 4, height: h, width: w, data: lat }, signal);
    if (opts.restoreLuma ?? this.info.builtin) out = await this.restoreLumaDetail(out, image, imgLat, signal);
    if (out.width !== image.width || out.height !== image.height) out = resizeImage(out, image.width, image.height);
    return out;
  }
  /**
   * Adds back to `edited` the luminance detail the VAE loses from `source` (source − D(E(source))), at
   * `edited`'s size. What `restoreLuma` does; also useful for SDS targets x̂ = D(ẑ0) with the built-in model,
   * whose 8×8-pooling VAE would otherwise pull renders towards a blurred image.
   * @param sourceLatents the source's VAE mean when already computed (must match edited's size / 8)
   */
  async restoreLumaDetail(edited: Image, source: Image, sourceLatents?: Latents, signal?: AbortSignal): Promise<Image> {
    const W = edited.width,
      H = edited.height;
    const src = resizeImage(compositeOver(source, [1, 1, 1]), W, H);
    const lat = sourceLatents ?? (await this.encodeImage(src, [W, H], signal));
    const recon = await this.decode({ ...lat, data: lat.data.map((v) => v * LATENT_SCALE) }, signal);
    if (recon.width !== W || recon.height !== H)
      throw new Error(`restoreLumaDetail: latents ${lat.width}×${lat.height} do not match a ${W}×${H} image`);
    const out = createImage(W, H, 3);
    const e = edited.channels === 3 ? edited : compositeOver(edited, [1, 1, 1]);
    // luminance detail only: colour detail would bring the source's colours back at edges
    for (let i = 0; i < W * H; i++) {
      let d = 0;
      for (let c = 0; c < 3; c++) d += LUMA[c] * (src.data[i * 3 + c] - recon.data[i * 3 + c]);
      for (let c = 0; c < 3; c++) {
        const v = e.data[i * 3 + c] + d;
        out.data[i * 3 + c] = v < 0 ? 0 : v > 1 ? 1 : v;
      }
    }
    return out;
  }
}

/** Dual classifier-free guidance: ε_u + s_T·(ε_text − ε_image) + s_I·(ε_image − ε_u). */
export function guide(et: Float32Array, ei: Float32Array, eu: Float32Array, s: GuidanceScales): Float32Array {
  const out = new Float32Array(et.length);
  for (let i = 0; i < out.length; i++) out[i] = eu[i] + s.textScale * (et[i] - ei[i]) + s.imageScale * (ei[i] - eu[i]);
  return out;
}

/** One UserError listing a folder's problems (first few), with how to fix. */
export function modelProblems(check: ModelCheck): UserError {
  const shown = check.problems.slice(0, 6);
  const more =
    check.problems.length > shown.length
      ? `; and ${check.problems.length - shown.length} more (run 'instruct-scene models check ${check.dir}')`
      : '';
  const what = check.source === 'server' ? 'model server' : 'model folder';
  return new UserError(`not a usable InstructPix2Pix ${what}: ${shown.join('; ')}${more}`);
}
