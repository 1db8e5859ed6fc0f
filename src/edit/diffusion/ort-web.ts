/**
 * The browser side of the pipeline's runtime: onnxruntime-web with the WebGPU execution provider, falling
 * back to wasm (threads when cross-origin isolated) when WebGPU is missing or a session cannot use it.
 */
import { ortRuntime, type OnnxRuntime, type OrtModule } from './runtime';

export interface WebRuntimeOptions {
  /** skip WebGPU even when available */
  wasmOnly?: boolean;
  /** where the .wasm files are served from (onnxruntime-web `env.wasm.wasmPaths`) */
  wasmPaths?: string;
  /** an already-imported onnxruntime-web module (tests pass the Node build of onnxruntime-web) */
  ort?: OrtModule;
}

export async function webRuntime(opts: WebRuntimeOptions = {}): Promise<OnnxRuntime & { usedProviders: string[] }> {
  const ort = opts.ort ?? ((await import('onnxruntime-web/webgpu')) as unknown as OrtModule);
  if (opts.wasmPaths && ort.env?.wasm) ort.env.wasm.wasmPaths = opts.wasmPaths;
  const hasGpu = !opts.wasmOnly && typeof navigator !== 'undefined' && 'gpu' in navigator && !!(navigator as any).gpu;
  return ortRuntime(ort, {
    name: hasGpu ? 'onnxruntime-web (webgpu, wasm fallback)' : 'onnxruntime-web (wasm)',
    executionProviders: hasGpu ? [['webgpu'], ['wasm']] : [['wasm']],
  });
}
