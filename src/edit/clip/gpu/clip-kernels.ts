/**
 * The CLIP kernels (src/shaders/clip_*.wgsl) behind one recorder: each method appends a dispatch with the
 * same arguments as its CPU twin (src/edit/clip/cpu/clip-*.ts, functions named alike); `flush()` submits them
 * in order (one compute pass) and waits. Buffers are plain float32 storage buffers.
 */
import { dispatchSize, params, u32, type GpuRunner, type Kernel, type KernelCall } from '../../../gpu/runner';
import matmulWgsl from '../../../shaders/clip_matmul.wgsl?raw';
import layernormWgsl from '../../../shaders/clip_layernorm.wgsl?raw';
import attentionWgsl from '../../../shaders/clip_attention.wgsl?raw';
import geluWgsl from '../../../shaders/clip_gelu.wgsl?raw';
import embedWgsl from '../../../shaders/clip_embed.wgsl?raw';
import type { Activation } from '../clip-config';
import type { AttentionShape } from '../cpu/clip-attention';
import { gridOf, type PatchShape } from '../cpu/clip-embed';
import { ACT_CODE } from '../cpu/clip-gelu';

type K = Record<string, Kernel>;

async function compile(runner: GpuRunner, acts: readonly Activation[]): Promise<K> {
  const k = (code: string, entry: string, bindings: ('uniform' | 'read' | 'storage')[], constants?: Record<string, number>) =>
    runner.kernel({ code, entry, bindings, constants, label: `clip ${entry}${constants ? ` ${JSON.stringify(constants)}` : ''}` });
  const mm = ['uniform', 'read', 'read', 'read', 'read', 'storage'] as const;
  const emb = ['uniform', 'read', 'read', 'read', 'read', 'storage'] as const;
  const entries: [string, Promise<Kernel>][] = [
    ['matmul_nt', k(matmulWgsl, 'matmul', [...mm], { TRANS_A: 0, TRANS_B: 1 })],
    ['matmul_nn', k(matmulWgsl, 'matmul', [...mm], { TRANS_A: 0, TRANS_B: 0 })],
    ['matmul_tn', k(matmulWgsl, 'matmul', [...mm], { TRANS_A: 1, TRANS_B: 0 })],
    ['column_sum', k(matmulWgsl, 'column_sum', [...mm])],
    ['layernorm', k(layernormWgsl, 'layernorm', ['uniform', 'read', 'read', 'read', 'storage', 'storage'])],
    ['layernorm_backward', k(layernormWgsl, 'layernorm_backward', ['uniform', 'read', 'read', 'read', 'read', 'read', 'storage'])],
    ['layernorm_backward_params', k(layernormWgsl, 'layernorm_backward_params', ['uniform', 'read', 'read', 'read', 'storage'])],
    ...[
      'attention_scores',
      'attention_softmax',
      'attention_output',
      'attention_backward_scores',
      'attention_backward_q',
      'attention_backward_kv',
    ].map((e) => [e, k(attentionWgsl, e, ['uniform', 'read', 'read', 'read', 'read', 'storage', 'storage'])] as [string, Promise<Kernel>]),
    ...['im2col', 'col2im', 'vision_tokens', 'vision_tokens_backward', 'gather_rows', 'scatter_rows'].map(
      (e) => [e, k(embedWgsl, e, [...emb])] as [string, Promise<Kernel>],
    ),
  ];
  for (const a of new Set(acts.map((x) => ACT_CODE[x]))) {
    entries.push([`gelu${a}`, k(geluWgsl, 'gelu', ['uniform', 'read', 'read', 'storage'], { ACT: a })]);
    entries.push([`gelu_backward${a}`, k(geluWgsl, 'gelu_backward', ['uniform', 'read', 'read', 'storage'], { ACT: a })]);
  }
  const out: K = {};
  for (const [name, p] of entries) out[name] = await p;
  return out;
}

export class ClipKernels {
  private calls: KernelCall[] = [];
  private uniforms: GPUBuffer[] = [];
  private readonly dummy: GPUBuffer;
  /** bound to unused writable slots: a buffer may not be both read-only and writable in one dispatch */
  private readonly dummyOut: GPUBuffer;

  private constructor(
    readonly runner: GpuRunner,
    private readonly k: K,
  ) {
    this.dummy = runner.buffer(16, 'clip dummy');
    this.dummyOut = runner.buffer(16, 'clip dummy out');
  }

  static async create(runner: GpuRunner, acts: readonly Activation[]): Promise<ClipKernels> {
    return new ClipKernels(runner, await compile(runner, acts));
  }

  /** A zeroed float32 storage buffer of n values. */
  f32(n: number, label?: string): GPUBuffer {
    return this.runner.buffer(Math.max(1, n) * 4, label);
  }

  private call(kernel: string, p: ArrayBuffer, buffers: GPUBuffer[], threads: KernelCall['threads']): void {
    const u = this.runner.uniform(p);
    this.uniforms.push(u);
    this.calls.push({ kernel: this.k[kernel], buffers: [u, ...buffers], threads });
  }

  /** Workgroup counts for one workgroup per row. */
  private rows(n: number): [number, number, number] {
    return dispatchSize(n, 1, this.runner.maxPerDim);
  }

  matmul(
    out: GPUBuffer,
    a: GPUBuffer,
    b: GPUBuffer,
    M: number,
    N: number,
    K: number,
    o: { transA?: boolean; transB?: boolean; bias?: GPUBuffer; add?: GPUBuffer } = {},
  ): void {
    if (o.transA && o.transB) throw new Error('matmul: transA with transB is not implemented');
    const p = params({ M: u32(M), N: u32(N), K: u32(K), hasBias: u32(o.bias ? 1 : 0), hasAdd: u32(o.add ? 1 : 0) });
    const variant = o.transA ? 'matmul_tn' : o.transB ? 'matmul_nt' : 'matmul_nn';
    this.call(variant, p, [a, b, o.bias ?? this.dummy, o.add ?? this.dummy, out], [Math.ceil(N / 32), Math.ceil(M / 32), 1]);
  }

  columnSum(out: GPUBuffer, x: GPUBuffer, rows: number, N: number): void {
    const p = params({ M: u32(rows), N: u32(N), K: u32(0), hasBias: u32(0), hasAdd: u32(0) });
    this.call('column_sum', p, [x, this.dummy, this.dummy, this.dummy, out], N);
  }

  /** stats: [2·rows] (mean, 1/std per row). */
  layernorm(out: GPUBuffer, stats: GPUBuffer, x: GPUBuffer, w: GPUBuffer, b: GPUBuffer, rows: number, D: number, eps: number): void {
    this.call('layernorm', params({ rows: u32(rows), D: u32(D), eps, hasRes: u32(0) }), [x, w, b, out, stats], this.rows(rows));
  }

  layernormBackward(
    dx: GPUBuffer,
    dy: GPUBuffer,
    x: GPUBuffer,
    w: GPUBuffer,
    stats: GPUBuffer,
    rows: number,
    D: number,
    dres?: GPUBuffer,
  ): void {
    const p = params({ rows: u32(rows), D: u32(D), eps: 0, hasRes: u32(dres ? 1 : 0) });
    this.call('layernorm_backward', p, [dy, x, w, stats, dres ?? this.dummy, dx], this.rows(rows));
  }

  /** dwb: [2·D] (weight gradient, then bias gradient). */
  layernormBackwardParams(dwb: GPUBuffer, dy: GPUBuffer, x: GPUBuffer, stats: GPUBuffer, rows: number, D: number): void {
    this.call('layernorm_backward_params', params({ rows: u32(rows), D: u32(D), eps: 0, hasRes: u32(0) }), [dy, x, stats, dwb], D);
  }

  gelu(out: GPUBuffer, x: GPUBuffer, act: Activation, n: number): void {
    this.call(`gelu${ACT_CODE[act]}`, params({ n: u32(n) }), [x, this.dummy, out], n);
  }

  geluBackward(dx: GPUBuffer, dy: GPUBuffer, x: GPUBuffer, act: Activation, n: number): void {
    this.call(`gelu_backward${ACT_CODE[act]}`, params({ n: u32(n) }), [x, dy, dx], n);
  }

  private attParams(sh: AttentionShape): ArrayBuffer {
    return params({
      batch: u32(sh.batch),
      seq: u32(sh.seq),
      heads: u32(sh.heads),
      headDim: u32(sh.headDim),
      causal: u32(sh.causal ? 1 : 0),
      scale: 1 / Math.sqrt(sh.headDim),
    });
  }

  private att(entry: string, sh: AttentionShape, ins: GPUBuffer[], outs: GPUBuffer[], threads: number): void {
    const d = this.dummy;
    const i = [...ins, d, d, d, d].slice(0, 4),
      o = [...outs, this.dummyOut].slice(0, 2);
    this.call(entry, this.attParams(sh), [...i, ...o], threads);
  }

  /** The forward: scores into `probs`, softmax in place, output. */
  attention(out: GPUBuffer, probs: GPUBuffer, q: GPUBuffer, k: GPUBuffer, v: GPUBuffer, sh: AttentionShape): void {
    const rows = sh.batch * sh.heads * sh.seq;
    this.att('attention_scores', sh, [q, k], [probs], rows * sh.seq);
    this.att('attention_softmax', sh, [], [probs], rows);
    this.att('attention_output', sh, [probs, v], [out], sh.batch * sh.seq * sh.heads * sh.headDim);
  }

  /** The backward: dS into `dscores` (laid out like P), then dq, dk, dv. */
  attentionBackward(
    dq: GPUBuffer,
    dk: GPUBuffer,
    dv: GPUBuffer,
    dscores: GPUBuffer,
    dout: GPUBuffer,
    out: GPUBuffer,
    probs: GPUBuffer,
    q: GPUBuffer,
    k: GPUBuffer,
    v: GPUBuffer,
    sh: AttentionShape,
  ): void {
    const n = sh.batch * sh.seq * sh.heads * sh.headDim;
    this.att('attention_backward_scores', sh, [dout, out, probs, v], [dscores], sh.batch * sh.heads * sh.seq * sh.seq);
    this.att('attention_backward_q', sh, [dscores, k], [dq], n);
    this.att('attention_backward_kv', sh, [dscores, probs, q, dout], [dk, dv], n);
  }

  private embedParams(
    s: { batch: number; channels?: number; size?: number; patch?: number; grid?: number; D?: number },
    n: number,
  ): ArrayBuffer {
    return params({
      batch: u32(s.batch),
      channels: u32(s.channels ?? 0),
      size: u32(s.size ?? 0),
      psize: u32(s.patch ?? 0),
      grid: u32(s.grid ?? 0),
      D: u32(s.D ?? 0),
      n: u32(n),
    });
  }

  im2col(cols: GPUBuffer, pixels: GPUBuffer, s: PatchShape): void {
    const G = gridOf(s),
      n = s.batch * G * G * s.channels * s.patch * s.patch;
    this.call('im2col', this.embedParams({ ...s, grid: G }, n), [pixels, this.dummy, this.dummy, this.dummy, cols], n);
  }

  col2im(dpixels: GPUBuffer, dcols: GPUBuffer, s: PatchShape): void {
    const n = s.batch * s.channels * s.size * s.size;
    this.call('col2im', this.embedParams({ ...s, grid: gridOf(s) }, n), [dcols, this.dummy, this.dummy, this.dummy, dpixels], n);
  }

  visionTokens(x: GPUBuffer, patches: GPUBuffer, cls: GPUBuffer, pos: GPUBuffer, batch: number, grid: number, D: number): void {
    const n = batch * (grid * grid + 1) * D;
    this.call('vision_tokens', this.embedParams({ batch, grid, D }, n), [patches, cls, pos, this.dummy, x], n);
  }

  visionTokensBackward(dpatches: GPUBuffer, dx: GPUBuffer, batch: number, grid: number, D: number): void {
    const n = batch * grid * grid * D;
    this.call('vision_tokens_backward', this.embedParams({ batch, grid, D }, n), [dx, this.dummy, this.dummy, this.dummy, dpatches], n);
  }

  /** rows: an i32 buffer of source rows, one per output row. */
  gatherRows(out: GPUBuffer, x: GPUBuffer, rows: GPUBuffer, count: number, D: number): void {
    const n = count * D;
    this.call('gather_rows', this.embedParams({ batch: 0, D }, n), [x, this.dummy, this.dummy, rows, out], n);
  }

  /** inv: an i32 buffer with, for each of the T output rows, the dout row it takes or −1. */
  scatterRows(dx: GPUBuffer, dout: GPUBuffer, inv: GPUBuffer, T: number, D: number): void {
    const n = T * D;
    this.call('scatter_rows', this.embedParams({ batch: 0, D }, n), [dout, this.dummy, this.dummy, inv, dx], n);
  }

  /** Submits what was recorded and waits for it. */
  async flush(): Promise<void> {
    if (this.calls.length) this.runner.run(this.calls, 'clip');
    this.calls = [];
    await this.runner.done();
    for (const u of this.uniforms) u.destroy();
    this.uniforms = [];
  }

  dispose(): void {
    this.dummy.destroy();
    this.dummyOut.destroy();
  }
}
