import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UserError } from '../src/core/errors';
import { parseClipConfig } from '../src/edit/clip/clip-config';
import { checkClipFolder, loadClipFolder } from '../src/edit/clip/clip-folder';
import { ClipModel } from '../src/edit/clip/clip-model';
import { bf16ToF32, f16ToF32, parseSafetensorsHeader, readSafetensors, tensorAsF32, writeSafetensors } from '../src/edit/clip/safetensors';
import { fromF16Bits, toF16Bits } from '../src/edit/diffusion/onnx/half';
import { nodeFiles } from '../src/io/node/node-files';
import type { FileSource } from '../src/io/files/files';
import { maxAbsDiff, randomImages, tinyClipFolder } from './helpers/clip-models';

/** The safetensors reader, the config and the weight checks: good files load, bad ones fail with one line naming the problem. */

/** A safetensors file with a hand-written header (for headers that lie). */
function rawSafetensors(header: object, dataBytes: number, claimedHeaderLength?: number): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + dataBytes);
  new DataView(out.buffer).setUint32(0, claimedHeaderLength ?? json.length, true);
  out.set(json, 8);
  return out;
}

async function errorOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(UserError);
    const msg = (e as Error).message;
    expect(msg.split('\n')).toHaveLength(1);
    return msg;
  }
  throw new Error('expected an error');
}

describe('safetensors', () => {
  it('round-trips F32, F16 and BF16 (views for aligned F32, conversions for the half types)', () => {
    const a = Float32Array.from([0, 1, -2.5, 1e-3, 65504, 3.14159]);
    const bytes = writeSafetensors([
      { name: 'a', shape: [2, 3], data: a },
      { name: 'h', shape: [6], data: a, dtype: 'F16' },
      { name: 'b', shape: [3, 2], data: a, dtype: 'BF16' },
    ]);
    const st = readSafetensors(bytes, 'x.safetensors');
    expect([...st.entries.keys()]).toEqual(['a', 'h', 'b']);
    const fa = tensorAsF32(st, st.entries.get('a')!);
    expect(fa.buffer).toBe(bytes.buffer); // zero-copy view
    expect([...fa]).toEqual([...a]);
    expect([...tensorAsF32(st, st.entries.get('h')!)]).toEqual([...fromF16Bits(toF16Bits(a))]);
    const bf = tensorAsF32(st, st.entries.get('b')!);
    bf.forEach((v, i) => expect(Math.abs(v - a[i])).toBeLessThanOrEqual(Math.abs(a[i]) / 128));
    expect(f16ToF32(Uint16Array.of(0x3c00, 0xc000, 0x7c00))).toEqual(Float32Array.of(1, -2, Infinity));
    expect(bf16ToF32(Uint16Array.of(0x3f80, 0xc040))).toEqual(Float32Array.of(1, -3));
  });

  it('rejects headers that lie, before allocating, naming the tensor', () => {
    const f = 'bad.safetensors';
    expect(() => parseSafetensorsHeader(rawSafetensors({}, 0, 1e9), 100, f)).toThrow(
      /header claims 1000000000 bytes but the file has only 92/,
    );
    const big = { 'text_model.final_layer_norm.weight': { dtype: 'F32', shape: [100000, 100000], data_offsets: [0, 4e10] } };
    expect(() => parseSafetensorsHeader(rawSafetensors(big, 16), 16 + 8 + JSON.stringify(big).length, f)).toThrow(
      /tensor 'text_model.final_layer_norm.weight': data_offsets end at byte 40000000000 but the file holds only 16 bytes/,
    );
    const span = { w: { dtype: 'F32', shape: [4, 4], data_offsets: [0, 32] } };
    expect(() => readSafetensors(rawSafetensors(span, 64), f)).toThrow(
      /tensor 'w': shape \[4, 4\] of F32 needs 64 bytes but data_offsets span 32/,
    );
    const dtype = { w: { dtype: 'Q4', shape: [1], data_offsets: [0, 1] } };
    expect(() => readSafetensors(rawSafetensors(dtype, 1), f)).toThrow(/tensor 'w': unknown dtype "Q4"/);
    expect(() => readSafetensors(Uint8Array.of(1, 2, 3), f)).toThrow(/not a safetensors file/);
    const notJson = rawSafetensors({}, 0);
    notJson[8] = 0x7b;
    notJson[9] = 0x7b;
    expect(() => readSafetensors(notJson, f)).toThrow(/header is not valid JSON/);
  });
});

describe('CLIP config', () => {
  it('reads HF configs with defaults and legacy *_config_dict overrides; rejects an unknown hidden_act naming the key', () => {
    const c = parseClipConfig({
      model_type: 'clip',
      text_config: { hidden_act: 'quick_gelu' },
      vision_config: {},
      text_config_dict: { hidden_size: 768 },
    });
    expect(c.vision).toMatchObject({ hiddenSize: 768, imageSize: 224, patchSize: 32, numLayers: 12, hiddenAct: 'quick_gelu' });
    expect(c.text).toMatchObject({ hiddenSize: 768, vocabSize: 49408, maxPositions: 77, numHeads: 8 });
    expect(c.projectionDim).toBe(512);
    expect(() => parseClipConfig({ text_config: { hidden_act: 'swish' }, vision_config: {} }, 'config.json')).toThrow(
      'config.json: text_config.hidden_act "swish" is not supported (expected one of quick_gelu, gelu, gelu_new, gelu_pytorch_tanh)',
    );
    expect(() => parseClipConfig({ model_type: 'bert' })).toThrow(/model_type is 'bert'/);
    expect(() => parseClipConfig({ text_config: {}, vision_config: { hidden_size: 100, num_attention_heads: 12 } })).toThrow(
      /not divisible/,
    );
  });
});

describe('CLIP folder', () => {
  it('a good folder checks clean and loads; F16 and BF16 checkpoints load as float32', async () => {
    const m = await tinyClipFolder();
    const c = await checkClipFolder(m.dir, nodeFiles);
    expect(c.problems).toEqual([]);
    expect(c.weights[0].dtypes).toEqual(['F32']);
    const ref = await ClipModel.load(m.dir, nodeFiles);
    const images = randomImages(2, 32, 1);
    for (const dtype of ['F16', 'BF16'] as const) {
      const h = await tinyClipFolder({ dtype });
      expect((await checkClipFolder(h.dir, nodeFiles)).weights[0].dtypes).toEqual([dtype]);
      const model = await ClipModel.load(h.dir, nodeFiles);
      // rounded weights: close to the float32 model, not equal
      const d = maxAbsDiff(await model.embedImages(images), await ref.embedImages(images));
      expect(d).toBeGreaterThan(0);
      expect(d).toBeLessThan(dtype === 'F16' ? 2e-3 : 3e-2);
    }
  });

  it('reads only the tensors of the towers it needs when the source reads byte ranges', async () => {
    const m = await tinyClipFolder();
    const ranges: number[] = [];
    const files: FileSource = {
      ...nodeFiles,
      read: async (p) => {
        if (p.endsWith('.safetensors')) throw new Error('read whole');
        return nodeFiles.read(p);
      },
      readRange: async (p, o, n) => {
        ranges.push(n);
        return nodeFiles.readRange!(p, o, n);
      },
    };
    const { weights } = await loadClipFolder(m.dir, files, ['vision']);
    expect(weights.text).toBeUndefined();
    expect(weights.vision!.layers).toHaveLength(2);
    const total = readFileSync(join(m.dir, 'model.safetensors')).byteLength;
    const read = ranges.reduce((a, b) => a + b, 0);
    expect(read).toBeLessThan(total * 0.8); // the text tower (with its 840×32 token table) stayed on disk
  });

  it('names the missing tensor, the mismatched shape, the lying header and the unknown activation', async () => {
    const m = await tinyClipFolder();
    const st = readSafetensors(new Uint8Array(readFileSync(join(m.dir, 'model.safetensors'))), 'm');
    const tensors = [...st.entries.values()].map((e) => ({ name: e.name, shape: e.shape, data: tensorAsF32(st, e).slice() }));
    const rewrite = (ts: typeof tensors) => writeFileSync(join(m.dir, 'model.safetensors'), writeSafetensors(ts));
    const file = join(m.dir, 'model.safetensors');

    rewrite(tensors.filter((t) => t.name !== 'vision_model.encoder.layers.1.mlp.fc2.bias'));
    expect(await errorOf(ClipModel.load(m.dir, nodeFiles))).toBe(
      `${file}: tensor 'vision_model.encoder.layers.1.mlp.fc2.bias' is missing (expected shape [48])`,
    );
    expect((await checkClipFolder(m.dir, nodeFiles)).problems).toEqual([
      `${file}: tensor 'vision_model.encoder.layers.1.mlp.fc2.bias' is missing (expected shape [48])`,
    ]);

    rewrite(tensors.map((t) => (t.name === 'text_model.encoder.layers.0.mlp.fc1.weight' ? { ...t, shape: [32, 64] } : t)));
    expect(await errorOf(ClipModel.load(m.dir, nodeFiles))).toBe(
      `${file}: tensor 'text_model.encoder.layers.0.mlp.fc1.weight' has shape [32, 64], expected [64, 32] (text_config.intermediate_size 64, text_config.hidden_size 32)`,
    );

    const good = readFileSync(file);
    const lying = Buffer.from(good);
    lying.writeUInt32LE(good.byteLength * 10, 0);
    writeFileSync(file, lying);
    expect(await errorOf(ClipModel.load(m.dir, nodeFiles))).toMatch(
      new RegExp(`^${file}: safetensors header claims \\d+ bytes but the file has only \\d+`),
    );
    expect((await checkClipFolder(m.dir, nodeFiles)).problems[0]).toMatch(/header claims/);
    writeFileSync(file, good.subarray(0, good.byteLength - 100)); // truncated: the last tensor runs past the end
    expect(await errorOf(ClipModel.load(m.dir, nodeFiles))).toMatch(
      /tensor 'text_projection.weight': data_offsets end at byte \d+ but the file holds only \d+ bytes/,
    );
    writeFileSync(file, good);

    const cfgPath = join(m.dir, 'config.json');
    const cfg = JSON.parse(readFileSync(cfgPath, 'utf8'));
    cfg.vision_config.hidden_act = 'relu6';
    writeFileSync(cfgPath, JSON.stringify(cfg));
    expect(await errorOf(ClipModel.load(m.dir, nodeFiles))).toBe(
      `${cfgPath}: vision_config.hidden_act "relu6" is not supported (expected one of quick_gelu, gelu, gelu_new, gelu_pytorch_tanh)`,
    );
  });
});
