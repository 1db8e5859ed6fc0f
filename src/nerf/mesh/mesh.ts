import { UserError } from '../../core/errors';

/**
 * A triangle mesh: indexed triangles with optional per-vertex colours.
 * - `positions`: x y z per vertex (3n floats).
 * - `indices`: three vertex indices per triangle (3f), counter-clockwise seen from the front (OBJ, PLY and glTF's
 *   convention); the renderer draws both sides.
 * - `colors`: r g b per vertex in [0, 1], display values (what a viewer shows, as in images), or null when the
 *   mesh has none (Text2Mesh then starts from grey 0.5).
 */
export interface Mesh {
  positions: Float32Array;
  indices: Uint32Array;
  colors: Float32Array | null;
}

export type Vec3 = [number, number, number];

export const vertexCount = (m: Mesh): number => m.positions.length / 3;
export const faceCount = (m: Mesh): number => m.indices.length / 3;

export function cloneMesh(m: Mesh): Mesh {
  return { positions: m.positions.slice(), indices: m.indices.slice(), colors: m.colors ? m.colors.slice() : null };
}

/**
 * Checks what every reader promises: whole triangles, indices naming existing vertices, finite positions and
 * colours. Throws one UserError naming the file, the first offending face or vertex, and the problem.
 */
export function checkMesh(m: Mesh, file: string): void {
  const n = vertexCount(m);
  if (m.positions.length % 3) throw new UserError(`mesh has ${m.positions.length} position values (not a multiple of 3)`, file);
  if (m.indices.length % 3) throw new UserError(`mesh has ${m.indices.length} face indices (not a multiple of 3)`, file);
  if (m.colors && m.colors.length !== m.positions.length)
    throw new UserError(`mesh has ${m.colors.length / 3} vertex colours for ${n} vertices`, file);
  if (!n) throw new UserError('mesh has no vertices', file);
  if (!m.indices.length) throw new UserError('mesh has no faces (a point cloud? meshes need triangles)', file);
  for (let i = 0; i < m.positions.length; i++)
    if (!Number.isFinite(m.positions[i]))
      throw new UserError(`vertex ${Math.floor(i / 3)} has a non-finite position (${m.positions[i]})`, file);
  if (m.colors)
    for (let i = 0; i < m.colors.length; i++)
      if (!Number.isFinite(m.colors[i])) throw new UserError(`vertex ${Math.floor(i / 3)} has a non-finite colour (${m.colors[i]})`, file);
  for (let i = 0; i < m.indices.length; i++)
    if (m.indices[i] >= n)
      throw new UserError(`face ${Math.floor(i / 3)} names vertex ${m.indices[i]}, but the mesh has only ${n} vertices`, file);
}

/** Axis-aligned bounds of the vertices. */
export function meshBounds(m: Mesh): { min: Vec3; max: Vec3 } {
  const min: Vec3 = [Infinity, Infinity, Infinity],
    max: Vec3 = [-Infinity, -Infinity, -Infinity];
  const p = m.positions;
  for (let i = 0; i < p.length; i += 3)
    for (let a = 0; a < 3; a++) {
      const v = p[i + a];
      if (v < min[a]) min[a] = v;
      if (v > max[a]) max[a] = v;
    }
  return { min, max };
}

/** The bounding sphere used to normalise meshes: centre of the bounding box, radius to the farthest vertex. */
export function boundingSphere(m: Mesh): { center: Vec3; radius: number } {
  const { min, max } = meshBounds(m);
  const center: Vec3 = [(min[0] + max[0]) / 2, (min[1] + max[1]) / 2, (min[2] + max[2]) / 2];
  let r2 = 0;
  const p = m.positions;
  for (let i = 0; i < p.length; i += 3) {
    const d = (p[i] - center[0]) ** 2 + (p[i + 1] - center[1]) ** 2 + (p[i + 2] - center[2]) ** 2;
    if (d > r2) r2 = d;
  }
  return { center, radius: Math.max(Math.sqrt(r2), 1e-12) };
}

/**
 * The unnormalised normal of the triangle (a, b, c) (offsets of its vertices in `positions`, i.e. 3 × index):
 * (p_b − p_a) × (p_c − p_a), twice its area along its normal, into `out`.
 */
export function faceNormal(positions: Float32Array, a: number, b: number, c: number, out: Float64Array): Float64Array {
  const p = positions;
  const e1x = p[b] - p[a],
    e1y = p[b + 1] - p[a + 1],
    e1z = p[b + 2] - p[a + 2];
  const e2x = p[c] - p[a],
    e2y = p[c + 1] - p[a + 1],
    e2z = p[c + 2] - p[a + 2];
  out[0] = e1y * e2z - e1z * e2y;
  out[1] = e1z * e2x - e1x * e2z;
  out[2] = e1x * e2y - e1y * e2x;
  return out;
}

/**
 * Area-weighted vertex normals (the sum of the unnormalised face normals around each vertex, normalised).
 * Vertices on no face, or whose faces cancel, get (0, 0, 0).
 */
export function vertexNormals(positions: Float32Array, indices: Uint32Array): Float32Array {
  const n = new Float32Array(positions.length);
  const fn = new Float64Array(3);
  for (let f = 0; f < indices.length; f += 3) {
    const a = indices[f] * 3,
      b = indices[f + 1] * 3,
      c = indices[f + 2] * 3;
    faceNormal(positions, a, b, c, fn);
    for (const v of [a, b, c]) {
      n[v] += fn[0];
      n[v + 1] += fn[1];
      n[v + 2] += fn[2];
    }
  }
  for (let i = 0; i < n.length; i += 3) {
    const l = Math.hypot(n[i], n[i + 1], n[i + 2]);
    if (l > 0) {
      n[i] /= l;
      n[i + 1] /= l;
      n[i + 2] /= l;
    }
  }
  return n;
}

/** Appends meshes (indices offset); colours kept when any part has them (others grey 0.5). */
export function concatMeshes(parts: Mesh[]): Mesh {
  let nv = 0,
    ni = 0;
  for (const p of parts) {
    nv += p.positions.length;
    ni += p.indices.length;
  }
  const anyColor = parts.some((p) => p.colors);
  const out: Mesh = { positions: new Float32Array(nv), indices: new Uint32Array(ni), colors: anyColor ? new Float32Array(nv) : null };
  let ov = 0,
    oi = 0;
  for (const p of parts) {
    out.positions.set(p.positions, ov);
    if (out.colors) {
      if (p.colors) out.colors.set(p.colors, ov);
      else out.colors.fill(0.5, ov, ov + p.positions.length);
    }
    const base = ov / 3;
    for (let i = 0; i < p.indices.length; i++) out.indices[oi + i] = p.indices[i] + base;
    ov += p.positions.length;
    oi += p.indices.length;
  }
  return out;
}

/** sRGB transfer (glTF stores COLOR_0 linear; meshes here hold display values). */
export function srgbToLinear(c: number): number {
  return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
}
export function linearToSrgb(c: number): number {
  return c <= 0.0031308 ? c * 12.92 : 1.055 * c ** (1 / 2.4) - 0.055;
}

/**
 * Face adjacency: for face f and k ∈ {0, 1, 2}, the face across the edge opposite vertex k (the edge from corner
 * k+1 to corner k+2), or −1 on a boundary or a non-manifold edge (shared by more than two faces).
 */
export function faceAdjacency(indices: Uint32Array, nVertices: number): Int32Array {
  const nf = indices.length / 3;
  const adj = new Int32Array(indices.length).fill(-1);
  const first = new Map<number, number>(); // edge key → f·3 + k of the first face seen, or −2 once a third face shows up
  for (let f = 0; f < nf; f++)
    for (let k = 0; k < 3; k++) {
      const a = indices[3 * f + ((k + 1) % 3)],
        b = indices[3 * f + ((k + 2) % 3)];
      const key = Math.min(a, b) * nVertices + Math.max(a, b);
      const prev = first.get(key);
      if (prev === undefined) first.set(key, 3 * f + k);
      else if (prev >= 0 && adj[prev] === -1) {
        adj[prev] = f;
        adj[3 * f + k] = Math.floor(prev / 3);
      } else if (prev >= 0) {
        // a third face on this edge: non-manifold, treat as a boundary for everyone on it
        adj[adj[prev] * 3 + adj.subarray(adj[prev] * 3, adj[prev] * 3 + 3).indexOf(Math.floor(prev / 3))] = -1;
        adj[prev] = -1;
        first.set(key, -2);
      }
    }
  return adj;
}
