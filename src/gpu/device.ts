import { GpuUnavailableError } from '../core/errors';
/**
 * The WebGPU device, shared by every kernel (and by the viewer's three.js renderer when it hands us its device).
 * Platform-neutral: in the browser it uses `navigator.gpu`; in Node a provider is installed first by
 * `installNodeWebGpu()` (src/io/node/node-webgpu.ts), which wraps Dawn from the `webgpu` package.
 */
let provider: (() => Promise<GPU | undefined>) | undefined;
let devicePromise: Promise<GPUDevice> | undefined;
let adapterInfo: { vendor: string; architecture: string; device: string; description: string } | undefined;

/** Installs where `GPU` comes from (Node adapter), replacing navigator.gpu. */
export function setGpuProvider(p: () => Promise<GPU | undefined>): void {
  provider = p;
  devicePromise = undefined;
}

/** Uses an existing device (e.g. three.js WebGPURenderer's `renderer.backend.device`) for all kernels. */
export function setGpuDevice(device: GPUDevice): void {
  devicePromise = Promise.resolve(device);
}

async function gpuObject(): Promise<GPU | undefined> {
  if (provider) return provider();
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  return nav?.gpu;
}

/** The shared device; created once with the adapter's limits raised to what large scenes need. */
export function getGpuDevice(): Promise<GPUDevice> {
  devicePromise ??= (async () => {
    const gpu = await gpuObject();
    if (!gpu) throw new GpuUnavailableError('no navigator.gpu');
    const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
    if (!adapter) throw new GpuUnavailableError('no adapter');
    const info = (adapter as GPUAdapter & { info?: GPUAdapterInfo }).info;
    if (info) adapterInfo = { vendor: info.vendor, architecture: info.architecture, device: info.device, description: info.description };
    const L = adapter.limits;
    const device = await adapter.requestDevice({
      requiredLimits: {
        maxStorageBufferBindingSize: L.maxStorageBufferBindingSize,
        maxBufferSize: L.maxBufferSize,
        maxStorageBuffersPerShaderStage: L.maxStorageBuffersPerShaderStage,
        maxComputeWorkgroupStorageSize: L.maxComputeWorkgroupStorageSize,
        maxComputeInvocationsPerWorkgroup: L.maxComputeInvocationsPerWorkgroup,
        maxComputeWorkgroupSizeX: L.maxComputeWorkgroupSizeX,
        maxComputeWorkgroupsPerDimension: L.maxComputeWorkgroupsPerDimension,
      },
    });
    device.lost.then((e) => {
      if (e.reason !== 'destroyed') console.warn(`WebGPU device lost: ${e.message}`);
      devicePromise = undefined;
    });
    return device;
  })();
  devicePromise.catch(() => (devicePromise = undefined));
  return devicePromise;
}

/** True when a device can be created (never throws). */
export async function gpuAvailable(): Promise<boolean> {
  try {
    await getGpuDevice();
    return true;
  } catch {
    return false;
  }
}

/** A short description of the adapter in use (after getGpuDevice resolved). */
export function gpuDescription(): string {
  if (!adapterInfo) return 'unknown adapter';
  const { vendor, architecture, device, description } = adapterInfo;
  return [vendor, architecture, device, description].filter(Boolean).join(' ') || 'unknown adapter';
}
