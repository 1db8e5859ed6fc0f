/**
 * A client of the Open Inference Protocol (KServe v2 REST) over `fetch`, so it runs in browsers, workers and Node:
 * health, server and model metadata, model readiness and inference with binary tensors (Triton's binary tensor data
 * extension; JSON outputs are read too). Every call is idempotent (the models are stateless), so calls that fail
 * for want of a server (refused or reset connections, 502/503/504/429) are retried with exponential backoff; each
 * try has a time limit; a caller's AbortSignal aborts the request in flight. Failures are `RemoteError`s, one line
 * each, naming the URL.
 */
import { describeValue, UserError } from '../../../core/errors';
import {
  OipFormatError,
  binarySlice,
  elementCount,
  encodeBody,
  isOipDatatype,
  splitBody,
  tensorBytes,
  tensorFromBinary,
  tensorFromJson,
  type WireTensor,
} from './oip-tensors';

export type RemoteErrorKind = 'unreachable' | 'timeout' | 'http' | 'protocol';

/** A failed call to an inference server (one line: the URL and what happened). */
export class RemoteError extends UserError {
  constructor(
    message: string,
    readonly kind: RemoteErrorKind,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'RemoteError';
  }
}

export interface OipClientOptions {
  /** the fetch to use (default: the global one) */
  fetch?: typeof fetch;
  /** time limit of one try of one call, in ms (default 120 000) */
  timeoutMs?: number;
  /** tries after the first for calls that found no server (default 4) */
  retries?: number;
  /** first wait between tries in ms, doubled each time, at most 4 s (default 250) */
  backoffMs?: number;
  /** how to wait longer, for the timeout message (default: the timeoutMs option) */
  timeoutHint?: string;
  /** extra request headers (e.g. an Authorization header a proxy in front of the server wants) */
  headers?: Record<string, string>;
  /** largest inference response read, in bytes (default 512 MiB): a server that sends more is refused */
  maxResponseBytes?: number;
}

/** Largest answer to a GET (server and model metadata): real ones are a few kB. */
const MAX_METADATA_BYTES = 16 << 20;

export interface TensorMetadata {
  name: string;
  datatype: string;
  /** −1 for dynamic dimensions */
  shape: number[];
}

export interface ModelMetadata {
  name: string;
  versions?: string[];
  platform?: string;
  inputs: TensorMetadata[];
  outputs: TensorMetadata[];
}

export interface InferOptions {
  /** outputs to return (default: all the model's) */
  outputs?: string[];
  /** ask for binary outputs (default true) */
  binary?: boolean;
  signal?: AbortSignal;
  id?: string;
}

interface Reply {
  status: number;
  headers: Headers;
  body: Uint8Array;
}

const RETRY_STATUS = new Set([429, 502, 503, 504]);
const dec = new TextDecoder();

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** What a failed fetch says (Node puts the socket error in `cause`). */
function networkCause(e: unknown): string {
  const c = (e as { cause?: { code?: string; message?: string } })?.cause;
  if (c?.message) return c.message;
  if (c?.code) return c.code;
  const m = (e as Error)?.message ?? String(e);
  return /failed to fetch|load failed|networkerror/i.test(m)
    ? `${m}; in a browser this is also how a server without CORS permission for this page looks (start it with --cors ORIGIN)`
    : m;
}

/**
 * A response body, at most `max` bytes: a declared Content-Length over it is refused before reading, and the
 * stream is cancelled as soon as it passes it, so a hostile or broken server cannot make us hold without bound.
 */
async function readBody(res: Response, max: number, url: string): Promise<Uint8Array> {
  const tooLarge = (n: string) =>
    new RemoteError(
      `${url}: the answer is ${n} bytes, more than the ${max.toLocaleString('en-US')} this client reads (a broken or hostile server?)`,
      'protocol',
    );
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (Number.isFinite(declared) && declared > max) {
    await res.body?.cancel().catch(() => {});
    throw tooLarge(declared.toLocaleString('en-US'));
  }
  if (!res.body) {
    const b = new Uint8Array(await res.arrayBuffer());
    if (b.byteLength > max) throw tooLarge(b.byteLength.toLocaleString('en-US'));
    return b;
  }
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let n = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    n += value.byteLength;
    if (n > max) {
      await reader.cancel().catch(() => {});
      throw tooLarge(`over ${max.toLocaleString('en-US')}`);
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(n);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.byteLength;
  }
  return out;
}

function errorText(r: Reply): string {
  const text = dec.decode(r.body.subarray(0, 4096));
  try {
    const j = JSON.parse(text);
    if (j && typeof j.error === 'string') return j.error;
  } catch {
    // not JSON: the text itself
  }
  return text.trim().split('\n')[0].slice(0, 300) || '(no message)';
}

export class OipClient {
  private readonly fetch: typeof fetch;
  readonly timeoutMs: number;
  private readonly retries: number;
  private readonly backoffMs: number;
  readonly maxResponseBytes: number;

  /** @param base the server's URL without `/v2` (e.g. `http://gpu-box:8000`, or a proxy's `https://host/triton`) */
  constructor(
    readonly base: string,
    private readonly opts: OipClientOptions = {},
  ) {
    this.base = base.replace(/\/+$/, '');
    this.fetch = opts.fetch ?? ((...a: Parameters<typeof fetch>) => globalThis.fetch(...a));
    this.timeoutMs = opts.timeoutMs ?? 120_000;
    this.retries = opts.retries ?? 4;
    this.backoffMs = opts.backoffMs ?? 250;
    this.maxResponseBytes = opts.maxResponseBytes ?? 512 << 20;
  }

  url(path: string): string {
    return `${this.base}${path}`;
  }

  /** One call with retries; resolves with any HTTP answer that is not worth retrying (the caller judges the status). */
  private async request(
    method: 'GET' | 'POST',
    path: string,
    o: { body?: Uint8Array; headers?: Record<string, string>; signal?: AbortSignal; maxBytes?: number } = {},
  ): Promise<Reply> {
    const maxBytes = o.maxBytes ?? MAX_METADATA_BYTES;
    const url = this.url(path);
    const t0 = Date.now();
    let lastCause = '';
    let last: Reply | null = null;
    for (let attempt = 0; ; attempt++) {
      if (o.signal?.aborted) throw o.signal.reason;
      const ctrl = new AbortController();
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        ctrl.abort(new Error('timeout'));
      }, this.timeoutMs);
      const onAbort = () => ctrl.abort(o.signal!.reason);
      o.signal?.addEventListener('abort', onAbort, { once: true });
      let reply: Reply | null = null;
      try {
        const res = await this.fetch(url, {
          method,
          headers: { ...this.opts.headers, ...o.headers },
          body: o.body as BodyInit | undefined,
          signal: ctrl.signal,
        });
        reply = { status: res.status, headers: res.headers, body: await readBody(res, maxBytes, url) };
      } catch (e) {
        if (e instanceof RemoteError) throw e;
        if (o.signal?.aborted) throw o.signal.reason;
        if (timedOut)
          throw new RemoteError(
            `${url}: no answer within ${(this.timeoutMs / 1000).toFixed(this.timeoutMs < 1000 ? 1 : 0)} s; the server is busy or stuck (to wait longer: ${this.opts.timeoutHint ?? 'the timeoutMs option'})`,
            'timeout',
          );
        lastCause = networkCause(e);
      } finally {
        clearTimeout(timer);
        o.signal?.removeEventListener('abort', onAbort);
      }
      if (reply && !RETRY_STATUS.has(reply.status)) return reply;
      if (reply) {
        last = reply;
        lastCause = `HTTP ${reply.status}: ${errorText(reply)}`;
      }
      if (attempt >= this.retries) break;
      let wait = Math.min(4000, this.backoffMs * 2 ** attempt) * (1 + 0.25 * Math.random());
      const ra = Number(reply?.headers.get('retry-after'));
      if (Number.isFinite(ra) && ra > 0 && ra <= 30) wait = Math.max(wait, ra * 1000);
      await sleep(wait, o.signal);
    }
    const secs = ((Date.now() - t0) / 1000).toFixed(1);
    const tries = `${this.retries + 1} ${this.retries ? 'tries' : 'try'} over ${secs} s`;
    if (last && last.status !== 429 && last.status !== 503) throw new RemoteError(`${url}: ${lastCause} (${tries})`, 'http', last.status);
    if (last) throw new RemoteError(`${url}: the server is busy: ${lastCause} (${tries})`, 'http', last.status);
    throw new RemoteError(
      `${url}: cannot reach the inference server (${lastCause}; ${tries}); is it running ('instruct-scene serve' or tritonserver)?`,
      'unreachable',
    );
  }

  private async getJson(path: string, signal?: AbortSignal, allow404 = false): Promise<any> {
    const r = await this.request('GET', path, { signal });
    if (r.status === 404 && allow404) return null;
    if (r.status >= 400) throw new RemoteError(`${this.url(path)}: HTTP ${r.status}: ${errorText(r)}`, 'http', r.status);
    try {
      return JSON.parse(dec.decode(r.body));
    } catch {
      throw new RemoteError(
        `${this.url(path)}: the answer is not JSON; is this an Open Inference Protocol (KServe v2) server?`,
        'protocol',
      );
    }
  }

  /** GET /v2/health/live or /ready: true for 200, false for any other answer. */
  async health(which: 'live' | 'ready', signal?: AbortSignal): Promise<boolean> {
    const r = await this.request('GET', `/v2/health/${which}`, { signal });
    return r.status === 200;
  }

  /** GET /v2: name, version, extensions. */
  serverMetadata(signal?: AbortSignal): Promise<{ name?: string; version?: string; extensions?: string[] }> {
    return this.getJson('/v2', signal);
  }

  /** GET /v2/models/{name}: the model's inputs and outputs, or null when the server has no such model (404). */
  async modelMetadata(name: string, signal?: AbortSignal): Promise<ModelMetadata | null> {
    const path = `/v2/models/${encodeURIComponent(name)}`;
    const m = await this.getJson(path, signal, true);
    if (m === null) return null;
    const bad = (what: string) =>
      new RemoteError(
        `${this.url(path)}: malformed model metadata (${what}); is this an Open Inference Protocol (KServe v2) server?`,
        'protocol',
      );
    if (!m || typeof m !== 'object' || !Array.isArray(m.inputs) || !Array.isArray(m.outputs)) throw bad('no inputs/outputs lists');
    for (const t of [...m.inputs, ...m.outputs]) {
      if (!t || typeof t.name !== 'string' || typeof t.datatype !== 'string' || !Array.isArray(t.shape))
        throw bad(`a tensor without name, datatype and shape: ${describeValue(t, 100)}`);
      if (!t.shape.every((d: unknown) => typeof d === 'number' && Number.isInteger(d) && d >= -1))
        throw bad(`'${t.name}' has shape ${describeValue(t.shape)}`);
    }
    return m as ModelMetadata;
  }

  /** GET /v2/models/{name}/ready. */
  async modelReady(name: string, signal?: AbortSignal): Promise<boolean> {
    const r = await this.request('GET', `/v2/models/${encodeURIComponent(name)}/ready`, { signal });
    return r.status === 200;
  }

  /** POST /v2/models/{name}/infer with binary inputs; returns the outputs by name. */
  async infer(name: string, inputs: WireTensor[], o: InferOptions = {}): Promise<Record<string, WireTensor>> {
    const path = `/v2/models/${encodeURIComponent(name)}/infer`;
    const binary = o.binary ?? true;
    const header: Record<string, unknown> = {
      ...(o.id ? { id: o.id } : {}),
      inputs: inputs.map((t) => ({
        name: t.name,
        shape: t.shape,
        datatype: t.datatype,
        parameters: { binary_data_size: t.data.byteLength },
      })),
    };
    if (o.outputs) header.outputs = o.outputs.map((n) => ({ name: n, parameters: { binary_data: binary } }));
    else if (binary) header.parameters = { binary_data_output: true };
    const { body, headerLength } = encodeBody(
      header,
      inputs.map((t) => tensorBytes(t.data)),
    );
    const headers: Record<string, string> = { 'Content-Type': 'application/octet-stream' };
    if (headerLength !== null) headers['Inference-Header-Content-Length'] = String(headerLength);
    const r = await this.request('POST', path, { body, headers, signal: o.signal, maxBytes: this.maxResponseBytes });
    if (r.status >= 400) throw new RemoteError(`${this.url(path)}: HTTP ${r.status}: ${errorText(r)}`, 'http', r.status);
    try {
      return decodeOutputs(r.body, r.headers.get('inference-header-content-length'));
    } catch (e) {
      if (e instanceof OipFormatError) throw new RemoteError(`${this.url(path)}: malformed inference response: ${e.message}`, 'protocol');
      throw e;
    }
  }
}

/** An inference response body → its outputs by name (binary or JSON data). */
export function decodeOutputs(body: Uint8Array, headerLength: string | null): Record<string, WireTensor> {
  const { json, binary } = splitBody(body, headerLength);
  const outs = (json as { outputs?: unknown })?.outputs;
  if (!Array.isArray(outs)) throw new OipFormatError("no 'outputs' list");
  const res: Record<string, WireTensor> = {};
  let offset = 0;
  for (const o of outs) {
    const what = `output '${o?.name}'`;
    if (!o || typeof o.name !== 'string') throw new OipFormatError('an output without a name');
    if (!isOipDatatype(o.datatype)) throw new OipFormatError(`${what}: unknown datatype ${describeValue(o.datatype, 40)}`);
    const count = elementCount(o.shape, what);
    const size = o.parameters?.binary_data_size;
    let data;
    if (size !== undefined) {
      data = tensorFromBinary(o.datatype, count, binarySlice(binary, offset, size, what), what);
      offset += size as number;
    } else data = tensorFromJson(o.datatype, count, o.data, what);
    res[o.name] = { name: o.name, datatype: o.datatype, shape: o.shape, data };
  }
  if (offset !== binary.byteLength) throw new OipFormatError(`${binary.byteLength - offset} bytes after the last binary output`);
  return res;
}
