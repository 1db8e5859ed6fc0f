/**
 * The Node side of the pipeline's runtime: onnxruntime-node (CPU binary shipped in the package).
 * Models with external data load from their disk path so onnxruntime finds the data files beside them.
 */
import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { UserError } from '../../core/errors';
import { ortRuntime, type OnnxRuntime, type OrtModule } from '../../edit/diffusion/runtime';

let shared: OnnxRuntime | null = null;

/**
 * onnxruntime-node 1.30 on Linux reads /proc/self/cmdline when its first session starts and walks it
 * recursively in native code (about two stack frames per character, seen in gdb): a command line of about
 * 30 KB (a long --instruction) overflows the 8 MB stack and the process dies with SIGSEGV. So the runtime is
 * never started with a command line over this many bytes.
 */
export const MAX_COMMAND_LINE_FOR_ORT = 16 * 1024;

/** Bytes of this process's command line (/proc/self/cmdline where there is one, else argv). */
export function commandLineBytes(): number {
  try {
    return readFileSync('/proc/self/cmdline').length;
  } catch {
    return [process.argv0, ...process.execArgv, ...process.argv.slice(1)].reduce((s, a) => s + Buffer.byteLength(a) + 1, 0);
  }
}

/** Throws a UserError when the command line is too long to start onnxruntime-node safely (see above). */
export function checkCommandLineForOrt(bytes = commandLineBytes()): void {
  if (bytes > MAX_COMMAND_LINE_FOR_ORT)
    throw new UserError(
      `the command line is ${bytes.toLocaleString('en-US')} bytes; onnxruntime-node crashes on command lines of about 30 KB, so the model is only started with at most ${MAX_COMMAND_LINE_FOR_ORT.toLocaleString('en-US')}: shorten the arguments (an instruction is read as at most 77 tokens)`,
    );
}

export function nodeRuntime(opts: { threads?: number } = {}): OnnxRuntime {
  checkCommandLineForOrt();
  if (!opts.threads && shared) return shared;
  const rt = ortRuntime(ort as unknown as OrtModule, {
    name: 'onnxruntime-node (cpu)',
    loadByPath: true,
    sessionOptions: opts.threads ? { intraOpNumThreads: opts.threads } : {},
  });
  if (!opts.threads) shared = rt;
  return rt;
}
