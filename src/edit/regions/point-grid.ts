/**
 * A uniform hash grid over 3D points for radius and k-nearest-neighbour queries (object selection over
 * Gaussians). Points are given as a flat xyz array and a list of the indices to insert.
 */
export class PointGrid {
  private readonly cell: number;
  private readonly min: [number, number, number];
  private readonly dims: [number, number, number];
  private readonly start: Int32Array;
  private readonly items: Int32Array;

  constructor(
    private readonly xyz: ArrayLike<number>,
    ids: ArrayLike<number>,
    cellSize: number,
  ) {
    const lo: [number, number, number] = [Infinity, Infinity, Infinity],
      hi: [number, number, number] = [-Infinity, -Infinity, -Infinity];
    for (let q = 0; q < ids.length; q++)
      for (let a = 0; a < 3; a++) {
        const v = xyz[ids[q] * 3 + a];
        lo[a] = Math.min(lo[a], v);
        hi[a] = Math.max(hi[a], v);
      }
    if (!ids.length) {
      lo.fill(0);
      hi.fill(0);
    }
    // at most ~2M cells
    const ext = Math.max(hi[0] - lo[0], hi[1] - lo[1], hi[2] - lo[2], 1e-9);
    this.cell = Math.max(cellSize, ext / 128);
    this.min = lo;
    this.dims = [0, 1, 2].map((a) => Math.max(1, Math.floor((hi[a] - lo[a]) / this.cell) + 1)) as [number, number, number];
    const nCells = this.dims[0] * this.dims[1] * this.dims[2];
    const counts = new Int32Array(nCells + 1);
    const cellOf = new Int32Array(ids.length);
    for (let q = 0; q < ids.length; q++) {
      const c = this.cellIndex(xyz[ids[q] * 3], xyz[ids[q] * 3 + 1], xyz[ids[q] * 3 + 2]);
      cellOf[q] = c;
      counts[c + 1]++;
    }
    for (let c = 0; c < nCells; c++) counts[c + 1] += counts[c];
    this.start = counts;
    this.items = new Int32Array(ids.length);
    const fill = counts.slice(0, nCells);
    for (let q = 0; q < ids.length; q++) this.items[fill[cellOf[q]]++] = ids[q];
  }

  private coord(v: number, a: number): number {
    return Math.min(this.dims[a] - 1, Math.max(0, Math.floor((v - this.min[a]) / this.cell)));
  }

  private cellIndex(x: number, y: number, z: number): number {
    return this.coord(x, 0) + this.dims[0] * (this.coord(y, 1) + this.dims[1] * this.coord(z, 2));
  }

  /** Calls `fn(id, d²)` for every point within `r` of (x, y, z). */
  within(x: number, y: number, z: number, r: number, fn: (id: number, d2: number) => void): void {
    const r2 = r * r;
    const lo = [this.coord(x - r, 0), this.coord(y - r, 1), this.coord(z - r, 2)];
    const hi = [this.coord(x + r, 0), this.coord(y + r, 1), this.coord(z + r, 2)];
    for (let k = lo[2]; k <= hi[2]; k++)
      for (let j = lo[1]; j <= hi[1]; j++)
        for (let i = lo[0]; i <= hi[0]; i++) {
          const c = i + this.dims[0] * (j + this.dims[1] * k);
          for (let s = this.start[c]; s < this.start[c + 1]; s++) {
            const id = this.items[s];
            const d2 = (this.xyz[id * 3] - x) ** 2 + (this.xyz[id * 3 + 1] - y) ** 2 + (this.xyz[id * 3 + 2] - z) ** 2;
            if (d2 <= r2) fn(id, d2);
          }
        }
  }

  /** The k nearest points to (x, y, z) other than `exclude`, nearest first, searched out to `maxR`. */
  nearest(x: number, y: number, z: number, k: number, maxR: number, exclude = -1): { ids: number[]; d2: number[] } {
    let r = this.cell;
    for (;;) {
      const found: [number, number][] = [];
      this.within(x, y, z, r, (id, d2) => {
        if (id !== exclude) found.push([id, d2]);
      });
      if (found.length >= k || r >= maxR) {
        found.sort((a, b) => a[1] - b[1]);
        const top = found.slice(0, k);
        return { ids: top.map((f) => f[0]), d2: top.map((f) => f[1]) };
      }
      r = Math.min(maxR, r * 2);
    }
  }
}
