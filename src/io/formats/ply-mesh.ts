import { UserError } from '../../core/errors';
import { checkMesh, vertexCount, type Mesh } from '../../nerf/mesh/mesh';
import { parsePlyHeader, readScalar, TYPE_SIZE, type PlyElement, type PlyHeader, type PlyType } from './ply';
import { f32 } from './obj';

/**
 * PLY meshes (ASCII, binary little- and big-endian): the `vertex` element's x y z and colours (red green blue as
 * uchar 0–255, ushort or float 0–1; r g b accepted too) and the `face` element's `vertex_indices` (or
 * `vertex_index`) lists, polygons fan-triangulated. Other elements and properties are skipped. The header is
 * parsed by the same strict parser as Gaussian PLYs (ply.ts), and the body size each element promises is checked
 * against the bytes present before anything is allocated, so a lying header is one clear error.
 */

/** Whether a PLY holds a mesh (a non-empty face element) rather than points / Gaussians. */
export function isPlyMesh(bytes: Uint8Array, file: string): boolean {
  const h = parsePlyHeader(bytes, file);
  return h.elements.some((e) => e.name === 'face' && e.count > 0);
}

const COLOR_NAMES = [
  ['red', 'green', 'blue'],
  ['r', 'g', 'b'],
  ['diffuse_red', 'diffuse_green', 'diffuse_blue'],
];

const colorScale = (t: PlyType): number => (t === 'uint8' ? 1 / 255 : t === 'uint16' ? 1 / 65535 : 1);

export function readPlyMesh(bytes: Uint8Array, file: string): Mesh {
  const header = parsePlyHeader(bytes, file);
  const vertex = header.elements.find((e) => e.name === 'vertex');
  const face = header.elements.find((e) => e.name === 'face');
  if (!vertex) throw new UserError('PLY file has no vertex element', file);
  if (!face || face.count === 0) throw new UserError('PLY file has no faces (a point cloud? meshes need a face element)', file);
  const listProp = face.properties.find((p) => p.listCount && (p.name === 'vertex_indices' || p.name === 'vertex_index'));
  if (!listProp) throw new UserError("PLY face element has no 'vertex_indices' list", file);
  for (const k of ['x', 'y', 'z'])
    if (!vertex.properties.some((p) => p.name === k && !p.listCount))
      throw new UserError(`PLY vertex element has no '${k}' property`, file);
  const colorNames = COLOR_NAMES.find((names) => names.every((k) => vertex.properties.some((p) => p.name === k && !p.listCount)));
  const reader = header.format === 'ascii' ? asciiReader(bytes, header, file) : binaryReader(bytes, header, file);

  const n = vertex.count;
  let pos: Float32Array | null = null,
    col: Float32Array | null = null;
  const idx: number[] = [];
  for (const el of header.elements) {
    reader.check(el);
    if (el === vertex) {
      pos = new Float32Array(n * 3);
      col = colorNames ? new Float32Array(n * 3) : null;
      const slot = el.properties.map((p) => {
        const a = ['x', 'y', 'z'].indexOf(p.name);
        if (a >= 0) return { arr: pos!, a, k: 1 };
        const c = colorNames ? colorNames.indexOf(p.name) : -1;
        if (c >= 0) return { arr: col!, a: c, k: colorScale(p.type) };
        return null;
      });
      for (let i = 0; i < n; i++)
        for (let j = 0; j < el.properties.length; j++) {
          const p = el.properties[j];
          if (p.listCount) {
            const k = reader.count(p.listCount, el.name, i);
            for (let q = 0; q < k; q++) reader.value(p.type, el.name, i);
            continue;
          }
          const v = reader.value(p.type, el.name, i);
          const s = slot[j];
          if (s) s.arr[3 * i + s.a] = v * s.k;
        }
    } else if (el === face) {
      const poly: number[] = [];
      for (let i = 0; i < el.count; i++)
        for (const p of el.properties) {
          if (!p.listCount) {
            reader.value(p.type, el.name, i);
            continue;
          }
          const k = reader.count(p.listCount, el.name, i);
          if (p !== listProp) {
            for (let q = 0; q < k; q++) reader.value(p.type, el.name, i);
            continue;
          }
          poly.length = 0;
          for (let q = 0; q < k; q++) {
            const v = reader.value(p.type, el.name, i);
            if (!Number.isInteger(v) || v < 0) throw new UserError(`face ${i} names vertex ${v} (not a vertex index)`, file);
            if (v >= n) throw new UserError(`face ${i} names vertex ${v}, but the file has only ${n} vertices`, file);
            poly.push(v);
          }
          for (let q = 1; q + 1 < poly.length; q++) idx.push(poly[0], poly[q], poly[q + 1]);
        }
    } else reader.skip(el);
  }
  if (col) for (let i = 0; i < col.length; i++) col[i] = Number.isFinite(col[i]) ? Math.min(1, Math.max(0, col[i])) : col[i];
  const mesh: Mesh = { positions: pos!, indices: Uint32Array.from(idx), colors: col };
  checkMesh(mesh, file);
  return mesh;
}

interface ElementReader {
  /** Rejects an element whose smallest possible size exceeds what is left of the file (before any allocation). */
  check(el: PlyElement): void;
  value(t: PlyType, what: string, row: number): number;
  count(t: PlyType, what: string, row: number): number;
  skip(el: PlyElement): void;
}

function binaryReader(bytes: Uint8Array, header: PlyHeader, file: string): ElementReader {
  const little = header.format === 'binary_little_endian';
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let off = header.bodyOffset;
  const end = (what: string) =>
    new UserError(
      `PLY element '${what}' extends past the end of the file (the header promises more than the file holds; truncated file?)`,
      file,
    );
  const r: ElementReader = {
    check(el) {
      const minRow = el.properties.reduce((s, p) => s + TYPE_SIZE[p.listCount ?? p.type], 0);
      if (el.count * minRow > bytes.length - off)
        throw new UserError(
          `PLY header promises ${el.count} ${el.name} elements (at least ${el.count * minRow} bytes) but only ${bytes.length - off} bytes are left (truncated file?)`,
          file,
        );
    },
    value(t, what) {
      const s = TYPE_SIZE[t];
      if (off + s > bytes.length) throw end(what);
      const v = readScalar(dv, off, t, little);
      off += s;
      return v;
    },
    count(t, what, row) {
      const k = r.value(t, what, row);
      if (!Number.isInteger(k) || k < 0) throw new UserError(`PLY ${what} ${row}: bad list length ${k}`, file);
      return k;
    },
    skip(el) {
      for (let i = 0; i < el.count; i++)
        for (const p of el.properties) {
          if (p.listCount) {
            const k = r.count(p.listCount, el.name, i);
            off += k * TYPE_SIZE[p.type];
            if (off > bytes.length) throw end(el.name);
          } else r.value(p.type, el.name, i);
        }
    },
  };
  return r;
}

function asciiReader(bytes: Uint8Array, header: PlyHeader, file: string): ElementReader {
  let pos = header.bodyOffset;
  const len = bytes.length;
  const isSpace = (b: number) => b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;
  const r: ElementReader = {
    check(el) {
      // every value takes at least two bytes (a digit and a separator)
      const vals = el.properties.length;
      if (vals && el.count * vals * 2 > len - pos + 1)
        throw new UserError(
          `PLY header promises ${el.count} ${el.name} elements but only ${len - pos} bytes of text are left (truncated file?)`,
          file,
        );
    },
    value(_t, what, row) {
      while (pos < len && isSpace(bytes[pos])) pos++;
      if (pos >= len) throw new UserError(`PLY body ends early (${what} ${row}; truncated file?)`, file);
      const s = pos;
      while (pos < len && !isSpace(bytes[pos])) pos++;
      let t = '';
      for (let i = s; i < pos; i++) t += String.fromCharCode(bytes[i]);
      const v = Number(t);
      if (Number.isNaN(v) && !/^[-+]?nan$/i.test(t))
        throw new UserError(`PLY body: '${t.slice(0, 20)}' is not a number (${what} ${row})`, file);
      return v;
    },
    count(t, what, row) {
      const k = r.value(t, what, row);
      if (!Number.isInteger(k) || k < 0) throw new UserError(`PLY ${what} ${row}: bad list length ${k}`, file);
      return k;
    },
    skip(el) {
      for (let i = 0; i < el.count; i++)
        for (const p of el.properties) {
          if (p.listCount) {
            const k = r.count(p.listCount, el.name, i);
            for (let q = 0; q < k; q++) r.value(p.type, el.name, i);
          } else r.value(p.type, el.name, i);
        }
    },
  };
  return r;
}

/**
 * A PLY mesh: float x y z, uchar red green blue (when the mesh has colours), and `list uchar int vertex_indices`
 * triangles. Binary little-endian by default.
 */
export function writePlyMesh(m: Mesh, opts: { format?: 'binary' | 'ascii' } = {}): Uint8Array {
  const n = vertexCount(m),
    nf = m.indices.length / 3;
  const ascii = opts.format === 'ascii';
  const c = m.colors;
  const header =
    `ply\nformat ${ascii ? 'ascii' : 'binary_little_endian'} 1.0\ncomment written by instruct-scene\n` +
    `element vertex ${n}\nproperty float x\nproperty float y\nproperty float z\n` +
    (c ? 'property uchar red\nproperty uchar green\nproperty uchar blue\n' : '') +
    `element face ${nf}\nproperty list uchar int vertex_indices\nend_header\n`;
  const head = new TextEncoder().encode(header);
  const u8 = (v: number) => Math.round(Math.min(1, Math.max(0, v)) * 255);
  const p = m.positions,
    f = m.indices;
  if (ascii) {
    const lines: string[] = [];
    for (let i = 0; i < n; i++)
      lines.push(
        `${f32(p[3 * i])} ${f32(p[3 * i + 1])} ${f32(p[3 * i + 2])}` +
          (c ? ` ${u8(c[3 * i])} ${u8(c[3 * i + 1])} ${u8(c[3 * i + 2])}` : ''),
      );
    for (let i = 0; i < nf; i++) lines.push(`3 ${f[3 * i]} ${f[3 * i + 1]} ${f[3 * i + 2]}`);
    const body = new TextEncoder().encode(lines.join('\n') + '\n');
    const out = new Uint8Array(head.length + body.length);
    out.set(head);
    out.set(body, head.length);
    return out;
  }
  const row = 12 + (c ? 3 : 0);
  const out = new Uint8Array(head.length + n * row + nf * 13);
  out.set(head);
  const dv = new DataView(out.buffer);
  let o = head.length;
  for (let i = 0; i < n; i++) {
    dv.setFloat32(o, p[3 * i], true);
    dv.setFloat32(o + 4, p[3 * i + 1], true);
    dv.setFloat32(o + 8, p[3 * i + 2], true);
    if (c) {
      out[o + 12] = u8(c[3 * i]);
      out[o + 13] = u8(c[3 * i + 1]);
      out[o + 14] = u8(c[3 * i + 2]);
    }
    o += row;
  }
  for (let i = 0; i < nf; i++) {
    out[o] = 3;
    dv.setInt32(o + 1, f[3 * i], true);
    dv.setInt32(o + 5, f[3 * i + 1], true);
    dv.setInt32(o + 9, f[3 * i + 2], true);
    o += 13;
  }
  return out;
}
