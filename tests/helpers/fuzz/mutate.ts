import { Rng } from '../../../src/core/rng';

/**
 * Seeded mutations of valid inputs, as a hostile user or a broken disk would make them. Each case applies one
 * to three operators; the same seed always gives the same bytes.
 *
 * binary: bit flips, interesting bytes, interesting 32-bit integers and floats (little or big endian) written
 *         over the data, truncation, extension, deletion, duplication and insertion of ranges; files with a
 *         text header (PLY) also get the text operators on their header.
 * text:   numbers replaced by interesting ones (1e308, -1, 0x10, NaN, 2^53+1, …), lines deleted, duplicated
 *         or swapped, and the byte operators.
 * json:   the text operators, plus structural edits of a random value: deleted, set to null / a string /
 *         an array / an object / a huge or negative number / a 100k-character string / a 10,000-deep array /
 *         an absolute or escaping path, array elements duplicated.
 */
export type SeedKind = 'binary' | 'text' | 'json';

const BYTES = [0x00, 0xff, 0x7f, 0x80, 0x01, 0x0a, 0x0d, 0x20, 0x2e];
const U32 = [0, 1, 2, 0x7f, 0xff, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff, 0x01000000, 1 << 20];
const F32 = [NaN, Infinity, -Infinity, 0, -0, 1e30, -1e30, 3.4e38, -3.4e38, 1e-45, 1e-30, 65504, -1, 1e8];
const NUMBERS = [
  '1e308',
  '-1e308',
  '0',
  '-0',
  '-1',
  '-5',
  '1e-320',
  '9007199254740993',
  '0x10',
  'NaN',
  'Infinity',
  '1.5',
  '4294967296',
  '99999999999',
  '1e30',
  '2147483648',
  '00',
  '',
];
const STRINGS = [
  '/etc/passwd',
  '/dev/zero',
  '../../../etc/passwd',
  '..',
  '',
  'a\u0000b',
  'C:\\x',
  'x'.repeat(100_000),
  'r\u00e9d\n\u001b[31m',
];

export function mutateBytes(input: Uint8Array, kind: SeedKind, rng: Rng): Uint8Array {
  let b: Uint8Array = input.slice();
  const ops = 1 + rng.int(3);
  for (let k = 0; k < ops; k++) {
    if (kind === 'json' && rng.next() < 0.5) {
      const t = mutateJson(new TextDecoder().decode(b), rng);
      if (t !== null) {
        b = new TextEncoder().encode(t);
        continue;
      }
    }
    if ((kind === 'text' || kind === 'json') && rng.next() < 0.6) {
      b = new TextEncoder().encode(mutateText(new TextDecoder().decode(b), rng));
      continue;
    }
    if (kind === 'binary' && rng.next() < 0.25) {
      // a text header (PLY): mutate it as text
      const end = findHeaderEnd(b);
      if (end > 0) {
        const head = mutateText(new TextDecoder('latin1').decode(b.subarray(0, end)), rng);
        const hb = Uint8Array.from(head, (c) => c.charCodeAt(0) & 0xff);
        const out = new Uint8Array(hb.length + b.length - end);
        out.set(hb);
        out.set(b.subarray(end), hb.length);
        b = out;
        continue;
      }
    }
    b = byteOp(b, rng);
  }
  return b;
}

function findHeaderEnd(b: Uint8Array): number {
  if (!(b[0] === 0x70 && b[1] === 0x6c && b[2] === 0x79)) return -1; // "ply"
  const limit = Math.min(b.length, 1 << 16);
  const text = new TextDecoder('latin1').decode(b.subarray(0, limit));
  const i = text.indexOf('end_header\n');
  return i < 0 ? -1 : i + 11;
}

function byteOp(b: Uint8Array, rng: Rng): Uint8Array {
  const n = b.length;
  const at = () => rng.int(Math.max(1, n));
  const op = rng.int(10);
  switch (op) {
    case 0: {
      if (!n) return b;
      const flips = 1 + rng.int(8);
      for (let i = 0; i < flips; i++) b[at()] ^= 1 << rng.int(8);
      return b;
    }
    case 1: {
      if (!n) return b;
      b[at()] = rng.next() < 0.7 ? BYTES[rng.int(BYTES.length)] : rng.int(256);
      return b;
    }
    case 2:
    case 3: {
      if (n < 4) return b;
      let o = rng.int(n - 3);
      if (rng.next() < 0.6) o &= ~3;
      const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
      const little = rng.next() < 0.75;
      if (op === 2) dv.setUint32(o, U32[rng.int(U32.length)] >>> 0, little);
      else dv.setFloat32(o, F32[rng.int(F32.length)], little);
      return b;
    }
    case 4:
      return b.slice(0, at());
    case 5: {
      const extra = new Uint8Array(1 + rng.int(64));
      if (rng.next() < 0.5) for (let i = 0; i < extra.length; i++) extra[i] = rng.int(256);
      return concat(b, extra);
    }
    case 6: {
      const s = at(),
        e = Math.min(n, s + 1 + rng.int(64));
      return concat(b.subarray(0, s), b.subarray(e));
    }
    case 7: {
      const s = at(),
        e = Math.min(n, s + 1 + rng.int(256));
      return concat(b.subarray(0, e), b.subarray(s, e), b.subarray(e));
    }
    case 8: {
      const ins = new Uint8Array(1 + rng.int(16));
      for (let i = 0; i < ins.length; i++) ins[i] = rng.int(256);
      const s = at();
      return concat(b.subarray(0, s), ins, b.subarray(s));
    }
    default:
      return b.slice(0, rng.int(Math.min(n, 64) + 1)); // very short
  }
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function mutateText(t: string, rng: Rng): string {
  const op = rng.int(4);
  if (op <= 1) {
    const re = /-?\d+(\.\d+)?([eE][-+]?\d+)?/g;
    const spans: [number, number][] = [];
    for (let m = re.exec(t); m && spans.length < 100_000; m = re.exec(t)) spans.push([m.index, m.index + m[0].length]);
    if (spans.length) {
      const [s, e] = spans[rng.int(spans.length)];
      return t.slice(0, s) + NUMBERS[rng.int(NUMBERS.length)] + t.slice(e);
    }
  }
  const lines = t.split('\n');
  if (lines.length < 2) return t + NUMBERS[rng.int(NUMBERS.length)];
  const i = rng.int(lines.length),
    j = rng.int(lines.length);
  if (op === 2) lines.splice(i, 1);
  else if (rng.next() < 0.5) lines.splice(i, 0, lines[j]);
  else [lines[i], lines[j]] = [lines[j], lines[i]];
  return lines.join('\n');
}

function mutateJson(text: string, rng: Rng): string | null {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  // all (parent, key) slots
  const slots: [any, string | number][] = [];
  const walk = (x: any, depth: number) => {
    if (depth > 8 || slots.length > 20_000) return;
    if (Array.isArray(x))
      x.forEach((y, i) => {
        slots.push([x, i]);
        walk(y, depth + 1);
      });
    else if (x && typeof x === 'object')
      for (const k of Object.keys(x)) {
        slots.push([x, k]);
        walk(x[k], depth + 1);
      }
  };
  walk(v, 0);
  if (!slots.length) return null;
  const [parent, key] = slots[rng.int(slots.length)];
  const cur = parent[key];
  const op = rng.int(12);
  if (op === 0) {
    if (Array.isArray(parent)) parent.splice(key as number, 1);
    else delete parent[key];
  } else if (op === 1) parent[key] = null;
  else if (op === 2) parent[key] = typeof cur === 'string' ? STRINGS[rng.int(STRINGS.length)] : 'x';
  else if (op === 3) parent[key] = [];
  else if (op === 4) parent[key] = {};
  else if (op === 5) parent[key] = [1e308, -1e308, 0, -1, 2 ** 53 + 2, 1e-320][rng.int(6)];
  else if (op === 6) parent[key] = typeof cur === 'number' ? -cur : 0;
  else if (op === 7) parent[key] = STRINGS[rng.int(STRINGS.length)];
  else if (op === 8) parent[key] = DEEP;
  else if (op === 9 && Array.isArray(parent)) parent.splice(key as number, 0, parent[key as number]);
  else if (op === 10 && Array.isArray(cur)) parent[key] = cur.concat(cur);
  else parent[key] = typeof cur === 'number' ? cur * [10, 1e10, 1e300, 0.5, -1][rng.int(5)] : true;
  try {
    return JSON.stringify(v).replace(`"${DEEP}"`, '['.repeat(10_000) + ']'.repeat(10_000));
  } catch {
    return null; // already too deep to re-serialise: leave it to the byte operators
  }
}

const DEEP = '@@deep-array@@';

/** What can stand where a file should be (a named pipe, a device, a folder, an escaping symlink). */
export type FsMutation = 'fifo' | 'dev-zero' | 'folder' | 'empty' | 'dangling' | 'etc-passwd';
export const FS_MUTATIONS: FsMutation[] = ['fifo', 'dev-zero', 'folder', 'empty', 'dangling', 'etc-passwd'];
