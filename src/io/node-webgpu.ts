import { existsSync, readdirSync } from 'node:fs';
import { setGpuProvider } from '../gpu/device';

const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';
let installed = false;

/**
 * Node adapter: makes `getGpuDevice()` use Dawn (npm package `webgpu`). Machines without a GPU driver use
 * SwiftShader (shipped by Debian's chromium package) when VK_ICD_FILENAMES is not set and no other Vulkan
 * driver is configured; users with GPUs get their real driver.
 */
export function installNodeWebGpu(): void {
  if (installed) return;
  installed = true;
  if (!process.env.VK_ICD_FILENAMES && !hasSystemVulkanDriver() && existsSync(SWIFTSHADER_ICD)) process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
  setGpuProvider(async () => {
    try {
      const { create, globals } = await import('webgpu');
      Object.assign(globalThis, globals);
      return create([]);
    } catch (e) {
      process.stderr.write(`warning: cannot load Dawn (webgpu package): ${(e as Error).message}\n`);
      return undefined;
    }
  });
}

function hasSystemVulkanDriver(): boolean {
  const dirs = ['/usr/share/vulkan/icd.d', '/etc/vulkan/icd.d'];
  // lavapipe (lvp_icd) on Debian 12 gives no adapter; treat it as absent.
  try {
    return dirs.some((d) => existsSync(d) && readdirSync(d).some((f: string) => f.endsWith('.json') && !f.includes('lvp')));
  } catch {
    return false;
  }
}
