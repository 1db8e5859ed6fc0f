/**
 * `instruct-scene serve` against a client written here from the Open Inference Protocol (KServe v2 REST) and
 * Triton's binary tensor data extension — not the project's client: health, metadata, JSON and binary inference
 * for the four models (outputs equal onnxruntime-node run directly on the model files), pipeline_config, errors
 * (each a JSON {"error"} with its status; the server keeps serving), CORS, request limits and a clean stop.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from 'node:net';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { unzipSync } from 'fflate';
import { Rng } from '../src/core/rng';
import { startServe, type ServeProcess } from './helpers/serve';
import { modelFolder } from './helpers/ip2p-models';

const BUILTIN = join(__dirname, '../models/builtin');
let srv: ServeProcess;
let small: ServeProcess;
let half: ServeProcess;
let halfDir = '';
const ORIGIN = 'http://127.0.0.1:5173';

beforeAll(async () => {
  halfDir = await modelFolder({ fp16: true });
  [srv, small, half] = await Promise.all([
    startServe(['--model', 'builtin', '--cors', ORIGIN, '--json']),
    startServe(['--model', 'builtin', '--max-request-mb', '1', '--model-prefix', 'ip2p', '--quiet']),
    startServe(['--model', halfDir, '--quiet']),
  ]);
}, 120_000);

afterAll(async () => {
  await Promise.all([srv?.stop(), small?.stop(), half?.stop()]);
});

interface Reply {
  status: number;
  headers: Headers;
  body: Buffer;
  json(): any;
}

async function call(
  base: string,
  method: string,
  path: string,
  body?: Buffer | string,
  headers: Record<string, string> = {},
): Promise<Reply> {
  const r = await fetch(base + path, { method, body: body as BodyInit | undefined, headers });
  const b = Buffer.from(await r.arrayBuffer());
  return { status: r.status, headers: r.headers, body: b, json: () => JSON.parse(b.toString('utf8')) };
}

type Dt = 'FP32' | 'INT64' | 'INT32' | 'UINT8';
interface In {
  name: string;
  datatype: Dt;
  shape: number[];
  values: number[];
}

const SIZE: Record<Dt, number> = { FP32: 4, INT64: 8, INT32: 4, UINT8: 1 };

/** Little-endian bytes of the values. */
function bytesOf(t: In): Buffer {
  const b = Buffer.alloc(t.values.length * SIZE[t.datatype]);
  t.values.forEach((v, i) => {
    if (t.datatype === 'FP32') b.writeFloatLE(v, i * 4);
    else if (t.datatype === 'INT64') b.writeBigInt64LE(BigInt(v), i * 8);
    else if (t.datatype === 'INT32') b.writeInt32LE(v, i * 4);
    else b.writeUInt8(v, i);
  });
  return b;
}

function readValues(datatype: string, b: Buffer): number[] {
  const n = b.length / (datatype === 'FP32' ? 4 : datatype === 'INT64' ? 8 : 1);
  return Array.from({ length: n }, (_, i) =>
    datatype === 'FP32' ? b.readFloatLE(i * 4) : datatype === 'INT64' ? Number(b.readBigInt64LE(i * 8)) : b.readUInt8(i),
  );
}

async function inferJson(base: string, model: string, inputs: In[], outputs?: string[]) {
  const req = {
    id: 'json-1',
    inputs: inputs.map((t) => ({ name: t.name, shape: t.shape, datatype: t.datatype, data: t.values })),
    ...(outputs ? { outputs: outputs.map((name) => ({ name })) } : {}),
  };
  return call(base, 'POST', `/v2/models/${model}/infer`, JSON.stringify(req), { 'Content-Type': 'application/json' });
}

/** Binary inputs and outputs; returns the outputs' values by name. */
async function inferBinary(base: string, model: string, inputs: In[], outputs: string[]) {
  const header = Buffer.from(
    JSON.stringify({
      inputs: inputs.map((t) => ({
        name: t.name,
        shape: t.shape,
        datatype: t.datatype,
        parameters: { binary_data_size: t.values.length * SIZE[t.datatype] },
      })),
      outputs: outputs.map((name) => ({ name, parameters: { binary_data: true } })),
    }),
  );
  const r = await call(base, 'POST', `/v2/models/${model}/infer`, Buffer.concat([header, ...inputs.map(bytesOf)]), {
    'Content-Type': 'application/octet-stream',
    'Inference-Header-Content-Length': String(header.length),
  });
  expect(r.status, r.body.toString()).toBe(200);
  const hl = Number(r.headers.get('inference-header-content-length'));
  expect(hl).toBeGreaterThan(0);
  const resp = JSON.parse(r.body.subarray(0, hl).toString('utf8'));
  expect(resp.model_name).toBe(model);
  let off = hl;
  const out: Record<string, { datatype: string; shape: number[]; values: number[] }> = {};
  for (const o of resp.outputs) {
    const n = o.parameters.binary_data_size;
    out[o.name] = { datatype: o.datatype, shape: o.shape, values: readValues(o.datatype, r.body.subarray(off, off + n)) };
    off += n;
  }
  expect(off).toBe(r.body.length);
  return out;
}

async function reference(comp: string, inputs: In[]) {
  const s = await ort.InferenceSession.create(join(BUILTIN, comp, 'model.onnx'));
  const feeds: Record<string, ort.Tensor> = {};
  for (const t of inputs)
    feeds[t.name] =
      t.datatype === 'FP32'
        ? new ort.Tensor('float32', Float32Array.from(t.values), t.shape)
        : new ort.Tensor(
            'int64',
            BigInt64Array.from(t.values, (v) => BigInt(v)),
            t.shape,
          );
  const out = await s.run(feeds);
  await s.release();
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, { shape: [...v.dims], values: Array.from(v.data as Float32Array) }]));
}

const rng = new Rng(11);
const f32 = (n: number, scale = 1) => Array.from({ length: n }, () => Math.fround(rng.normal() * scale));

const CASES: Record<string, { inputs: In[]; meta: { inputs: [string, string, number[]][]; outputs: [string, string, number[]][] } }> = {
  text_encoder: {
    inputs: [{ name: 'input_ids', datatype: 'INT64', shape: [2, 77], values: Array.from({ length: 154 }, (_, i) => (i * 37) % 800) }],
    meta: {
      inputs: [['input_ids', 'INT64', [-1, -1]]],
      outputs: [
        ['last_hidden_state', 'FP32', [-1, -1, 768]],
        ['pooler_output', 'FP32', [-1, 768]],
      ],
    },
  },
  unet: {
    inputs: [
      { name: 'sample', datatype: 'FP32', shape: [2, 8, 4, 4], values: f32(256) },
      { name: 'timestep', datatype: 'FP32', shape: [2], values: [500, 20.5] },
      { name: 'encoder_hidden_states', datatype: 'FP32', shape: [2, 77, 768], values: f32(2 * 77 * 768, 0.01) },
    ],
    meta: {
      inputs: [
        ['sample', 'FP32', [-1, 8, -1, -1]],
        ['timestep', 'FP32', [-1]],
        ['encoder_hidden_states', 'FP32', [-1, -1, 768]],
      ],
      outputs: [['out_sample', 'FP32', [-1, 4, -1, -1]]],
    },
  },
  vae_encoder: {
    inputs: [{ name: 'sample', datatype: 'FP32', shape: [1, 3, 16, 16], values: f32(768, 0.5) }],
    meta: { inputs: [['sample', 'FP32', [-1, 3, -1, -1]]], outputs: [['latent_parameters', 'FP32', [-1, 8, -1, -1]]] },
  },
  vae_decoder: {
    inputs: [{ name: 'latent_sample', datatype: 'FP32', shape: [1, 4, 2, 2], values: f32(16, 0.2) }],
    meta: { inputs: [['latent_sample', 'FP32', [-1, 4, -1, -1]]], outputs: [['sample', 'FP32', [-1, 3, -1, -1]]] },
  },
};

describe('serve: Open Inference Protocol (written from the specification)', () => {
  it('health, server metadata and model readiness', async () => {
    for (const p of ['/v2/health/live', '/v2/health/ready', '/v2/models/unet/ready', '/v2/models/unet/versions/1/ready']) {
      const r = await call(srv.url, 'GET', p);
      expect(r.status, p).toBe(200);
      expect(r.body.length).toBe(0);
    }
    const m = (await call(srv.url, 'GET', '/v2')).json();
    expect(m.extensions).toContain('binary_tensor_data');
    expect((await call(srv.url, 'GET', '/v2/models/nope/ready')).status).toBe(404);
  });

  for (const [model, c] of Object.entries(CASES)) {
    it(`${model}: metadata, JSON and binary inference equal onnxruntime-node on the file`, async () => {
      const meta = (await call(srv.url, 'GET', `/v2/models/${model}`)).json();
      expect(meta.name).toBe(model);
      expect(meta.platform).toBe('onnxruntime_onnx');
      expect(meta.versions).toEqual(['1']);
      expect(meta.inputs.map((t: any) => [t.name, t.datatype, t.shape])).toEqual(c.meta.inputs);
      expect(meta.outputs.map((t: any) => [t.name, t.datatype, t.shape])).toEqual(c.meta.outputs);
      expect((await call(srv.url, 'GET', `/v2/models/${model}/versions/1`)).json()).toEqual(meta);

      const ref = await reference(model, c.inputs);
      const outNames = c.meta.outputs.map((o) => o[0]);
      const rj = await inferJson(srv.url, model, c.inputs);
      expect(rj.status, rj.body.toString()).toBe(200);
      expect(rj.headers.get('content-type')).toMatch(/application\/json/);
      const j = rj.json();
      expect(j.model_name).toBe(model);
      expect(j.id).toBe('json-1');
      const bin = await inferBinary(srv.url, model, c.inputs, outNames);
      for (const name of outNames) {
        const jo = j.outputs.find((o: any) => o.name === name);
        expect(jo.datatype).toBe('FP32');
        expect(jo.shape).toEqual(ref[name].shape);
        expect(bin[name].shape).toEqual(ref[name].shape);
        // same model, same runtime, same inputs: bit-identical, and JSON numbers carry float32 exactly
        expect(jo.data).toEqual(ref[name].values);
        expect(bin[name].values).toEqual(ref[name].values);
      }
      // only the outputs asked for
      const one = await inferJson(srv.url, model, c.inputs, [outNames[0]]);
      expect(one.json().outputs.map((o: any) => o.name)).toEqual([outNames[0]]);
    });
  }

  it('pipeline_config serves the tokenizer and scheduler config as a zip', async () => {
    const out = await inferBinary(srv.url, 'pipeline_config', [{ name: 'version', datatype: 'INT32', shape: [1], values: [1] }], ['files']);
    expect(out.files.datatype).toBe('UINT8');
    const files = unzipSync(Uint8Array.from(out.files.values));
    expect(Object.keys(files).sort()).toEqual(
      expect.arrayContaining(['scheduler/scheduler_config.json', 'tokenizer/vocab.json', 'tokenizer/merges.txt', 'builtin.json']),
    );
    expect(JSON.parse(new TextDecoder().decode(files['scheduler/scheduler_config.json']))._class_name).toBe(
      'EulerAncestralDiscreteScheduler',
    );
  });

  it('FP16 travels only as binary data', async () => {
    const meta = (await call(half.url, 'GET', '/v2/models/vae_decoder')).json();
    expect(meta.inputs[0]).toEqual({ name: 'latent_sample', datatype: 'FP16', shape: [-1, 4, -1, -1] });
    // binary FP16 in and out equals onnxruntime-node on the file
    const bits = Buffer.alloc(32);
    const lat = [0.5, -0.25, 1, 0.125, -1, 0, 0.75, 0.2, 0.1, -0.3, 0.6, -0.6, 0.3, 0.9, -0.9, 0.05];
    // IEEE half bits of the values (all exactly representable or rounded by the reference the same way)
    const half16 = (v: number) => {
      const f = new Float32Array([v]);
      const u = new Uint32Array(f.buffer)[0];
      const sign = (u >>> 16) & 0x8000,
        exp = ((u >>> 23) & 0xff) - 127 + 15,
        man = (u >>> 13) & 0x3ff;
      return v === 0 ? sign : sign | (exp << 10) | man;
    };
    lat.forEach((v, i) => bits.writeUInt16LE(half16(v), i * 2));
    const header = Buffer.from(
      JSON.stringify({
        inputs: [{ name: 'latent_sample', shape: [1, 4, 2, 2], datatype: 'FP16', parameters: { binary_data_size: 32 } }],
        outputs: [{ name: 'sample', parameters: { binary_data: true } }],
      }),
    );
    const r = await call(half.url, 'POST', '/v2/models/vae_decoder/infer', Buffer.concat([header, bits]), {
      'Inference-Header-Content-Length': String(header.length),
    });
    expect(r.status, r.body.toString()).toBe(200);
    const hl = Number(r.headers.get('inference-header-content-length'));
    const o = JSON.parse(r.body.subarray(0, hl).toString()).outputs[0];
    expect([o.datatype, o.shape]).toEqual(['FP16', [1, 3, 16, 16]]);
    const s = await ort.InferenceSession.create(join(halfDir, 'vae_decoder', 'model.onnx'));
    const ref = await s.run({ latent_sample: new ort.Tensor('float16', new Uint16Array(bits.buffer, bits.byteOffset, 16), [1, 4, 2, 2]) });
    await s.release();
    const got = new Uint16Array(r.body.buffer.slice(r.body.byteOffset + hl, r.body.byteOffset + r.body.length));
    expect(Array.from(got)).toEqual(Array.from(ref.sample.data as Uint16Array));
    // as JSON: refused both ways
    const j = await call(
      half.url,
      'POST',
      '/v2/models/vae_decoder/infer',
      JSON.stringify({ inputs: [{ name: 'latent_sample', shape: [1, 4, 1, 1], datatype: 'FP16', data: [0, 0, 0, 0] }] }),
    );
    expect([j.status, j.json().error]).toEqual([
      400,
      "input 'latent_sample': FP16 tensors travel only as binary data (binary tensor data extension)",
    ]);
    // no outputs named: all outputs, as JSON (the default), which FP16 cannot be
    const h2 = Buffer.from(
      JSON.stringify({ inputs: [{ name: 'latent_sample', shape: [1, 4, 2, 2], datatype: 'FP16', parameters: { binary_data_size: 32 } }] }),
    );
    const jo = await call(half.url, 'POST', '/v2/models/vae_decoder/infer', Buffer.concat([h2, bits]), {
      'Inference-Header-Content-Length': String(h2.length),
    });
    expect(jo.status).toBe(400);
    expect(jo.json().error).toMatch(
      /output 'sample' is FP16, which travels only as binary data; ask for it with parameters.binary_data = true/,
    );
  });

  it('a prefixed server names its models PREFIX_name', async () => {
    expect((await call(small.url, 'GET', '/v2/models/ip2p_unet')).status).toBe(200);
    const r = await call(small.url, 'GET', '/v2/models/unet');
    expect(r.status).toBe(404);
    expect(r.json().error).toMatch(/unknown model 'unet' \(this server has ip2p_text_encoder, ip2p_unet/);
  });

  it('wrong requests get one JSON error with the right status; the server keeps serving', async () => {
    const unet = CASES.unet.inputs;
    const jsonReq = (inputs: unknown[], extra: Record<string, unknown> = {}) => JSON.stringify({ inputs, ...extra });
    const asJson = (t: In, over: Partial<Record<string, unknown>> = {}) => ({
      name: t.name,
      shape: t.shape,
      datatype: t.datatype,
      data: t.values,
      ...over,
    });
    const bad: [string, string, string | Buffer, Record<string, string>, number, RegExp][] = [
      [
        'POST',
        '/v2/models/unet/infer',
        jsonReq([asJson(unet[0], { shape: [2, 8, 16] }), asJson(unet[1]), asJson(unet[2])]),
        {},
        400,
        /input 'sample' has shape \[2,8,16\]; model 'unet' takes \[-1,8,-1,-1\]/,
      ],
      [
        'POST',
        '/v2/models/unet/infer',
        jsonReq([asJson(unet[0], { shape: [4, 4, 4, 4] }), asJson(unet[1]), asJson(unet[2])]),
        {},
        400,
        /has shape \[4,4,4,4\]/,
      ],
      [
        'POST',
        '/v2/models/unet/infer',
        jsonReq([asJson(unet[0], { datatype: 'FP64' }), asJson(unet[1]), asJson(unet[2])]),
        {},
        400,
        /input 'sample' is FP64; model 'unet' takes FP32/,
      ],
      ['POST', '/v2/models/unet/infer', jsonReq([asJson(unet[0], { datatype: 'FP99' })]), {}, 400, /unknown datatype "FP99"/],
      [
        'POST',
        '/v2/models/unet/infer',
        jsonReq([asJson(unet[0], { name: 'noise' }), asJson(unet[1]), asJson(unet[2])]),
        {},
        400,
        /unknown input 'noise'; model 'unet' takes sample, timestep, encoder_hidden_states/,
      ],
      ['POST', '/v2/models/unet/infer', jsonReq([asJson(unet[0]), asJson(unet[1])]), {}, 400, /missing input 'encoder_hidden_states'/],
      [
        'POST',
        '/v2/models/unet/infer',
        jsonReq([asJson(unet[0]), asJson(unet[0]), asJson(unet[1]), asJson(unet[2])]),
        {},
        400,
        /given twice/,
      ],
      [
        'POST',
        '/v2/models/unet/infer',
        jsonReq(
          unet.map((t) => asJson(t)),
          { outputs: [{ name: 'noise_pred' }] },
        ),
        {},
        400,
        /unknown output 'noise_pred'; model 'unet' gives out_sample/,
      ],
      [
        'POST',
        '/v2/models/unet/infer',
        jsonReq([asJson(unet[0], { data: [1, 2, 3] }), asJson(unet[1]), asJson(unet[2])]),
        {},
        400,
        /'data' has 3 elements, the shape needs 256/,
      ],
      [
        'POST',
        '/v2/models/unet/infer',
        jsonReq([asJson(unet[0], { data: unet[0].values.map((v, i) => (i === 5 ? 'x' : v)) }), asJson(unet[1]), asJson(unet[2])]),
        {},
        400,
        /element 5 of 'data' is "x"/,
      ],
      [
        'POST',
        '/v2/models/unet/infer',
        jsonReq([asJson(unet[0], { datatype: 'FP16', data: [] })]),
        {},
        400,
        /is FP16; model 'unet' takes FP32/,
      ],
      [
        'POST',
        '/v2/models/unet/infer',
        jsonReq([asJson(unet[0], { shape: [100000, 100000, 100000, 100000] })]),
        {},
        400,
        /more elements than the request can hold/,
      ],
      ['POST', '/v2/models/unet/infer', jsonReq([asJson(unet[0], { shape: [2, 8, -4, 4] })]), {}, 400, /non-negative integers/],
      ['POST', '/v2/models/unet/infer', 'this is not json', {}, 400, /not valid JSON/],
      ['POST', '/v2/models/unet/infer', '[1,2]', {}, 400, /must be a JSON object/],
      ['POST', '/v2/models/unet/infer', '{"inputs": []}', {}, 400, /'inputs' must be a non-empty array/],
      [
        'POST',
        '/v2/models/unet/infer',
        '{"inputs": [{"name": "sample"}]}',
        { 'Inference-Header-Content-Length': 'abc' },
        400,
        /Inference-Header-Content-Length is "abc"/,
      ],
      [
        'POST',
        '/v2/models/unet/infer',
        '{"inputs": [{"name": "sample"}]}',
        { 'Inference-Header-Content-Length': '9999' },
        400,
        /Inference-Header-Content-Length/,
      ],
      ['POST', '/v2/models/unet/infer', '{}', { 'Content-Encoding': 'gzip' }, 415, /Content-Encoding 'gzip' is not supported/],
      [
        'POST',
        '/v2/models/text_encoder/infer',
        jsonReq([{ name: 'input_ids', shape: [1, 2], datatype: 'INT64', data: [1.5, 2] }]),
        {},
        400,
        /element 0 of 'data' is 1.5, expected an integer/,
      ],
      ['GET', '/v2/models/unet/infer', '', {}, 405, /use POST here/],
      ['POST', '/v2/models/unet', '{}', {}, 405, /use GET here/],
      ['GET', '/v2/models/dalle', '', {}, 404, /unknown model 'dalle'/],
      ['GET', '/v2/models/unet/versions/2', '', {}, 404, /has no version '2'/],
      ['GET', '/v1/models/unet', '', {}, 404, /no such endpoint.*under \/v2/],
      ['GET', '/v2/models/unet/stats', '', {}, 404, /no such endpoint/],
    ];
    for (const [method, path, body, headers, status, re] of bad) {
      const r = await call(srv.url, method, path, method === 'GET' ? undefined : body, headers);
      expect(r.status, `${method} ${path} ${String(body).slice(0, 80)}`).toBe(status);
      const j = r.json();
      expect(Object.keys(j)).toEqual(['error']);
      expect(j.error).toMatch(re);
      expect(j.error.split('\n')).toHaveLength(1);
    }

    // binary tensors whose sizes lie
    const hdr = (inputs: unknown[]) => Buffer.from(JSON.stringify({ inputs }));
    const s = bytesOf(unet[0]);
    const bin = (h: Buffer, rest: Buffer) =>
      call(srv.url, 'POST', '/v2/models/unet/infer', Buffer.concat([h, rest]), { 'Inference-Header-Content-Length': String(h.length) });
    const b1 = hdr([{ name: 'sample', shape: [2, 8, 4, 4], datatype: 'FP32', parameters: { binary_data_size: 100 } }]);
    let r = await bin(b1, s.subarray(0, 100));
    expect(r.status).toBe(400);
    expect(r.json().error).toMatch(/100 bytes of binary data, the shape and datatype need 1024/);
    const b2 = hdr([{ name: 'sample', shape: [2, 8, 4, 4], datatype: 'FP32', parameters: { binary_data_size: 1024 } }]);
    r = await bin(b2, s.subarray(0, 500));
    expect(r.status).toBe(400);
    expect(r.json().error).toMatch(/runs past the end of the body/);
    const b3 = hdr([
      { name: 'sample', shape: [2, 8, 4, 4], datatype: 'FP32', parameters: { binary_data_size: 1024 } },
      { name: 'timestep', shape: [2], datatype: 'FP32', data: [1, 2] },
    ]);
    r = await bin(b3, Buffer.concat([s, Buffer.alloc(7)]));
    expect(r.status).toBe(400);
    expect(r.json().error).toMatch(/7 bytes of binary data after the JSON header that no input claims/);

    // too large: declared, and sent without a declared length
    const big = Buffer.alloc(2 << 20, 32);
    r = await call(small.url, 'POST', '/v2/models/ip2p_unet/infer', big);
    expect(r.status).toBe(413);
    expect(r.json().error).toMatch(/larger than the server's limit of 1048576 bytes/);
    const chunked = new ReadableStream({
      start(c) {
        for (let i = 0; i < 4; i++) c.enqueue(new Uint8Array(600_000).fill(32));
        c.close();
      },
    });
    const rc = await fetch(`${small.url}/v2/models/ip2p_unet/infer`, { method: 'POST', body: chunked, duplex: 'half' } as RequestInit);
    expect(rc.status).toBe(413);

    // raw sockets: a malformed request line, and a client that leaves halfway through its upload
    const raw = (text: string, end: boolean) =>
      new Promise<string>((resolve) => {
        const sock = connect(Number(new URL(srv.url).port), '127.0.0.1');
        let got = '';
        sock.on('data', (c) => (got += c.toString()));
        sock.on('close', () => resolve(got));
        sock.write(text, () => (end ? sock.end() : setTimeout(() => sock.destroy(), 100)));
      });
    expect(await raw('THIS IS NOT HTTP\r\n\r\n', true)).toMatch(/^HTTP\/1.1 400 Bad Request[\s\S]*\{"error":"malformed HTTP request"\}/);
    expect(await raw('POST /v2/models/unet/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n{"inputs": [', false)).toBe('');

    // still serving
    expect((await call(srv.url, 'GET', '/v2/health/ready')).status).toBe(200);
    expect((await call(small.url, 'GET', '/v2/health/ready')).status).toBe(200);
    // one JSON log line per request, with timings (a line follows its response: wait for it, bounded)
    const logs = () => srv.stdout.filter((l) => l.startsWith('{"event":"request"')).map((l) => JSON.parse(l));
    const decodes = () => logs().filter((l) => l.path === '/v2/models/vae_decoder/infer' && l.status === 200);
    await new Promise((r) => setTimeout(r, 200));
    const before = decodes().length;
    const ok = await inferJson(srv.url, 'vae_decoder', CASES.vae_decoder.inputs);
    expect(ok.status).toBe(200);
    for (let i = 0; i < 100 && decodes().length <= before; i++) await new Promise((r) => setTimeout(r, 20));
    const last = decodes().pop();
    expect(last.runMs).toBeGreaterThanOrEqual(0);
    expect(last.queueMs).toBeGreaterThanOrEqual(0);
    expect(last.batch).toEqual([1, 1]);
    expect(logs().some((l) => l.status === 400 && /has shape \[2,8,16\]/.test(l.error))).toBe(true);
    expect(logs().some((l) => l.status === 499 && l.path === '/v2/models/unet/infer')).toBe(true); // the upload that stopped
  });

  it('CORS headers only for the allowed origin; other origins are refused', async () => {
    const pre = await call(srv.url, 'OPTIONS', '/v2/models/unet/infer', undefined, {
      Origin: ORIGIN,
      'Access-Control-Request-Method': 'POST',
      'Access-Control-Request-Headers': 'content-type, inference-header-content-length',
    });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe(ORIGIN);
    expect(pre.headers.get('access-control-allow-methods')).toMatch(/POST/);
    expect(pre.headers.get('access-control-allow-headers')).toMatch(/Inference-Header-Content-Length/i);
    const g = await call(srv.url, 'GET', '/v2/models/unet', undefined, { Origin: ORIGIN });
    expect(g.status).toBe(200);
    expect(g.headers.get('access-control-allow-origin')).toBe(ORIGIN);
    expect(g.headers.get('access-control-expose-headers')).toMatch(/Inference-Header-Content-Length/i);
    const evil = await call(srv.url, 'GET', '/v2/models/unet', undefined, { Origin: 'https://elsewhere.example' });
    expect(evil.status).toBe(403);
    expect(evil.headers.get('access-control-allow-origin')).toBeNull();
    expect(evil.json().error).toMatch(/origin https:\/\/elsewhere.example is not allowed/);
    const evilPre = await call(srv.url, 'OPTIONS', '/v2/models/unet/infer', undefined, {
      Origin: 'https://elsewhere.example',
      'Access-Control-Request-Method': 'POST',
    });
    expect(evilPre.status).toBe(403);
    // the server started without --cors sends no CORS header to anyone
    const none = await call(small.url, 'GET', '/v2/health/live', undefined, { Origin: ORIGIN });
    expect(none.status).toBe(403);
    expect(none.headers.get('access-control-allow-origin')).toBeNull();
    // no Origin (not a browser): served
    expect((await call(small.url, 'GET', '/v2/health/live')).status).toBe(200);
  });

  it('stops cleanly on SIGINT', async () => {
    const s = await startServe(['--model', 'builtin', '--quiet']);
    expect((await call(s.url, 'GET', '/v2/health/ready')).status).toBe(200);
    const code = await s.stop('SIGINT');
    expect(code).toBe(0);
    expect(s.stdout.join('\n')).toMatch(/SIGINT: stopping[\s\S]*stopped/);
    expect(s.stderr.join('\n')).toBe('');
    await expect(fetch(`${s.url}/v2/health/live`)).rejects.toThrow();
  }, 60_000);
});
