/**
 * `models triton-repo`: the repository's files, and every config.pbtxt parsed as protobuf text format and checked
 * against Triton's ModelConfig fields (no Triton server here). Then the repository served by a small stand-in that
 * follows Triton's documented shape rules (full shape = [-1] + dims with max_batch_size > 0; `reshape` before the
 * model) with onnxruntime-node, so the project's client is shown to work with the shapes Triton would announce:
 * an edit through it equals the local one, for the built-in model and for an fp16 variant with a scalar timestep and
 * external data.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { unzipSync } from 'fflate';
import { createImage } from '../src/core/image';
import { readModelInfo } from '../src/edit/diffusion/onnx/signature';
import { externalizeModel } from '../src/edit/diffusion/onnx/external';
import { InstructPix2Pix } from '../src/edit/diffusion/pipeline';
import { loadRemotePipeline } from '../src/edit/diffusion/remote/remote-pipeline';
import { nodeFiles } from '../src/io/node/node-files';
import { nodeRuntime } from '../src/io/node/node-ort';
import { cli } from './helpers/cli';
import { modelFolder } from './helpers/ip2p-models';
import { checkMessage, parsePbtxt, type PbMessage } from './helpers/pbtxt';

const BUILTIN = join(__dirname, '../models/builtin');
const MODELS = ['text_encoder', 'unet', 'vae_encoder', 'vae_decoder'];
let root = '';
let fp16Dir = '';

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'triton-repo-'));
  // fp16 I/O, int64 scalar timestep, and a UNet whose weights are in an external data file
  fp16Dir = await modelFolder({ fp16: true, timestep: { dtype: 'int64', rank: 0 } });
  const unet = join(fp16Dir, 'unet', 'model.onnx');
  const ext = externalizeModel(new Uint8Array(readFileSync(unet)), 'model.onnx_data', 256);
  writeFileSync(unet, ext.model);
  writeFileSync(join(fp16Dir, 'unet', 'model.onnx_data'), ext.data);
}, 60_000);

const one = (m: PbMessage, f: string) => m[f]?.[0];
const TYPE: Record<string, string> = {
  float32: 'TYPE_FP32',
  float16: 'TYPE_FP16',
  int64: 'TYPE_INT64',
  int32: 'TYPE_INT32',
  uint8: 'TYPE_UINT8',
};

function readConfig(repo: string, name: string): PbMessage {
  const m = parsePbtxt(readFileSync(join(repo, name, 'config.pbtxt'), 'utf8'));
  expect(checkMessage(m), `${name}/config.pbtxt`).toEqual([]);
  return m;
}

/** Checks a config against the ONNX signature of the model beside it. */
function checkAgainstModel(repo: string, name: string, kind: string) {
  const m = readConfig(repo, name);
  const info = readModelInfo(new Uint8Array(readFileSync(join(repo, name, '1', 'model.onnx'))));
  expect(one(m, 'name')).toBe(name);
  expect(one(m, 'backend')).toBe('onnxruntime');
  const mbs = one(m, 'max_batch_size') as number;
  const batched = mbs > 0;
  expect(!!m.dynamic_batching).toBe(batched);
  for (const [field, specs] of [
    ['input', info.inputs],
    ['output', info.outputs],
  ] as const) {
    const blocks = m[field] as PbMessage[];
    expect(blocks.map((b) => one(b, 'name'))).toEqual(specs.map((s) => s.name));
    specs.forEach((s, i) => {
      const b = blocks[i];
      expect((one(b, 'data_type') as { enum: string }).enum).toBe(TYPE[s.dtype]);
      const shape = (batched ? s.shape!.slice(1) : s.shape!).map((d) => (typeof d === 'number' ? d : -1));
      if (shape.length) {
        expect(b.dims).toEqual(shape);
        expect(b.reshape).toBeUndefined();
      } else {
        // Triton's dims cannot be empty: [1] reshaped to the model's rank-0 (or batch-only) shape
        expect(b.dims).toEqual([1]);
        expect((one(b, 'reshape') as PbMessage).shape ?? []).toEqual([]);
      }
    });
  }
  const ig = m.instance_group as PbMessage[];
  expect(ig).toHaveLength(1);
  expect((one(ig[0], 'kind') as { enum: string }).enum).toBe(kind);
  expect(one(ig[0], 'count')).toBe(1);
  return { mbs, m };
}

/**
 * A stand-in for Triton's HTTP endpoint over a model repository: metadata shapes as Triton derives them from
 * config.pbtxt, inputs checked against them and reshaped as `reshape` says, onnxruntime-node for the models.
 */
async function tritonStandIn(repo: string): Promise<{ url: string; close(): Promise<void> }> {
  const models = new Map<string, { cfg: PbMessage; session: ort.InferenceSession }>();
  for (const name of readdirSync(repo)) {
    const cfg = parsePbtxt(readFileSync(join(repo, name, 'config.pbtxt'), 'utf8'));
    models.set(name, { cfg, session: await ort.InferenceSession.create(join(repo, name, '1', 'model.onnx')) });
  }
  const dt = (b: PbMessage) =>
    (one(b, 'data_type') as { enum: string }).enum === 'TYPE_STRING' ? 'BYTES' : (one(b, 'data_type') as { enum: string }).enum.slice(5);
  const fullShape = (cfg: PbMessage, b: PbMessage) =>
    (one(cfg, 'max_batch_size') as number) > 0 ? [-1, ...(b.dims as number[])] : (b.dims as number[]);
  const ORT: Record<string, [string, any]> = {
    FP32: ['float32', Float32Array],
    FP16: ['float16', Uint16Array],
    INT64: ['int64', BigInt64Array],
    INT32: ['int32', Int32Array],
    UINT8: ['uint8', Uint8Array],
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      const fail = (status: number, error: string) => {
        res.writeHead(status, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ error }));
      };
      const parts = (req.url ?? '').split('/').filter(Boolean);
      const model = models.get(parts[2]);
      if (parts[0] !== 'v2' || parts[1] !== 'models' || !model) return fail(404, `Request for unknown model: '${parts[2]}' is not found`);
      const { cfg, session } = model;
      if (parts.length === 3) {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        const t = (b: PbMessage) => ({ name: one(b, 'name'), datatype: dt(b), shape: fullShape(cfg, b) });
        return res.end(
          JSON.stringify({
            name: parts[2],
            versions: ['1'],
            platform: 'onnxruntime_onnx',
            inputs: (cfg.input as PbMessage[]).map(t),
            outputs: (cfg.output as PbMessage[]).map(t),
          }),
        );
      }
      if (parts[3] === 'ready') {
        res.writeHead(200);
        return res.end();
      }
      const body = Buffer.concat(chunks);
      const hl = Number(req.headers['inference-header-content-length']);
      const head = JSON.parse(body.subarray(0, hl).toString());
      let off = hl;
      const feeds: Record<string, ort.Tensor> = {};
      for (const inp of head.inputs) {
        const b = (cfg.input as PbMessage[]).find((x) => one(x, 'name') === inp.name)!;
        const want = fullShape(cfg, b);
        if (inp.shape.length !== want.length || want.some((d, i) => d >= 0 && d !== inp.shape[i]))
          return fail(
            400,
            `unexpected shape for input '${inp.name}' for model '${parts[2]}'. Expected ${JSON.stringify(want)}, got ${JSON.stringify(inp.shape)}`,
          );
        if (inp.datatype !== dt(b))
          return fail(400, `inference input '${inp.name}' data-type is '${inp.datatype}', but model expects '${dt(b)}'`);
        const n = inp.parameters.binary_data_size;
        const bytes = body.subarray(off, off + n);
        off += n;
        const [type, C] = ORT[inp.datatype];
        const data = new C(n / C.BYTES_PER_ELEMENT);
        new Uint8Array(data.buffer).set(bytes);
        const reshape = one(b, 'reshape') as PbMessage | undefined;
        const dims = reshape
          ? [...((one(cfg, 'max_batch_size') as number) > 0 ? [inp.shape[0]] : []), ...((reshape.shape as number[]) ?? [])]
          : inp.shape;
        feeds[inp.name] = new ort.Tensor(type as 'float32', data, dims);
      }
      const out = await session.run(feeds);
      const outs: unknown[] = [];
      const bins: Buffer[] = [];
      for (const o of head.outputs ?? (cfg.output as PbMessage[]).map((b) => ({ name: one(b, 'name') }))) {
        const t = out[o.name];
        const d = t.data as ArrayBufferView;
        const buf = Buffer.from(d.buffer, d.byteOffset, d.byteLength);
        outs.push({
          name: o.name,
          datatype: Object.keys(ORT).find((k) => ORT[k][0] === t.type),
          shape: t.dims,
          parameters: { binary_data_size: buf.length },
        });
        bins.push(buf);
      }
      const h = Buffer.from(JSON.stringify({ model_name: parts[2], model_version: '1', outputs: outs }));
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Inference-Header-Content-Length': String(h.length) });
      res.end(Buffer.concat([h, ...bins]));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      await new Promise<void>((r) => server.close(() => r()));
      for (const m of models.values()) await m.session.release();
    },
  };
}

async function sameEdit(dir: string, url: string) {
  const img = createImage(32, 24, 3);
  for (let i = 0; i < img.data.length; i++) img.data[i] = ((i * 7919) % 255) / 255;
  const local = await InstructPix2Pix.load(dir, nodeFiles, nodeRuntime());
  const remote = await loadRemotePipeline(url);
  const o = { steps: 4, seed: 9 };
  const a = await local.edit(img, 'make it red', o);
  const b = await remote.edit(img, 'make it red', o);
  expect(b.width).toBe(a.width);
  expect(Buffer.from(b.data.buffer).equals(Buffer.from(a.data.buffer))).toBe(true);
  await local.dispose();
}

describe('models triton-repo', () => {
  let builtinRepo = '';

  it('writes config.pbtxt (Triton text protobuf) and model files for the built-in model', () => {
    builtinRepo = join(root, 'repo');
    const r = cli(['models', 'triton-repo', 'builtin', '--out', builtinRepo]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/tritonserver --model-repository=/);
    expect(readdirSync(builtinRepo).sort()).toEqual([...MODELS, 'pipeline_config'].sort());
    for (const n of MODELS) {
      expect(readFileSync(join(builtinRepo, n, '1', 'model.onnx')).equals(readFileSync(join(BUILTIN, n, 'model.onnx')))).toBe(true);
      const { mbs } = checkAgainstModel(builtinRepo, n, 'KIND_GPU');
      expect(mbs).toBe(8); // every built-in model has a dynamic first axis
    }
    // the checker is not vacuous: it refuses what Triton's parser would
    expect(checkMessage(parsePbtxt('name: "x" max_batch_size: "8" inputs [ { name: "a" } ]'))).toEqual([
      'max_batch_size: expected an integer',
      'inputs: no such field in ModelConfig',
    ]);
    expect(checkMessage(parsePbtxt('input [ { data_type: TYPE_FLOAT32 dims: [ 1 ] } ] name: "a" name: "b"'))).toEqual([
      'input.data_type: expected one of ' +
        'TYPE_INVALID, TYPE_BOOL, TYPE_UINT8, TYPE_UINT16, TYPE_UINT32, TYPE_UINT64, TYPE_INT8, TYPE_INT16, TYPE_INT32, TYPE_INT64, TYPE_FP16, TYPE_FP32, TYPE_FP64, TYPE_STRING, TYPE_BF16',
      'name: given 2 times, not a repeated field',
    ]);
    expect(() => parsePbtxt('input [ { name: "a" ')).toThrow();
    // the [batch] timestep is announced as [-1, 1] and reshaped to [batch]
    const unet = readConfig(builtinRepo, 'unet');
    const ts = (unet.input as PbMessage[]).find((b) => one(b, 'name') === 'timestep')!;
    expect(ts.dims).toEqual([1]);
    const { mbs } = checkAgainstModel(builtinRepo, 'pipeline_config', 'KIND_CPU');
    expect(mbs).toBe(0);
    // refuses to overwrite without --force
    const again = cli(['models', 'triton-repo', 'builtin', '--out', builtinRepo]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already holds a model 'text_encoder'; use --force/);
    expect(cli(['models', 'triton-repo', 'builtin', '--out', builtinRepo, '--force', '--max-batch', '4']).code).toBe(0);
    expect(one(readConfig(builtinRepo, 'unet'), 'max_batch_size')).toBe(4);
  });

  it('fp16 I/O, a scalar timestep and external data; a prefix; the pipeline_config model runs', async () => {
    const repo = join(root, 'repo16');
    const r = cli(['models', 'triton-repo', fp16Dir, '--out', repo, '--model-prefix', 'ip2p', '--kind', 'cpu']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/--model http:\/\/HOST:8000\/ip2p/);
    expect(readdirSync(repo).sort()).toEqual([...MODELS, 'pipeline_config'].map((n) => `ip2p_${n}`).sort());
    expect(
      readFileSync(join(repo, 'ip2p_unet', '1', 'model.onnx_data')).equals(readFileSync(join(fp16Dir, 'unet', 'model.onnx_data'))),
    ).toBe(true);
    for (const n of MODELS) checkAgainstModel(repo, `ip2p_${n}`, 'KIND_CPU');
    const unet = readConfig(repo, 'ip2p_unet');
    expect(one(unet, 'max_batch_size')).toBe(0); // a scalar input cannot batch
    const blocks = unet.input as PbMessage[];
    expect((one(blocks[0], 'data_type') as { enum: string }).enum).toBe('TYPE_FP16');
    const ts = blocks.find((b) => one(b, 'name') === 'timestep')!;
    expect([(one(ts, 'data_type') as { enum: string }).enum, ts.dims, (one(ts, 'reshape') as PbMessage).shape]).toEqual([
      'TYPE_INT64',
      [1],
      [],
    ]);
    expect(readFileSync(join(repo, 'ip2p_unet', 'config.pbtxt'), 'utf8')).toMatch(/reshape: \{ shape: \[ \] \}/);
    // pipeline_config: onnxruntime-node gives the zip of the tokenizer and scheduler
    const s = await ort.InferenceSession.create(join(repo, 'ip2p_pipeline_config', '1', 'model.onnx'));
    const out = await s.run({ version: new ort.Tensor('int32', new Int32Array([1]), [1]) });
    const files = unzipSync(out.files.data as Uint8Array);
    expect(new TextDecoder().decode(files['tokenizer/merges.txt'])).toBe(readFileSync(join(fp16Dir, 'tokenizer', 'merges.txt'), 'utf8'));
    await s.release();
  });

  it('bad input: a broken folder, --out inside the model folder', async () => {
    const broken = await modelFolder();
    writeFileSync(join(broken, 'scheduler', 'scheduler_config.json'), '{ nope');
    const r = cli(['models', 'triton-repo', broken, '--out', join(root, 'x')]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/does not fit the InstructPix2Pix contract: .*scheduler_config.json: broken JSON/);
    expect(existsSync(join(root, 'x'))).toBe(false);
    const inside = cli(['models', 'triton-repo', broken, '--out', join(broken, 'triton')]);
    expect(inside.stderr).toMatch(/--out must not be inside the model folder/);
  });

  it('the client works with the shapes Triton announces for these repositories: edits equal the local ones', async () => {
    const s1 = await tritonStandIn(builtinRepo);
    try {
      const meta = await (await fetch(`${s1.url}/v2/models/unet`)).json();
      expect(meta.inputs.find((t: { name: string }) => t.name === 'timestep').shape).toEqual([-1, 1]);
      await sameEdit(BUILTIN, s1.url);
    } finally {
      await s1.close();
    }
    const s2 = await tritonStandIn(join(root, 'repo16'));
    try {
      const meta = await (await fetch(`${s2.url}/v2/models/ip2p_unet`)).json();
      expect(meta.inputs.map((t: { shape: number[] }) => t.shape)).toEqual([[-1, 8, -1, -1], [1], [-1, -1, 768]]);
      await sameEdit(fp16Dir, `${s2.url}/ip2p`);
    } finally {
      await s2.close();
    }
  });
});
