import { describe, expect, it } from 'vitest';
import { getGpuDevice } from '../src/gpu/device';
import { GpuUnavailableError, UserError } from '../src/core/errors';
import { noGpu } from './helpers/skip';

const noGpuReason = await noGpu();

describe('WebGPU device without an adapter', () => {
  it.runIf(noGpuReason)('fails with one GpuUnavailableError that says how to go on (a UserError: one line in the CLI)', async () => {
    const err = await getGpuDevice().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GpuUnavailableError);
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toMatch(/--backend cpu/);
  });
});

describe.skipIf(noGpuReason)('WebGPU device (Dawn in Node)', () => {
  it('runs a compute shader and reads the result back', async () => {
    const d = await getGpuDevice();
    const mod = d.createShaderModule({
      code: `@group(0) @binding(0) var<storage, read_write> a: array<f32>;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3u) { if (g.x < arrayLength(&a)) { a[g.x] = a[g.x] * 2.0 + 1.0; } }`,
    });
    const p = d.createComputePipeline({ layout: 'auto', compute: { module: mod, entryPoint: 'main' } });
    const buf = d.createBuffer({ size: 16, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
    d.queue.writeBuffer(buf, 0, new Float32Array([1, 2, 3, 4]));
    const rb = d.createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    const enc = d.createCommandEncoder();
    const pass = enc.beginComputePass();
    pass.setPipeline(p);
    pass.setBindGroup(0, d.createBindGroup({ layout: p.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: buf } }] }));
    pass.dispatchWorkgroups(1);
    pass.end();
    enc.copyBufferToBuffer(buf, 0, rb, 0, 16);
    d.queue.submit([enc.finish()]);
    await rb.mapAsync(GPUMapMode.READ);
    expect(Array.from(new Float32Array(rb.getMappedRange()))).toEqual([3, 5, 7, 9]);
    rb.unmap();
  });
});
