/**
 * An error caused by the user's input (a file, a flag, a value). The CLI prints its message as one line,
 * with no stack trace, and exits non-zero. Messages name the file (when there is one) and the problem,
 * and where possible how to fix it.
 */
export class UserError extends Error {
  constructor(
    message: string,
    readonly file?: string,
  ) {
    super(file ? `${file}: ${message}` : message);
    this.name = 'UserError';
  }
}

/** Throws a UserError unless `cond` holds. */
export function check(cond: unknown, message: string, file?: string): asserts cond {
  if (!cond) throw new UserError(message, file);
}

/** Checks every value is finite; names the first offender. */
export function checkFinite(values: ArrayLike<number>, what: string, file?: string): void {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) throw new UserError(`${what} contains a non-finite value (${values[i]}) at index ${i}`, file);
  }
}

/** No WebGPU adapter or device (no `navigator.gpu`, no driver): the message says how to run without one. */
export class GpuUnavailableError extends UserError {
  constructor(reason: string) {
    super(
      `WebGPU is not available: ${reason}. Use --backend cpu, or see the README (WebGPU in Node needs a Vulkan driver; on a CPU-only Debian machine 'apt-get install chromium libvulkan1' provides SwiftShader).`,
    );
    this.name = 'GpuUnavailableError';
  }
}

/** Work that does not fit the GPU (a buffer over the device's limits, or out of memory); the message says what to reduce. */
export class GpuMemoryError extends UserError {
  constructor(message: string) {
    super(message);
    this.name = 'GpuMemoryError';
  }
}
