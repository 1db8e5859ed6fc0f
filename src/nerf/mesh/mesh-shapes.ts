import type { Mesh } from './mesh';

/**
 * Meshes the project makes itself (tests, benchmarks, the demo): a UV sphere, a torus and a low-poly vase
 * (a lathe of a vase profile). All are centred near the origin with +y up, faces counter-clockwise seen from
 * outside, and carry no colours unless `color` is given.
 */

function withColor(positions: number[], indices: number[], color?: [number, number, number]): Mesh {
  const n = positions.length / 3;
  let colors: Float32Array | null = null;
  if (color) {
    colors = new Float32Array(n * 3);
    for (let i = 0; i < n; i++) colors.set(color, 3 * i);
  }
  return { positions: Float32Array.from(positions), indices: Uint32Array.from(indices), colors };
}

/** A UV sphere: `rings` latitude bands, `segments` around; 2 + (rings − 1)·segments vertices. */
export function uvSphere(segments = 32, rings = 16, radius = 1, color?: [number, number, number]): Mesh {
  const pos: number[] = [0, radius, 0];
  for (let r = 1; r < rings; r++) {
    const th = (Math.PI * r) / rings;
    for (let s = 0; s < segments; s++) {
      const ph = (2 * Math.PI * s) / segments;
      pos.push(radius * Math.sin(th) * Math.cos(ph), radius * Math.cos(th), -radius * Math.sin(th) * Math.sin(ph));
    }
  }
  pos.push(0, -radius, 0);
  const idx: number[] = [];
  const ring = (r: number, s: number) => 1 + (r - 1) * segments + (s % segments);
  const bottom = pos.length / 3 - 1;
  for (let s = 0; s < segments; s++) idx.push(0, ring(1, s), ring(1, s + 1));
  for (let r = 1; r < rings - 1; r++)
    for (let s = 0; s < segments; s++) {
      const a = ring(r, s),
        b = ring(r, s + 1),
        c = ring(r + 1, s),
        d = ring(r + 1, s + 1);
      idx.push(a, c, d, a, d, b);
    }
  for (let s = 0; s < segments; s++) idx.push(bottom, ring(rings - 1, s + 1), ring(rings - 1, s));
  return withColor(pos, idx, color);
}

/** A torus around +y: major radius R, tube radius r; segU·segV vertices. */
export function torus(R = 0.7, r = 0.3, segU = 48, segV = 24, color?: [number, number, number]): Mesh {
  const pos: number[] = [];
  for (let i = 0; i < segU; i++) {
    const u = (2 * Math.PI * i) / segU;
    for (let j = 0; j < segV; j++) {
      const v = (2 * Math.PI * j) / segV;
      const k = R + r * Math.cos(v);
      pos.push(k * Math.cos(u), r * Math.sin(v), -k * Math.sin(u));
    }
  }
  const idx: number[] = [];
  const at = (i: number, j: number) => (i % segU) * segV + (j % segV);
  for (let i = 0; i < segU; i++)
    for (let j = 0; j < segV; j++) {
      const a = at(i, j),
        b = at(i + 1, j),
        c = at(i + 1, j + 1),
        d = at(i, j + 1);
      idx.push(a, b, c, a, c, d);
    }
  return withColor(pos, idx, color);
}

/** Radius of the vase's outer wall at height y ∈ [−1, 1]: a foot, a round belly, a neck and a flared lip. */
function vaseProfile(y: number): number {
  const t = (y + 1) / 2;
  return 0.28 + 0.32 * Math.sin(Math.PI * Math.min(1, t / 0.75)) ** 1.5 + 0.2 * Math.max(0, t - 0.8) ** 2 * 25 * 0.5;
}

/** A low-poly vase: a lathe of `rings` + 1 profile points × `segments`, a closed bottom and an open top. */
export function vase(segments = 16, rings = 12, color?: [number, number, number]): Mesh {
  const pos: number[] = [];
  for (let r = 0; r <= rings; r++) {
    const y = -1 + (2 * r) / rings;
    const rad = vaseProfile(y);
    for (let s = 0; s < segments; s++) {
      const ph = (2 * Math.PI * s) / segments;
      pos.push(rad * Math.cos(ph), y, -rad * Math.sin(ph));
    }
  }
  const centre = pos.length / 3;
  pos.push(0, -1, 0);
  const idx: number[] = [];
  const at = (r: number, s: number) => r * segments + (s % segments);
  for (let r = 0; r < rings; r++)
    for (let s = 0; s < segments; s++) {
      const a = at(r, s),
        b = at(r, s + 1),
        c = at(r + 1, s),
        d = at(r + 1, s + 1);
      idx.push(a, b, d, a, d, c);
    }
  for (let s = 0; s < segments; s++) idx.push(centre, at(0, s + 1), at(0, s));
  return withColor(pos, idx, color);
}

/** A sphere with about `n` vertices (benchmarks: 5k, 15k, 50k). */
export function sphereWithVertices(n: number): Mesh {
  // 2 + (rings − 1)·segments ≈ n with segments = 2·rings
  const rings = Math.max(3, Math.round(Math.sqrt(n / 2)));
  return uvSphere(2 * rings, rings);
}
