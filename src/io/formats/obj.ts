import { UserError } from '../../core/errors';
import { checkLimit } from '../../core/limits';
import { checkMesh, vertexCount, type Mesh } from '../../nerf/mesh/mesh';

/** Bytes of text decoded at a time (cut at a line end). */
const OBJ_CHUNK = 1 << 24;

/**
 * Wavefront OBJ meshes.
 *
 * Reading: `v x y z [w]` and the common `v x y z r g b` vertex-colour extension (colours in [0, 1]; files whose
 * colours exceed 1 are read as 0–255), `f` with `v`, `v/vt`, `v//vn` or `v/vt/vn` references (1-based, negative =
 * relative to the vertices read so far), polygons fan-triangulated. `vt`, `vn`, groups, objects, materials, lines
 * and points are skipped: a mesh here is its positions, triangles and vertex colours, one vertex per `v` line.
 * Errors name the file, the line and the problem (a face naming a missing vertex, a non-finite coordinate, …).
 *
 * Writing: `v x y z [r g b]` (float32 values printed so they read back exactly) and `f a b c`.
 */
export function readObj(bytes: Uint8Array, file: string): Mesh {
  const pos: number[] = [];
  const col: number[] = [];
  const idx: number[] = [];
  let anyColor = false;
  let line = 0;
  const face: number[] = [];
  const decoder = new TextDecoder('utf-8');
  // the text is decoded a chunk of lines at a time: a file of any size never becomes one string
  for (let from = 0; from < bytes.length;) {
    let to = Math.min(bytes.length, from + OBJ_CHUNK);
    if (to < bytes.length) {
      const nl = bytes.lastIndexOf(0x0a, to - 1);
      to = nl >= from ? nl + 1 : to;
    }
    const text = decoder.decode(bytes.subarray(from, to));
    from = to;
    let start = 0;
    const len = text.length;
    while (start < len) {
      let end = text.indexOf('\n', start);
      if (end < 0) end = len;
      line++;
      let s = text.slice(start, end);
      start = end + 1;
      const hash = s.indexOf('#');
      if (hash >= 0) s = s.slice(0, hash);
      s = s.trim();
      if (!s) continue;
      const tok = s.split(/\s+/);
      const kw = tok[0];
      if (kw === 'v') {
        if (tok.length < 4) throw new UserError(`line ${line}: a vertex needs x y z ('${s.slice(0, 40)}')`, file);
        const vals = tok.slice(1, 8).map(Number);
        for (let k = 0; k < vals.length; k++)
          if (!Number.isFinite(vals[k]))
            throw new UserError(`line ${line}: vertex ${pos.length / 3 + 1} has a non-finite value '${tok[k + 1].slice(0, 40)}'`, file);
        pos.push(vals[0], vals[1], vals[2]);
        checkLimit('elements', pos.length / 3, 'OBJ vertex count', file);
        if (vals.length >= 6) {
          // x y z r g b (and x y z w r g b written by a few tools)
          const o = vals.length >= 7 ? 4 : 3;
          col.push(vals[o], vals[o + 1], vals[o + 2]);
          anyColor = true;
        } else col.push(NaN, NaN, NaN);
      } else if (kw === 'f') {
        if (tok.length < 4) throw new UserError(`line ${line}: a face needs at least 3 vertices`, file);
        face.length = 0;
        const nv = pos.length / 3;
        for (let k = 1; k < tok.length; k++) {
          const ref = tok[k];
          const slash = ref.indexOf('/');
          const v = Number(slash < 0 ? ref : ref.slice(0, slash));
          if (!Number.isInteger(v) || v === 0) throw new UserError(`line ${line}: bad vertex reference '${ref.slice(0, 40)}'`, file);
          const i = v > 0 ? v - 1 : nv + v;
          if (i < 0) throw new UserError(`line ${line}: vertex reference ${v} points before the first vertex`, file);
          face.push(i);
        }
        for (let k = 1; k + 1 < face.length; k++) idx.push(face[0], face[k], face[k + 1]);
        checkLimit('elements', idx.length / 3, 'OBJ triangle count', file);
      }
      // vt, vn, vp, o, g, s, usemtl, mtllib, l, p, …: not part of the mesh here
    }
  }
  const n = pos.length / 3;
  for (let i = 0; i < idx.length; i++)
    if (idx[i] >= n) throw new UserError(`face ${Math.floor(i / 3)} names vertex ${idx[i] + 1}, but the file has only ${n} vertices`, file);
  let colors: Float32Array | null = null;
  if (anyColor) {
    let max = 0;
    for (const c of col) if (c > max) max = c;
    const k = max > 1 ? 1 / 255 : 1;
    colors = new Float32Array(col.length);
    for (let i = 0; i < col.length; i++) colors[i] = Number.isNaN(col[i]) ? 0.5 : Math.min(1, Math.max(0, col[i] * k));
  }
  const mesh: Mesh = { positions: Float32Array.from(pos), indices: Uint32Array.from(idx), colors };
  checkMesh(mesh, file);
  return mesh;
}

export function writeObj(m: Mesh): Uint8Array {
  const n = vertexCount(m);
  const lines: string[] = ['# written by instruct-scene', `# ${n} vertices, ${m.indices.length / 3} triangles`];
  const p = m.positions,
    c = m.colors;
  for (let i = 0; i < n; i++) {
    let l = `v ${f32(p[3 * i])} ${f32(p[3 * i + 1])} ${f32(p[3 * i + 2])}`;
    if (c) l += ` ${f32(c[3 * i])} ${f32(c[3 * i + 1])} ${f32(c[3 * i + 2])}`;
    lines.push(l);
  }
  const f = m.indices;
  for (let i = 0; i < f.length; i += 3) lines.push(`f ${f[i] + 1} ${f[i + 1] + 1} ${f[i + 2] + 1}`);
  return new TextEncoder().encode(lines.join('\n') + '\n');
}

/** The shortest decimal that reads back as the same float32. */
export function f32(v: number): string {
  if (Object.is(v, -0)) return '-0';
  for (let p = 6; p < 9; p++) {
    const s = String(Number(v.toPrecision(p)));
    if (Math.fround(Number(s)) === v) return s;
  }
  return String(v);
}
