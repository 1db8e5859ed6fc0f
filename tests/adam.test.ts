import { describe, expect, it } from 'vitest';
import { Adam } from '../src/nerf/common/adam';
import { Rng } from '../src/core/rng';

/** Adam's update for one entry after `t` steps with the given gradients (the textbook form, float64). */
function reference(grads: number[], lr: number, b1: number, b2: number, eps: number, p0: number): number {
  let m = 0,
    v = 0,
    p = p0;
  grads.forEach((g, i) => {
    m = b1 * m + (1 - b1) * g;
    v = b2 * v + (1 - b2) * g * g;
    const mh = m / (1 - b1 ** (i + 1)),
      vh = v / (1 - b2 ** (i + 1));
    p -= (lr * mh) / (Math.sqrt(vh) + eps);
  });
  return p;
}

describe('Adam', () => {
  it("'entries': skips zero gradients (no decay), with per-entry bias correction", () => {
    const params = new Float32Array([1, 2]);
    const grads = new Float32Array(2);
    const adam = new Adam([{ name: 'p', params, grads, lr: 0.1 }], { beta2: 0.99, eps: 1e-8 });
    const g0 = [0.5, -0.2, 0.3];
    for (let s = 0; s < 3; s++) {
      grads[0] = g0[s];
      grads[1] = s === 1 ? 0.7 : 0; // entry 1 sees a gradient once
      adam.step();
      expect(Array.from(grads)).toEqual([0, 0]); // cleared
    }
    expect(params[0]).toBeCloseTo(reference(g0, 0.1, 0.9, 0.99, 1e-8, 1), 5);
    expect(params[1]).toBeCloseTo(reference([0.7], 0.1, 0.9, 0.99, 1e-8, 2), 5);
    expect(adam.moments('p').t[1]).toBe(1);
  });

  it('a row mask keeps masked-out rows (and clears their gradients); groups own columns of shared rows', () => {
    // two groups over one array of rows of 4: columns 0..1 and 2..3 at different rates, only 1 of column 2..3 active
    const params = new Float32Array(12).fill(1);
    const grads = new Float32Array(12).fill(0.5);
    const adam = new Adam([
      { name: 'a', params, grads, lr: 0.1, width: 4, first: 0, count: 2 },
      { name: 'b', params, grads, lr: 0.01, width: 4, first: 2, count: 2, active: 1 },
    ]);
    adam.step(Uint8Array.from([1, 0, 1]));
    expect(Array.from(params.subarray(0, 4)).map((x) => +x.toFixed(4))).toEqual([0.9, 0.9, 0.99, 1]);
    expect(Array.from(params.subarray(4, 8))).toEqual([1, 1, 1, 1]); // masked out
    expect(Array.from(grads.subarray(4, 8))).toEqual([0, 0, 0, 0]);
    expect(grads[3]).toBe(0.5); // a column not yet active is not updated (its gradient stays)
    expect(adam.moments('b').m.length).toBe(6);
  });

  it("'rows': every entry of a drawn row moves, with the bias correction of the global step", () => {
    const params = new Float32Array([0, 0, 0, 0]);
    const grads = new Float32Array(4);
    const adam = new Adam([{ name: 'p', params, grads, lr: 0.1, width: 2 }], { beta2: 0.999, sparse: 'rows' });
    grads.set([1, 0, 1, 1]);
    adam.step(Uint8Array.from([1, 0]));
    grads.set([0, 0, 1, 1]);
    adam.step(Uint8Array.from([1, 1]));
    // row 0: gradients [1, 0] then [0, 0]: entry 0 keeps moving on its momentum; entry 1 never had a gradient
    expect(params[0]).toBeCloseTo(reference([1, 0], 0.1, 0.9, 0.999, 1e-15, 0), 5);
    expect(params[1]).toBe(0);
    // row 1 was skipped at step 1: one update, with step 2's bias correction
    const m = 0.1,
      v = 0.001;
    expect(params[2]).toBeCloseTo(-(0.1 * m) / (1 - 0.81) / (Math.sqrt(v / (1 - 0.999 ** 2)) + 1e-15), 5);
  });

  it('exports and imports its moments under a prefix, checking every length; remaps rows', () => {
    const rng = new Rng(1);
    const params = Float32Array.from({ length: 9 }, () => rng.next());
    const grads = Float32Array.from({ length: 9 }, () => rng.next() - 0.5);
    const adam = new Adam([{ name: 'x', params, grads, lr: 0.1, width: 3 }]);
    adam.step();
    const saved = adam.exportState('adam.');
    expect(Object.keys(saved).sort()).toEqual(['adam.x.m', 'adam.x.t', 'adam.x.v']);
    const copy = new Adam([{ name: 'x', params: params.slice(), grads: new Float32Array(9), lr: 0.1, width: 3 }]);
    copy.importState(Object.fromEntries(Object.entries(saved).map(([k, a]) => [k, a.slice()])), 'adam.', 1);
    expect(Array.from(copy.moments('x').v)).toEqual(Array.from(adam.moments('x').v));
    expect(copy.steps).toBe(1);
    expect(() => copy.importState({ ...saved, 'adam.x.v': new Float32Array(2) })).toThrow(/adam\.x\.v holds 2 values, expected 9/);
    expect(() => copy.importState({ 'adam.x.m': saved['adam.x.m'] })).toThrow(/has no adam\.x\.v/);
    // rows 2 and 0 kept (in that order), one new row
    const m = Array.from(adam.moments('x').m);
    adam.remapRows([2, 0], 1, { x: { params: new Float32Array(9), grads: new Float32Array(9) } });
    expect(Array.from(adam.moments('x').m)).toEqual([...m.slice(6, 9), ...m.slice(0, 3), 0, 0, 0]);
  });
});
