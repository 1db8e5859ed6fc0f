/**
 * IEEE 754 binary16 ("half") conversion, bit-exact with WGSL's `pack2x16float` / `unpack2x16float` for finite
 * values: round to nearest even, subnormals kept, overflow to ±Infinity. Packing two halves into a u32 puts the
 * first in the low 16 bits, as WGSL does.
 */

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The binary16 bits of `v` (round to nearest even). */
export function toHalf(v: number): number {
  f32[0] = v;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // Inf / NaN
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow
  if (e <= 0) {
    // subnormal half (or zero): shift the mantissa (with its implicit 1) right, rounding to nearest even
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = mant >>> shift;
    const rest = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    return sign | (half + (rest > mid || (rest === mid && half & 1) ? 1 : 0));
  }
  const half = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  // a carry out of the mantissa correctly bumps the exponent (and reaches Inf at the top)
  return sign | (half + (rest > 0x1000 || (rest === 0x1000 && half & 1) ? 1 : 0));
}

function decodeHalf(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

let table: Float32Array | null = null;

/** The number a binary16 bit pattern stands for (every half is exactly a float32: one table lookup). */
export function fromHalf(h: number): number {
  if (!table) {
    table = new Float32Array(65536);
    for (let i = 0; i < 65536; i++) table[i] = decodeHalf(i);
  }
  return table[h & 0xffff];
}

/** `pack2x16float(vec2(a, b))`: a in the low half, b in the high half. */
export function packHalf2(a: number, b: number): number {
  return (toHalf(a) | (toHalf(b) << 16)) >>> 0;
}

/** `unpack2x16float(w)` component `k` (0 = low half). */
export function unpackHalf(w: number, k: 0 | 1): number {
  return fromHalf(k === 0 ? w & 0xffff : w >>> 16);
}

/** `pack2x16snorm(vec2(a, b))`: round(clamp(v, −1, 1)·32767) as int16, a low. */
export function packSnorm2(a: number, b: number): number {
  return (snorm16(a) | (snorm16(b) << 16)) >>> 0;
}

function snorm16(v: number): number {
  return Math.round(Math.max(-1, Math.min(1, v)) * 32767) & 0xffff;
}

/** `unpack2x16snorm(w)` component `k`. */
export function unpackSnorm(w: number, k: 0 | 1): number {
  const v = k === 0 ? w & 0xffff : w >>> 16;
  return Math.max(-1, (v >= 0x8000 ? v - 0x10000 : v) / 32767);
}
