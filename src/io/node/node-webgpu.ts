import { existsSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { GpuUnavailableError } from '../../core/errors';
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
    // Without any Vulkan driver Dawn has no adapter on Linux; say so without loading it (it would print its own
    // Vulkan warnings first)
    const noDriver = process.platform === 'linux' ? missingVulkanDriver() : null;
    if (noDriver) throw new GpuUnavailableError(noDriver);
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

/**
 * Why the Vulkan loader would find no driver manifest (ICD JSON), or null when it finds one: it reads the files or
 * folders named by VK_DRIVER_FILES / VK_ICD_FILENAMES when set, else its standard folders (…/vulkan/icd.d under
 * XDG_CONFIG_DIRS, /etc, XDG_DATA_DIRS, /usr/local/share, /usr/share and ~/.local/share).
 */
function missingVulkanDriver(): string | null {
  const hasJson = (p: string) => {
    try {
      if (p.endsWith('.json')) return existsSync(p);
      return existsSync(p) && readdirSync(p).some((f) => f.endsWith('.json'));
    } catch {
      return false;
    }
  };
  const key = process.env.VK_DRIVER_FILES ? 'VK_DRIVER_FILES' : 'VK_ICD_FILENAMES';
  const named = process.env[key];
  if (named) return named.split(':').some((p) => p && hasJson(p)) ? null : `${key}=${named} names no Vulkan driver file that exists`;
  const env = (k: string, dflt: string) => (process.env[k] || dflt).split(':').filter(Boolean);
  const dirs = [
    ...env('XDG_CONFIG_DIRS', '/etc/xdg'),
    '/etc',
    ...env('XDG_DATA_DIRS', '/usr/local/share:/usr/share'),
    '/usr/local/share',
    '/usr/share',
    join(homedir(), '.local/share'),
  ];
  return dirs.some((d) => hasJson(join(d, 'vulkan/icd.d'))) ? null : 'no Vulkan driver is installed';
}
