import { describe, expect, it } from 'vitest';
import { getGpuDevice } from '../src/gpu/device';
import { noGpu } from './helpers/skip';
import { dispatchSize, params, runnerFor, u32, WGSL_LINEAR_ID } from '../src/gpu/runner';
import testKernel from './fixtures/runner_test.wgsl?raw';

const noGpuReason = await noGpu();

describe('dispatchSize', () => {
  it('stays 1D while the workgroup count fits', () => {
    expect(dispatchSize(0, 64)).toEqual([0, 1, 1]);
    expect(dispatchSize(1, 64)).toEqual([1, 1, 1]);
    expect(dispatchSize(65535 * 64, 64)).toEqual([65535, 1, 1]);
  });
  it('spills into y past maxComputeWorkgroupsPerDimension and covers every thread', () => {
    for (const n of [65535 * 64 + 1, 10_000_000, 123_456_789]) {
      const [x, y, z] = dispatchSize(n, 64);
      expect(x).toBeLessThanOrEqual(65535);
      expect(y).toBeGreaterThan(1);
      expect(z).toBe(1);
      expect(x * y * 64).toBeGreaterThanOrEqual(n);
      expect(x * (y - 1) * 64).toBeLessThan(n); // no wholly empty last row
    }
  });
  it('rejects sizes beyond max² workgroups and bad counts', () => {
    expect(() => dispatchSize(4 * 4 * 64 + 1, 64, 4)).toThrow(/workgroups/);
    expect(() => dispatchSize(-1, 64)).toThrow();
    expect(() => dispatchSize(1.5, 64)).toThrow();
  });
});

describe('GpuRunner (Dawn in Node)', () => {
  it('loads WGSL through ?raw, caches pipelines, runs a 2D-spilled dispatch and reads back', async (ctx) => {
    if (noGpuReason) ctx.skip();
    const runner = runnerFor(await getGpuDevice());
    expect(testKernel).toContain(WGSL_LINEAR_ID);
    const def = { code: testKernel, entry: 'affine', bindings: ['uniform', 'read', 'storage'] as const, workgroupSize: 4 };
    const k = await runner.kernel({ ...def, bindings: [...def.bindings] });
    expect(await runner.kernel({ ...def, bindings: [...def.bindings] })).toBe(k);
    // 4 threads per group with a small per-dimension limit forces a 2D dispatch through the same code path.
    const n = 1000;
    const a = new Float32Array(n).map((_, i) => i * 0.5);
    const src = runner.buffer(a);
    const dst = runner.buffer(n * 4);
    const p = runner.uniform(params({ n: u32(n), scale: 2, offset: 1 }));
    const size = dispatchSize(n, 4, 16);
    expect(size[1]).toBeGreaterThan(1);
    runner.run([{ kernel: k, buffers: [p, src, dst], threads: size }]);
    const out = await runner.readF32(dst);
    for (let i = 0; i < n; i++) expect(out[i]).toBe(a[i] * 2 + 1);
    // an unused binding in another entry point is still accepted (explicit layout)
    const z = await runner.kernel({ code: testKernel, entry: 'fill', bindings: ['uniform', 'read', 'storage'] });
    runner.run([{ kernel: z, buffers: [p, src, dst], threads: n }]);
    expect(Array.from(await runner.readF32(dst, 4 * 10, 3))).toEqual([7, 7, 7]);
    runner.upload(dst, new Float32Array([5, 6]), 8);
    expect(Array.from(await runner.readF32(dst, 0, 4))).toEqual([7, 7, 5, 6]);
    runner.zero(dst);
    expect(Array.from(await runner.readF32(dst, 0, 2))).toEqual([0, 0]);
    for (const b of [src, dst, p]) b.destroy();
  });
  it('rejects WGSL errors with the compiler message', async (ctx) => {
    if (noGpuReason) ctx.skip();
    const runner = runnerFor(await getGpuDevice());
    await expect(runner.kernel({ code: 'fn oops( {', entry: 'main', bindings: [] })).rejects.toThrow(/WGSL/);
    // valid WGSL, but no such entry point / a layout that does not match the shader's bindings
    await expect(runner.kernel({ code: testKernel, entry: 'nope', bindings: ['uniform', 'read', 'storage'] })).rejects.toThrow(/WGSL/);
    await expect(runner.kernel({ code: testKernel, entry: 'affine', bindings: ['uniform', 'storage'] })).rejects.toThrow(/WGSL/);
  });
});
