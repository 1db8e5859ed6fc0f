/**
 * Moves large initializers of a serialised model into an external data file (what exporters do for models
 * over 2 GB, and what browsers need: no single ArrayBuffer or protobuf over ~2 GB). Everything else is copied
 * field by field.
 */
import { ProtoWriter, readFields } from './proto';

export function externalizeModel(model: Uint8Array, location: string, minBytes = 1024): { model: Uint8Array; data: Uint8Array } {
  const parts: Uint8Array[] = [];
  let offset = 0;
  const rewriteTensor = (t: Uint8Array): Uint8Array => {
    const fields = [...readFields(t)];
    const raw = fields.find((f) => f.field === 9 && f.wire === 2);
    if (!raw || raw.bytes!.length < minBytes) return t;
    const pad = (64 - (offset % 64)) % 64;
    if (pad) parts.push(new Uint8Array(pad));
    offset += pad;
    const w = new ProtoWriter();
    for (const f of fields) if (f !== raw) w.raw(f);
    const entry = (k: string, v: string) => new ProtoWriter().string(1, k).string(2, v);
    w.message(13, entry('location', location))
      .message(13, entry('offset', String(offset)))
      .message(13, entry('length', String(raw.bytes!.length)));
    w.int(14, 1);
    parts.push(raw.bytes!.slice());
    offset += raw.bytes!.length;
    return w.finish();
  };
  const out = new ProtoWriter();
  for (const f of readFields(model)) {
    if (f.field !== 7 || f.wire !== 2) {
      out.raw(f);
      continue;
    }
    const g = new ProtoWriter();
    for (const gf of readFields(f.bytes!)) {
      if (gf.field === 5 && gf.wire === 2) g.bytes(5, rewriteTensor(gf.bytes!));
      else g.raw(gf);
    }
    out.message(7, g);
  }
  const data = new Uint8Array(offset);
  let o = 0;
  for (const p of parts) {
    data.set(p, o);
    o += p.length;
  }
  return { model: out.finish(), data };
}
