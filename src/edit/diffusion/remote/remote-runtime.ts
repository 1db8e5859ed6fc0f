/**
 * The pipeline's `OnnxRuntime` over an inference server: each session is a model on a KServe v2 / Triton server
 * and `run` is one inference call with binary tensors. Nothing else in the pipeline changes, so an edit through a
 * server gives the local result (same inputs, same model, same seed).
 *
 * Shapes: Triton's model configuration cannot declare a rank-0 input or one whose only dimension is the batch, so
 * its repositories declare such inputs (the UNet's `timestep`) as `[1]` or `[batch, 1]` and reshape them for the
 * model; a feed whose rank is one less than the server's shape with a trailing 1 is sent with that 1 added.
 */
import type { ModelBytes, OnnxRuntime, RtSession, RtTensor, RunOptions, TensorData, TensorType } from '../runtime';
import { OipClient, RemoteError, type ModelMetadata, type OipClientOptions } from './oip-client';
import { oipDatatypeOf, ortTypeOf, type OipArray, type WireTensor } from './oip-tensors';
import { parseModelUrl, type ModelServerUrl } from './model-server-url';

export type RemoteRuntimeOptions = OipClientOptions;

interface Registered {
  model: string;
  meta: ModelMetadata;
}

export class RemoteRuntime implements OnnxRuntime {
  readonly name: string;
  readonly loadsByPath = true;
  readonly remote = true;
  readonly client: OipClient;
  readonly server: ModelServerUrl;
  private readonly inflight = new Set<AbortController>();
  private readonly models = new Map<string, Registered>();

  constructor(url: string, opts: RemoteRuntimeOptions = {}) {
    this.server = parseModelUrl(url);
    this.client = new OipClient(this.server.base, opts);
    this.name = `inference server ${this.server.base}${this.server.prefix ? ` (prefix ${this.server.prefix})` : ''}`;
  }

  /** The URL that names a model in messages and in `ModelBytes.path`. */
  modelUrl(model: string): string {
    return this.client.url(`/v2/models/${encodeURIComponent(model)}`);
  }

  /** Makes a server model available to `createSession` under its URL (`modelUrl`). */
  register(model: string, meta: ModelMetadata): string {
    const path = this.modelUrl(model);
    this.models.set(path, { model, meta });
    return path;
  }

  tensor(type: TensorType, data: TensorData, dims: number[]): RtTensor {
    return { type, data, dims };
  }

  async createSession(m: ModelBytes): Promise<RtSession> {
    const reg = this.models.get(m.path);
    if (!reg) throw new Error(`${m.path}: not a model of this server (check the server first: checkModelServer)`);
    return remoteSession(this, reg);
  }

  /** Runs one inference call, aborted by `signal` or by `abortAll`. */
  async infer(model: string, inputs: WireTensor[], outputs: string[], signal?: AbortSignal): Promise<Record<string, WireTensor>> {
    const ctrl = new AbortController();
    const onAbort = () => ctrl.abort(signal!.reason);
    if (signal?.aborted) throw signal.reason;
    signal?.addEventListener('abort', onAbort, { once: true });
    this.inflight.add(ctrl);
    try {
      return await this.client.infer(model, inputs, { outputs, signal: ctrl.signal });
    } finally {
      this.inflight.delete(ctrl);
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Aborts every call in flight (an edit was cancelled); they reject with `reason`. Later calls run normally. */
  abortAll(reason: unknown = new Error('cancelled')): void {
    for (const c of this.inflight) c.abort(reason);
    this.inflight.clear();
  }

  /** Number of calls in flight. */
  get pending(): number {
    return this.inflight.size;
  }
}

function remoteSession(rt: RemoteRuntime, reg: Registered): RtSession {
  const { model, meta } = reg;
  const inputNames = meta.inputs.map((i) => i.name);
  const outputNames = meta.outputs.map((o) => o.name);
  return {
    inputNames,
    outputNames,
    async run(feeds: Record<string, RtTensor>, opts?: RunOptions) {
      const inputs: WireTensor[] = [];
      for (const spec of meta.inputs) {
        const t = feeds[spec.name];
        if (!t) throw new Error(`${rt.modelUrl(model)}: no feed for input '${spec.name}'`);
        const datatype = oipDatatypeOf(t.type);
        if (!datatype || datatype === 'BYTES') throw new Error(`${rt.modelUrl(model)}: cannot send a ${t.type} tensor`);
        let shape = [...t.dims];
        if (spec.shape.length === shape.length + 1 && spec.shape[spec.shape.length - 1] === 1) shape = [...shape, 1];
        inputs.push({ name: spec.name, datatype, shape, data: t.data as OipArray });
      }
      const out = await rt.infer(model, inputs, outputNames, opts?.signal);
      // the answer must hold what the server's own metadata promised: every output, its datatype and fixed sizes
      const res: Record<string, RtTensor> = {};
      for (const spec of meta.outputs) {
        const w = out[spec.name];
        const bad = (what: string) =>
          new RemoteError(`${rt.modelUrl(model)}: malformed inference response: output '${spec.name}' ${what}`, 'protocol');
        if (!w) throw bad('is missing');
        if (w.datatype !== spec.datatype) throw bad(`is ${w.datatype}, its metadata says ${spec.datatype}`);
        if (w.shape.length !== spec.shape.length || spec.shape.some((d, i) => d >= 0 && d !== w.shape[i]))
          throw bad(`has shape [${w.shape.join(',')}], its metadata says [${spec.shape.join(',')}]`);
        res[spec.name] = { type: ortTypeOf(w.datatype), data: w.data, dims: w.shape };
      }
      return res;
    },
    async release() {},
  };
}
