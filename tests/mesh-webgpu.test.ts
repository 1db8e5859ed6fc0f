import { describe, expect, it } from 'vitest';
import { lookAtCamera } from '../src/core/camera';
import { Rng } from '../src/core/rng';
import { CpuMeshRaster, createMeshRaster } from '../src/nerf/mesh/mesh-backend';
import { torus, uvSphere, vase } from '../src/nerf/mesh/mesh-shapes';
import type { MeshRasterInput } from '../src/nerf/mesh/mesh-raster-cpu';
import { CpuStyleField, fourierEncode } from '../src/nerf/mesh/style-field-cpu';
import { webGpuFieldRunner } from '../src/nerf/mesh/style-field-webgpu';
import { fieldLayout, fourierMatrix, TEXT2MESH_FIELD } from '../src/nerf/mesh/style-field';

import { noGpu } from './helpers/skip';

const noGpuReason = await noGpu();

function colored(m: { positions: Float32Array; indices: Uint32Array }, seed: number): MeshRasterInput {
  const rng = new Rng(seed);
  return { positions: m.positions, indices: m.indices, colors: new Float32Array(m.positions.length).map(() => 0.1 + 0.8 * rng.next()) };
}

/** Relative L2 distance of two gradient arrays. */
const rel = (a: Float32Array, b: Float32Array) => {
  let d = 0,
    n = 0;
  for (let i = 0; i < a.length; i++) {
    d += (a[i] - b[i]) ** 2;
    n += b[i] ** 2;
  }
  return Math.sqrt(d / Math.max(n, 1e-30));
};

describe.skipIf(noGpuReason !== null)('mesh rasteriser: WebGPU kernels vs the CPU twin', () => {
  it('forward and backward match (images, coverage, faces, colour and position gradients)', async () => {
    const gpu = await createMeshRaster('webgpu');
    const cpu = new CpuMeshRaster();
    try {
      const cases: [string, MeshRasterInput, ReturnType<typeof lookAtCamera>][] = [
        ['torus', colored(torus(0.7, 0.3, 24, 12), 1), lookAtCamera([0.4, 1.2, 2.4], [0, 0, 0], [0, 1, 0], 64, 48, 45)],
        ['vase', colored(vase(12, 8), 2), lookAtCamera([2.2, 0.6, 1.6], [0, 0, 0], [0, 1, 0], 56, 64, 50)],
        ['sphere (many small faces)', colored(uvSphere(64, 32), 3), lookAtCamera([0, 0, 5], [0, 0, 0], [0, 1, 0], 40, 40, 40)],
      ];
      for (const [name, m, cam] of cases) {
        const bg: [number, number, number] = [0.9, 0.95, 1];
        const a = await cpu.render(m, cam, bg);
        const b = await gpu.render(m, cam, bg);
        let sameFace = 0,
          close = 0;
        for (let p = 0; p < a.faceId.length; p++) {
          if (a.faceId[p] === b.faceId[p]) sameFace++;
          let ok = Math.abs(a.alpha[p] - b.alpha[p]) < 1e-4;
          for (let c = 0; c < 3; c++) ok &&= Math.abs(a.image[3 * p + c] - b.image[3 * p + c]) < 1e-4;
          if (ok) close++;
        }
        const P = a.faceId.length;
        expect(sameFace / P, name).toBeGreaterThan(0.998);
        expect(close / P, name).toBeGreaterThan(0.998);
        const rng = new Rng(7);
        const dImage = new Float32Array(P * 3).map(() => rng.uniform(-1, 1));
        const ga = await cpu.backward(dImage);
        const gb = await gpu.backward(dImage);
        const ec = rel(gb.colors, ga.colors),
          ep = rel(gb.positions, ga.positions);
        console.log(
          `${name}: faces ${(sameFace / P).toFixed(4)}, pixels ${(close / P).toFixed(4)}, ∂colour ${ec.toExponential(1)}, ∂position ${ep.toExponential(1)}`,
        );
        expect(ec, name).toBeLessThan(1e-4);
        expect(ep, name).toBeLessThan(1e-3);
      }
    } finally {
      gpu.dispose?.();
    }
  });

  it("the style field: forward outputs and parameter gradients match the CPU twin (odd sizes and the paper's width)", async () => {
    for (const [cfg, n] of [
      [{ ...TEXT2MESH_FIELD, width: 24, frequencies: 5, depth: 2 }, 37],
      [TEXT2MESH_FIELD, 48],
    ] as const) {
      const layout = fieldLayout(cfg);
      const rng = new Rng(11);
      const pts = new Float32Array(n * 3).map(() => rng.uniform(-1, 1));
      const enc = fourierEncode(pts, n, fourierMatrix(cfg, 2), cfg.frequencies);
      const k = 1 / Math.sqrt(cfg.width);
      const params = new Float32Array(layout.paramCount).map(() => rng.uniform(-k, k));
      const dOut = new Float32Array(n * 4).map(() => rng.uniform(-1, 1));
      const cpu = new CpuStyleField(layout, enc, n);
      const gpu = await webGpuFieldRunner(layout, enc, n);
      try {
        const a = await cpu.forward(params),
          b = await gpu.forward(params);
        const eo = rel(b, a);
        const ga = await cpu.backward(dOut),
          gb = await gpu.backward(dOut);
        const eg = rel(gb, ga);
        console.log(`field width ${cfg.width}, ${n} vertices: outputs ${eo.toExponential(1)}, gradient ${eg.toExponential(1)}`);
        expect(eo).toBeLessThan(1e-4);
        expect(eg).toBeLessThan(1e-4);
      } finally {
        gpu.dispose?.();
      }
    }
  });
});
