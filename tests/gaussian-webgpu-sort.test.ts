import { beforeAll, describe, expect, it } from 'vitest';
import { noGpu } from './helpers/skip';
import { getGpuDevice } from '../src/gpu/device';
import { GpuPrefixScan, GpuRadixSort } from '../src/gpu/radix-sort';
import { runnerFor } from '../src/gpu/runner';
import { Rng } from '../src/core/rng';

const noGpuReason = await noGpu();

describe.skipIf(noGpuReason)('GPU prefix scan and radix sort (sort_scan.wgsl, sort_radix.wgsl)', () => {
  let device: GPUDevice;
  let sort: GpuRadixSort;
  let scan: GpuPrefixScan;
  beforeAll(async () => {
    device = await getGpuDevice();
    [sort, scan] = await Promise.all([GpuRadixSort.create(device), GpuPrefixScan.create(device)]);
  });

  it('exclusive scan matches a CPU scan (one block, many blocks, three levels)', async () => {
    const r = runnerFor(device);
    const rng = new Rng(1);
    for (const n of [1, 7, 512, 513, 5000, 300_001]) {
      const a = new Uint32Array(n).map(() => rng.int(5));
      const buf = r.buffer(a);
      const enc = device.createCommandEncoder();
      const pass = enc.beginComputePass();
      scan.encode(pass, buf, n);
      pass.end();
      device.queue.submit([enc.finish()]);
      const got = await r.readU32(buf, 0, n);
      const want = new Uint32Array(n);
      for (let i = 1; i < n; i++) want[i] = want[i - 1] + a[i - 1];
      expect(got).toEqual(want);
      buf.destroy();
    }
  });

  async function sortOnGpu(lo: Uint32Array, hi: Uint32Array | null, opts: { loBits?: number; hiBits?: number } = {}) {
    const r = runnerFor(device);
    const n = lo.length;
    const vals = new Uint32Array(n).map((_, i) => i);
    const bLo = r.buffer(lo),
      bHi = hi ? r.buffer(hi) : null,
      bV = r.buffer(vals);
    await sort.sort({ keysLo: bLo, keysHi: bHi, values: bV, count: n, ...opts });
    const out = { lo: await r.readU32(bLo, 0, n), hi: bHi ? await r.readU32(bHi, 0, n) : null, vals: await r.readU32(bV, 0, n) };
    bLo.destroy();
    bHi?.destroy();
    bV.destroy();
    return out;
  }

  it('sorts 32-bit keys like Array.sort (stable, duplicates, non-power-of-two counts)', async () => {
    const rng = new Rng(2);
    for (const [n, range] of [
      [1, 10],
      [2, 2],
      [255, 1 << 30],
      [1000, 7],
      [4097, 2 ** 32],
      [30_001, 1000],
    ] as const) {
      const keys = new Uint32Array(n).map(() => Math.floor(rng.next() * range) >>> 0);
      const got = await sortOnGpu(keys, null);
      const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => keys[a] - keys[b] || a - b);
      expect(Array.from(got.vals)).toEqual(order);
      expect(Array.from(got.lo)).toEqual(order.map((i) => keys[i]));
    }
  });

  it('sorts 64-bit (hi:lo) keys — tile id : depth bits — with fewer hi bits', async () => {
    const rng = new Rng(3);
    const n = 20_003;
    const f = new Float32Array(n),
      hi = new Uint32Array(n);
    for (let i = 0; i < n; i++) {
      f[i] = i % 5 === 0 ? 1.5 : 0.01 + rng.next() * 100; // many equal depths
      hi[i] = rng.int(300);
    }
    const lo = new Uint32Array(f.buffer);
    const got = await sortOnGpu(lo, hi, { hiBits: 9 });
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => hi[a] - hi[b] || f[a] - f[b] || a - b);
    expect(Array.from(got.vals)).toEqual(order);
    expect(Array.from(got.hi!)).toEqual(order.map((i) => hi[i]));
    // odd pass count (8 + 3): the result was copied back into the caller's buffers
    expect(GpuRadixSort.passes({ keysHi: true, hiBits: 9 })).toBe(11);
  });

  it('sorts with fewer low bits (16-bit keys, viewer-style quantised depths)', async () => {
    const rng = new Rng(4);
    const keys = new Uint32Array(3001).map(() => rng.int(65536));
    const got = await sortOnGpu(keys, null, { loBits: 16 });
    const order = Array.from({ length: keys.length }, (_, i) => i).sort((a, b) => keys[a] - keys[b] || a - b);
    expect(Array.from(got.vals)).toEqual(order);
  });
});
