/**
 * The Node side of the pipeline's runtime: onnxruntime-node (CPU binary shipped in the package).
 * Models with external data load from their disk path so onnxruntime finds the data files beside them.
 */
import * as ort from 'onnxruntime-node';
import { ortRuntime, type OnnxRuntime, type OrtModule } from '../../edit/diffusion/runtime';

let shared: OnnxRuntime | null = null;

export function nodeRuntime(opts: { threads?: number } = {}): OnnxRuntime {
  if (!opts.threads && shared) return shared;
  const rt = ortRuntime(ort as unknown as OrtModule, {
    name: 'onnxruntime-node (cpu)',
    loadByPath: true,
    sessionOptions: opts.threads ? { intraOpNumThreads: opts.threads } : {},
  });
  if (!opts.threads) shared = rt;
  return rt;
}
