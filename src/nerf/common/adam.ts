/**
 * Adam over named groups of Float32Array parameters, each with its own learning rate (DVGO uses different
 * rates for density and colour). Entries whose gradient is exactly zero in a step are left untouched and
 * their moments are not decayed (DVGO's "skip zero grad" variant): voxels no ray saw keep their values, and a
 * step costs nothing for them beyond the check.
 */
export interface AdamGroup {
  name: string;
  params: Float32Array;
  grads: Float32Array;
  lr: number;
}

export interface AdamOptions {
  beta1?: number;
  beta2?: number;
  eps?: number;
}

interface GroupState {
  m: Float32Array;
  v: Float32Array;
  /** Per-entry step count (bias correction with skipped steps). */
  t: Uint32Array;
}

export class Adam {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  private state = new Map<string, GroupState>();
  /** Steps taken (an upper bound of every entry's count). */
  steps = 0;
  constructor(
    public groups: AdamGroup[],
    o: AdamOptions = {},
  ) {
    this.beta1 = o.beta1 ?? 0.9;
    this.beta2 = o.beta2 ?? 0.99;
    this.eps = o.eps ?? 1e-15;
    for (const g of groups) this.reset(g);
  }

  private reset(g: AdamGroup): void {
    const n = g.params.length;
    this.state.set(g.name, { m: new Float32Array(n), v: new Float32Array(n), t: new Uint32Array(n) });
  }

  /** Replaces the parameter/gradient arrays of a group (after upsampling); its moments restart from zero. */
  setGroup(name: string, params: Float32Array, grads: Float32Array): void {
    const g = this.groups.find((x) => x.name === name);
    if (!g) throw new Error(`Adam: no group ${name}`);
    g.params = params;
    g.grads = grads;
    this.reset(g);
  }

  setLr(name: string, lr: number): void {
    const g = this.groups.find((x) => x.name === name);
    if (g) g.lr = lr;
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

  /** One update of every group from its gradients; clears the gradients afterwards. */
  step(): void {
    const b1 = this.beta1,
      b2 = this.beta2,
      eps = this.eps;
    this.steps++;
    this.corrections(this.steps + 2);
    const c1 = this.c1,
      c2 = this.c2;
    for (const g of this.groups) {
      const s = this.state.get(g.name)!;
      const { params, grads, lr } = g;
      const { m, v, t } = s;
      for (let i = 0; i < params.length; i++) {
        const gr = grads[i];
        if (gr === 0) continue;
        const ti = ++t[i];
        const mi = (m[i] = b1 * m[i] + (1 - b1) * gr);
        const vi = (v[i] = b2 * v[i] + (1 - b2) * gr * gr);
        const mh = mi * c1[ti],
          vh = vi * c2[ti];
        params[i] -= (lr * mh) / (Math.sqrt(vh) + eps);
        grads[i] = 0;
      }
    }
  }

  /** The moments and per-entry step counts of a group (checkpoints; the edit loops' --resume). */
  exportState(name: string): { m: Float32Array; v: Float32Array; t: Uint32Array } {
    const s = this.state.get(name);
    if (!s) throw new Error(`Adam: no group ${name}`);
    return s;
  }

  /** Restores what `exportState` returned (same lengths). */
  importState(name: string, st: { m: Float32Array; v: Float32Array; t: Uint32Array }): void {
    const s = this.exportState(name);
    s.m.set(st.m);
    s.v.set(st.v);
    s.t.set(st.t);
  }
}
