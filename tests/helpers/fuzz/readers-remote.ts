import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../../../src/core/errors';
import { decodeOutputs } from '../../../src/edit/diffusion/remote/oip-client';
import { RemoteRuntime } from '../../../src/edit/diffusion/remote/remote-runtime';
import { loadRemotePipeline } from '../../../src/edit/diffusion/remote/remote-pipeline';
import { loadTokenizer } from '../../../src/edit/diffusion/tokenizer/tokenizer';
import { nodeFiles, readRegularFile } from '../../../src/io/node/node-files';
import { startOipServer, type OipServer } from '../../../src/io/node/oip-server';
import { enc, MODEL_DIR } from './checks';
import type { FuzzReader, FuzzSeed } from './readers';

/**
 * Both ends of remote inference (issue 15) under hostile bytes:
 *   remote  the client against a hostile server — every answer it reads (model metadata, the pipeline_config zip,
 *           inference responses with binary or JSON tensors) comes from a file of the case folder, served by a
 *           loopback server that answers whatever the file holds;
 *   serve   the server against hostile requests — a mutated request body (and Inference-Header-Content-Length)
 *           posted to `instruct-scene serve` on the built-in model, which must answer one JSON error with a
 *           4xx/503 status (a 5xx other than 503 counts as an internal error) and keep serving.
 */

// ── a real server for the seeds and for `serve` ─────────────────────────────────────────────────────────────
let real: Promise<OipServer> | null = null;
function realServer(): Promise<OipServer> {
  real ??= startOipServer({ dir: MODEL_DIR, host: '127.0.0.1', port: 0, maxBatch: 1 });
  return real;
}
async function closeReal(): Promise<void> {
  const s = real;
  real = null;
  if (s) await (await s).close(1000);
}
const base = async () => `http://127.0.0.1:${(await realServer()).port}`;

async function post(url: string, body: Uint8Array, hlen?: string) {
  const headers: Record<string, string> = { 'Content-Type': 'application/octet-stream' };
  if (hlen !== undefined) headers['Inference-Header-Content-Length'] = hlen;
  const r = await fetch(url, { method: 'POST', body: body as BodyInit, headers, signal: AbortSignal.timeout(20_000) });
  return { status: r.status, hlen: r.headers.get('inference-header-content-length'), body: new Uint8Array(await r.arrayBuffer()) };
}

function binaryRequest(inputs: { name: string; datatype: string; shape: number[]; data: ArrayBufferView }[], outputs?: string[]) {
  const header = {
    inputs: inputs.map((t) => ({
      name: t.name,
      datatype: t.datatype,
      shape: t.shape,
      parameters: { binary_data_size: t.data.byteLength },
    })),
    ...(outputs
      ? { outputs: outputs.map((name) => ({ name, parameters: { binary_data: true } })) }
      : { parameters: { binary_data_output: true } }),
  };
  const h = enc(JSON.stringify(header));
  const parts = [h, ...inputs.map((t) => new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength))];
  const body = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    body.set(p, o);
    o += p.length;
  }
  return { body, hlen: String(h.length) };
}

/** Token ids of the built-in model's tokenizer (840 tokens) for a short instruction. */
let tokenIds: number[] = [];
async function loadIds(): Promise<void> {
  if (!tokenIds.length) tokenIds = (await loadTokenizer(join(MODEL_DIR, 'tokenizer'), nodeFiles)).encodeForModel('make it red');
}
const ids = () => BigInt64Array.from(tokenIds, BigInt);
const latents = (n: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 0.5);

// ── a hostile server answering from the case folder ──────────────────────────────────────────────────────────
let hostileRoot = '';
let hostile: Promise<{ server: Server; url: string }> | null = null;

function hostileServer(): Promise<{ server: Server; url: string }> {
  hostile ??= new Promise((resolve) => {
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        void (async () => {
          const segs = new URL(req.url ?? '/', 'http://x').pathname.split('/').filter(Boolean).map(decodeURIComponent);
          const name = segs[2] ?? '';
          const answer = async (file: string, hlenFile?: string) => {
            let body: Uint8Array;
            try {
              body = await readRegularFile(join(hostileRoot, 'models', file), 64 << 20);
            } catch {
              res.writeHead(404, { 'Content-Type': 'application/json' }).end(JSON.stringify({ error: `no ${file}` }));
              return;
            }
            const headers: Record<string, string> = { 'Content-Type': 'application/octet-stream' };
            if (hlenFile) {
              try {
                headers['Inference-Header-Content-Length'] = new TextDecoder().decode(
                  await readRegularFile(join(hostileRoot, 'models', hlenFile), 64),
                );
              } catch {
                // no header: the body is all JSON
              }
            }
            try {
              res.writeHead(200, headers).end(body);
            } catch {
              // a header value Node refuses to send (a mutated length with a line break): the server sends nothing
              res.destroy();
            }
          };
          if (req.method === 'GET' && segs.length === 4 && segs[3] === 'ready') res.writeHead(200).end();
          else if (req.method === 'GET' && segs.length === 3) await answer(`${name}.json`);
          else if (req.method === 'POST' && segs[3] === 'infer') await answer(`${name}.infer`, `${name}.infer.hlen`);
          else res.writeHead(404).end('{"error":"no such endpoint"}');
        })();
      });
    });
    server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/` }));
  });
  return hostile;
}

async function remoteSeeds(): Promise<FuzzSeed[]> {
  await loadIds();
  const b = await base();
  const files: Record<string, Uint8Array> = {};
  for (const m of ['text_encoder', 'unet', 'vae_encoder', 'vae_decoder', 'pipeline_config']) {
    const r = await fetch(`${b}/v2/models/${m}`);
    files[`models/${m}.json`] = new Uint8Array(await r.arrayBuffer());
  }
  const record = async (model: string, req: ReturnType<typeof binaryRequest>) => {
    const r = await post(`${b}/v2/models/${model}/infer`, req.body, req.hlen);
    if (r.status !== 200) throw new Error(`recording ${model}: HTTP ${r.status} ${new TextDecoder().decode(r.body)}`);
    files[`models/${model}.infer`] = r.body;
    if (r.hlen !== null) files[`models/${model}.infer.hlen`] = enc(r.hlen);
  };
  await record(
    'pipeline_config',
    binaryRequest([{ name: 'version', datatype: 'INT32', shape: [1], data: new Int32Array([1]) }], ['files']),
  );
  await record('text_encoder', binaryRequest([{ name: 'input_ids', datatype: 'INT64', shape: [1, 77], data: ids() }]));
  await record('vae_decoder', binaryRequest([{ name: 'latent_sample', datatype: 'FP32', shape: [1, 4, 4, 4], data: latents(64) }]));
  // the same vae_decoder answer with JSON tensor data (servers may answer JSON whatever was asked)
  const jsonDec = { ...files };
  const out = decodeOutputs(files['models/vae_decoder.infer'], new TextDecoder().decode(files['models/vae_decoder.infer.hlen']));
  jsonDec['models/vae_decoder.infer'] = enc(
    JSON.stringify({
      model_name: 'vae_decoder',
      outputs: Object.values(out).map((t) => ({
        name: t.name,
        datatype: t.datatype,
        shape: t.shape,
        data: Array.from(t.data as Float32Array),
      })),
    }),
  );
  delete jsonDec['models/vae_decoder.infer.hlen'];
  return [
    { files, target: 'models/text_encoder.json', kind: 'json' },
    { files, target: 'models/vae_decoder.json', kind: 'json' },
    { files, target: 'models/pipeline_config.infer', kind: 'binary' },
    { files, target: 'models/text_encoder.infer', kind: 'binary' },
    { files, target: 'models/text_encoder.infer.hlen', kind: 'text' },
    { files, target: 'models/vae_decoder.infer', kind: 'binary' },
    { files: jsonDec, target: 'models/vae_decoder.infer', kind: 'json' },
  ];
}

async function serveSeeds(): Promise<FuzzSeed[]> {
  await loadIds();
  const json = (v: unknown) => enc(JSON.stringify(v));
  const unet = binaryRequest([
    { name: 'sample', datatype: 'FP32', shape: [1, 8, 2, 2], data: latents(32) },
    { name: 'timestep', datatype: 'FP32', shape: [1], data: new Float32Array([500]) },
    { name: 'encoder_hidden_states', datatype: 'FP32', shape: [1, 77, 768], data: latents(77 * 768) },
  ]);
  const dec = binaryRequest([{ name: 'latent_sample', datatype: 'FP32', shape: [1, 4, 3, 2], data: latents(24) }]);
  const te = json({ inputs: [{ name: 'input_ids', datatype: 'INT64', shape: [1, 77], data: Array.from(ids(), Number) }] });
  const ve = json({
    id: 'x',
    inputs: [{ name: 'sample', datatype: 'FP32', shape: [1, 3, 8, 8], data: Array.from(latents(192)) }],
    outputs: [{ name: 'latent_parameters', parameters: { binary_data: false } }],
  });
  const pc = json({ inputs: [{ name: 'version', datatype: 'INT32', shape: [1], data: [1] }], outputs: [{ name: 'files' }] });
  const u = { 'unet.req': unet.body, 'unet.req.hlen': enc(unet.hlen) };
  const d = { 'vae_decoder.req': dec.body, 'vae_decoder.req.hlen': enc(dec.hlen) };
  return [
    { files: u, target: 'unet.req', kind: 'binary' },
    { files: d, target: 'vae_decoder.req', kind: 'binary' },
    { files: d, target: 'vae_decoder.req.hlen', kind: 'text' },
    { files: { 'text_encoder.req': te }, target: 'text_encoder.req', kind: 'json' },
    { files: { 'vae_encoder.req': ve }, target: 'vae_encoder.req', kind: 'json' },
    { files: { 'pipeline_config.req': pc }, target: 'pipeline_config.req', kind: 'json' },
  ];
}

export const REMOTE_READERS: FuzzReader[] = [
  {
    name: 'remote',
    seeds: remoteSeeds,
    async read(dir) {
      await closeReal(); // the seeds' server is not needed while the hostile one answers
      hostileRoot = dir;
      const { url } = await hostileServer();
      const rt = new RemoteRuntime(url, { retries: 0, timeoutMs: 15_000 });
      const pipe = await loadRemotePipeline(rt);
      const text = await pipe.encodeText('make it red');
      const image = await pipe.decode({ channels: 4, height: 4, width: 4, data: latents(64) });
      return { text, image, hidden: pipe.info.variant.hiddenSize };
    },
    async check(v) {
      const { text, image, hidden } = v as {
        text: { cond: Float32Array; uncond: Float32Array };
        image: { width: number; height: number; channels: number; data: Float32Array };
        hidden: number;
      };
      for (const e of [text.cond, text.uncond]) {
        if (e.length !== 77 * hidden) return `text states of ${e.length} values, expected 77×${hidden}`;
        if (!e.every(Number.isFinite)) return 'text states not finite';
      }
      if (image.width !== 32 || image.height !== 32) return `decoded image is ${image.width}×${image.height}, expected 32×32`;
      if (image.data.length !== image.width * image.height * image.channels || !image.data.every(Number.isFinite))
        return 'decoded image broken or not finite';
      return null;
    },
    async dispose() {
      await closeReal();
      const h = hostile;
      hostile = null;
      if (h) await new Promise<void>((r) => void h.then(({ server }) => (server.closeAllConnections(), server.close(() => r()))));
    },
  },
  {
    name: 'serve',
    seeds: serveSeeds,
    async read(dir) {
      const req = readdirSync(dir).find((f) => f.endsWith('.req'));
      if (!req) throw new UserError('the request file is gone (the case replaced it)');
      const model = req.slice(0, -4);
      let body: Uint8Array;
      let hlen: string | undefined;
      try {
        body = await readRegularFile(join(dir, req), 64 << 20);
      } catch (e) {
        if (e instanceof UserError) throw e;
        throw new UserError(String(e));
      }
      try {
        hlen = new TextDecoder().decode(await readRegularFile(join(dir, `${req}.hlen`), 256));
      } catch {
        hlen = undefined;
      }
      const b = await base();
      let r;
      try {
        r = await post(`${b}/v2/models/${model}/infer`, body, hlen);
      } catch (e) {
        // fetch itself refuses header values with line breaks: the request never left
        if (/header|ByteString/i.test(String((e as Error)?.cause ?? e)))
          throw new UserError(`the client refused to send it (${String(e)})`);
        throw e;
      }
      const live = await fetch(`${b}/v2/health/ready`);
      if (live.status !== 200) throw new Error(`the server stopped serving after HTTP ${r.status}`);
      if (r.status === 200) return decodeOutputs(r.body, r.hlen);
      let err: unknown;
      try {
        err = JSON.parse(new TextDecoder().decode(r.body)).error;
      } catch {
        throw new Error(`HTTP ${r.status} without a JSON error body`);
      }
      if (typeof err !== 'string') throw new Error(`HTTP ${r.status}: the error is not a string`);
      if ([...err].some((c) => c.charCodeAt(0) < 0x20)) throw new Error(`HTTP ${r.status}: a multi-line error: ${JSON.stringify(err)}`);
      if (r.status >= 500 && r.status !== 503) throw new Error(`HTTP ${r.status}: ${err}`);
      throw new UserError(`HTTP ${r.status}: ${err}`);
    },
    async check(v) {
      for (const [name, t] of Object.entries(v as Record<string, { data: ArrayLike<number | bigint> }>))
        for (let i = 0; i < t.data.length; i++)
          if (typeof t.data[i] === 'number' && !Number.isFinite(t.data[i])) return `output ${name} not finite`;
      return null;
    },
    dispose: closeReal,
  },
];
