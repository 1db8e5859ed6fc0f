import { fromHalf, packHalf2 } from '../../core/half';
import type { SplatBuffers } from './splat-data';
import { SPLAT_WORDS, bitsToF32, decodeSplat, f32ToBits, shRestCoeffs, writeSplatRecord, type DecodedSplat } from './splat-record';

/**
 * Level-of-detail tree over a packed splat set (docs/viewer.md, "Big scenes").
 *
 * Build: the splats are ordered along a Morton curve of their centres (16 bits per axis); level by level, runs of
 * nodes whose codes share the next 3-bit-shorter prefix (an octree cell) get a parent, at most 8 children each
 * (longer runs are chunked by 8 and grouped again one level up); a node alone in its cell moves up unchanged.
 * Every parent is one merged Gaussian of its children, moment-matched with weights w = opacity·a, where
 * a = √(I₂(Σ)/3) (I₂ = λ₁λ₂ + λ₁λ₃ + λ₂λ₃, so a = σ² for a ball and stays large for flat splats): mean and
 * colour (and SH) are w-weighted means, Σ = Σw(Σᵢ + (μᵢ − μ)(μᵢ − μ)ᵀ)/Σw, and opacity = min(1, Σw / a(Σ)) keeps
 * the cluster's coverage. Each node also gets a bounding sphere around its centre: radius
 * R = max(maxᵢ(|μᵢ − μ| + Rᵢ), 3.33·√tr Σ) (leaves: 3.33·√tr Σ, the farthest a splat's α can reach 1/255), so a
 * parent's sphere holds its children's and its projected size is never smaller than theirs.
 *
 * Draw: the projection pass picks the cut through the tree where nodes are just below a screen-space size, the
 * smallest size at which no more than the budget of splats is drawn (src/shaders/splat_project.wgsl).
 *
 * Leaves keep their indices 0..count−1 (the scene's splat order is unchanged); merged nodes follow.
 */
/**
 * `lod[2n]` holds node n's parent in its low 28 bits (LOD_NONE at the root) and, for merged nodes, how many of
 * its children are leaves in its top 4 bits; `lod[2n+1]` the f32 bits of its sphere's radius.
 */
export const LOD_NONE = 0x0fffffff;
export const LOD_PARENT_MASK = 0x0fffffff;

/** Parent of node n (LOD_NONE at the root). */
export function lodParent(lod: Uint32Array, n: number): number {
  return lod[2 * n] & LOD_PARENT_MASK;
}
/** Sphere radius of a splat, in units of √(tr Σ) (≥ its largest σ): the largest cutoff k = √(2 ln 255) ≈ 3.33. */
export const LOD_EXTENT = 3.33;

export function buildSplatLod(base: SplatBuffers): SplatBuffers {
  const n = base.count;
  if (n <= 1) {
    const lod = new Uint32Array(2 * n);
    if (n === 1) {
      lod[0] = LOD_NONE;
      lod[1] = f32ToBits(leafRadius(decodeSplat(base.data, 0)));
    }
    return { ...base, lod };
  }
  // ---- Morton order of the centres (48-bit codes as hi:lo, 8 bits of each axis per half)
  const { min, max } = base.bounds;
  const hi = new Uint32Array(n),
    lo = new Uint32Array(n);
  const f = new Float32Array(base.data.buffer, base.data.byteOffset, n * SPLAT_WORDS);
  const sx = 65535 / Math.max(max[0] - min[0], 1e-30),
    sy = 65535 / Math.max(max[1] - min[1], 1e-30),
    sz = 65535 / Math.max(max[2] - min[2], 1e-30);
  const quant = (v: number) => Math.max(0, Math.min(65535, Math.floor(v)));
  for (let i = 0; i < n; i++) {
    const o = i * SPLAT_WORDS;
    const qx = quant((f[o] - min[0]) * sx),
      qy = quant((f[o + 1] - min[1]) * sy),
      qz = quant((f[o + 2] - min[2]) * sz);
    lo[i] = (SPREAD[qx & 255] | (SPREAD[qy & 255] << 1) | (SPREAD[qz & 255] << 2)) >>> 0;
    hi[i] = (SPREAD[qx >>> 8] | (SPREAD[qy >>> 8] << 1) | (SPREAD[qz >>> 8] << 2)) >>> 0;
  }
  const idx = new Uint32Array(n);
  for (let i = 0; i < n; i++) idx[i] = i;
  const order = radixSortByCode(idx, hi, lo);

  // ---- levels: runs of equal code prefixes get a parent (≤ 8 children)
  const childStart = new Uint32Array(n),
    childCount = new Uint8Array(n);
  const children = new Uint32Array(2 * n);
  // first leaf of each internal node (its code stands for the node's)
  const firstLeaf = new Uint32Array(n);
  let nChildren = 0;
  let internal = 0;
  let list: Uint32Array = order;
  let next: Uint32Array = new Uint32Array(n);
  for (let level = 1; list.length > 1; level++) {
    if (level > 200) throw new Error('splat level of detail: tree did not converge');
    const shift = Math.min(48, 3 * level);
    let m = 0;
    for (let s0 = 0; s0 < list.length;) {
      const ls = list[s0] < n ? list[s0] : firstLeaf[list[s0] - n];
      let e = s0 + 1;
      while (e < list.length) {
        const le = list[e] < n ? list[e] : firstLeaf[list[e] - n];
        if (!samePrefix(hi, lo, ls, le, shift)) break;
        e++;
      }
      for (let c = s0; c < e; c += 8) {
        const k = Math.min(8, e - c);
        if (k === 1) {
          next[m++] = list[c];
          continue;
        }
        childStart[internal] = nChildren;
        childCount[internal] = k;
        for (let q = 0; q < k; q++) children[nChildren++] = list[c + q];
        firstLeaf[internal] = list[c] < n ? list[c] : firstLeaf[list[c] - n];
        next[m++] = n + internal;
        internal++;
      }
      s0 = e;
    }
    const done = list;
    list = next.subarray(0, m);
    next = done === order ? new Uint32Array(n) : done;
  }

  // ---- merged nodes, children before parents (creation order)
  const nodes = n + internal;
  if (nodes > LOD_PARENT_MASK) throw new Error(`splat level of detail: ${nodes} nodes do not fit 28-bit parent links`);
  const data = new Uint32Array(nodes * SPLAT_WORDS);
  data.set(base.data.subarray(0, n * SPLAT_WORDS));
  const f32 = new Float32Array(data.buffer);
  const shWords = base.shWords;
  const sh = base.sh ? new Uint32Array(nodes * shWords) : null;
  if (sh && base.sh) sh.set(base.sh.subarray(0, n * shWords));
  const lod = new Uint32Array(2 * nodes);
  const radius = new Float64Array(nodes);
  const kids = new Uint8Array(internal);
  const dec: DecodedSplat[] = Array.from({ length: 8 }, () => ({
    x: 0,
    y: 0,
    z: 0,
    cov: new Float64Array(6),
    r: 0,
    g: 0,
    b: 0,
    opacity: 0,
  }));
  const w = new Float64Array(8);
  for (let i = 0; i < n; i++) radius[i] = leafRadius(decodeSplat(data, i, dec[0]));
  const shHalves = base.sh ? 3 * shRestCoeffs(base.shDegree) : 0;
  const shAcc = new Float64Array(shHalves);
  const cov = new Float64Array(6);
  for (let p = 0; p < internal; p++) {
    const id = n + p;
    const m = childCount[p],
      cs = childStart[p];
    let W = 0;
    for (let k = 0; k < m; k++) {
      const d = decodeSplat(data, children[cs + k], dec[k]);
      w[k] = d.opacity * areaOf(d.cov) + 1e-30;
      W += w[k];
    }
    let x = 0,
      y = 0,
      z = 0,
      r = 0,
      g = 0,
      b = 0,
      cover = 0;
    for (let k = 0; k < m; k++) {
      const d = dec[k],
        f = w[k] / W;
      x += f * d.x;
      y += f * d.y;
      z += f * d.z;
      r += f * d.r;
      g += f * d.g;
      b += f * d.b;
      cover += w[k];
    }
    cov.fill(0);
    for (let k = 0; k < m; k++) {
      const d = dec[k],
        f = w[k] / W;
      const dx = d.x - x,
        dy = d.y - y,
        dz = d.z - z;
      cov[0] += f * (d.cov[0] + dx * dx);
      cov[1] += f * (d.cov[1] + dx * dy);
      cov[2] += f * (d.cov[2] + dx * dz);
      cov[3] += f * (d.cov[3] + dy * dy);
      cov[4] += f * (d.cov[4] + dy * dz);
      cov[5] += f * (d.cov[5] + dz * dz);
    }
    const opacity = Math.min(1, cover / Math.max(areaOf(cov), 1e-30));
    writeSplatRecord(data, f32, id, x, y, z, cov, r, g, b, opacity);
    let R = LOD_EXTENT * Math.sqrt(Math.max(cov[0] + cov[3] + cov[5], 0));
    let leafKids = 0;
    for (let k = 0; k < m; k++) {
      const c = children[cs + k],
        d = dec[k];
      R = Math.max(
        R,
        Math.hypot(
          d.x - bitsToF32(data[id * SPLAT_WORDS]),
          d.y - bitsToF32(data[id * SPLAT_WORDS + 1]),
          d.z - bitsToF32(data[id * SPLAT_WORDS + 2]),
        ) + radius[c],
      );
      lod[2 * c] = id;
      if (c < n) leafKids++;
    }
    // a little slack so the containment survives f32 rounding on the GPU
    radius[id] = R * (1 + 1e-5) + 1e-7;
    kids[p] = leafKids;
    if (sh && base.sh) {
      shAcc.fill(0);
      for (let k = 0; k < m; k++) {
        const o = children[cs + k] * shWords,
          f = w[k] / W;
        for (let h = 0; h < shHalves; h++) shAcc[h] += f * fromHalf(h & 1 ? sh[o + (h >> 1)] >>> 16 : sh[o + (h >> 1)] & 0xffff);
      }
      const o = id * shWords;
      for (let h = 0; h < shHalves; h += 2) sh[o + h / 2] = packHalf2(shAcc[h], h + 1 < shHalves ? shAcc[h + 1] : 0);
    }
  }
  lod[2 * list[0]] = LOD_NONE;
  for (let p = 0; p < internal; p++) lod[2 * (n + p)] = (lod[2 * (n + p)] | (kids[p] << 28)) >>> 0;
  for (let i = 0; i < nodes; i++) {
    let bits = f32ToBits(radius[i]);
    if (bitsToF32(bits) < radius[i]) bits++;
    lod[2 * i + 1] = bits;
  }
  return { ...base, nodes, data, sh, lod };
}

function leafRadius(d: DecodedSplat): number {
  return LOD_EXTENT * Math.sqrt(Math.max(d.cov[0] + d.cov[3] + d.cov[5], 0));
}

/** √(I₂/3): σ² for an isotropic Gaussian; I₂ = ½(tr² − ‖Σ‖²). */
function areaOf(c: ArrayLike<number>): number {
  const tr = c[0] + c[3] + c[5];
  const fro = c[0] * c[0] + c[3] * c[3] + c[5] * c[5] + 2 * (c[1] * c[1] + c[2] * c[2] + c[4] * c[4]);
  return Math.sqrt(Math.max(0.5 * (tr * tr - fro), 0) / 3);
}

/** Bits of an 8-bit value spread 3 apart (bit k → bit 3k), for Morton codes. */
const SPREAD = new Uint32Array(256).map((_, v) => {
  let r = 0;
  for (let k = 0; k < 8; k++) r |= ((v >>> k) & 1) << (3 * k);
  return r;
});

/** Whether the 48-bit codes of leaves a and b agree above bit `shift`. */
function samePrefix(hi: Uint32Array, lo: Uint32Array, a: number, b: number, shift: number): boolean {
  if (shift >= 48) return true;
  if (shift >= 24) return hi[a] >>> (shift - 24) === hi[b] >>> (shift - 24);
  return hi[a] === hi[b] && lo[a] >>> shift === lo[b] >>> shift;
}

/** Stable LSD radix sort of `idx` by the 48-bit keys hi:lo (three 16-bit digits). */
function radixSortByCode(idx: Uint32Array, hi: Uint32Array, lo: Uint32Array): Uint32Array {
  const n = idx.length;
  let src: Uint32Array = idx,
    dst: Uint32Array = new Uint32Array(n);
  const count = new Uint32Array(65536);
  const digit = new Uint32Array(n);
  for (let pass = 0; pass < 3; pass++) {
    for (let i = 0; i < n; i++) digit[i] = pass === 0 ? lo[i] & 0xffff : pass === 1 ? (lo[i] >>> 16) | ((hi[i] & 0xff) << 8) : hi[i] >>> 8;
    count.fill(0);
    for (let k = 0; k < n; k++) count[digit[src[k]]]++;
    let sum = 0;
    for (let b = 0; b < 65536; b++) {
      const c = count[b];
      count[b] = sum;
      sum += c;
    }
    for (let k = 0; k < n; k++) dst[count[digit[src[k]]]++] = src[k];
    const t = src;
    src = dst;
    dst = t;
  }
  return src;
}
