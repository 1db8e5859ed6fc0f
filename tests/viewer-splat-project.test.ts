import { beforeAll, describe, expect, it } from 'vitest';
import { installNodeWebGpu } from '../src/io/node/node-webgpu';
import { getGpuDevice, gpuAvailable } from '../src/gpu/device';
import { runnerFor } from '../src/gpu/runner';
import { lookAtCamera, type Camera } from '../src/core/camera';
import { Rng } from '../src/core/rng';
import { fromHalf, packHalf2, toHalf, unpackHalf } from '../src/core/half';
import { createGaussians, setColor, SH_STRIDE, type Gaussians } from '../src/nerf/gaussian/gaussians';
import { projectGaussians } from '../src/nerf/gaussian/gaussian-project-cpu';
import { decodeSplat, packSplatFile, packSplats, type SplatBuffers } from '../src/viewer/three/splat-data';
import { LOD_NONE, lodParent } from '../src/viewer/three/splat-lod';
import {
  LOD_BINS,
  RECORD_WORDS,
  createCpuFrame,
  nodeBin,
  parentBin,
  projectAndSortCpu,
  splatParams,
  type SplatParams,
} from '../src/viewer/three/splat-project';
import { SplatGpu } from '../src/viewer/three/splat-gpu';
import { threeCameraFrom } from '../src/viewer/three/camera-convert';
import { writeSplat } from '../src/io/formats/splat';
import { demoGaussians } from '../src/viewer/data/demo-gaussians';
import { bitsToF32, covarianceOf } from '../src/viewer/three/splat-record';
import { Matrix4, Vector3 } from 'three';

// The viewer's splat projection: packed data, the CPU twin (splat-project.ts) against the CPU rasteriser's
// projection, the WGSL kernels (splat_project.wgsl, splat_sort.wgsl) against the twin, and the level-of-detail tree.

installNodeWebGpu();
const hasGpu = await gpuAvailable();
if (!hasGpu) console.warn('viewer-splat-project: GPU cases skipped — no WebGPU adapter (install chromium for SwiftShader, see README)');

function scene(seed: number, n: number, deg: number, spread = 0.7): Gaussians {
  const rng = new Rng(seed);
  const g = createGaussians(n, deg);
  for (let i = 0; i < n; i++) {
    for (let a = 0; a < 3; a++) {
      g.means[3 * i + a] = rng.uniform(-spread, spread);
      g.logScales[3 * i + a] = Math.log(rng.uniform(0.01, 0.12));
    }
    for (let a = 0; a < 4; a++) g.rotations[4 * i + a] = rng.normal();
    g.opacityLogits[i] = rng.uniform(-4, 4);
    setColor(g, i, rng.next(), rng.next(), rng.next());
    for (let k = 3; k < SH_STRIDE; k++) g.sh[i * SH_STRIDE + k] = rng.uniform(-0.3, 0.3);
  }
  return g;
}

/** The frame parameters for the project's camera (object = world), as SplatMesh computes them. */
function paramsFor(
  s: SplatBuffers,
  cam: Camera,
  opts: Partial<{ lod: boolean; budget: number; mode: number; capacity: number }> = {},
): SplatParams {
  const c = threeCameraFrom(cam);
  const mv = new Matrix4().copy(c.matrixWorldInverse);
  const pos = new Vector3().setFromMatrixPosition(c.matrixWorld);
  const { min, max } = s.bounds;
  const center: [number, number, number] = [(min[0] + max[0]) / 2, (min[1] + max[1]) / 2, (min[2] + max[2]) / 2];
  return splatParams({
    modelView: mv.elements,
    projection: c.projectionMatrix.elements,
    cameraInObject: [pos.x, pos.y, pos.z],
    width: cam.width,
    height: cam.height,
    webgpu: true,
    sphere: { center, radius: Math.hypot(max[0] - min[0], max[1] - min[1], max[2] - min[2]) / 2 },
    splats: s,
    capacity: opts.capacity ?? (opts.lod ? s.nodes : s.count),
    lod: opts.lod ?? false,
    budget: opts.budget ?? s.count,
    lodMinPixels: 0,
    mode: opts.mode ?? 0,
    regionMin: [0, 0, 0],
    regionMax: [-1, -1, -1],
  });
}

/** Decoded record fields. */
function record(r: Uint32Array, j: number) {
  const o = j * RECORD_WORDS;
  return {
    u: bitsToF32(r[o]),
    v: bitsToF32(r[o + 1]),
    z: bitsToF32(r[o + 2]),
    a1x: bitsToF32(r[o + 3]),
    a1y: bitsToF32(r[o + 4]),
    a2: unpackHalf(r[o + 5], 0),
    k2: unpackHalf(r[o + 5], 1),
    r: unpackHalf(r[o + 6], 0),
    g: unpackHalf(r[o + 6], 1),
    b: unpackHalf(r[o + 7], 0),
    o: unpackHalf(r[o + 7], 1),
  };
}

/** (a1 a1ᵀ + a2 a2ᵀ)/k² of a record: the splat's 2D covariance (xx, xy, yy) in pixels². */
function cov2(r: ReturnType<typeof record>): number[] {
  const l = Math.hypot(r.a1x, r.a1y) || 1;
  const a2 = [(-r.a1y / l) * r.a2, (r.a1x / l) * r.a2];
  return [(r.a1x * r.a1x + a2[0] * a2[0]) / r.k2, (r.a1x * r.a1y + a2[0] * a2[1]) / r.k2, (r.a1y * r.a1y + a2[1] * a2[1]) / r.k2];
}

describe('packed splats and half floats', () => {
  it('rounds to binary16 like pack2x16float (nearest even, subnormals, overflow)', () => {
    expect(toHalf(1)).toBe(0x3c00);
    expect(toHalf(-2)).toBe(0xc000);
    expect(toHalf(65504)).toBe(0x7bff);
    expect(toHalf(65520)).toBe(0x7c00); // rounds up to Inf
    expect(toHalf(2 ** -24)).toBe(1); // smallest subnormal
    expect(toHalf(1 + 2 ** -11)).toBe(0x3c00); // tie → even
    expect(toHalf(1 + 3 * 2 ** -11)).toBe(0x3c02);
    for (const v of [0.1, 0.333, 1e-5, 123.456, -7.5e-3])
      expect(Math.abs(fromHalf(toHalf(v)) - v)).toBeLessThanOrEqual(Math.abs(v) * 2 ** -11 + 2 ** -25);
    expect(unpackHalf(packHalf2(0.5, -3), 1)).toBe(-3);
  });

  it('keeps centres exactly and covariance, colour and opacity to half-float precision', () => {
    const g = scene(1, 300, 2);
    const s = packSplats(g);
    expect(s.data.length).toBe(300 * 8);
    expect(s.shWords).toBe(12);
    const cov = new Float64Array(6);
    for (let i = 0; i < 300; i++) {
      const d = decodeSplat(s.data, i);
      expect(d.x).toBe(g.means[3 * i]);
      const q = g.rotations;
      covarianceOf(
        q[4 * i],
        q[4 * i + 1],
        q[4 * i + 2],
        q[4 * i + 3],
        ...([0, 1, 2].map((a) => Math.exp(g.logScales[3 * i + a])) as [number, number, number]),
        cov,
      );
      const scale = Math.max(cov[0], cov[3], cov[5]);
      for (let k = 0; k < 6; k++) expect(Math.abs(d.cov[k] - cov[k])).toBeLessThan(2e-3 * scale);
      expect(Math.abs(d.opacity - 1 / (1 + Math.exp(-g.opacityLogits[i])))).toBeLessThan(1e-4);
    }
  });

  it('packs .splat bytes like packing the decoded Gaussians, and rejects bad files in one line', () => {
    const g = scene(2, 50, 0);
    const bytes = writeSplat(g);
    const s = packSplatFile(bytes, 'a.splat');
    expect(s.count).toBe(50);
    expect(() => packSplatFile(bytes.subarray(0, 40), 'b.splat')).toThrow(/b\.splat.*multiple of 32/);
    const bad = bytes.slice();
    new DataView(bad.buffer).setFloat32(12, -1, true);
    expect(() => packSplatFile(bad, 'c.splat')).toThrow(/c\.splat.*splat 0: scale/);
  });
});

describe('CPU twin of the projection (splat-project.ts) vs the CPU rasteriser', () => {
  const cam = lookAtCamera([2.4, 1.5, 2.2], [0, 0.2, 0], [0, 1, 0], 96, 72, 40);

  it('draws what the rasteriser draws, at the same pixels, with the same 2D covariance and colour', () => {
    const g = scene(3, 2000, 3);
    const s = packSplats(g);
    const p = paramsFor(s, cam);
    const f = createCpuFrame(s.count);
    const n = projectAndSortCpu(p, s, f);
    const ref = projectGaussians(g, cam);
    // the record of each drawn splat, found by its centre
    const recs = Array.from({ length: n }, (_, j) => record(f.records, j));
    const near = (u: number, v: number) => recs.find((r) => Math.abs(r.u - u) < 1e-3 && Math.abs(r.v - v) < 1e-3);
    let checked = 0;
    for (let i = 0; i < g.count; i++) {
      if (ref.radius[i] === 0) continue;
      const o = ref.opacity[i];
      if (o * 255 <= 1.001) continue; // never reaches α = 1/255: the viewer culls it
      const r = near(ref.xy[2 * i], ref.xy[2 * i + 1]);
      // splats whose quad lies entirely outside the image may be culled by the viewer (the rasteriser's tiles are coarser)
      if (!r) {
        const ext = 3.4 * Math.sqrt(Math.max(ref.cov2d[3 * i], ref.cov2d[3 * i + 2]));
        const u = ref.xy[2 * i],
          v = ref.xy[2 * i + 1];
        expect(u + ext < 0 || u - ext > cam.width || v + ext < 0 || v - ext > cam.height).toBe(true);
        continue;
      }
      checked++;
      const [c00, c01, c11] = cov2(r);
      const sc = Math.max(ref.cov2d[3 * i], ref.cov2d[3 * i + 2]);
      expect(Math.abs(c00 - ref.cov2d[3 * i])).toBeLessThan(5e-3 * sc);
      expect(Math.abs(c01 - ref.cov2d[3 * i + 1])).toBeLessThan(5e-3 * sc);
      expect(Math.abs(c11 - ref.cov2d[3 * i + 2])).toBeLessThan(5e-3 * sc);
      expect(Math.abs(r.k2 - 2 * Math.log(255 * o))).toBeLessThan(1e-2 * Math.max(1, r.k2));
      for (let c = 0; c < 3; c++) expect(Math.abs([r.r, r.g, r.b][c] - ref.rgb[3 * i + c])).toBeLessThan(2e-2);
    }
    expect(checked).toBeGreaterThan(500);
    // back to front: keys of the sorted order never decrease, and depth falls along it
    let last = -1;
    for (let j = 0; j < n; j++) {
      const k = f.keys[f.order[j]];
      expect(k).toBeGreaterThanOrEqual(last);
      last = k;
    }
  });

  it('culls splats behind the camera and outside the image, and keeps the order stable when nothing moved', () => {
    const g = scene(4, 3000, 0, 3);
    const s = packSplats(g);
    const p = paramsFor(s, cam);
    const f = createCpuFrame(s.count);
    const n = projectAndSortCpu(p, s, f);
    expect(n).toBeLessThan(s.count);
    expect(n).toBeGreaterThan(100);
    const again = createCpuFrame(s.count);
    expect(projectAndSortCpu(p, s, again)).toBe(n);
    expect(again.order.subarray(0, n)).toEqual(f.order.subarray(0, n));
  });
});

describe('level-of-detail tree (splat-lod.ts)', () => {
  it('links every splat to one root through parents whose spheres hold their children', () => {
    const g = scene(5, 5000, 1);
    const s = packSplats(g, { lodAbove: 1000 });
    expect(s.lod).not.toBeNull();
    expect(s.nodes).toBeGreaterThan(s.count);
    expect(s.nodes).toBeLessThan(2 * s.count);
    const lod = s.lod!;
    let roots = 0;
    const centre = (n: number) => [0, 1, 2].map((a) => bitsToF32(s.data[n * 8 + a]));
    let leafKids = 0;
    for (let n = 0; n < s.nodes; n++) {
      const p = lodParent(lod, n);
      if (n < s.count) expect(lod[2 * n] >>> 28).toBe(0);
      else leafKids += lod[2 * n] >>> 28;
      if (p === LOD_NONE) {
        roots++;
        continue;
      }
      expect(p).toBeGreaterThanOrEqual(s.count);
      expect(p).toBeGreaterThan(n);
      const [a, b] = [centre(n), centre(p)];
      expect(Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]) + bitsToF32(lod[2 * n + 1])).toBeLessThanOrEqual(bitsToF32(lod[2 * p + 1]));
    }
    expect(roots).toBe(1);
    // merged nodes count their leaf children (the histograms count leaves through them)
    expect(leafKids).toBe(s.count);
    // merged nodes keep the cluster's colour and its centre of mass stays inside the children's bounds
    const d = decodeSplat(s.data, s.nodes - 1);
    expect(d.r).toBeGreaterThan(0);
    expect(d.opacity).toBeGreaterThan(0);
  });

  it('the budgeted cut draws each visible leaf through exactly one node and stays within the budget', () => {
    const g = scene(6, 20000, 0, 1.5);
    const s = packSplats(g, { lodAbove: 1000 });
    const cam = lookAtCamera([3, 2, 3], [0, 0, 0], [0, 1, 0], 160, 120, 60);
    for (const budget of [20000, 4000, 500]) {
      const p = paramsFor(s, cam, { lod: true, budget, capacity: budget });
      const f = createCpuFrame(budget);
      const n = projectAndSortCpu(p, s, f);
      expect(n).toBeLessThanOrEqual(budget);
      expect(f.state[2]).toBeLessThanOrEqual(budget);
      const b = f.state[1];
      // along every leaf's path to the root exactly one node is on the cut (bin ≤ b < parent bin)
      for (let leaf = 0; leaf < s.count; leaf += 97) {
        let on = 0;
        for (let m = leaf; m !== LOD_NONE; m = lodParent(s.lod!, m)) if (nodeBin(p, s, m) <= b && b < parentBin(p, s, m)) on++;
        expect(on).toBe(1);
      }
      if (budget < 20000) expect(b).toBeGreaterThan(0);
    }
  });
});

describe.skipIf(!hasGpu)('WGSL kernels (splat_project.wgsl, splat_sort.wgsl) vs the CPU twin', () => {
  let device: GPUDevice;
  beforeAll(async () => {
    device = await getGpuDevice();
  });

  async function runGpu(s: SplatBuffers, p: SplatParams, before: SplatParams[] = []) {
    const r = runnerFor(device);
    const gpu = await SplatGpu.create(device, s, p.capacity);
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
    const records = device.createBuffer({ size: p.capacity * RECORD_WORDS * 4, usage });
    const order = device.createBuffer({ size: p.capacity * 4, usage });
    const count = device.createBuffer({ size: 16, usage });
    // earlier frames first (each in its own submit, as the viewer runs them): what they leave behind must not leak
    for (const q of [...before, p]) {
      const enc = device.createCommandEncoder();
      gpu.encode(enc, q, { records, order, count });
      device.queue.submit([enc.finish()]);
    }
    const out = {
      state: await gpu.readState(),
      records: await r.readU32(records),
      order: await r.readU32(order),
      keys: await r.readU32(gpu.keys),
      count: await r.readU32(count),
    };
    gpu.destroy();
    for (const b of [records, order, count]) b.destroy();
    return out;
  }

  function compare(s: SplatBuffers, p: SplatParams, gpu: Awaited<ReturnType<typeof runGpu>>) {
    const f = createCpuFrame(p.capacity);
    const n = projectAndSortCpu(p, s, f);
    expect(gpu.state[3]).toBe(n);
    expect(gpu.count[0]).toBe(n);
    // the counters the next frame starts from are clear
    expect(gpu.state[0]).toBe(0);
    // the same records (slots differ: the GPU appends with atomics); match them by centre (grid of 1 px cells)
    const cell = (u: number, v: number) => `${Math.floor(u)},${Math.floor(v)}`;
    const cpu = new Map<string, ReturnType<typeof record>[]>();
    for (let j = 0; j < n; j++) {
      const r = record(f.records, j);
      const k = cell(r.u, r.v);
      cpu.set(k, [...(cpu.get(k) ?? []), r]);
    }
    let matched = 0;
    for (let j = 0; j < n; j++) {
      const g = record(gpu.records, j);
      const c = cpu
        .get(cell(g.u, g.v))
        ?.find((r) => Math.abs(r.u - g.u) < 1e-3 && Math.abs(r.v - g.v) < 1e-3 && Math.abs(r.z - g.z) < 1e-5);
      if (!c) continue;
      matched++;
      expect(Math.abs(g.u - c.u)).toBeLessThan(1e-3);
      // the quad's shape as a 2D covariance (the axes themselves are ill-defined for nearly round splats)
      const [cg, cc] = [cov2(g), cov2(c)];
      const sc = Math.max(cc[0], cc[2], 1e-3);
      for (let k = 0; k < 3; k++) expect(Math.abs(cg[k] - cc[k])).toBeLessThan(3e-3 * sc);
      expect(Math.abs(g.k2 - c.k2)).toBeLessThan(1e-2);
      expect(Math.abs(g.r - c.r)).toBeLessThan(2e-3);
      expect(Math.abs(g.b - c.b)).toBeLessThan(2e-3);
      expect(Math.abs(g.o - c.o)).toBeLessThan(1e-3);
    }
    expect(matched).toBeGreaterThan(0.98 * n);
    // the GPU order is a permutation of the records, far (small key) to near
    const seen = new Uint8Array(n);
    let last = -1;
    for (let j = 0; j < n; j++) {
      const rec = gpu.order[j];
      expect(rec).toBeLessThan(n);
      seen[rec]++;
      expect(gpu.keys[rec]).toBeGreaterThanOrEqual(last);
      last = gpu.keys[rec];
    }
    expect(seen.every((x) => x === 1)).toBe(true);
    return f;
  }

  it('projects, culls and sorts like the twin (SH degree 3, render modes)', async () => {
    const g = scene(7, 4000, 3, 2);
    const s = packSplats(g);
    const cam = lookAtCamera([2.4, 1.5, 2.2], [0, 0.2, 0], [0, 1, 0], 96, 72, 40);
    for (const mode of [0, 1]) {
      const p = paramsFor(s, cam, { mode });
      compare(s, p, await runGpu(s, p));
    }
  });

  it('picks the same level-of-detail cut as the twin and stays within the budget', async () => {
    const g = scene(8, 30000, 0, 1.5);
    const s = packSplats(g, { lodAbove: 1000 });
    const cam = lookAtCamera([3, 2, 3], [0, 0, 0], [0, 1, 0], 160, 120, 60);
    for (const budget of [30000, 3000]) {
      const p = paramsFor(s, cam, { lod: true, budget, capacity: budget });
      const gpu = await runGpu(s, p);
      const f = compare(s, p, gpu);
      expect(gpu.state[1]).toBe(f.state[1]);
      expect(gpu.state[2]).toBe(f.state[2]);
      for (let i = 0; i < 2 * LOD_BINS; i++) expect(gpu.state[4 + i]).toBe(0);
      expect(gpu.state[3]).toBeLessThanOrEqual(budget);
    }
  });

  it('starts every frame clean: after other views (and level-of-detail frames) the records are those of a first frame', async () => {
    const g = scene(9, 20000, 0, 1.5);
    const s = packSplats(g, { lodAbove: 1000 });
    const a = lookAtCamera([3, 2, 3], [0, 0, 0], [0, 1, 0], 160, 120, 60);
    const b = lookAtCamera([-2, 1, 3], [0, 0, 0], [0, 1, 0], 160, 120, 60);
    const cap = s.nodes;
    const p = paramsFor(s, a, { capacity: cap });
    compare(s, p, await runGpu(s, p, [paramsFor(s, b, { capacity: cap }), paramsFor(s, a, { lod: true, budget: 2000, capacity: cap })]));
  });

  it('handles an empty view (everything behind the camera): no records, an empty draw', async () => {
    const s = packSplats(demoGaussians());
    const cam = lookAtCamera([0, 0.2, 8], [0, 0.2, 20], [0, 1, 0], 64, 48, 40);
    const p = paramsFor(s, cam);
    const gpu = await runGpu(s, p);
    expect(gpu.state[3]).toBe(0);
    expect(gpu.count[0]).toBe(0);
  });
});
