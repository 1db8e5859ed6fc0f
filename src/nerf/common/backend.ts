import { UserError } from '../../core/errors';

/**
 * Where a representation renders and computes gradients (`--backend`): 'cpu' runs the TypeScript twins,
 * 'webgpu' the WGSL kernels (same results to float32 rounding). Each representation has one factory
 * (`createVoxelBackend`, `createGaussianBackend`) and classes named `Cpu…Backend` / `WebGpu…Backend`.
 */
export type BackendName = 'cpu' | 'webgpu';

export const BACKEND_NAMES: readonly BackendName[] = ['cpu', 'webgpu'];

/** The one error for a backend name that is neither. */
export function unknownBackendError(which: unknown): UserError {
  return new UserError(`unknown backend '${String(which)}' (use ${BACKEND_NAMES.join(' or ')})`);
}
