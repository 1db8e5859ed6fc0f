/**
 * A parser of protocol buffers' text format (what Triton reads config.pbtxt with) and a checker against the part of
 * Triton's ModelConfig message (model_config.proto) that model repositories for ONNX models use: unknown fields,
 * wrong value kinds, unknown enum values and a non-repeated field given twice are errors, as in protobuf's parser.
 */

export type PbValue = string | number | { enum: string } | PbMessage;
export interface PbMessage {
  [field: string]: PbValue[];
}

type Tok = { k: 'id' | 'num' | 'str' | 'p'; v: string; at: number };

function tokenize(src: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    if (/\s/.test(c)) i++;
    else if (c === '#') while (i < src.length && src[i] !== '\n') i++;
    else if ('{}[]:,;<>'.includes(c)) out.push({ k: 'p', v: c, at: i++ });
    else if (c === '"' || c === "'") {
      let j = i + 1,
        s = '';
      while (j < src.length && src[j] !== c) {
        if (src[j] === '\\') {
          s += src[j + 1];
          j += 2;
        } else s += src[j++];
      }
      if (j >= src.length) throw new Error(`unterminated string at ${i}`);
      out.push({ k: 'str', v: s, at: i });
      i = j + 1;
    } else if (/[-+0-9.]/.test(c)) {
      const m = /^[-+]?(\d+\.?\d*([eE][-+]?\d+)?|\.\d+)/.exec(src.slice(i));
      if (!m) throw new Error(`bad number at ${i}`);
      out.push({ k: 'num', v: m[0], at: i });
      i += m[0].length;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i))!;
      out.push({ k: 'id', v: m[0], at: i });
      i += m[0].length;
    } else throw new Error(`unexpected character '${c}' at ${i}`);
  }
  return out;
}

/** Parses a text-format message into field → values (every field a list, repeated or not). */
export function parsePbtxt(src: string): PbMessage {
  const t = tokenize(src);
  let p = 0;
  const peek = () => t[p];
  const eat = (v?: string) => {
    const x = t[p++];
    if (!x || (v !== undefined && x.v !== v)) throw new Error(`expected '${v ?? 'a token'}' at ${x?.at ?? 'end'}, got '${x?.v ?? 'end'}'`);
    return x;
  };
  const scalar = (): PbValue => {
    const x = eat();
    if (x.k === 'str') return x.v;
    if (x.k === 'num') return Number(x.v);
    if (x.k === 'id') return { enum: x.v };
    throw new Error(`expected a value at ${x.at}, got '${x.v}'`);
  };
  const value = (): PbValue => (peek()?.v === '{' || peek()?.v === '<' ? message(true) : scalar());
  const message = (braced: boolean): PbMessage => {
    const m: PbMessage = {};
    let close = '';
    if (braced) close = eat().v === '{' ? '}' : '>';
    while (p < t.length && !(braced && peek().v === close)) {
      const name = eat();
      if (name.k !== 'id') throw new Error(`expected a field name at ${name.at}, got '${name.v}'`);
      let colon = false;
      if (peek()?.v === ':') {
        eat(':');
        colon = true;
      }
      const vals: PbValue[] = [];
      if (peek()?.v === '[') {
        eat('[');
        while (peek()?.v !== ']') {
          vals.push(value());
          if (peek()?.v === ',') eat(',');
          else if (peek()?.v !== ']') throw new Error(`expected ',' or ']' at ${peek()?.at}`);
        }
        eat(']');
      } else if (peek()?.v === '{' || peek()?.v === '<') vals.push(message(true));
      else if (colon) vals.push(scalar());
      else throw new Error(`field '${name.v}' at ${name.at} has no value`);
      (m[name.v] ??= []).push(...vals);
      if (peek()?.v === ',' || peek()?.v === ';') eat();
    }
    if (braced) eat(close);
    return m;
  };
  return message(false);
}

type Kind = 'string' | 'int' | 'bool' | { enum: string[] } | { message: string };
interface FieldSpec {
  kind: Kind;
  repeated?: boolean;
}

const DATA_TYPES = [
  'TYPE_INVALID',
  'TYPE_BOOL',
  'TYPE_UINT8',
  'TYPE_UINT16',
  'TYPE_UINT32',
  'TYPE_UINT64',
  'TYPE_INT8',
  'TYPE_INT16',
  'TYPE_INT32',
  'TYPE_INT64',
  'TYPE_FP16',
  'TYPE_FP32',
  'TYPE_FP64',
  'TYPE_STRING',
  'TYPE_BF16',
];

/** The fields of Triton's ModelConfig (and the messages under it) that ONNX model repositories use. */
export const TRITON_SCHEMA: Record<string, Record<string, FieldSpec>> = {
  ModelConfig: {
    name: { kind: 'string' },
    platform: { kind: 'string' },
    backend: { kind: 'string' },
    max_batch_size: { kind: 'int' },
    input: { kind: { message: 'ModelInput' }, repeated: true },
    output: { kind: { message: 'ModelOutput' }, repeated: true },
    dynamic_batching: { kind: { message: 'ModelDynamicBatching' } },
    instance_group: { kind: { message: 'ModelInstanceGroup' }, repeated: true },
    default_model_filename: { kind: 'string' },
  },
  ModelInput: {
    name: { kind: 'string' },
    data_type: { kind: { enum: DATA_TYPES } },
    format: { kind: { enum: ['FORMAT_NONE', 'FORMAT_NHWC', 'FORMAT_NCHW'] } },
    dims: { kind: 'int', repeated: true },
    reshape: { kind: { message: 'ModelTensorReshape' } },
    allow_ragged_batch: { kind: 'bool' },
    optional: { kind: 'bool' },
  },
  ModelOutput: {
    name: { kind: 'string' },
    data_type: { kind: { enum: DATA_TYPES } },
    dims: { kind: 'int', repeated: true },
    reshape: { kind: { message: 'ModelTensorReshape' } },
    label_filename: { kind: 'string' },
  },
  ModelTensorReshape: { shape: { kind: 'int', repeated: true } },
  ModelDynamicBatching: {
    preferred_batch_size: { kind: 'int', repeated: true },
    max_queue_delay_microseconds: { kind: 'int' },
    preserve_ordering: { kind: 'bool' },
  },
  ModelInstanceGroup: {
    name: { kind: 'string' },
    kind: { kind: { enum: ['KIND_AUTO', 'KIND_GPU', 'KIND_CPU', 'KIND_MODEL'] } },
    count: { kind: 'int' },
    gpus: { kind: 'int', repeated: true },
  },
};

/** Problems of a parsed message against `type` of the schema (empty: it fits). */
export function checkMessage(m: PbMessage, type = 'ModelConfig', path = ''): string[] {
  const spec = TRITON_SCHEMA[type];
  const problems: string[] = [];
  for (const [field, vals] of Object.entries(m)) {
    const f = spec[field];
    const where = `${path}${field}`;
    if (!f) {
      problems.push(`${where}: no such field in ${type}`);
      continue;
    }
    if (!f.repeated && vals.length > 1) problems.push(`${where}: given ${vals.length} times, not a repeated field`);
    for (const v of vals) {
      const k = f.kind;
      if (k === 'string') {
        if (typeof v !== 'string') problems.push(`${where}: expected a string`);
      } else if (k === 'int') {
        if (typeof v !== 'number' || !Number.isInteger(v)) problems.push(`${where}: expected an integer`);
      } else if (k === 'bool') {
        if (!(typeof v === 'object' && 'enum' in v && (v.enum === 'true' || v.enum === 'false')))
          problems.push(`${where}: expected true/false`);
      } else if ('enum' in k) {
        if (!(typeof v === 'object' && 'enum' in v && typeof v.enum === 'string' && k.enum.includes(v.enum)))
          problems.push(`${where}: expected one of ${k.enum.join(', ')}`);
      } else if (typeof v !== 'object' || 'enum' in v) problems.push(`${where}: expected a ${k.message} message`);
      else problems.push(...checkMessage(v as PbMessage, k.message, `${where}.`));
    }
  }
  return problems;
}
