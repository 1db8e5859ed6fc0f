import { LinearSRGBColorSpace, NoToneMapping, WebGPURenderer } from 'three/webgpu';
import { setGpuDevice } from '../../gpu/device';

export type Backend = 'webgpu' | 'webgl2';

export interface RendererInfo {
  backend: Backend;
  /** Why WebGPU is not used (shown in the overlay), or null when it is. */
  fallbackReason: string | null;
}

/** Why WebGPU cannot be used here, or null when an adapter is available. */
export async function webGpuProblem(): Promise<string | null> {
  return (await probeWebGpu()).problem;
}

async function probeWebGpu(): Promise<{ problem: string | null; limits?: GPUSupportedLimits }> {
  const gpu = (globalThis.navigator as Navigator & { gpu?: GPU }).gpu;
  if (!gpu) return { problem: 'this browser has no WebGPU (navigator.gpu is missing)' };
  try {
    const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
    if (!adapter) return { problem: 'no WebGPU adapter was found' };
    return { problem: null, limits: adapter.limits };
  } catch (e) {
    return { problem: `requesting a WebGPU adapter failed: ${(e as Error).message}` };
  }
}

/**
 * Creates and initialises a three.js WebGPURenderer on `canvas`: the WebGPU backend when an adapter exists, else
 * its WebGL2 backend (the reason is returned for the overlay). Colours are written as they are (linear output, no
 * tone mapping), so the image on screen has the same values as the project's CPU renders.
 * On WebGPU the renderer's device becomes the project's shared device (src/gpu/device.ts), so kernels and
 * three.js share buffers without copies.
 */
export async function createViewerRenderer(
  canvas: HTMLCanvasElement | OffscreenCanvas,
  opts: { forceWebGL?: boolean } = {},
): Promise<{ renderer: WebGPURenderer; info: RendererInfo }> {
  const probe = opts.forceWebGL ? { problem: 'WebGL2 was requested (?backend=webgl2)' } : await probeWebGpu();
  const problem = probe.problem;
  const L = probe.limits;
  const renderer = new WebGPURenderer({
    canvas: canvas as HTMLCanvasElement,
    antialias: false,
    alpha: false,
    forceWebGL: problem !== null,
    powerPreference: 'high-performance',
    // the adapter's largest buffers, so scenes of many millions of splats fit (the defaults stop at 128 MiB a binding)
    ...(L ? { requiredLimits: { maxStorageBufferBindingSize: L.maxStorageBufferBindingSize, maxBufferSize: L.maxBufferSize } } : {}),
  });
  await renderer.init();
  renderer.outputColorSpace = LinearSRGBColorSpace;
  renderer.toneMapping = NoToneMapping;
  const backendObj = renderer.backend as unknown as { isWebGPUBackend?: boolean; device?: GPUDevice };
  const backend: Backend = backendObj.isWebGPUBackend ? 'webgpu' : 'webgl2';
  if (backend === 'webgpu' && backendObj.device) setGpuDevice(backendObj.device);
  return { renderer, info: { backend, fallbackReason: backend === 'webgpu' ? null : (problem ?? 'WebGPU initialisation failed') } };
}
