/**
 * `instruct-scene serve`: an Open Inference Protocol (KServe v2 REST) server for an InstructPix2Pix model folder,
 * on Node's http module and onnxruntime-node (one worker thread per model; CUDA when its execution provider is
 * installed). Serves the four models under their optimum folder names (`PREFIX_` before them with a prefix) and
 * `pipeline_config` (the tokenizer and scheduler config, see src/edit/diffusion/remote/pipeline-config.ts).
 *
 * Endpoints: GET /v2, /v2/health/live, /v2/health/ready, /v2/models/{name}[/versions/1], …/ready and
 * POST …/infer with JSON or binary tensors. Every error is one JSON object `{"error": "…"}` with a 4xx/5xx status;
 * nothing a client sends stops the server. Limits: request size (413), a bounded queue per model (503, retry
 * later), bytes held across all requests (503). One log entry per request with its timings. CORS headers only for
 * the origins given; requests from other origins are refused. See docs/remote-inference.md.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import * as os from 'node:os';
import { checkModelFolder, COMPONENTS } from '../../edit/diffusion/model-contract';
import { readModelInfo, type ModelInfo, type ValueSpec } from '../../edit/diffusion/onnx/signature';
import type { TensorMetadata } from '../../edit/diffusion/remote/oip-client';
import { serverModelName } from '../../edit/diffusion/remote/model-server-url';
import {
  OipFormatError,
  binarySlice,
  elementCount,
  encodeBody,
  isOipDatatype,
  oipDatatypeOf,
  splitBody,
  tensorBytes,
  tensorFromBinary,
  tensorFromJson,
  tensorToJson,
  OIP_TYPES,
  type OipDatatype,
  type WireTensor,
} from '../../edit/diffusion/remote/oip-tensors';
import { PIPELINE_CONFIG, pipelineBundle, pipelineConfigModel } from '../../edit/diffusion/remote/pipeline-config';
import { describeValue, escapeControls, UserError } from '../../core/errors';
import { nodeFiles } from './node-files';
import { joinPath } from '../../core/paths';
import { loadTokenizer } from '../../edit/diffusion/tokenizer/tokenizer';
import { ModelQueue, ModelRunError, QueueFullError, type JobResult } from './model-queue';
import { ModelWorker, providersFor, type Device } from './model-worker';

export interface ServeOptions {
  /** the model folder */
  dir: string;
  host: string;
  /** 0: an ephemeral port */
  port: number;
  /** model-name prefix: `PREFIX_unet`, … */
  prefix?: string;
  /** origins allowed to call the server from a browser ('*' = any) */
  cors?: string[];
  device?: Device;
  /** onnxruntime intra-op threads per model (default: onnxruntime's) */
  threads?: number;
  /** most rows (first-axis entries) in one batched run; 1 turns batching off (default 16) */
  maxBatch?: number;
  /** requests waiting per model before new ones get 503 (default 32) */
  queue?: number;
  /** largest request body in bytes (default 64 MiB) */
  maxRequestBytes?: number;
  /**
   * largest image area one run may work on, in pixels at image resolution, summed over a batch (default
   * 2048 × 2048): latents count 64 pixels each (an 8× VAE), so a 16 MB request cannot make the VAE decoder
   * allocate gigabytes (MAX_PIXELS)
   */
  maxPixels?: number;
  /** time a client has to send a whole request, headers and body, in ms (default 300 000, Node's) */
  requestTimeoutMs?: number;
  log?: (e: LogEntry) => void;
  onProgress?: (msg: string) => void;
}

export interface LogEntry {
  time: string;
  remote: string;
  method: string;
  path: string;
  status: number;
  ms: number;
  bytesIn: number;
  bytesOut: number;
  model?: string;
  queueMs?: number;
  runMs?: number;
  /** requests × rows of the batch the request ran in */
  batch?: [number, number];
  error?: string;
}

export interface ServedModel {
  name: string;
  /** the pipeline component it is (null: pipeline_config) */
  component: (typeof COMPONENTS)[number] | null;
  file: string;
  info: ModelInfo;
  inputs: TensorMetadata[];
  outputs: TensorMetadata[];
  worker: ModelWorker;
  queue: ModelQueue;
}

export interface OipServer {
  url: string;
  host: string;
  port: number;
  models: ServedModel[];
  /** the execution provider the models run on */
  provider: string;
  /** what does not fit the model contract (served anyway) */
  warnings: string[];
  /** stops accepting, lets requests in flight finish (at most `graceMs`), stops the workers */
  close(graceMs?: number): Promise<void>;
}

/** An answer with an error status: `{"error": message}`, the message one line (control characters escaped). */
class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(escapeControls(message));
  }
}

/** Default of ServeOptions.maxPixels: a 2048 × 2048 image. */
export const MAX_PIXELS = 2048 * 2048;
/** Most token ids one text_encoder run takes: 64 prompts of 77 tokens. */
export const MAX_TOKENS = 64 * 77;

/**
 * What a request makes a pipeline model work on — the image area (pixels at image resolution: NCHW images as
 * they are, latents × 64 for an 8× VAE) and the token ids — which bounds the memory of the run far better than
 * the request's bytes: a 16 MB latent makes a 8192 × 8192 image.
 */
export function requestCost(component: ServedModel['component'], inputs: WireTensor[]): { pixels: number; tokens: number } {
  let pixels = 0,
    tokens = 0;
  const latent = component === 'unet' || component === 'vae_decoder';
  for (const t of inputs) {
    if (t.shape.length === 4) pixels = Math.max(pixels, t.shape[0] * t.shape[2] * t.shape[3] * (latent ? 64 : 1));
    if (component === 'text_encoder' && t.shape.length === 2) tokens = Math.max(tokens, t.shape[0] * t.shape[1]);
  }
  return { pixels, tokens };
}

/** True when every value of a float tensor is finite (FP16: exponent bits not all ones). */
function allFinite(t: WireTensor): boolean {
  const d = t.data;
  if (t.datatype === 'FP16') {
    for (let i = 0; i < d.length; i++) if (((d[i] as number) & 0x7c00) === 0x7c00) return false;
  } else if (t.datatype === 'FP32' || t.datatype === 'FP64') {
    for (let i = 0; i < d.length; i++) if (!Number.isFinite(d[i] as number)) return false;
  }
  return true;
}

function tensorMeta(spec: ValueSpec): TensorMetadata {
  return {
    name: spec.name,
    datatype: oipDatatypeOf(spec.dtype) ?? spec.dtype.toUpperCase(),
    shape: spec.shape ? spec.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : -1)) : [-1],
  };
}

const fmtShape = (s: readonly number[]) => `[${s.join(',')}]`;

/** A model can batch when every input and output has a dynamic first dimension. */
function batchable(info: ModelInfo): boolean {
  return [...info.inputs, ...info.outputs].every((v) => v.shape && v.shape.length >= 1 && typeof v.shape[0] !== 'number');
}

export async function startOipServer(o: ServeOptions): Promise<OipServer> {
  const prefix = o.prefix ?? '';
  const cors = o.cors ?? [];
  const maxRequest = o.maxRequestBytes ?? 64 << 20;
  const maxPixels = o.maxPixels ?? MAX_PIXELS;
  const budget = 4 * maxRequest;
  const maxBatch = Math.max(1, o.maxBatch ?? 16);
  const queueLimit = Math.max(1, o.queue ?? 32);
  const providers = providersFor(o.device ?? 'auto');
  const log = o.log ?? (() => {});

  // --- models ---
  const check = await checkModelFolder(o.dir, nodeFiles);
  const sources: { name: string; component: ServedModel['component']; file: string; source: string | Uint8Array; info: ModelInfo }[] = [];
  for (const comp of COMPONENTS) {
    const c = check.components[comp];
    if (c) sources.push({ name: serverModelName(prefix, comp), component: comp, file: c.path, source: c.path, info: c.info });
  }
  // token ids past the vocabulary would make the text encoder's lookup fail inside onnxruntime: refused up front
  const vocabSize = await loadTokenizer(joinPath(o.dir, 'tokenizer'), nodeFiles).then(
    (t) => t.vocabSize,
    () => null,
  );
  if (!sources.length) throw new UserError('no model to serve (none of text_encoder, unet, vae_encoder, vae_decoder loads)', o.dir);
  const pc = pipelineConfigModel(await pipelineBundle(o.dir, nodeFiles));
  sources.push({
    name: serverModelName(prefix, PIPELINE_CONFIG),
    component: null,
    file: `${o.dir} (${PIPELINE_CONFIG})`,
    source: pc,
    info: readModelInfo(pc),
  });
  o.onProgress?.(`loading ${sources.map((s) => s.name).join(', ')}`);
  const started = await Promise.allSettled(sources.map((s) => ModelWorker.start(s.source, { providers, threads: o.threads })));
  const failed = started.findIndex((r) => r.status === 'rejected');
  if (failed >= 0) {
    for (const r of started) if (r.status === 'fulfilled') await r.value.terminate();
    const why = ((started[failed] as PromiseRejectedResult).reason as Error).message;
    throw new UserError(`onnxruntime-node cannot load it (${why.split('\n')[0]})`, sources[failed].file);
  }
  const models: ServedModel[] = sources.map((s, i) => {
    const worker = (started[i] as PromiseFulfilledResult<ModelWorker>).value;
    return {
      name: s.name,
      component: s.component,
      file: s.file,
      info: s.info,
      inputs: s.info.inputs.map(tensorMeta),
      outputs: s.info.outputs.map(tensorMeta),
      worker,
      queue: new ModelQueue(s.name, worker, batchable(s.info) && maxBatch > 1, maxBatch, queueLimit),
    };
  });
  const byName = new Map(models.map((m) => [m.name, m]));
  const provider = models[0].worker.provider;

  // --- http ---
  let stopping = false;
  let inflight = 0;
  let held = 0;
  let idle: (() => void) | null = null;

  const allowed = (origin: string) => cors.includes('*') || cors.includes(origin);

  function send(res: ServerResponse, e: LogEntry, status: number, body: Uint8Array | string, headers: Record<string, string> = {}): void {
    if (res.destroyed) return; // the client left; the log says 499
    const b = typeof body === 'string' ? Buffer.from(body) : body;
    e.status = status;
    e.bytesOut = b.byteLength;
    res.writeHead(status, { 'Content-Length': String(b.byteLength), ...headers });
    res.end(b);
  }

  function sendJson(res: ServerResponse, e: LogEntry, status: number, obj: unknown, headers: Record<string, string> = {}): void {
    send(res, e, status, JSON.stringify(obj), { 'Content-Type': 'application/json', ...headers });
  }

  function readBody(req: IncomingMessage, e: LogEntry): Promise<Uint8Array> {
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let n = 0;
      let over: HttpError | null = null;
      let settled = false;
      const release = () => (held -= chunks.reduce((a, b) => a + b.byteLength, 0));
      req.on('data', (c: Buffer) => {
        n += c.byteLength;
        e.bytesIn = n;
        if (over) return; // drained, not kept
        if (n > maxRequest)
          over = new HttpError(413, `the request is larger than the server's limit of ${maxRequest} bytes (serve --max-request-mb)`);
        else if (held + c.byteLength > budget)
          over = new HttpError(503, 'the server holds too much request data right now; try again later', { 'Retry-After': '1' });
        if (over) {
          release();
          chunks.length = 0;
          return;
        }
        held += c.byteLength;
        chunks.push(c);
      });
      req.on('end', () => {
        settled = true;
        if (over) return reject(over);
        const b = Buffer.concat(chunks);
        resolve(new Uint8Array(b.buffer, b.byteOffset, b.byteLength));
      });
      // a client that leaves mid-upload: give back what was held, answer nobody
      req.on('close', () => {
        if (settled) return;
        settled = true;
        if (!over) release();
        reject(new HttpError(400, 'the client closed the connection during the upload'));
      });
    });
  }

  function modelFor(name: string, version: string | undefined): ServedModel {
    const m = byName.get(name);
    if (!m) throw new HttpError(404, `unknown model '${name}' (this server has ${[...byName.keys()].join(', ')})`);
    if (version !== undefined && version !== '1') throw new HttpError(404, `model '${name}' has no version '${version}' (versions: 1)`);
    return m;
  }

  function metadata(m: ServedModel) {
    return { name: m.name, versions: ['1'], platform: 'onnxruntime_onnx', inputs: m.inputs, outputs: m.outputs };
  }

  /** Parses and checks an inference request against the model's signature. */
  function parseInfer(m: ServedModel, body: Uint8Array, headerLength: string | undefined) {
    const { json, binary } = splitBody(body, headerLength);
    if (!json || typeof json !== 'object' || Array.isArray(json)) throw new OipFormatError('the request must be a JSON object');
    const r = json as Record<string, any>;
    if (r.id !== undefined && typeof r.id !== 'string') throw new OipFormatError("'id' must be a string");
    if (!Array.isArray(r.inputs) || !r.inputs.length) throw new OipFormatError("'inputs' must be a non-empty array");
    const got = new Map<string, WireTensor>();
    let offset = 0;
    for (const inp of r.inputs) {
      if (!inp || typeof inp !== 'object' || typeof inp.name !== 'string') throw new OipFormatError("every input needs a 'name'");
      const what = `input '${inp.name}'`;
      const spec = m.inputs.find((s) => s.name === inp.name);
      if (!spec) throw new OipFormatError(`unknown ${what}; model '${m.name}' takes ${m.inputs.map((s) => s.name).join(', ')}`);
      if (got.has(inp.name)) throw new OipFormatError(`${what} is given twice`);
      if (!isOipDatatype(inp.datatype))
        throw new OipFormatError(
          `${what}: unknown datatype ${describeValue(inp.datatype, 40)} (one of ${Object.keys(OIP_TYPES).join(', ')})`,
        );
      if (inp.datatype !== spec.datatype) throw new OipFormatError(`${what} is ${inp.datatype}; model '${m.name}' takes ${spec.datatype}`);
      const count = elementCount(inp.shape, what); // allocations follow the checked binary size or JSON length, never the shape alone
      const shape = inp.shape as number[];
      const rankKnown = m.info.inputs.find((s) => s.name === inp.name)?.shape !== null;
      if (rankKnown && (shape.length !== spec.shape.length || spec.shape.some((d, i) => d >= 0 && d !== shape[i])))
        throw new OipFormatError(`${what} has shape ${fmtShape(shape)}; model '${m.name}' takes ${fmtShape(spec.shape)} (−1: any size)`);
      const size = inp.parameters?.binary_data_size;
      let data;
      if (size !== undefined) {
        if (inp.data !== undefined) throw new OipFormatError(`${what} has both 'data' and parameters.binary_data_size`);
        data = tensorFromBinary(inp.datatype, count, binarySlice(binary, offset, size, what), what);
        offset += size;
        if (!allFinite({ name: inp.name, datatype: inp.datatype, shape: [], data }))
          throw new OipFormatError(`${what} holds a value that is not finite (NaN or ∞)`);
      } else if (inp.data !== undefined) data = tensorFromJson(inp.datatype, count, inp.data, what);
      else throw new OipFormatError(`${what} has neither 'data' nor parameters.binary_data_size`);
      got.set(inp.name, { name: inp.name, datatype: inp.datatype, shape, data });
    }
    if (offset !== binary.byteLength)
      throw new OipFormatError(`${binary.byteLength - offset} bytes of binary data after the JSON header that no input claims`);
    const missing = m.inputs.filter((s) => !got.has(s.name)).map((s) => `'${s.name}'`);
    if (missing.length)
      throw new OipFormatError(`missing input ${missing.join(', ')}; model '${m.name}' takes ${m.inputs.map((s) => s.name).join(', ')}`);
    const binaryDefault = r.parameters?.binary_data_output === true;
    if (r.outputs !== undefined && !Array.isArray(r.outputs)) throw new OipFormatError("'outputs' must be an array");
    const wanted: { name: string; binary: boolean }[] = (r.outputs ?? m.outputs.map((s) => ({ name: s.name }))).map((x: any) => {
      if (!x || typeof x.name !== 'string') throw new OipFormatError("every requested output needs a 'name'");
      const spec = m.outputs.find((s) => s.name === x.name);
      if (!spec) throw new OipFormatError(`unknown output '${x.name}'; model '${m.name}' gives ${m.outputs.map((s) => s.name).join(', ')}`);
      const bin = x.parameters?.binary_data ?? binaryDefault;
      if (typeof bin !== 'boolean') throw new OipFormatError(`output '${x.name}': parameters.binary_data must be true or false`);
      if (spec.datatype === 'FP16' && !bin)
        throw new OipFormatError(
          `output '${x.name}' is FP16, which travels only as binary data; ask for it with parameters.binary_data = true`,
        );
      return { name: x.name, binary: bin };
    });
    const inputs = m.inputs.map((s) => got.get(s.name)!);
    const lead = inputs.map((t) => (t.shape.length ? t.shape[0] : -1));
    const rows = lead.every((n) => n >= 1 && n === lead[0]) ? lead[0] : null;
    if (m.component === 'text_encoder' && vocabSize !== null)
      for (const t of inputs)
        for (let i = 0; i < t.data.length; i++) {
          const id = Number(t.data[i]);
          if (!(Number.isInteger(id) && id >= 0 && id < vocabSize))
            throw new OipFormatError(`input '${t.name}' holds token id ${id}, outside the model's vocabulary of ${vocabSize} tokens`);
        }
    const { pixels, tokens } = requestCost(m.component, inputs);
    if (pixels > maxPixels)
      throw new HttpError(
        413,
        `this request makes model '${m.name}' work on ${pixels.toLocaleString('en-US')} image pixels, more than the server's limit of ${maxPixels.toLocaleString('en-US')} (serve --max-pixels)`,
      );
    if (tokens > MAX_TOKENS)
      throw new HttpError(
        413,
        `this request holds ${tokens} token ids, more than the ${MAX_TOKENS} one run takes (64 prompts of 77 tokens)`,
      );
    const cost = Math.max(pixels / maxPixels, tokens / MAX_TOKENS);
    return { id: r.id as string | undefined, inputs, rows, wanted, cost };
  }

  function inferResponse(m: ServedModel, id: string | undefined, wanted: { name: string; binary: boolean }[], res: JobResult) {
    const outs: Record<string, unknown>[] = [];
    const chunks: Uint8Array[] = [];
    for (const w of wanted) {
      const t = res.outputs.find((x) => x.name === w.name);
      if (!t) throw new HttpError(500, `model '${m.name}' did not return output '${w.name}'`);
      if (w.binary) {
        const b = tensorBytes(t.data);
        outs.push({ name: t.name, datatype: t.datatype, shape: t.shape, parameters: { binary_data_size: b.byteLength } });
        chunks.push(b);
      } else
        outs.push({
          name: t.name,
          datatype: t.datatype,
          shape: t.shape,
          data: tensorToJson(t.datatype as OipDatatype, t.data, `output '${t.name}'`),
        });
    }
    return encodeBody({ model_name: m.name, model_version: '1', ...(id !== undefined ? { id } : {}), outputs: outs }, chunks);
  }

  async function route(req: IncomingMessage, res: ServerResponse, e: LogEntry, client: { gone: boolean }): Promise<void> {
    const method = req.method ?? 'GET';
    let segs: string[];
    try {
      segs = new URL(req.url ?? '/', 'http://x').pathname.split('/').filter(Boolean).map(decodeURIComponent);
    } catch {
      throw new HttpError(400, 'malformed URL');
    }
    const only = (m: string) => {
      if (method !== m && !(m === 'GET' && method === 'HEAD'))
        throw new HttpError(405, `use ${m} here`, { Allow: m === 'GET' ? 'GET, HEAD' : m });
    };
    if (segs[0] !== 'v2')
      throw new HttpError(404, `no such endpoint: ${method} ${e.path} (this server speaks the Open Inference Protocol under /v2)`);
    if (segs.length === 1) {
      only('GET');
      return sendJson(res, e, 200, { name: 'instruct-scene', version: '0.1.0', extensions: ['binary_tensor_data'] });
    }
    if (segs[1] === 'health' && segs.length === 3 && (segs[2] === 'live' || segs[2] === 'ready')) {
      only('GET');
      const ok = segs[2] === 'live' || (!stopping && models.every((m) => m.worker.alive));
      e.status = ok ? 200 : 503;
      res.writeHead(e.status, { 'Content-Length': '0' });
      res.end();
      return;
    }
    if (segs[1] !== 'models' || segs.length < 3) throw new HttpError(404, `no such endpoint: ${method} ${e.path}`);
    const name = segs[2];
    let rest = segs.slice(3);
    let version: string | undefined;
    if (rest[0] === 'versions') {
      if (rest.length < 2) throw new HttpError(404, `no such endpoint: ${method} ${e.path}`);
      version = rest[1];
      rest = rest.slice(2);
    }
    const m = modelFor(name, version);
    e.model = m.name;
    if (rest.length === 0) {
      only('GET');
      return sendJson(res, e, 200, metadata(m));
    }
    if (rest.length === 1 && rest[0] === 'ready') {
      only('GET');
      e.status = m.worker.alive && !stopping ? 200 : 503;
      res.writeHead(e.status, { 'Content-Length': '0' });
      res.end();
      return;
    }
    if (rest.length !== 1 || rest[0] !== 'infer') throw new HttpError(404, `no such endpoint: ${method} ${e.path}`);
    only('POST');
    if (!m.worker.alive) throw new HttpError(503, `model '${m.name}' is not available (its worker stopped)`);
    const enc = req.headers['content-encoding'];
    if (enc && enc !== 'identity') throw new HttpError(415, `Content-Encoding '${enc}' is not supported; send the body uncompressed`);
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > maxRequest)
      throw new HttpError(413, `the request is larger than the server's limit of ${maxRequest} bytes (serve --max-request-mb)`, {
        Connection: 'close',
      });
    if (m.queue.full)
      throw new HttpError(503, `the queue of model '${m.name}' is full (${m.queue.limit} requests waiting); try again later`, {
        'Retry-After': '1',
      });
    const body = await readBody(req, e);
    try {
      let parsed;
      try {
        parsed = parseInfer(m, body, req.headers['inference-header-content-length'] as string | undefined);
      } catch (err) {
        if (err instanceof OipFormatError) throw new HttpError(400, err.message);
        throw err;
      }
      let result: JobResult;
      try {
        result = await m.queue.submit({ inputs: parsed.inputs, rows: parsed.rows, cost: parsed.cost, abandoned: () => client.gone });
      } catch (err) {
        if (err instanceof QueueFullError) throw new HttpError(503, `${err.message}; try again later`, { 'Retry-After': '1' });
        if (err instanceof ModelRunError) throw new HttpError(500, `model '${m.name}' failed on this request: ${err.message}`);
        throw err;
      }
      e.queueMs = result.queueMs;
      e.runMs = result.runMs;
      e.batch = [result.batchRequests, result.batchRows];
      let out;
      try {
        out = inferResponse(m, parsed.id, parsed.wanted, result);
      } catch (err) {
        if (err instanceof OipFormatError) throw new HttpError(500, err.message);
        throw err;
      }
      const headers: Record<string, string> = {
        'Content-Type': out.headerLength === null ? 'application/json' : 'application/octet-stream',
      };
      if (out.headerLength !== null) headers['Inference-Header-Content-Length'] = String(out.headerLength);
      send(res, e, 200, out.body, headers);
    } finally {
      held -= body.byteLength;
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const t0 = performance.now();
    inflight++;
    const e: LogEntry = {
      time: new Date().toISOString(),
      remote: req.socket.remoteAddress ?? '?',
      method: req.method ?? '?',
      path: (req.url ?? '/').split('?')[0].slice(0, 200),
      status: 0,
      ms: 0,
      bytesIn: 0,
      bytesOut: 0,
    };
    let done = false;
    const client = { gone: false };
    const finish = () => {
      if (!res.writableFinished) client.gone = true;
      if (done) return;
      done = true;
      inflight--;
      e.ms = performance.now() - t0;
      if (!e.status) {
        e.status = 499;
        e.error ??= 'the client closed the connection';
      }
      log(e);
      if (inflight === 0) idle?.();
    };
    res.on('close', finish);
    const corsHeaders: Record<string, string> = {};
    try {
      const origin = req.headers.origin;
      if (origin !== undefined) {
        if (!allowed(origin))
          throw new HttpError(403, `origin ${origin} is not allowed to call this server (start it with --cors ${origin})`, {
            Vary: 'Origin',
          });
        Object.assign(corsHeaders, {
          'Access-Control-Allow-Origin': cors.includes('*') ? '*' : origin,
          'Access-Control-Expose-Headers': 'Inference-Header-Content-Length',
          Vary: 'Origin',
        });
      }
      for (const [k, v] of Object.entries(corsHeaders)) res.setHeader(k, v);
      if (req.method === 'OPTIONS') {
        e.status = 204;
        res.writeHead(204, {
          Allow: 'GET, HEAD, POST, OPTIONS',
          ...(origin !== undefined
            ? {
                'Access-Control-Allow-Methods': 'GET, HEAD, POST, OPTIONS',
                'Access-Control-Allow-Headers': 'Content-Type, Inference-Header-Content-Length',
                'Access-Control-Max-Age': '600',
              }
            : {}),
        });
        res.end();
        return;
      }
      if (stopping) throw new HttpError(503, 'the server is stopping', { Connection: 'close' });
      await route(req, res, e, client);
    } catch (err) {
      const he =
        err instanceof HttpError
          ? err
          : new HttpError(
              500,
              `internal error: ${String((err as Error)?.message ?? err).split('\n')[0]} (this is a bug in instruct-scene serve)`,
            );
      e.error = he.message;
      if (res.headersSent || res.destroyed) {
        res.destroy();
        return;
      }
      // a body not read yet is discarded; a large one closes the connection instead of being read
      if (!req.complete) req.resume();
      sendJson(res, e, he.status, { error: he.message }, { ...corsHeaders, ...he.headers });
    }
  }

  const requestTimeout = o.requestTimeoutMs ?? 300_000;
  const server: Server = createServer(
    {
      requestTimeout,
      headersTimeout: Math.min(60_000, requestTimeout),
      // how often Node looks for requests past their time (its default, 30 s, would let a short limit run long)
      connectionsCheckingInterval: Math.min(30_000, Math.max(100, requestTimeout / 4)),
    },
    (req, res) => void handle(req, res),
  );
  // what Node's parser refuses, and clients too slow to send their request (headers or body): one JSON answer
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    const [status, reason, msg] =
      err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'Request Timeout', `the request did not arrive within ${requestTimeout / 1000} s (serve --request-timeout)`]
        : err.code === 'HPE_HEADER_OVERFLOW'
          ? [431, 'Request Header Fields Too Large', 'the request headers are too large']
          : [400, 'Bad Request', 'malformed HTTP request'];
    if (socket.writable && (socket as Socket).bytesWritten === 0) {
      const body = JSON.stringify({ error: msg });
      socket.end(
        `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
    } else socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      for (const m of models) void m.worker.terminate();
      if (err.code === 'EADDRINUSE')
        reject(new UserError(`port ${o.port} on ${o.host} is in use; choose another with --port (0: any free port)`));
      else if (err.code === 'EACCES')
        reject(new UserError(`no permission to listen on ${o.host}:${o.port} (ports below 1024 need privileges)`));
      else if (err.code === 'EADDRNOTAVAIL' || err.code === 'ENOTFOUND')
        reject(new UserError(`cannot listen on host '${o.host}' (not an address of this machine)`));
      else reject(err);
    });
    server.listen(o.port, o.host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const shownHost = o.host === '0.0.0.0' || o.host === '::' ? os.hostname() : addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  let closing: Promise<void> | null = null;
  return {
    url: `http://${shownHost}:${addr.port}`,
    host: addr.address,
    port: addr.port,
    models,
    provider,
    warnings: check.problems,
    close(graceMs = 30_000) {
      closing ??= (async () => {
        stopping = true;
        const closed = new Promise<void>((r) => server.close(() => r()));
        server.closeIdleConnections();
        if (inflight > 0)
          await Promise.race([new Promise<void>((r) => (idle = r)), new Promise<void>((r) => setTimeout(r, graceMs).unref())]);
        for (const m of models) m.queue.drain(new Error('the server is stopping'));
        server.closeAllConnections();
        await closed;
        await Promise.all(models.map((m) => m.worker.terminate()));
      })();
      return closing;
    },
  };
}
