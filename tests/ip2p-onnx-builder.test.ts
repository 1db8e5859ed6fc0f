import { describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import { GraphBuilder } from '../src/edit/diffusion/onnx/builder';
import { readModelInfo } from '../src/edit/diffusion/onnx/signature';
import { f16BitsToF32, f32ToF16Bits, fromF16Bits, toF16Bits } from '../src/edit/diffusion/onnx/half';
import { ProtoError } from '../src/edit/diffusion/onnx/proto';

function addMatMulModel(): Uint8Array {
  const g = new GraphBuilder('tiny');
  const x = g.input('x', 'float32', ['batch', 3]);
  const w = g.f32([1, 2, 3, 4, 5, 6], [3, 2]);
  const b = g.f32([10, -10], [2]);
  const y = g.op('MatMul', [x, w]);
  g.op('Add', [y, b], {}, 'y');
  g.output('y', 'float32', ['batch', 2]);
  const n = g.op('Shape', [x], { start: 0, end: 1 }, 'n');
  g.output(n, 'int64', [1]);
  return g.toModel({ docString: 'tiny test model' });
}

describe('ONNX builder', () => {
  it('builds a model onnxruntime-node loads and runs (MatMul + Add, int attribute)', async () => {
    const s = await ort.InferenceSession.create(addMatMulModel());
    expect(s.inputNames).toEqual(['x']);
    expect(s.outputNames).toEqual(['y', 'n']);
    const out = await s.run({ x: new ort.Tensor('float32', Float32Array.from([1, 0, 0, 0, 1, 1]), [2, 3]) });
    expect(Array.from(out.y.data as Float32Array)).toEqual([11, -8, 18, 0]);
    expect(out.y.dims).toEqual([2, 2]);
    expect(Array.from(out.n.data as BigInt64Array)).toEqual([2n]);
    await s.release();
  });

  it('float attributes, int64 and float16 initializers, multiple outputs', async () => {
    const g = new GraphBuilder('attrs');
    const x = g.input('x', 'float16', [4]);
    const xf = g.op('Cast', [x], { to: 1 });
    const lr = g.op('LeakyRelu', [xf], { alpha: { f: 0.25 } });
    const sh = g.op('Reshape', [lr, g.i64([2, 2])], {}, 'r');
    g.output(sh, 'float32', [2, 2]);
    const h = g.op('Mul', [x, g.f16([0.5, 0.5, 0.5, 0.5], [4])], {}, 'h');
    g.output(h, 'float16', [4]);
    const s = await ort.InferenceSession.create(g.toModel());
    const out = await s.run({ x: new ort.Tensor('float16', toF16Bits([-4, -1, 2, 3]), [4]) });
    expect(Array.from(out.r.data as Float32Array)).toEqual([-1, -0.25, 2, 3]);
    const hv = out.h.data as ArrayLike<number>;
    const vals = hv instanceof Uint16Array ? Array.from(fromF16Bits(hv)) : Array.from(hv);
    expect(vals).toEqual([-2, -0.5, 1, 1.5]);
    await s.release();
  });

  it('reads the signature back (names, dtypes, symbolic dims, opset)', () => {
    const info = readModelInfo(addMatMulModel());
    expect(info.irVersion).toBe(8);
    expect(info.opset).toBe(17);
    expect(info.docString).toBe('tiny test model');
    expect(info.inputs).toEqual([{ name: 'x', dtype: 'float32', shape: ['batch', 3] }]);
    expect(info.outputs.map((o) => o.name)).toEqual(['y', 'n']);
    expect(info.outputs[1]).toEqual({ name: 'n', dtype: 'int64', shape: [1] });
    expect(info.externalData).toEqual([]);
  });

  it('rejects bytes that are not a model without huge allocations', () => {
    expect(() => readModelInfo(new TextEncoder().encode('hello world, not onnx'))).toThrow(ProtoError);
    // a length prefix claiming 2^40 bytes
    expect(() => readModelInfo(Uint8Array.from([0x3a, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20]))).toThrow(/runs past the end/);
  });

  it('float16 bit conversion: exact values, rounding, subnormals, inf', () => {
    for (const v of [0, 1, -2, 0.5, 65504, 6.103515625e-5, 5.960464477539063e-8, 0.333251953125])
      expect(f16BitsToF32(f32ToF16Bits(v))).toBe(v);
    expect(f32ToF16Bits(1e6)).toBe(0x7c00);
    expect(f32ToF16Bits(-Infinity)).toBe(0xfc00);
    expect(Number.isNaN(f16BitsToF32(f32ToF16Bits(NaN)))).toBe(true);
    expect(f16BitsToF32(f32ToF16Bits(1 + 2 ** -11))).toBe(1); // tie → even
    expect(f16BitsToF32(f32ToF16Bits(1 + 3 * 2 ** -11))).toBe(1 + 2 ** -9); // tie → even (up)
    expect(Math.abs(f16BitsToF32(f32ToF16Bits(0.1)) - 0.1)).toBeLessThan(1e-4);
  });
});
