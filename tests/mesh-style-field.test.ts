import { describe, expect, it } from 'vitest';
import { Rng } from '../src/core/rng';
import { composeBackward, composeStyled, normalizedPositions, styleBase } from '../src/nerf/mesh/style-compose';
import { CpuStyleField, fourierEncode } from '../src/nerf/mesh/style-field-cpu';
import { Adam } from '../src/nerf/common/adam';
import {
  CPU_FIELD,
  FIELD_ADAM,
  fieldLayout,
  fieldLearningRate,
  fourierMatrix,
  initFieldParams,
  macsPerVertex,
  TEXT2MESH_FIELD,
  type StyleFieldConfig,
} from '../src/nerf/mesh/style-field';
import { torus, vase } from '../src/nerf/mesh/mesh-shapes';
import { nodeFieldRunner } from '../src/io/node/node-style-field-pool';

const SMALL: StyleFieldConfig = { ...TEXT2MESH_FIELD, width: 8, depth: 2, branchDepth: 2, frequencies: 4 };

function setup(cfg: StyleFieldConfig, n: number, seed: number) {
  const layout = fieldLayout(cfg);
  const rng = new Rng(seed);
  const pts = new Float32Array(n * 3).map(() => rng.uniform(-1, 1));
  const enc = fourierEncode(pts, n, fourierMatrix(cfg, seed), cfg.frequencies);
  const field = new CpuStyleField(layout, enc, n);
  return { layout, field, rng };
}

describe('neural style field (CPU)', () => {
  it("has the paper's layout and starts at the input mesh", async () => {
    const l = fieldLayout(TEXT2MESH_FIELD);
    expect(l.inputs).toBe(515);
    expect(l.layers.map((x) => `${x.in}→${x.out}`)).toEqual([
      '515→256',
      '256→256',
      '256→256',
      '256→256',
      '256→256',
      '256→256',
      '256→256',
      '256→3',
      '256→256',
      '256→256',
      '256→1',
    ]);
    expect(macsPerVertex(l) / macsPerVertex(fieldLayout(CPU_FIELD))).toBeGreaterThan(12);
    const m = vase(8, 5);
    const base = styleBase(m);
    const n = m.positions.length / 3;
    const cfg = { ...TEXT2MESH_FIELD, width: 16, frequencies: 8 };
    const layout = fieldLayout(cfg);
    const enc = fourierEncode(normalizedPositions(base), n, fourierMatrix(cfg, 1), cfg.frequencies);
    const raw = await new CpuStyleField(layout, enc, n).forward(initFieldParams(layout, 1));
    expect(raw.every((v) => v === 0)).toBe(true);
    const pos = new Float32Array(n * 3),
      col = new Float32Array(n * 3);
    composeStyled(base, raw, cfg.maxDisplacement, pos, col);
    expect(pos.every((v, i) => v === m.positions[i])).toBe(true);
    expect(col.every((v) => v === 0.5)).toBe(true);
  });

  it('parameter gradients match finite differences (and skipping rows with zero gradient changes nothing)', () => {
    const n = 13;
    const { layout, field, rng } = setup(SMALL, n, 3);
    const params = new Float32Array(layout.paramCount).map(() => rng.uniform(-0.6, 0.6));
    const wOut = new Float32Array(n * 4).map(() => rng.uniform(-1, 1));
    for (let r = 0; r < 4; r++) wOut.fill(0, 4 * r * 3, 4 * r * 3 + 4); // rows 0, 3, 6, 9 unseen
    const L = (p: Float32Array) => {
      const out = field.forwardSync(p);
      let s = 0;
      for (let i = 0; i < out.length; i++) s += wOut[i] * out[i];
      return s;
    };
    L(params);
    const g = field.backwardSync(wOut);
    let checked = 0;
    const errs: number[] = [];
    for (let s = 0; s < 60; s++) {
      const i = rng.int(params.length);
      const v = params[i];
      const e = 1e-2;
      params[i] = v + e;
      const a = L(params);
      params[i] = v - e;
      const b = L(params);
      params[i] = v;
      const fd = (a - b) / (2 * e);
      // float32 activations and ReLU kinks within ±e: a loose bound per sample, a tight one on the median
      expect(Math.abs(fd - g[i])).toBeLessThan(5e-3 + 2e-2 * Math.abs(fd));
      errs.push(Math.abs(fd - g[i]));
      if (g[i] !== 0) checked++;
    }
    expect(checked).toBeGreaterThan(30);
    expect(errs.sort((a, b) => a - b)[30]).toBeLessThan(5e-4);
    // the same gradient when every row takes part (zero rows contribute nothing)
    L(params);
    const full = new CpuStyleField(layout, field.encoded, n);
    full.forwardSync(params);
    const g2 = full.backwardSync(wOut);
    for (let i = 0; i < g.length; i++) expect(g2[i]).toBeCloseTo(g[i], 5);
  });

  it('Adam follows PyTorch (bias-corrected) and the learning rate decays 0.9 every 100 steps', () => {
    // the field's optimiser: the project's Adam, dense ('rows' with no mask), with Text2Mesh's β and ε
    const p = Float32Array.from([1, -2]),
      g = Float32Array.from([0.5, -0.25]);
    new Adam([{ name: 'field', params: p, grads: g, lr: 0.1 }], { ...FIELD_ADAM, sparse: 'rows' }).step();
    // step 1: m̂ = g, v̂ = g² → p −= lr·sign(g)
    expect(p[0]).toBeCloseTo(0.9, 6);
    expect(p[1]).toBeCloseTo(-1.9, 6);
    expect(fieldLearningRate(TEXT2MESH_FIELD, 99)).toBe(5e-4);
    expect(fieldLearningRate(TEXT2MESH_FIELD, 100)).toBeCloseTo(4.5e-4, 12);
    expect(fieldLearningRate(TEXT2MESH_FIELD, 250)).toBeCloseTo(5e-4 * 0.81, 12);
  });

  it('colour and displacement maps: gradients match finite differences; gated vertices stay exactly', () => {
    const m = torus(0.7, 0.3, 8, 6, [0.9, 0.2, 0.5]);
    const n = m.positions.length / 3;
    const gate = new Uint8Array(n).map((_, i) => (i % 3 === 0 ? 0 : 1));
    const base = styleBase(m, gate);
    const rng = new Rng(5);
    const raw = new Float32Array(n * 4).map(() => rng.uniform(-1.5, 1.5));
    const wc = new Float32Array(n * 3).map(() => rng.uniform(-1, 1)),
      wp = new Float32Array(n * 3).map(() => rng.uniform(-1, 1));
    const pos = new Float32Array(n * 3),
      col = new Float32Array(n * 3);
    const L = () => {
      composeStyled(base, raw, 0.1, pos, col);
      let s = 0;
      for (let i = 0; i < n * 3; i++) s += wc[i] * col[i] + wp[i] * pos[i];
      return s;
    };
    L();
    for (let i = 0; i < n; i++)
      if (!gate[i])
        for (let a = 0; a < 3; a++) {
          expect(pos[3 * i + a]).toBe(m.positions[3 * i + a]);
          expect(col[3 * i + a]).toBe(m.colors![3 * i + a]);
        }
    const d = composeBackward(base, raw, 0.1, wc, wp);
    for (let s = 0; s < 40; s++) {
      const i = rng.int(raw.length);
      const v = raw[i];
      raw[i] = v + 1e-3;
      const a = L();
      raw[i] = v - 1e-3;
      const b = L();
      raw[i] = v;
      const fd = (a - b) / 2e-3;
      // at the colour clamp the analytic gradient deliberately passes inward-moving gradients: skip those entries
      const vi = Math.floor(i / 4),
        ch = i % 4;
      const c = ch < 3 ? m.colors![3 * vi + ch] + 0.5 * Math.tanh(v) : 0.5;
      if (c > 1 || c < 0) continue;
      expect(Math.abs(fd - d[i])).toBeLessThan(1e-3 + 1e-3 * Math.abs(fd));
    }
  });

  it('the Node worker pool (slices on worker threads) gives the outputs and gradients of one thread', async () => {
    const n = 3000;
    const { layout, field, rng } = setup({ ...SMALL, width: 16 }, n, 9);
    const pool = await nodeFieldRunner(3)(layout, field.encoded, n);
    expect(pool.name).toBe('cpu×3');
    try {
      const params = new Float32Array(layout.paramCount).map(() => rng.uniform(-0.5, 0.5));
      const dOut = new Float32Array(n * 4).map((_, i) => (i % 7 === 0 ? 0 : rng.uniform(-1, 1)));
      const a = await field.forward(params),
        b = await pool.forward(params);
      expect(b).toEqual(a);
      const ga = await field.backward(dOut),
        gb = await pool.backward(dOut);
      for (let i = 0; i < ga.length; i++) expect(gb[i]).toBeCloseTo(ga[i], 3);
    } finally {
      pool.dispose?.();
    }
  });
});
