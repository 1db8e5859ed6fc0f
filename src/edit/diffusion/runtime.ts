/**
 * The ONNX runtime seen by the pipeline: one small interface, two implementations built from the same
 * adapter — onnxruntime-node (injected by `src/io/node/node-ort.ts`) and onnxruntime-web (`ort-web.ts`, WebGPU
 * execution provider with a wasm fallback). `src/edit` never imports a runtime itself, so it stays browser-safe.
 */

export type TensorType = 'float32' | 'float16' | 'int64' | 'int32';
export type TensorData = Float32Array | Uint16Array | BigInt64Array | Int32Array;

export interface RtTensor {
  readonly type: string;
  readonly data: unknown;
  readonly dims: readonly number[];
}

/** Per-call options of `RtSession.run`. */
export interface RunOptions {
  /**
   * Cancels the call. Remote sessions abort the HTTP request; local ONNX Runtime sessions cannot stop a running
   * graph and only check it before they start.
   */
  signal?: AbortSignal;
}

export interface RtSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(feeds: Record<string, RtTensor>, opts?: RunOptions): Promise<Record<string, RtTensor>>;
  release(): Promise<void>;
}

/** A model file ready for a session: the bytes and any external-data files beside it. */
export interface ModelBytes {
  /** path as the FileSource names it (a disk path in Node) */
  path: string;
  bytes: Uint8Array;
  /** external data files, path relative to the model's folder as written in the model */
  externalData: { path: string; data: Uint8Array }[];
}

export interface OnnxRuntime {
  /** e.g. "onnxruntime-node 1.30.0 (cpu)", "onnxruntime-web (webgpu)" */
  readonly name: string;
  /** true when models with external data are loaded from their path (Node), so the data files need not be read */
  readonly loadsByPath?: boolean;
  /** true when sessions run on an inference server (src/edit/diffusion/remote): no model bytes are needed */
  readonly remote?: boolean;
  tensor(type: TensorType, data: TensorData, dims: number[]): RtTensor;
  createSession(model: ModelBytes): Promise<RtSession>;
}

/** The part of the onnxruntime-node / onnxruntime-web module API the adapter uses. */
export interface OrtModule {
  Tensor: new (type: any, data: any, dims: readonly number[]) => RtTensor;
  InferenceSession: { create(src: any, options?: any): Promise<any> };
  env?: any;
}

export interface OrtAdapterOptions {
  name: string;
  /** execution providers in order of preference; the next is tried when one fails to create a session */
  executionProviders?: string[][];
  /** Node: load models from their disk path when they have external data (onnxruntime resolves it beside the file) */
  loadByPath?: boolean;
  sessionOptions?: Record<string, unknown>;
}

/** Wraps an onnxruntime module (node or web; same API) as an OnnxRuntime. */
export function ortRuntime(ort: OrtModule, opts: OrtAdapterOptions): OnnxRuntime & { usedProviders: string[] } {
  const providerSets = opts.executionProviders ?? [[]];
  const used: string[] = [];
  return {
    name: opts.name,
    loadsByPath: !!opts.loadByPath,
    usedProviders: used,
    tensor(type, data, dims) {
      return new ort.Tensor(type, data, dims);
    },
    async createSession(model) {
      let lastErr: unknown;
      for (const eps of providerSets) {
        const so: Record<string, unknown> = { graphOptimizationLevel: 'all', ...opts.sessionOptions };
        if (eps.length) so.executionProviders = eps;
        try {
          let s;
          if (model.externalData.length && opts.loadByPath) s = await ort.InferenceSession.create(model.path, so);
          else {
            if (model.externalData.length) so.externalData = model.externalData.map((e) => ({ path: e.path, data: e.data }));
            s = await ort.InferenceSession.create(model.bytes, so);
          }
          used.push(eps.join('+') || 'default');
          return localSession(s);
        } catch (e) {
          lastErr = e;
        }
      }
      throw lastErr;
    },
  };
}

/** An onnxruntime session as an RtSession: run options stay ours (onnxruntime reads a second argument as fetches). */
function localSession(s: {
  inputNames: readonly string[];
  outputNames: readonly string[];
  run(feeds: Record<string, RtTensor>): Promise<Record<string, RtTensor>>;
  release(): Promise<void>;
}): RtSession {
  return {
    inputNames: s.inputNames,
    outputNames: s.outputNames,
    run(feeds, opts) {
      if (opts?.signal?.aborted) return Promise.reject(opts.signal.reason ?? new Error('cancelled'));
      return s.run(feeds);
    },
    release: () => s.release(),
  };
}

/** Wraps a runtime so that every session.run is timed, by model folder name (e.g. `unet`); for benchmarks and stats. */
export function timedRuntime(rt: OnnxRuntime): {
  rt: OnnxRuntime;
  ms: Record<string, number>;
  calls: Record<string, number>;
  reset(): void;
} {
  const ms: Record<string, number> = {},
    calls: Record<string, number> = {};
  const now = () => (typeof performance !== 'undefined' ? performance.now() : Date.now());
  return {
    ms,
    calls,
    reset() {
      for (const k of Object.keys(ms)) delete ms[k];
      for (const k of Object.keys(calls)) delete calls[k];
    },
    rt: {
      name: rt.name,
      loadsByPath: rt.loadsByPath,
      remote: rt.remote,
      tensor: rt.tensor.bind(rt),
      async createSession(model) {
        const s = await rt.createSession(model);
        const parts = model.path.split('/');
        const comp = parts.length > 1 ? parts[parts.length - 2] : model.path;
        return {
          inputNames: s.inputNames,
          outputNames: s.outputNames,
          release: () => s.release(),
          async run(feeds, opts) {
            const t0 = now();
            const out = await s.run(feeds, opts);
            ms[comp] = (ms[comp] ?? 0) + now() - t0;
            calls[comp] = (calls[comp] ?? 0) + 1;
            return out;
          },
        };
      },
    },
  };
}
