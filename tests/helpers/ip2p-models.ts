/**
 * Model folders for the pipeline tests, in the exact optimum layout and I/O contract: the built-in stand-in
 * (fp32 or a variant: fp16 I/O, int64 scalar timestep, older `latent_sample` VAE output) and probe UNets whose
 * outputs show which branch, latents and timestep they were fed.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GraphBuilder, type OnnxDtype } from '../../src/edit/diffusion/onnx/builder';
import { buildBuiltin } from '../../models/build-builtin';
import type { GraphVariant } from '../../models/build/builtin-graphs';

export async function modelFolder(variant: GraphVariant = {}): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'ip2p-model-'));
  await buildBuiltin(dir, variant);
  return dir;
}

/**
 * A UNet whose output tells the branches apart: out = kx·x + mean(image latents) + q·Σ|text states| + kt·t
 * (per batch element, broadcast over channels and pixels). Text branch: m + q·S, image branch: m, uncond: 0.
 */
export function probeUnet(
  opts: {
    kx?: number;
    q?: number;
    kt?: number;
    dtype?: OnnxDtype;
    timestep?: { dtype: OnnxDtype; rank: 0 | 1 };
    sampleChannels?: number;
    dropInput?: string;
  } = {},
): Uint8Array {
  const g = new GraphBuilder('probe_unet');
  const dt = opts.dtype ?? 'float32';
  const cast = (v: string) => (dt === 'float32' ? v : g.op('Cast', [v], { to: 1 }));
  const sample = cast(g.input('sample', dt, ['batch', opts.sampleChannels ?? 8, 'h', 'w']));
  const tv = opts.timestep ?? { dtype: 'float32', rank: 1 };
  const t = g.op('Cast', [g.input('timestep', tv.dtype, tv.rank === 0 ? [] : ['steps'])], { to: 1 });
  const ehs = opts.dropInput === 'encoder_hidden_states' ? null : cast(g.input('encoder_hidden_states', dt, ['batch', 77, 768]));
  const ax1 = g.i64([1]);
  const x = g.op('Slice', [sample, g.i64([0]), g.i64([4]), ax1]);
  const c = g.op('Slice', [sample, g.i64([4]), g.i64([8]), ax1]);
  const m = g.op('ReduceMean', [c], { axes: [1, 2, 3], keepdims: 1 });
  let out = g.op('Add', [g.op('Mul', [x, g.f32([opts.kx ?? 0], [])]), m]);
  if (ehs) {
    const s = g.op('Reshape', [g.op('ReduceSum', [g.op('Abs', [ehs]), g.i64([1, 2])], { keepdims: 1 }), g.i64([-1, 1, 1, 1])]);
    out = g.op('Add', [out, g.op('Mul', [s, g.f32([opts.q ?? 1], [])])]);
  }
  out = g.op('Add', [out, g.op('Mul', [g.op('Reshape', [t, g.i64([-1, 1, 1, 1])]), g.f32([opts.kt ?? 0], [])])]);
  if (dt === 'float32') g.op('Identity', [out], {}, 'out_sample');
  else g.op('Cast', [out], { to: 10 }, 'out_sample');
  g.output('out_sample', dt, ['batch', 4, 'h', 'w']);
  return g.toModel();
}

export function writeUnet(dir: string, bytes: Uint8Array): void {
  writeFileSync(join(dir, 'unet', 'model.onnx'), bytes);
}
