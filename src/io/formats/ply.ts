import { UserError } from '../../core/errors';
import { checkLimit } from '../../core/limits';
import {
  checkGaussiansFinite,
  createGaussians,
  GAUSSIAN_RANGES,
  knnMeanDistance,
  SH_STRIDE,
  type Gaussians,
} from '../../nerf/gaussian/gaussians';
import { logit } from '../../core/math';
import { SH_C0 } from '../../nerf/common/sh';

/**
 * PLY reading (ASCII, binary little- and big-endian) and 3DGS `.ply` reading/writing.
 *
 * Reading is defensive: the header is parsed strictly (bounded size, decimal counts within limits.elements,
 * no duplicate names, list counts of an integer type), the body size the header promises is checked against
 * the bytes present BEFORE anything is allocated, and the body must END where the header says: a binary body
 * longer or shorter than its header, or an ASCII body with values left over, is refused (a header that lost a
 * property line would otherwise be read misaligned). Property order comes from the header, unknown properties
 * and elements are skipped, integer properties must hold values their type can hold, and non-finite or
 * out-of-range values are reported with their vertex index.
 *
 * 3DGS layout (INRIA): vertex properties x y z [nx ny nz] f_dc_0..2 f_rest_0..(3(K−1)−1) opacity scale_0..2
 * rot_0..3, float32. f_rest is channel-major: f_rest_j is coefficient 1 + j mod (K−1) of channel
 * floor(j / (K−1)); K = (degree+1)² ∈ {1, 4, 9, 16}. Quaternions are (w, x, y, z) and normalised on load.
 */

export type PlyType = 'int8' | 'uint8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'float32' | 'float64';
const TYPE_ALIASES: Record<string, PlyType> = {
  char: 'int8',
  int8: 'int8',
  uchar: 'uint8',
  uint8: 'uint8',
  short: 'int16',
  int16: 'int16',
  ushort: 'uint16',
  uint16: 'uint16',
  int: 'int32',
  int32: 'int32',
  uint: 'uint32',
  uint32: 'uint32',
  float: 'float32',
  float32: 'float32',
  double: 'float64',
  float64: 'float64',
};
export const TYPE_SIZE: Record<PlyType, number> = { int8: 1, uint8: 1, int16: 2, uint16: 2, int32: 4, uint32: 4, float32: 4, float64: 8 };

export interface PlyProperty {
  name: string;
  type: PlyType;
  /** for list properties: the count's type */
  listCount?: PlyType;
}
export interface PlyElement {
  name: string;
  count: number;
  properties: PlyProperty[];
}
export interface PlyHeader {
  format: 'ascii' | 'binary_little_endian' | 'binary_big_endian';
  elements: PlyElement[];
  comments: string[];
  /** byte offset of the body */
  bodyOffset: number;
}

const MAX_HEADER = 1 << 20;

/** Parses a PLY header; throws a UserError for anything that is not a well-formed PLY header. */
/** `kind` names the format in messages (a compressed PLY is a PLY too). */
export function parsePlyHeader(bytes: Uint8Array, file: string, kind = 'PLY'): PlyHeader {
  if (bytes.length < 4 || bytes[0] !== 0x70 || bytes[1] !== 0x6c || bytes[2] !== 0x79 || (bytes[3] !== 0x0a && bytes[3] !== 0x0d))
    throw new UserError('not a PLY file (it does not start with "ply")', file);
  // find "end_header" followed by a newline
  const limit = Math.min(bytes.length, MAX_HEADER);
  const marker = [0x65, 0x6e, 0x64, 0x5f, 0x68, 0x65, 0x61, 0x64, 0x65, 0x72]; // end_header
  let end = -1;
  outer: for (let i = 0; i + marker.length <= limit; i++) {
    for (let k = 0; k < marker.length; k++) if (bytes[i + k] !== marker[k]) continue outer;
    end = i;
    break;
  }
  if (end < 0)
    throw new UserError(
      bytes.length > MAX_HEADER
        ? `${kind} header is longer than 1 MB or has no end_header`
        : `${kind} header has no end_header line (truncated file?)`,
      file,
    );
  let body = end + marker.length;
  if (bytes[body] === 0x0d) body++;
  if (bytes[body] !== 0x0a) {
    if (body >= bytes.length) body = bytes.length;
    else throw new UserError(`${kind} header: end_header must end its line`, file);
  } else body++;
  const text = new TextDecoder('utf-8').decode(bytes.subarray(0, end));
  const lines = text.split(/\r?\n/);
  let format: PlyHeader['format'] | undefined;
  const elements: PlyElement[] = [];
  const comments: string[] = [];
  for (let li = 1; li < lines.length; li++) {
    const line = lines[li].trim();
    if (!line) continue;
    const tok = line.split(/\s+/);
    const where = `${kind} header line ${li + 1}`;
    const quoted = `'${line.length > 80 ? line.slice(0, 80) + '…' : line}'`;
    switch (tok[0]) {
      case 'format':
        if (format) throw new UserError(`${where}: a second format line`, file);
        if (elements.length) throw new UserError(`${where}: the format line must come before the elements`, file);
        if (!['ascii', 'binary_little_endian', 'binary_big_endian'].includes(tok[1]))
          throw new UserError(`${where}: unknown format '${tok[1]?.slice(0, 40)}'`, file);
        if (tok[2] !== '1.0' || tok.length !== 3) throw new UserError(`${where}: expected 'format ${tok[1]} 1.0', got ${quoted}`, file);
        format = tok[1] as PlyHeader['format'];
        break;
      case 'comment':
      case 'obj_info':
        comments.push(line.slice(tok[0].length).trim());
        break;
      case 'element': {
        const count = /^\d{1,16}$/.test(tok[2] ?? '') ? Number(tok[2]) : NaN;
        if (tok.length !== 3 || !Number.isSafeInteger(count))
          throw new UserError(`${where}: bad element line ${quoted} (expected 'element NAME COUNT', COUNT in decimal digits)`, file);
        if (elements.some((e) => e.name === tok[1])) throw new UserError(`${where}: a second element '${tok[1]}'`, file);
        checkLimit('elements', count, `${kind} element '${tok[1]}' count`, file);
        elements.push({ name: tok[1], count, properties: [] });
        break;
      }
      case 'property': {
        const el = elements[elements.length - 1];
        if (!el) throw new UserError(`${where}: property before any element`, file);
        const name = tok[1] === 'list' ? tok[4] : tok[2];
        if (name !== undefined && el.properties.some((p) => p.name === name))
          throw new UserError(`${where}: a second property '${name}' in element '${el.name}'`, file);
        if (tok[1] === 'list') {
          const ct = TYPE_ALIASES[tok[2]],
            it = TYPE_ALIASES[tok[3]];
          if (!ct || !it || tok.length !== 5) throw new UserError(`${where}: bad list property ${quoted}`, file);
          if (ct === 'float32' || ct === 'float64') throw new UserError(`${where}: a list's count must have an integer type`, file);
          el.properties.push({ name: tok[4], type: it, listCount: ct });
        } else {
          const t = TYPE_ALIASES[tok[1]];
          if (!t || tok.length !== 3) throw new UserError(`${where}: bad property ${quoted}`, file);
          el.properties.push({ name: tok[2], type: t });
        }
        break;
      }
      default:
        throw new UserError(`${where}: unexpected '${tok[0].slice(0, 40)}'`, file);
    }
  }
  if (!format) throw new UserError(`${kind} header has no format line`, file);
  return { format, elements, comments, bodyOffset: body };
}

export interface PlyColumns {
  header: PlyHeader;
  count: number;
  /** requested vertex properties, as float32 columns */
  columns: Map<string, Float32Array>;
}

/**
 * Reads the `vertex` element's properties for which `want(name)` holds, as float32 columns. Elements
 * before `vertex` are skipped (lists included); elements after it are ignored.
 */
export function readPlyVertices(bytes: Uint8Array, file: string, want: (name: string) => boolean): PlyColumns {
  const header = parsePlyHeader(bytes, file);
  const vi = header.elements.findIndex((e) => e.name === 'vertex');
  if (vi < 0) throw new UserError('PLY file has no vertex element', file);
  const vertex = header.elements[vi];
  if (vertex.properties.some((p) => p.listCount))
    throw new UserError('PLY vertex element has list properties (not a point cloud / Gaussian file)', file);
  if (!vertex.properties.length) throw new UserError('PLY vertex element has no properties', file);
  const n = vertex.count;
  const wanted = vertex.properties.map((p) => want(p.name));

  if (header.format === 'ascii') return readAscii(bytes, header, vi, wanted, file);

  const little = header.format === 'binary_little_endian';
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // walk every element: the vertex data's offset, and the body must end exactly at the end of the file
  let end = header.bodyOffset;
  let off = -1;
  for (let e = 0; e < header.elements.length; e++) {
    if (e === vi) off = end;
    end = skipBinaryElement(dv, end, header.elements[e], little, file);
  }
  const row = vertex.properties.reduce((s, p) => s + TYPE_SIZE[p.type], 0);
  if (end < bytes.length)
    throw new UserError(
      `the PLY body is ${bytes.length - end} bytes longer than its header declares (${n} vertices of ${row} bytes${header.elements.length > 1 ? ' plus the other elements' : ''}): a property line missing from the header, or a corrupt file`,
      file,
    );
  const columns = new Map<string, Float32Array>();
  const cols: (Float32Array | null)[] = vertex.properties.map((p, j) => {
    if (!wanted[j]) return null;
    const c = new Float32Array(n);
    columns.set(p.name, c);
    return c;
  });
  const offs: number[] = [];
  let acc = 0;
  for (const p of vertex.properties) {
    offs.push(acc);
    acc += TYPE_SIZE[p.type];
  }
  for (let j = 0; j < vertex.properties.length; j++) {
    const c = cols[j];
    if (!c) continue;
    const t = vertex.properties[j].type;
    let o = off + offs[j];
    for (let i = 0; i < n; i++, o += row) c[i] = readScalar(dv, o, t, little);
  }
  return { header, count: n, columns };
}

export function readScalar(dv: DataView, o: number, t: PlyType, little: boolean): number {
  switch (t) {
    case 'float32':
      return dv.getFloat32(o, little);
    case 'float64':
      return dv.getFloat64(o, little);
    case 'uint8':
      return dv.getUint8(o);
    case 'int8':
      return dv.getInt8(o);
    case 'int16':
      return dv.getInt16(o, little);
    case 'uint16':
      return dv.getUint16(o, little);
    case 'int32':
      return dv.getInt32(o, little);
    case 'uint32':
      return dv.getUint32(o, little);
  }
}

function skipBinaryElement(dv: DataView, off: number, el: PlyElement, little: boolean, file: string): number {
  const fixed = el.properties.every((p) => !p.listCount);
  if (fixed) {
    const row = el.properties.reduce((s, p) => s + TYPE_SIZE[p.type], 0);
    if (el.count * row > dv.byteLength - off)
      throw new UserError(
        `PLY header promises ${el.count} ${el.name === 'vertex' ? 'vertices' : `'${el.name}' elements`} (${el.count * row} bytes) but the file holds only ${dv.byteLength - off} bytes for them (truncated file?)`,
        file,
      );
    return off + el.count * row;
  }
  for (let i = 0; i < el.count; i++)
    for (const p of el.properties) {
      if (p.listCount) {
        if (off + TYPE_SIZE[p.listCount] > dv.byteLength)
          throw new UserError(`PLY element '${el.name}' extends past the end of the file (truncated file?)`, file);
        const k = readScalar(dv, off, p.listCount, little);
        if (k < 0) throw new UserError(`PLY element '${el.name}' ${i}: negative list length ${k}`, file);
        off += TYPE_SIZE[p.listCount] + k * TYPE_SIZE[p.type];
      } else off += TYPE_SIZE[p.type];
      if (off > dv.byteLength) throw new UserError(`PLY element '${el.name}' extends past the end of the file (truncated file?)`, file);
    }
  return off;
}

const INT_RANGE: Partial<Record<PlyType, [number, number]>> = {
  int8: [-128, 127],
  uint8: [0, 255],
  int16: [-32768, 32767],
  uint16: [0, 65535],
  int32: [-2147483648, 2147483647],
  uint32: [0, 4294967295],
};
const ASCII_NUMBER = /^[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?|nan|inf|infinity)$/i;

function readAscii(bytes: Uint8Array, header: PlyHeader, vi: number, wanted: boolean[], file: string): PlyColumns {
  const vertex = header.elements[vi];
  const np = vertex.properties.length;
  const n = vertex.count;
  // every value takes at least 2 bytes (a digit and a separator): reject lying headers before allocating
  const avail = bytes.length - header.bodyOffset;
  if (n * np * 2 > avail + 1)
    throw new UserError(
      `PLY header promises ${n} vertices but the file holds only ${avail} bytes of text after the header (truncated file?)`,
      file,
    );
  let pos = header.bodyOffset;
  const len = bytes.length;
  const nextToken = (): string | null => {
    while (pos < len && (bytes[pos] === 0x20 || bytes[pos] === 0x0a || bytes[pos] === 0x0d || bytes[pos] === 0x09)) pos++;
    if (pos >= len) return null;
    const s = pos;
    while (pos < len && bytes[pos] !== 0x20 && bytes[pos] !== 0x0a && bytes[pos] !== 0x0d && bytes[pos] !== 0x09) pos++;
    if (pos - s > 64) return '\u0000'; // no number is this long
    let t = '';
    for (let i = s; i < pos; i++) t += String.fromCharCode(bytes[i]);
    return t;
  };
  const num = (type: PlyType, what: string): number => {
    const t = nextToken();
    if (t === null) throw new UserError(`PLY body ends early (${what}; truncated file?)`, file);
    if (!ASCII_NUMBER.test(t))
      throw new UserError(`PLY body: '${t.slice(0, 20).replace(/[^\x20-\x7e]/g, '?')}' is not a number (${what})`, file);
    const v = /^[-+]?nan$/i.test(t) ? NaN : /inf/i.test(t) ? (t.startsWith('-') ? -Infinity : Infinity) : Number(t);
    const r = INT_RANGE[type];
    if (r && !(Number.isInteger(v) && v >= r[0] && v <= r[1]))
      throw new UserError(`PLY body: ${t.slice(0, 20)} does not fit the property's type ${type} (${what})`, file);
    return v;
  };
  const skipElement = (el: PlyElement) => {
    if (!el.properties.length) return; // no values, whatever the count
    for (let i = 0; i < el.count; i++)
      for (const p of el.properties) {
        if (p.listCount) {
          const k = num(p.listCount, `${el.name} ${i}`);
          if (k < 0) throw new UserError(`PLY body: bad list length in element ${el.name}`, file);
          for (let j = 0; j < k; j++) num(p.type, `${el.name} ${i}`);
        } else num(p.type, `${el.name} ${i}`);
      }
  };
  for (let e = 0; e < vi; e++) skipElement(header.elements[e]);
  const columns = new Map<string, Float32Array>();
  const cols = vertex.properties.map((p, j) => {
    if (!wanted[j]) return null;
    const c = new Float32Array(n);
    columns.set(p.name, c);
    return c;
  });
  for (let i = 0; i < n; i++)
    for (let j = 0; j < np; j++) {
      const v = num(vertex.properties[j].type, `vertex ${i} of ${n}`);
      const c = cols[j];
      if (c) c[i] = v;
    }
  for (let e = vi + 1; e < header.elements.length; e++) skipElement(header.elements[e]);
  if (nextToken() !== null)
    throw new UserError(
      'the PLY body holds more values than its header declares: a property line missing from the header, or a corrupt file',
      file,
    );
  return { header, count: n, columns };
}

function clampInfinite(col: Float32Array | undefined, inf: number, to: number): void {
  if (col) for (let i = 0; i < col.length; i++) if (col[i] === inf) col[i] = to;
}

function requireFinite(col: Float32Array | undefined, name: string, file: string): void {
  if (!col) return;
  for (let i = 0; i < col.length; i++)
    if (!Number.isFinite(col[i])) throw new UserError(`vertex ${i}: property ${name} is ${col[i]} (not a finite number)`, file);
}

/** Points (and colours when present) of any PLY point cloud (colmap/nerfstudio `sparse_pc.ply`, or a 3DGS file). */
export function readPointCloud(bytes: Uint8Array, file: string): { count: number; xyz: Float32Array; rgb: Float32Array | null } {
  const pc = readPlyVertices(bytes, file, (n) =>
    ['x', 'y', 'z', 'red', 'green', 'blue', 'r', 'g', 'b', 'f_dc_0', 'f_dc_1', 'f_dc_2'].includes(n),
  );
  const c = pc.columns;
  for (const k of ['x', 'y', 'z']) if (!c.has(k)) throw new UserError(`PLY vertex element has no '${k}' property`, file);
  const n = pc.count;
  const xyz = new Float32Array(n * 3);
  for (const [a, k] of ['x', 'y', 'z'].entries()) {
    const col = c.get(k)!;
    requireFinite(col, k, file);
    for (let i = 0; i < n; i++) {
      if (Math.abs(col[i]) > GAUSSIAN_RANGES.position)
        throw new UserError(`vertex ${i}: ${k} = ${col[i]} is beyond ±${GAUSSIAN_RANGES.position} (corrupt?)`, file);
      xyz[3 * i + a] = col[i];
    }
  }
  let rgb: Float32Array | null = null;
  const names = c.has('red')
    ? ['red', 'green', 'blue']
    : c.has('r')
      ? ['r', 'g', 'b']
      : c.has('f_dc_0')
        ? ['f_dc_0', 'f_dc_1', 'f_dc_2']
        : null;
  if (names && names.every((k) => c.has(k))) {
    rgb = new Float32Array(n * 3);
    const vprops = pc.header.elements.find((e) => e.name === 'vertex')!.properties;
    names.forEach((k, a) => {
      const col = c.get(k)!;
      const t = vprops.find((p) => p.name === k)!.type;
      const scale = k.startsWith('f_dc') ? -1 : t === 'uint8' ? 1 / 255 : t === 'uint16' ? 1 / 65535 : 1;
      for (let i = 0; i < n; i++) {
        const v = scale < 0 ? 0.5 + SH_C0 * col[i] : col[i] * scale;
        rgb![3 * i + a] = Number.isFinite(v) ? Math.min(1, Math.max(0, v)) : 0.5;
      }
    });
  }
  return { count: n, xyz, rgb };
}

const SH_K = [1, 4, 9, 16];

/**
 * Reads a 3DGS `.ply` into Gaussians. Requires x y z; f_dc (or red/green/blue), opacity, scale_* and rot_*
 * default sensibly when missing (colour grey, opacity 0.9, isotropic scale from neighbour distances,
 * identity rotation), so that plain point clouds load too.
 */
export function readGaussianPly(bytes: Uint8Array, file: string): Gaussians {
  const pc = readPlyVertices(bytes, file, (n) => /^(x|y|z|f_dc_[0-2]|f_rest_\d+|opacity|scale_[0-2]|rot_[0-3]|red|green|blue)$/.test(n));
  const c = pc.columns,
    n = pc.count;
  for (const k of ['x', 'y', 'z']) if (!c.has(k)) throw new UserError(`PLY vertex element has no '${k}' property`, file);
  // +∞ opacity (fully opaque) and −∞ log scale (flat) are values splat-transform writes on purpose, e.g. when it
  // decodes an alpha byte of 255: clamp them to finite extremes; NaN and the other infinities stay errors
  clampInfinite(c.get('opacity'), Infinity, 30);
  for (const k of ['scale_0', 'scale_1', 'scale_2']) clampInfinite(c.get(k), -Infinity, -30);
  for (const [name, col] of c) requireFinite(col, name, file);
  // SH bands from the f_rest count
  let rest = 0;
  while (c.has(`f_rest_${rest}`)) rest++;
  for (const name of c.keys()) {
    const m = /^f_rest_(\d+)$/.exec(name);
    if (m && Number(m[1]) >= rest)
      throw new UserError(`f_rest properties are not numbered 0..N−1 (found ${name} but not f_rest_${rest})`, file);
  }
  const K = rest / 3 + 1;
  const deg = SH_K.indexOf(K);
  if (deg < 0) throw new UserError(`${rest} f_rest properties: expected 0, 9, 24 or 45 (SH degree 0–3)`, file);
  const g = createGaussians(n, deg);
  const x = c.get('x')!,
    y = c.get('y')!,
    z = c.get('z')!;
  for (let i = 0; i < n; i++) {
    g.means[3 * i] = x[i];
    g.means[3 * i + 1] = y[i];
    g.means[3 * i + 2] = z[i];
  }
  if (c.has('f_dc_0') && c.has('f_dc_1') && c.has('f_dc_2')) {
    for (let a = 0; a < 3; a++) {
      const col = c.get(`f_dc_${a}`)!;
      for (let i = 0; i < n; i++) g.sh[i * SH_STRIDE + a] = col[i];
    }
  } else if (c.has('red') && c.has('green') && c.has('blue')) {
    const vprops = pc.header.elements.find((e) => e.name === 'vertex')!.properties;
    ['red', 'green', 'blue'].forEach((k, a) => {
      const col = c.get(k)!;
      const scale = vprops.find((p) => p.name === k)!.type === 'uint8' ? 1 / 255 : 1;
      for (let i = 0; i < n; i++) g.sh[i * SH_STRIDE + a] = (col[i] * scale - 0.5) / SH_C0;
    });
  }
  for (let j = 0; j < rest; j++) {
    const col = c.get(`f_rest_${j}`)!;
    const ch = Math.floor(j / (K - 1)),
      k = 1 + (j % (K - 1));
    for (let i = 0; i < n; i++) g.sh[i * SH_STRIDE + 3 * k + ch] = col[i];
  }
  const op = c.get('opacity');
  if (op) g.opacityLogits.set(op);
  else g.opacityLogits.fill(logit(0.9));
  if (c.has('scale_0') && c.has('scale_1') && c.has('scale_2')) {
    for (let a = 0; a < 3; a++) {
      const col = c.get(`scale_${a}`)!;
      for (let i = 0; i < n; i++) g.logScales[3 * i + a] = col[i];
    }
  } else {
    if (c.has('scale_0') || c.has('scale_1') || c.has('scale_2')) throw new UserError('PLY has some but not all of scale_0..2', file);
    const d = knnMeanDistance(g.means, n, 3);
    for (let i = 0; i < n; i++) {
      const s = Math.log(Math.max(d[i], 1e-7));
      g.logScales[3 * i] = s;
      g.logScales[3 * i + 1] = s;
      g.logScales[3 * i + 2] = s;
    }
  }
  if (c.has('rot_0') && c.has('rot_1') && c.has('rot_2') && c.has('rot_3')) {
    const r = [0, 1, 2, 3].map((a) => c.get(`rot_${a}`)!);
    for (let i = 0; i < n; i++) {
      const w = r[0][i],
        qx = r[1][i],
        qy = r[2][i],
        qz = r[3][i];
      const l = Math.hypot(w, qx, qy, qz);
      if (!(l > 0)) throw new UserError(`vertex ${i}: rotation quaternion is zero`, file);
      g.rotations[4 * i] = w / l;
      g.rotations[4 * i + 1] = qx / l;
      g.rotations[4 * i + 2] = qy / l;
      g.rotations[4 * i + 3] = qz / l;
    }
  } else if (c.has('rot_0') || c.has('rot_1') || c.has('rot_2') || c.has('rot_3'))
    throw new UserError('PLY has some but not all of rot_0..3', file);
  checkGaussiansFinite(g, file);
  return g;
}

/**
 * What writers do before encoding: non-finite parameters are an error (never written), and log-scales are
 * clamped into GAUSSIAN_RANGES.logScale (a scale below e^−30 or above e^20 renders the same) so that every
 * file we write reads back.
 */
export function writableLogScale(g: Gaussians, j: number): number {
  const v = g.logScales[j];
  if (!Number.isFinite(v)) throw new UserError(`cannot write Gaussian ${Math.floor(j / 3)}: its log-scale is ${v}`);
  return Math.min(GAUSSIAN_RANGES.logScale[1], Math.max(GAUSSIAN_RANGES.logScale[0], v));
}

/** Throws a UserError when a Gaussian about to be written has a non-finite parameter. */
export function checkWritable(g: Gaussians): void {
  for (const [name, arr, k] of [
    ['position', g.means, 3],
    ['rotation', g.rotations, 4],
    ['opacity', g.opacityLogits, 1],
    ['colour', g.sh, SH_STRIDE],
  ] as const)
    for (let j = 0; j < g.count * k; j++)
      if (!Number.isFinite(arr[j]))
        throw new UserError(`cannot write Gaussian ${Math.floor(j / k)}: its ${name} is ${arr[j]} (the scene is corrupt)`);
}

export interface WritePlyOptions {
  format?: 'binary' | 'ascii';
  /** SH degree written (default: the Gaussians' active degree) */
  shDegree?: number;
  /** write nx ny nz (zeros), as the INRIA files do (default true) */
  normals?: boolean;
}

/** The INRIA 3DGS `.ply` of a set of Gaussians (binary little-endian by default). */
export function writeGaussianPly(g: Gaussians, opts: WritePlyOptions = {}): Uint8Array {
  const deg = Math.max(0, Math.min(3, opts.shDegree ?? g.shDegree));
  const K = SH_K[deg];
  const normals = opts.normals ?? true;
  const props = ['x', 'y', 'z'];
  if (normals) props.push('nx', 'ny', 'nz');
  props.push('f_dc_0', 'f_dc_1', 'f_dc_2');
  for (let j = 0; j < 3 * (K - 1); j++) props.push(`f_rest_${j}`);
  props.push('opacity', 'scale_0', 'scale_1', 'scale_2', 'rot_0', 'rot_1', 'rot_2', 'rot_3');
  const n = g.count,
    np = props.length;
  checkWritable(g);
  const ascii = opts.format === 'ascii';
  const header =
    `ply\nformat ${ascii ? 'ascii' : 'binary_little_endian'} 1.0\ncomment written by instruct-scene\nelement vertex ${n}\n` +
    props.map((p) => `property float ${p}\n`).join('') +
    'end_header\n';
  const row = new Float32Array(np);
  const fill = (i: number) => {
    let o = 0;
    row[o++] = g.means[3 * i];
    row[o++] = g.means[3 * i + 1];
    row[o++] = g.means[3 * i + 2];
    if (normals) {
      row[o++] = 0;
      row[o++] = 0;
      row[o++] = 0;
    }
    const so = i * SH_STRIDE;
    row[o++] = g.sh[so];
    row[o++] = g.sh[so + 1];
    row[o++] = g.sh[so + 2];
    for (let ch = 0; ch < 3; ch++) for (let k = 1; k < K; k++) row[o++] = g.sh[so + 3 * k + ch];
    row[o++] = g.opacityLogits[i];
    row[o++] = writableLogScale(g, 3 * i);
    row[o++] = writableLogScale(g, 3 * i + 1);
    row[o++] = writableLogScale(g, 3 * i + 2);
    for (let a = 0; a < 4; a++) row[o++] = g.rotations[4 * i + a];
  };
  const head = new TextEncoder().encode(header);
  if (ascii) {
    const lines: string[] = [];
    for (let i = 0; i < n; i++) {
      fill(i);
      lines.push(Array.from(row, (v) => String(v)).join(' '));
    }
    const body = new TextEncoder().encode(lines.join('\n') + (n ? '\n' : ''));
    const out = new Uint8Array(head.length + body.length);
    out.set(head);
    out.set(body, head.length);
    return out;
  }
  const out = new Uint8Array(head.length + n * np * 4);
  out.set(head);
  const dv = new DataView(out.buffer, head.length);
  for (let i = 0; i < n; i++) {
    fill(i);
    for (let j = 0; j < np; j++) dv.setFloat32((i * np + j) * 4, row[j], true);
  }
  return out;
}
