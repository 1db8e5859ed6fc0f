/**
 * Minimum s–t cut by maximum flow, with the Boykov–Kolmogorov algorithm (Y. Boykov and V. Kolmogorov, "An
 * Experimental Comparison of Min-Cut/Max-Flow Algorithms for Energy Minimization in Vision", IEEE TPAMI 26(9),
 * 2004): two search trees grown from the source and the sink, augmentation along the paths where they meet,
 * and adoption of the nodes orphaned by saturated edges — reusing the trees between augmentations, which is
 * what makes it fast on the sparse, grid-like graphs of segmentation. See docs/editing.md (object selection).
 *
 * Written here because no maintained JavaScript package implements it; tested against known cuts and against
 * a plain augmenting-path max-flow on random graphs (tests/graph-cut.test.ts).
 *
 * Usage: `const g = new MaxFlowGraph(n); g.addTerminal(i, toSource, toSink); g.addEdge(i, j, cap, revCap);
 * const flow = g.maxflow(); g.inSourceSet(i)`. Capacities are non-negative; infinite ones may be given as a
 * large finite number.
 */
const NONE = -1,
  TERMINAL = -2,
  ORPHAN = -3;
const FREE = 0,
  SOURCE = 1,
  SINK = 2;

export class MaxFlowGraph {
  readonly nodeCount: number;
  /** Residual terminal capacity: > 0 from the source, < 0 to the sink. */
  private trCap: Float64Array;
  private firstArc: Int32Array;
  private tree: Uint8Array;
  private parent: Int32Array;
  private dist: Int32Array;
  private ts: Int32Array;
  private nextActive: Int32Array;
  private inActive: Uint8Array;
  private arcHead: Int32Array;
  private arcNext: Int32Array;
  private arcCap: Float64Array;
  private arcCount = 0;
  private flow = 0;
  private time = 0;

  constructor(nodeCount: number, edgeHint = nodeCount * 3) {
    this.nodeCount = nodeCount;
    this.trCap = new Float64Array(nodeCount);
    this.firstArc = new Int32Array(nodeCount).fill(NONE);
    this.tree = new Uint8Array(nodeCount);
    this.parent = new Int32Array(nodeCount).fill(NONE);
    this.dist = new Int32Array(nodeCount);
    this.ts = new Int32Array(nodeCount);
    this.nextActive = new Int32Array(nodeCount).fill(NONE);
    this.inActive = new Uint8Array(nodeCount);
    const arcs = Math.max(16, 2 * edgeHint);
    this.arcHead = new Int32Array(arcs);
    this.arcNext = new Int32Array(arcs);
    this.arcCap = new Float64Array(arcs);
  }

  /** Adds capacities from the source to `i` and from `i` to the sink (accumulates over calls). */
  addTerminal(i: number, toSource: number, toSink: number): void {
    if (!(toSource >= 0 && toSink >= 0)) throw new Error(`MaxFlowGraph: negative or NaN terminal capacity at node ${i}`);
    // a unit of flow can always go source → i → sink directly: count it and keep the difference
    const both = Math.min(toSource, toSink);
    this.flow += both;
    this.trCap[i] += toSource - both - (toSink - both);
  }

  /** Adds an edge i → j with capacity `cap` and j → i with `revCap`. */
  addEdge(i: number, j: number, cap: number, revCap = cap): void {
    if (i === j) return;
    if (!(cap >= 0 && revCap >= 0)) throw new Error(`MaxFlowGraph: negative or NaN capacity on edge ${i}–${j}`);
    if (this.arcCount + 2 > this.arcHead.length) this.growArcs();
    const a = this.arcCount,
      b = a + 1;
    this.arcCount += 2;
    this.arcHead[a] = j;
    this.arcCap[a] = cap;
    this.arcNext[a] = this.firstArc[i];
    this.firstArc[i] = a;
    this.arcHead[b] = i;
    this.arcCap[b] = revCap;
    this.arcNext[b] = this.firstArc[j];
    this.firstArc[j] = b;
  }

  private growArcs(): void {
    const n = this.arcHead.length * 2;
    const h = new Int32Array(n),
      nx = new Int32Array(n),
      c = new Float64Array(n);
    h.set(this.arcHead);
    nx.set(this.arcNext);
    c.set(this.arcCap);
    this.arcHead = h;
    this.arcNext = nx;
    this.arcCap = c;
  }

  /** Computes the maximum flow (the minimum cut's capacity). Call once, after adding every edge. */
  maxflow(): number {
    const { trCap, tree, parent, dist, ts } = this;
    // the active queue: a FIFO as a linked list
    let qHead = NONE,
      qTail = NONE;
    const push = (i: number) => {
      if (this.inActive[i]) return;
      this.inActive[i] = 1;
      this.nextActive[i] = NONE;
      if (qTail === NONE) qHead = i;
      else this.nextActive[qTail] = i;
      qTail = i;
    };
    const pop = (): number => {
      const i = qHead;
      if (i === NONE) return NONE;
      qHead = this.nextActive[i];
      if (qHead === NONE) qTail = NONE;
      this.inActive[i] = 0;
      return i;
    };
    for (let i = 0; i < this.nodeCount; i++) {
      if (trCap[i] > 0) {
        tree[i] = SOURCE;
        parent[i] = TERMINAL;
        dist[i] = 1;
        push(i);
      } else if (trCap[i] < 0) {
        tree[i] = SINK;
        parent[i] = TERMINAL;
        dist[i] = 1;
        push(i);
      }
    }
    const orphans: number[] = [];
    for (;;) {
      // --- growth: find an arc from the source tree to the sink tree ---
      let i = NONE,
        meet = NONE;
      while ((i = pop()) !== NONE) {
        if (parent[i] === NONE) continue; // became free meanwhile
        const ti = tree[i];
        for (let a = this.firstArc[i]; a !== NONE; a = this.arcNext[a]) {
          const j = this.arcHead[a];
          const cap = ti === SOURCE ? this.arcCap[a] : this.arcCap[a ^ 1];
          if (cap <= 0) continue;
          if (tree[j] === FREE) {
            tree[j] = ti;
            parent[j] = a ^ 1; // the arc from j back to its parent i
            ts[j] = ts[i];
            dist[j] = dist[i] + 1;
            push(j);
          } else if (tree[j] !== ti) {
            meet = ti === SOURCE ? a : a ^ 1; // oriented source side → sink side
            break;
          } else if (ts[j] <= ts[i] && dist[j] > dist[i]) {
            // a shorter path to j through i (the distance heuristic of the paper)
            parent[j] = a ^ 1;
            ts[j] = ts[i];
            dist[j] = dist[i] + 1;
          }
        }
        if (meet !== NONE) {
          // i may lead to more paths: put it back at the front of the queue
          this.inActive[i] = 1;
          this.nextActive[i] = qHead;
          qHead = i;
          if (qTail === NONE) qTail = i;
          break;
        }
      }
      if (meet === NONE) break;
      this.time++;
      // --- augmentation ---
      const s = this.arcHead[meet ^ 1],
        t = this.arcHead[meet];
      let delta = this.arcCap[meet];
      for (let k = s; ;) {
        const p = parent[k];
        if (p === TERMINAL) {
          delta = Math.min(delta, trCap[k]);
          break;
        }
        delta = Math.min(delta, this.arcCap[p ^ 1]);
        k = this.arcHead[p];
      }
      for (let k = t; ;) {
        const p = parent[k];
        if (p === TERMINAL) {
          delta = Math.min(delta, -trCap[k]);
          break;
        }
        delta = Math.min(delta, this.arcCap[p]);
        k = this.arcHead[p];
      }
      this.arcCap[meet] -= delta;
      this.arcCap[meet ^ 1] += delta;
      for (let k = s; ;) {
        const p = parent[k];
        if (p === TERMINAL) {
          trCap[k] -= delta;
          if (trCap[k] <= 0) {
            trCap[k] = Math.max(trCap[k], 0);
            parent[k] = ORPHAN;
            orphans.push(k);
          }
          break;
        }
        this.arcCap[p] += delta;
        this.arcCap[p ^ 1] -= delta;
        const next = this.arcHead[p];
        if (this.arcCap[p ^ 1] <= 0) {
          parent[k] = ORPHAN;
          orphans.push(k);
        }
        k = next;
      }
      for (let k = t; ;) {
        const p = parent[k];
        if (p === TERMINAL) {
          trCap[k] += delta;
          if (trCap[k] >= 0) {
            trCap[k] = Math.min(trCap[k], 0);
            parent[k] = ORPHAN;
            orphans.push(k);
          }
          break;
        }
        this.arcCap[p ^ 1] += delta;
        this.arcCap[p] -= delta;
        const next = this.arcHead[p];
        if (this.arcCap[p] <= 0) {
          parent[k] = ORPHAN;
          orphans.push(k);
        }
        k = next;
      }
      this.flow += delta;
      // --- adoption ---
      while (orphans.length) {
        const k = orphans.pop()!;
        const tk = tree[k];
        let best = NONE,
          bestDist = Infinity;
        for (let a = this.firstArc[k]; a !== NONE; a = this.arcNext[a]) {
          const j = this.arcHead[a];
          if (tree[j] !== tk) continue;
          // the candidate parent j must be able to send flow to k (source tree) or take it from k (sink tree)
          const cap = tk === SOURCE ? this.arcCap[a ^ 1] : this.arcCap[a];
          if (cap <= 0) continue;
          // j must be rooted at a terminal: walk up, using timestamps to stop early
          let d = 0,
            m = j,
            ok = false;
          for (;;) {
            if (ts[m] === this.time) {
              d += dist[m];
              ok = true;
              break;
            }
            const pm = parent[m];
            d++;
            if (pm === TERMINAL) {
              ts[m] = this.time;
              dist[m] = 1;
              ok = true;
              break;
            }
            if (pm === ORPHAN || pm === NONE) break;
            m = this.arcHead[pm];
          }
          if (!ok) continue;
          if (d < bestDist) {
            best = a;
            bestDist = d;
          }
          // mark the path with distances so later walks stop early
          for (let m2 = j, dd = d; ts[m2] !== this.time;) {
            ts[m2] = this.time;
            dist[m2] = dd--;
            m2 = this.arcHead[parent[m2]];
          }
        }
        if (best !== NONE) {
          parent[k] = best;
          ts[k] = this.time;
          dist[k] = bestDist + 1;
          continue;
        }
        // no parent: k becomes free; its children become orphans, its neighbours that could reach it become active
        for (let a = this.firstArc[k]; a !== NONE; a = this.arcNext[a]) {
          const j = this.arcHead[a];
          if (tree[j] !== tk) continue;
          const pj = parent[j];
          if (pj === NONE) continue;
          const cap = tk === SOURCE ? this.arcCap[a ^ 1] : this.arcCap[a];
          if (cap > 0) push(j);
          if (pj !== TERMINAL && pj !== ORPHAN && this.arcHead[pj] === k) {
            parent[j] = ORPHAN;
            orphans.push(j);
          }
        }
        tree[k] = FREE;
        parent[k] = NONE;
      }
    }
    return this.flow;
  }

  /** After `maxflow`: whether node i is on the source side of the minimum cut (free nodes count as the sink's). */
  inSourceSet(i: number): boolean {
    return this.tree[i] === SOURCE && this.parent[i] !== NONE;
  }
}
