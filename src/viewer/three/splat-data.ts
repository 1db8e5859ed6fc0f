import { UserError } from '../../core/errors';
import { packHalf2 } from '../../core/half';
import { SH_STRIDE, type Gaussians } from '../../nerf/gaussian/gaussians';
import { sigmoid } from '../../core/math';
import { SH_C0 } from '../../nerf/common/sh';
import { buildSplatLod } from './splat-lod';
import { SPLAT_WORDS, covarianceOf, shRestCoeffs, writeSplatRecord } from './splat-record';

export { SPLAT_WORDS, decodeSplat, shRestCoeffs, type DecodedSplat } from './splat-record';

/**
 * Gaussians packed for drawing: 32 bytes per splat (8 u32 words, laid out in splat-record.ts), what the
 * projection kernel (src/shaders/splat_project.wgsl) and its CPU twin (splat-project.ts) read.
 *
 * The world covariance R S Sᵀ Rᵀ is kept as standard deviations σ and correlations ρ (Σxy = ρxy·σx·σy, …), so
 * half floats lose only relative precision (2⁻¹¹) whatever the splat's size. rgb = 0.5 + SH_C0·f_dc (the degree-0
 * colour, before the max(0, ·) that follows the view-dependent bands). Higher SH bands, when `shDegree` > 0, are
 * half floats in `sh`: `shWords` u32 per splat, coefficient k's channel c at half index 3k + c.
 *
 * Level of detail (scenes above `lodAbove` splats): `nodes` > `count`. Nodes count..nodes−1 are merged splats of a
 * tree over the originals (splat-lod.ts); `lod[2n]` holds node n's parent (and how many of its children are leaves),
 * `lod[2n+1]` the f32 bits of the radius of a sphere around its centre that holds everything below it.
 * Pure data: made in workers, transferred to the main thread.
 */
export interface SplatBuffers {
  /** Splats in the scene (the tree's leaves). */
  count: number;
  /** Records in `data`: `count` plus the merged nodes of the level-of-detail tree. */
  nodes: number;
  data: Uint32Array;
  shDegree: number;
  /** u32 words of SH per node (0 at degree 0). */
  shWords: number;
  sh: Uint32Array | null;
  lod: Uint32Array | null;
  bounds: { min: [number, number, number]; max: [number, number, number] };
}

/** Build a level-of-detail tree for scenes with more splats than this (default of `packSplats`). */
export const LOD_ABOVE = 2_000_000;

export interface PackOptions {
  /** Build the level-of-detail tree when there are more splats than this (default LOD_ABOVE; Infinity = never). */
  lodAbove?: number;
}

/** Writes splats one by one into the packed layout (see SplatBuffers). */
export class SplatPacker {
  readonly data: Uint32Array;
  readonly f32: Float32Array;
  readonly sh: Uint32Array | null;
  readonly shWords: number;
  readonly min: [number, number, number] = [Infinity, Infinity, Infinity];
  readonly max: [number, number, number] = [-Infinity, -Infinity, -Infinity];

  constructor(
    readonly count: number,
    readonly shDegree = 0,
  ) {
    this.data = new Uint32Array(count * SPLAT_WORDS);
    this.f32 = new Float32Array(this.data.buffer);
    this.shWords = shDegree > 0 ? Math.ceil((3 * shRestCoeffs(shDegree)) / 2) : 0;
    this.sh = shDegree > 0 ? new Uint32Array(count * this.shWords) : null;
  }

  /** Splat i from its centre, world covariance (xx, xy, xz, yy, yz, zz), degree-0 colour and opacity. */
  set(i: number, x: number, y: number, z: number, cov: ArrayLike<number>, r: number, g: number, b: number, opacity: number): void {
    writeSplatRecord(this.data, this.f32, i, x, y, z, cov, r, g, b, opacity);
    const lo = this.min,
      hi = this.max;
    if (x < lo[0]) lo[0] = x;
    if (x > hi[0]) hi[0] = x;
    if (y < lo[1]) lo[1] = y;
    if (y > hi[1]) hi[1] = y;
    if (z < lo[2]) lo[2] = z;
    if (z > hi[2]) hi[2] = z;
  }

  /** SH coefficients 1.. of splat i (`rest[3k + c]` for coefficient k+1, channel c). */
  setSh(i: number, rest: ArrayLike<number>): void {
    if (!this.sh) return;
    const n = 3 * shRestCoeffs(this.shDegree),
      o = i * this.shWords;
    for (let h = 0; h < n; h += 2) this.sh[o + h / 2] = packHalf2(rest[h], h + 1 < n ? rest[h + 1] : 0);
  }

  finish(opts: PackOptions = {}): SplatBuffers {
    const n = this.count;
    const bounds =
      n === 0
        ? { min: [0, 0, 0] as [number, number, number], max: [0, 0, 0] as [number, number, number] }
        : { min: this.min, max: this.max };
    const base: SplatBuffers = {
      count: n,
      nodes: n,
      data: this.data,
      shDegree: this.shDegree,
      shWords: this.shWords,
      sh: this.sh,
      lod: null,
      bounds,
    };
    return n > (opts.lodAbove ?? LOD_ABOVE) ? buildSplatLod(base) : base;
  }
}

export function packSplats(g: Gaussians, opts: PackOptions = {}): SplatBuffers {
  const n = g.count;
  const p = new SplatPacker(n, Math.min(3, g.shDegree));
  const cov = new Float64Array(6);
  const rest = new Float32Array(45);
  for (let i = 0; i < n; i++) {
    covarianceOf(
      g.rotations[4 * i],
      g.rotations[4 * i + 1],
      g.rotations[4 * i + 2],
      g.rotations[4 * i + 3],
      Math.exp(g.logScales[3 * i]),
      Math.exp(g.logScales[3 * i + 1]),
      Math.exp(g.logScales[3 * i + 2]),
      cov,
    );
    const o = i * SH_STRIDE;
    p.set(
      i,
      g.means[3 * i],
      g.means[3 * i + 1],
      g.means[3 * i + 2],
      cov,
      0.5 + SH_C0 * g.sh[o],
      0.5 + SH_C0 * g.sh[o + 1],
      0.5 + SH_C0 * g.sh[o + 2],
      sigmoid(g.opacityLogits[i]),
    );
    if (p.sh) {
      for (let k = 0; k < 3 * shRestCoeffs(p.shDegree); k++) rest[k] = g.sh[o + 3 + k];
      p.setSh(i, rest);
    }
  }
  return p.finish(opts);
}

/**
 * Packs a `.splat` file (32 bytes per splat: position, scale, RGBA8, quaternion u8; see src/io/formats/splat.ts)
 * straight into the drawing layout, without the intermediate Gaussians (for files of many millions of splats).
 */
export function packSplatFile(bytes: Uint8Array, file: string, opts: PackOptions = {}): SplatBuffers {
  if (bytes.length === 0) throw new UserError('empty .splat file', file);
  if (bytes.length % 32 !== 0)
    throw new UserError(`.splat size ${bytes.length} bytes is not a multiple of 32 (truncated or not a .splat file)`, file);
  const n = bytes.length / 32;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const p = new SplatPacker(n, 0);
  const cov = new Float64Array(6);
  for (let i = 0; i < n; i++) {
    const o = i * 32;
    const x = dv.getFloat32(o, true),
      y = dv.getFloat32(o + 4, true),
      z = dv.getFloat32(o + 8, true);
    const s0 = dv.getFloat32(o + 12, true),
      s1 = dv.getFloat32(o + 16, true),
      s2 = dv.getFloat32(o + 20, true);
    if (!Number.isFinite(x + y + z)) throw new UserError(`splat ${i}: position is not finite`, file);
    if (!(s0 > 0 && s1 > 0 && s2 > 0) || !Number.isFinite(s0 + s1 + s2))
      throw new UserError(`splat ${i}: scale must be positive and finite`, file);
    const qw = (bytes[o + 28] - 128) / 128,
      qx = (bytes[o + 29] - 128) / 128,
      qy = (bytes[o + 30] - 128) / 128,
      qz = (bytes[o + 31] - 128) / 128;
    const zero = qw === 0 && qx === 0 && qy === 0 && qz === 0;
    covarianceOf(zero ? 1 : qw, qx, qy, qz, s0, s1, s2, cov);
    p.set(i, x, y, z, cov, bytes[o + 24] / 255, bytes[o + 25] / 255, bytes[o + 26] / 255, bytes[o + 27] / 255);
  }
  return p.finish(opts);
}

/** The transferable buffers of a SplatBuffers (for postMessage). */
export function splatTransferables(s: SplatBuffers): ArrayBuffer[] {
  const list = [s.data.buffer] as ArrayBuffer[];
  if (s.sh) list.push(s.sh.buffer as ArrayBuffer);
  if (s.lod) list.push(s.lod.buffer as ArrayBuffer);
  return list;
}
