import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { getGpuDevice } from '../../src/gpu/device';
import { installNodeWebGpu } from '../../src/io/node/node-webgpu';
import { CHROMIUM } from './viewer-browser';

/**
 * GPU and browser tests on machines without them: a test file asks once (`await noGpu()`, `noChromium()`), skips its
 * GPU or browser tests with `describe.skipIf(reason)`, and the reason is printed once per test run, by the first
 * file that needs it (tests/helpers/global-setup.ts makes the folder for the "already said" markers; a file run
 * outside that setup always prints).
 */

let gpu: Promise<string | null> | undefined;

/**
 * null when Dawn gives Node a WebGPU device, else why not (printed once per run). The first test file of a run
 * probes and leaves the answer in the notes folder; later files reuse it (so Dawn's own warnings on a machine
 * without a usable driver appear once, not once per file).
 */
export function noGpu(): Promise<string | null> {
  gpu ??= (async () => {
    installNodeWebGpu();
    const known = readNote('webgpu-node.probe');
    let reason: string | null;
    if (known !== null) reason = known || null;
    else {
      try {
        await getGpuDevice();
        reason = null;
      } catch (e) {
        reason = `GPU tests skipped: ${(e as Error).message}`;
      }
      writeNote('webgpu-node.probe', reason ?? '');
    }
    return reason && skipReason('webgpu-node', reason);
  })();
  return gpu;
}

/** null when the Chromium the browser tests drive exists (CHROMIUM_PATH, default /usr/bin/chromium), else why not. */
export function noChromium(): string | null {
  if (existsSync(CHROMIUM)) return null;
  return skipReason(
    'chromium',
    `browser tests skipped: no Chromium at ${CHROMIUM} (see the README's set-up: \`npm run setup:browser\`, or set CHROMIUM_PATH)`,
  );
}

/** Prints `message` once per test run under the key `kind` (see the file comment) and returns it. */
export function skipReason(kind: string, message: string): string {
  if (writeNote(kind, message, true)) console.warn(message);
  return message;
}

/** Writes a note of this run (`exclusive`: only if it does not exist yet); false when it was not written. */
function writeNote(name: string, text: string, exclusive = false): boolean {
  const dir = process.env.INSTRUCT_SCENE_TEST_NOTES;
  if (!dir) return true;
  try {
    writeFileSync(join(dir, name), text, { flag: exclusive ? 'wx' : 'w' });
    return true;
  } catch {
    return false;
  }
}

function readNote(name: string): string | null {
  const dir = process.env.INSTRUCT_SCENE_TEST_NOTES;
  if (!dir || !existsSync(join(dir, name))) return null;
  return readFileSync(join(dir, name), 'utf8');
}
