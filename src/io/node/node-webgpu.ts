import { existsSync, readdirSync } from 'node:fs';
import { setGpuProvider } from '../../gpu/device';

const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';
let installed = false;
let dawnGpu: GPU | undefined;

/**
 * Node adapter: makes `getGpuDevice()` use Dawn (npm package `webgpu`). Machines without a GPU driver use
 * SwiftShader (shipped by Debian's chromium package) when VK_ICD_FILENAMES is not set and no other Vulkan
 * driver is configured; users with GPUs get their real driver.
 */
export function installNodeWebGpu(): void {
  if (installed) return;
  installed = true;
  if (!process.env.VK_ICD_FILENAMES && !hasSystemVulkanDriver() && existsSync(SWIFTSHADER_ICD))
    process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
  setGpuProvider(async () => {
    try {
      const { create, globals } = await import('webgpu');
      Object.assign(globalThis, globals);
      // Dawn lives only while the object from create() is referenced: if it is garbage-collected, in-flight
      // GPU work crashes the process (futex / mutex assertions, segfaults). Keep it for the process's life.
      return (dawnGpu ??= create([]));
    } catch (e) {
      process.stderr.write(`warning: cannot load Dawn (webgpu package): ${(e as Error).message}\n`);
      return undefined;
    }
  });
}

function hasSystemVulkanDriver(): boolean {
  // A GPU driver needs a device node: DRM render nodes (Mesa, AMD, Intel) or NVIDIA's. Without one, the
  // installed ICDs (e.g. Debian's lavapipe, which gives Dawn no adapter) are of no use and SwiftShader is.
  try {
    if (existsSync('/dev/nvidia0') || existsSync('/dev/nvidiactl')) return true;
    return existsSync('/dev/dri') && readdirSync('/dev/dri').some((f) => f.startsWith('renderD'));
  } catch {
    return false;
  }
}
