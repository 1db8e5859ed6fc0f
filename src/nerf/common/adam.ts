/**
 * Adam (Kingma & Ba, 2015) over named groups of Float32Array parameters, each with its own learning rate (DVGO
 * uses different rates for density and colour, 3DGS one per attribute). Every optimiser in the project is this
 * one: voxel fitting, Gaussian fitting and both edit scenes.
 *
 * Parameters are laid out in rows (a voxel vertex, a Gaussian) of `width` entries; a group may own only some
 * columns of each row (`first`, `count`: the Gaussians' SH DC and higher-band coefficients share one array but
 * not a learning rate). Rows are what a step's row mask, `remapRows` and checkpoints act on.
 *
 * Two sparse variants, chosen per optimiser:
 * - `'entries'` (default; DVGO's "skip zero grad"): entries whose gradient is exactly zero in a step are left
 *   untouched and their moments are not decayed; each entry keeps its own step count for the bias correction.
 *   Voxels no ray saw keep their values, and a step costs nothing for them beyond the check.
 * - `'rows'` (gsplat's selective Adam, as 3DGS fitting uses it): every entry of the rows the step's mask lets
 *   through is updated, zero gradient or not, with the bias correction of the global step count; other rows
 *   keep their parameters and moments.
 *
 * `step(rows)` takes an optional mask (1 = may change): an edit's region gate, or the Gaussians a view drew.
 * Gradients of the rows it touches are cleared; a masked-out row's gradient is cleared too, so nothing carries
 * over into the next step.
 */
export interface AdamGroup {
  name: string;
  params: Float32Array;
  grads: Float32Array;
  lr: number;
  /** Entries per row (default 1). */
  width?: number;
  /** The group's columns of each row: [first, first + count) (default: the whole row). */
  first?: number;
  count?: number;
  /** Of those, only the first `active` are updated (default all; the Gaussians' SH bands not yet enabled stay). */
  active?: number;
}

export interface AdamOptions {
  beta1?: number;
  beta2?: number;
  eps?: number;
  sparse?: 'entries' | 'rows';
}

/** A group's moments (and per-entry step counts in the `'entries'` variant), `count` entries per row. */
export interface AdamMoments {
  m: Float32Array;
  v: Float32Array;
  t: Uint32Array;
}

type Arrays = Record<string, Float32Array | Uint8Array | Uint32Array>;

interface Group extends Required<Omit<AdamGroup, 'active'>> {
  active: number;
  state: AdamMoments;
}

export class Adam {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly sparse: 'entries' | 'rows';
  private readonly byName = new Map<string, Group>();
  /** Steps taken (an upper bound of every entry's count). */
  steps = 0;
  constructor(groups: AdamGroup[], o: AdamOptions = {}) {
    this.beta1 = o.beta1 ?? 0.9;
    this.beta2 = o.beta2 ?? 0.99;
    this.eps = o.eps ?? 1e-15;
    this.sparse = o.sparse ?? 'entries';
    for (const g of groups) {
      const width = g.width ?? 1,
        first = g.first ?? 0,
        count = g.count ?? width - first;
      if (first < 0 || count < 1 || first + count > width) throw new Error(`Adam: group ${g.name} has columns outside its rows`);
      if (g.params.length % width || g.grads.length !== g.params.length)
        throw new Error(`Adam: group ${g.name} has ${g.params.length} values and ${g.grads.length} gradients for rows of ${width}`);
      const rows = g.params.length / width;
      this.byName.set(g.name, {
        ...g,
        width,
        first,
        count,
        active: g.active ?? count,
        state: { m: new Float32Array(rows * count), v: new Float32Array(rows * count), t: new Uint32Array(rows * count) },
      });
    }
  }

  get groups(): readonly AdamGroup[] {
    return [...this.byName.values()];
  }

  private group(name: string): Group {
    const g = this.byName.get(name);
    if (!g) throw new Error(`Adam: no group ${name}`);
    return g;
  }

  private rowsOf(g: Group): number {
    return g.params.length / g.width;
  }

  /** Replaces the parameter/gradient arrays of a group (after upsampling); its moments restart from zero. */
  setGroup(name: string, params: Float32Array, grads: Float32Array): void {
    const g = this.group(name);
    g.params = params;
    g.grads = grads;
    const n = this.rowsOf(g) * g.count;
    g.state = { m: new Float32Array(n), v: new Float32Array(n), t: new Uint32Array(n) };
  }

  setLr(name: string, lr: number): void {
    this.group(name).lr = lr;
  }

  /** How many of a group's columns are updated (at most its `count`). */
  setActive(name: string, active: number): void {
    const g = this.group(name);
    g.active = Math.max(0, Math.min(g.count, active));
  }

  /** Zeroes a group's moments (3DGS's opacity reset restarts them). */
  resetMoments(name: string): void {
    const s = this.group(name).state;
    s.m.fill(0);
    s.v.fill(0);
    s.t.fill(0);
  }

  private c1 = new Float64Array(0);
  private c2 = new Float64Array(0);
  /** Bias-correction factors 1/(1 − βᵗ) for t < n. */
  private corrections(n: number): void {
    if (this.c1.length >= n) return;
    const len = Math.max(n, this.c1.length * 2, 1024);
    this.c1 = new Float64Array(len);
    this.c2 = new Float64Array(len);
    for (let t = 1; t < len; t++) {
      this.c1[t] = 1 / (1 - Math.pow(this.beta1, t));
      this.c2[t] = 1 / (1 - Math.pow(this.beta2, t));
    }
  }

  /**
   * One update of every group from its gradients; clears the gradients afterwards. `rows`: a mask over rows
   * (1 = may change); without it every row may.
   */
  step(rows?: Uint8Array | null): void {
    this.steps++;
    if (this.sparse === 'entries') this.corrections(this.steps + 2);
    for (const g of this.byName.values()) {
      if (rows && rows.length !== this.rowsOf(g))
        throw new Error(`Adam: the row mask has ${rows.length} rows, group ${g.name} ${this.rowsOf(g)}`);
      if (this.sparse === 'rows') this.stepRows(g, rows);
      else this.stepEntries(g, rows);
    }
  }

  private stepEntries(g: Group, rows: Uint8Array | null | undefined): void {
    const { params, grads, width, first, count, active } = g;
    if (width === count && active === count) {
      // whole rows: clear the masked-out rows' gradients, then one pass over every entry (zeros are skipped)
      if (rows) for (let r = 0, i = 0; r < rows.length; r++, i += width) if (!rows[r]) for (let c = 0; c < width; c++) grads[i + c] = 0;
      this.updateEntries(g, 0, params.length, 0);
      return;
    }
    for (let r = 0, n = params.length / width; r < n; r++) {
      const base = r * width + first;
      if (rows && !rows[r]) {
        for (let c = 0; c < count; c++) grads[base + c] = 0;
        continue;
      }
      this.updateEntries(g, base, base + active, r * count);
    }
  }

  /** The `'entries'` update of parameters [i0, i1) whose moments start at state index s0. */
  private updateEntries(g: Group, i0: number, i1: number, s0: number): void {
    const b1 = this.beta1,
      b2 = this.beta2,
      eps = this.eps;
    const c1 = this.c1,
      c2 = this.c2;
    const { params, grads, lr } = g;
    const { m, v, t } = g.state;
    for (let i = i0, s = s0; i < i1; i++, s++) {
      const gr = grads[i];
      if (gr === 0) continue;
      const ti = ++t[s];
      const mi = (m[s] = b1 * m[s] + (1 - b1) * gr);
      const vi = (v[s] = b2 * v[s] + (1 - b2) * gr * gr);
      const mh = mi * c1[ti],
        vh = vi * c2[ti];
      params[i] -= (lr * mh) / (Math.sqrt(vh) + eps);
      grads[i] = 0;
    }
  }

  private stepRows(g: Group, rows: Uint8Array | null | undefined): void {
    const b1 = this.beta1,
      b2 = this.beta2,
      eps = this.eps;
    const c1 = 1 / (1 - Math.pow(b1, this.steps)),
      c2 = 1 / (1 - Math.pow(b2, this.steps));
    const { params, grads, lr, width, first, count, active } = g;
    const { m, v } = g.state;
    const n = params.length / width;
    for (let r = 0; r < n; r++) {
      const base = r * width + first;
      if (rows && !rows[r]) {
        for (let c = 0; c < count; c++) grads[base + c] = 0;
        continue;
      }
      for (let c = 0; c < active; c++) {
        const i = base + c,
          s = r * count + c;
        const gj = grads[i];
        const mj = (m[s] = b1 * m[s] + (1 - b1) * gj);
        const vj = (v[s] = b2 * v[s] + (1 - b2) * gj * gj);
        params[i] -= (lr * mj * c1) / (Math.sqrt(vj * c2) + eps);
        grads[i] = 0;
      }
    }
  }

  /** A group's moments (live arrays). */
  moments(name: string): AdamMoments {
    return this.group(name).state;
  }

  /**
   * Rows change (3DGS densification): row r of the new arrays is old row `keep[r]` for r < keep.length, then
   * `added` new rows. Each group takes its new parameter and gradient arrays from `arrays`; moments follow the
   * kept rows, new rows start from zero.
   */
  remapRows(keep: ArrayLike<number>, added: number, arrays: Record<string, { params: Float32Array; grads: Float32Array }>): void {
    const n = keep.length + added;
    for (const g of this.byName.values()) {
      const a = arrays[g.name];
      if (!a) throw new Error(`Adam.remapRows: no arrays for group ${g.name}`);
      if (a.params.length !== n * g.width || a.grads.length !== a.params.length)
        throw new Error(`Adam.remapRows: group ${g.name} needs ${n * g.width} values, got ${a.params.length}`);
      const k = g.count,
        old = g.state;
      const pick = <T extends Float32Array | Uint32Array>(src: T, out: T): T => {
        for (let r = 0; r < keep.length; r++) out.set(src.subarray(keep[r] * k, (keep[r] + 1) * k), r * k);
        return out;
      };
      g.state = {
        m: pick(old.m, new Float32Array(n * k)),
        v: pick(old.v, new Float32Array(n * k)),
        t: pick(old.t, new Uint32Array(n * k)),
      };
      g.params = a.params;
      g.grads = a.grads;
    }
  }

  /** The moments of every group as named arrays `${prefix}${group}.m|v|t` (checkpoints). */
  exportState(prefix = 'adam.'): Arrays {
    const out: Arrays = {};
    for (const g of this.byName.values()) {
      out[`${prefix}${g.name}.m`] = g.state.m;
      out[`${prefix}${g.name}.v`] = g.state.v;
      out[`${prefix}${g.name}.t`] = g.state.t;
    }
    return out;
  }

  /**
   * Restores what `exportState` wrote (copies). Every array must be present with the length the current
   * parameters need; otherwise an Error names the first that is not (nothing is changed then).
   */
  importState(arrays: Arrays, prefix = 'adam.', steps?: number): void {
    const todo: [Float32Array | Uint32Array, Float32Array | Uint32Array][] = [];
    for (const g of this.byName.values()) {
      const n = this.rowsOf(g) * g.count;
      for (const [key, ctor] of [
        ['m', Float32Array],
        ['v', Float32Array],
        ['t', Uint32Array],
      ] as const) {
        const name = `${prefix}${g.name}.${key}`;
        const a = arrays[name];
        if (!(a instanceof ctor)) throw new Error(`checkpoint has no ${name}`);
        if (a.length !== n) throw new Error(`checkpoint's ${name} holds ${a.length} values, expected ${n}`);
        todo.push([g.state[key], a]);
      }
    }
    for (const [dst, src] of todo) dst.set(src);
    if (steps !== undefined) {
      if (!Number.isInteger(steps) || steps < 0) throw new Error(`checkpoint holds an invalid optimiser step count (${steps})`);
      this.steps = steps;
    }
  }
}
