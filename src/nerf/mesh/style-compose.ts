import type { Mesh } from './mesh';
import { boundingSphere, vertexNormals } from './mesh';
import { MESH_GREY } from './mesh-scene';

/**
 * From the style field's outputs to a stylised mesh (Text2Mesh's output maps, docs/mesh-stylisation.md):
 *   colour_i   = clamp(base_i + tanh(c_i)/2, 0, 1)       (base: the mesh's colours, grey 0.5 without)
 *   position_i = p_i + R·k·tanh(d_i)·n_i                   (n: the input's vertex normals, R: bounding radius, k 0.1)
 * Vertices outside the edit region (gate 0) keep their input colour and position exactly.
 */
export interface StyleBase {
  mesh: Mesh;
  /** Colours the offsets start from (3 per vertex). */
  baseColors: Float32Array;
  /** The input's area-weighted vertex normals. */
  normals: Float32Array;
  center: [number, number, number];
  radius: number;
  /** 1 for vertices the edit may change; null = all. */
  gate: Uint8Array | null;
}

export function styleBase(mesh: Mesh, gate: Uint8Array | null = null): StyleBase {
  const { center, radius } = boundingSphere(mesh);
  return {
    mesh,
    baseColors: mesh.colors ? mesh.colors.slice() : new Float32Array(mesh.positions.length).fill(MESH_GREY),
    normals: vertexNormals(mesh.positions, mesh.indices),
    center,
    radius,
    gate,
  };
}

/** Positions in the unit bounding sphere (the field's input), 3 per vertex. */
export function normalizedPositions(b: StyleBase): Float32Array {
  const p = b.mesh.positions;
  const out = new Float32Array(p.length);
  for (let i = 0; i < p.length; i += 3) for (let a = 0; a < 3; a++) out[i + a] = (p[i + a] - b.center[a]) / b.radius;
  return out;
}

/** Colours and positions for the field outputs `raw` (4 per vertex). */
export function composeStyled(
  b: StyleBase,
  raw: Float32Array,
  maxDisplacement: number,
  positions: Float32Array,
  colors: Float32Array,
): void {
  const p = b.mesh.positions,
    n = b.normals,
    gate = b.gate;
  const k = b.radius * maxDisplacement;
  for (let i = 0; i < p.length / 3; i++) {
    if (gate && !gate[i]) {
      for (let a = 0; a < 3; a++) {
        positions[3 * i + a] = p[3 * i + a];
        colors[3 * i + a] = b.baseColors[3 * i + a];
      }
      continue;
    }
    const d = k * Math.tanh(raw[4 * i + 3]);
    for (let a = 0; a < 3; a++) {
      positions[3 * i + a] = p[3 * i + a] + d * n[3 * i + a];
      const c = b.baseColors[3 * i + a] + 0.5 * Math.tanh(raw[4 * i + a]);
      colors[3 * i + a] = c < 0 ? 0 : c > 1 ? 1 : c;
    }
  }
}

/**
 * ∂L/∂raw from ∂L/∂colour and ∂L/∂position. At the colour clamp the gradient passes only when it moves the
 * colour back inside [0, 1] (so a saturated colour can still come back).
 */
export function composeBackward(
  b: StyleBase,
  raw: Float32Array,
  maxDisplacement: number,
  dColors: Float32Array,
  dPositions: Float32Array,
  dRaw = new Float32Array(raw.length),
): Float32Array {
  const n = b.normals,
    gate = b.gate;
  const k = b.radius * maxDisplacement;
  for (let i = 0; i < n.length / 3; i++) {
    if (gate && !gate[i]) {
      dRaw.fill(0, 4 * i, 4 * i + 4);
      continue;
    }
    for (let a = 0; a < 3; a++) {
      const t = Math.tanh(raw[4 * i + a]);
      const c = b.baseColors[3 * i + a] + 0.5 * t;
      const g = dColors[3 * i + a];
      // descent moves c by −g: blocked only when that pushes it further outside
      const pass = (c <= 1 || g > 0) && (c >= 0 || g < 0);
      dRaw[4 * i + a] = pass ? g * 0.5 * (1 - t * t) : 0;
    }
    const td = Math.tanh(raw[4 * i + 3]);
    const dn = dPositions[3 * i] * n[3 * i] + dPositions[3 * i + 1] * n[3 * i + 1] + dPositions[3 * i + 2] * n[3 * i + 2];
    dRaw[4 * i + 3] = dn * k * (1 - td * td);
  }
  return dRaw;
}
