/**
 * CPU counterpart of `GpuRadixSort` (radix-sort.ts, src/shaders/sort_radix.wgsl): the same contract — ascending,
 * stable, in place — on 32-bit keys, with two 16-bit digit passes instead of the kernel's eight 4-bit ones (the
 * result of a stable sort does not depend on the digit width). The CPU Gaussian twins sort depths and tile ids
 * with it.
 */

/** Stable LSD radix sort of `vals` by unsigned 32-bit `keys` (both length n; both permuted in place). */
export function radixSortU32(keys: Uint32Array, vals: Uint32Array, n: number): void {
  let k0: Uint32Array = keys,
    v0: Uint32Array = vals;
  let k1: Uint32Array = new Uint32Array(n),
    v1: Uint32Array = new Uint32Array(n);
  const count = new Uint32Array(65536 + 1);
  for (let shift = 0; shift < 32; shift += 16) {
    count.fill(0);
    for (let i = 0; i < n; i++) count[((k0[i] >>> shift) & 0xffff) + 1]++;
    for (let b = 0; b < 65536; b++) count[b + 1] += count[b];
    for (let i = 0; i < n; i++) {
      const b = (k0[i] >>> shift) & 0xffff;
      const d = count[b]++;
      k1[d] = k0[i];
      v1[d] = v0[i];
    }
    const tk = k0;
    k0 = k1;
    k1 = tk;
    const tv = v0;
    v0 = v1;
    v1 = tv;
  }
  // two passes: the result is back in the original arrays
}
