import { describe, expect, it } from 'vitest';
import { Rng } from '../src/core/rng';
import { MaxFlowGraph } from '../src/edit/regions/max-flow';

/** Plain Edmonds–Karp on a dense capacity matrix (source n, sink n + 1): the reference. */
function edmondsKarp(n: number, terminals: [number, number][], edges: [number, number, number, number][]): number {
  const N = n + 2,
    S = n,
    T = n + 1;
  const c = Array.from({ length: N }, () => new Float64Array(N));
  terminals.forEach(([s, t], i) => {
    c[S][i] += s;
    c[i][T] += t;
  });
  for (const [i, j, a, b] of edges) {
    c[i][j] += a;
    c[j][i] += b;
  }
  let flow = 0;
  for (;;) {
    const prev = new Int32Array(N).fill(-1);
    prev[S] = S;
    const q = [S];
    while (q.length && prev[T] < 0) {
      const u = q.shift()!;
      for (let v = 0; v < N; v++)
        if (prev[v] < 0 && c[u][v] > 1e-12) {
          prev[v] = u;
          q.push(v);
        }
    }
    if (prev[T] < 0) return flow;
    let d = Infinity;
    for (let v = T; v !== S; v = prev[v]) d = Math.min(d, c[prev[v]][v]);
    for (let v = T; v !== S; v = prev[v]) {
      c[prev[v]][v] -= d;
      c[v][prev[v]] += d;
    }
    flow += d;
  }
}

/** The capacity of the cut the graph reports (source side = inSourceSet). */
function cutCapacity(g: MaxFlowGraph, terminals: [number, number][], edges: [number, number, number, number][]): number {
  let cut = 0;
  terminals.forEach(([s, t], i) => (cut += g.inSourceSet(i) ? t : s));
  for (const [i, j, a, b] of edges) {
    if (g.inSourceSet(i) && !g.inSourceSet(j)) cut += a;
    if (g.inSourceSet(j) && !g.inSourceSet(i)) cut += b;
  }
  return cut;
}

function build(n: number, terminals: [number, number][], edges: [number, number, number, number][]): MaxFlowGraph {
  const g = new MaxFlowGraph(n, edges.length);
  terminals.forEach(([s, t], i) => g.addTerminal(i, s, t));
  for (const [i, j, a, b] of edges) g.addEdge(i, j, a, b);
  return g;
}

describe('max-flow / min-cut (Boykov–Kolmogorov)', () => {
  it('a known network: flow 23 (the classic six-node example), and the reported cut has that capacity', () => {
    // nodes 0..3 inner; source edges 16 → 0, 13 → 1; sink edges 3 → 20, 2 → 4 … as a terminal-capacity graph
    const terminals: [number, number][] = [
      [16, 0],
      [13, 0],
      [0, 20],
      [0, 4],
    ];
    const edges: [number, number, number, number][] = [
      [0, 2, 12, 0],
      [1, 0, 4, 0],
      [1, 3, 14, 0],
      [2, 1, 9, 0],
      [3, 2, 7, 0],
    ];
    const g = build(4, terminals, edges);
    expect(g.maxflow()).toBe(23);
    expect(cutCapacity(g, terminals, edges)).toBe(23);
  });

  it('a chain cut at its weakest link', () => {
    const n = 10;
    const terminals: [number, number][] = Array.from({ length: n }, (_, i) => [i === 0 ? 100 : 0, i === n - 1 ? 100 : 0]);
    const edges: [number, number, number, number][] = [];
    for (let i = 0; i + 1 < n; i++) edges.push([i, i + 1, i === 6 ? 0.5 : 5, i === 6 ? 0.5 : 5]);
    const g = build(n, terminals, edges);
    expect(g.maxflow()).toBeCloseTo(0.5, 12);
    for (let i = 0; i < n; i++) expect(g.inSourceSet(i)).toBe(i <= 6);
  });

  it('equals Edmonds–Karp on 200 random graphs, and the reported cut is a minimum cut', () => {
    const rng = new Rng(7);
    for (let trial = 0; trial < 200; trial++) {
      const n = 2 + rng.int(30);
      const terminals: [number, number][] = Array.from({ length: n }, () => [
        rng.uniform(0, 1) < 0.3 ? rng.uniform(0, 10) : 0,
        rng.uniform(0, 1) < 0.3 ? rng.uniform(0, 10) : 0,
      ]);
      const edges: [number, number, number, number][] = [];
      const m = rng.int(4 * n);
      for (let e = 0; e < m; e++) {
        const i = rng.int(n),
          j = rng.int(n);
        if (i !== j) edges.push([i, j, rng.uniform(0, 1) < 0.2 ? 0 : rng.uniform(0, 5), rng.uniform(0, 1) < 0.5 ? 0 : rng.uniform(0, 5)]);
      }
      const want = edmondsKarp(n, terminals, edges);
      const g = build(n, terminals, edges);
      const got = g.maxflow();
      expect(got).toBeCloseTo(want, 8);
      expect(cutCapacity(g, terminals, edges)).toBeCloseTo(want, 8);
    }
  });

  it('equals Edmonds–Karp on random 6×6×6 grids with seeds (the shape of selection graphs)', () => {
    const rng = new Rng(11);
    const N = 6,
      idx = (x: number, y: number, z: number) => x + N * (y + N * z);
    for (let trial = 0; trial < 20; trial++) {
      const n = N * N * N;
      const terminals: [number, number][] = Array.from({ length: n }, () => {
        const r = rng.uniform(0, 1);
        return r < 0.1 ? [1e6, 0] : r < 0.2 ? [0, 1e6] : [rng.uniform(0, 0.5), rng.uniform(0, 0.5)];
      });
      const edges: [number, number, number, number][] = [];
      for (let z = 0; z < N; z++)
        for (let y = 0; y < N; y++)
          for (let x = 0; x < N; x++)
            for (const [dx, dy, dz] of [
              [1, 0, 0],
              [0, 1, 0],
              [0, 0, 1],
            ]) {
              if (x + dx >= N || y + dy >= N || z + dz >= N) continue;
              const w = rng.uniform(0, 2);
              edges.push([idx(x, y, z), idx(x + dx, y + dy, z + dz), w, w]);
            }
      const want = edmondsKarp(n, terminals, edges);
      const g = build(n, terminals, edges);
      expect(g.maxflow()).toBeCloseTo(want, 6);
      expect(cutCapacity(g, terminals, edges)).toBeCloseTo(want, 6);
    }
  });

  it('a 3D grid segments two coloured halves along the colour edge (the selection use)', () => {
    const N = 20,
      idx = (x: number, y: number, z: number) => x + N * (y + N * z);
    const g = new MaxFlowGraph(N * N * N, 3 * N * N * N);
    const colour = (x: number) => (x < 12 ? 0 : 1);
    for (let z = 0; z < N; z++)
      for (let y = 0; y < N; y++)
        for (let x = 0; x < N; x++) {
          const i = idx(x, y, z);
          if (x === 0) g.addTerminal(i, 1e9, 0);
          if (x === N - 1) g.addTerminal(i, 0, 1e9);
          for (const [dx, dy, dz] of [
            [1, 0, 0],
            [0, 1, 0],
            [0, 0, 1],
          ]) {
            if (x + dx >= N || y + dy >= N || z + dz >= N) continue;
            const w = Math.exp(-((colour(x) - colour(x + dx)) ** 2) / (2 * 0.1 ** 2));
            g.addEdge(i, idx(x + dx, y + dy, z + dz), w, w);
          }
        }
    const flow = g.maxflow();
    expect(flow).toBeLessThan(N * N * 1e-10 + 1e-9); // the colour edge costs exp(-50) per link
    for (let x = 0; x < N; x++) expect(g.inSourceSet(idx(x, 5, 5))).toBe(x < 12);
  });
});
