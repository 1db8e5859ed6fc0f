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
    super(escapeControls(file ? `${file}: ${message}` : message));
    this.name = 'UserError';
  }
}

/**
 * Text made safe for one line: line breaks, tabs and other control characters (C0, DEL, C1, U+2028/2029)
 * shown escaped (`\n`, `\t`, `\x1b`), lone surrogates as U+FFFD. File names and values quoted from hostile
 * files pass through this, so a message can never span lines or drive the terminal.
 */
export function escapeControls(msg: string): string {
  let out = '';
  for (const ch of msg) {
    const c = ch.codePointAt(0)!;
    if (c === 0x0a) out += '\\n';
    else if (c === 0x0d) out += '\\r';
    else if (c === 0x09) out += '\\t';
    else if (c < 0x20 || c === 0x7f || (c >= 0x80 && c <= 0x9f)) out += `\\x${c.toString(16).padStart(2, '0')}`;
    else if (c === 0x2028 || c === 0x2029) out += `\\u${c.toString(16)}`;
    else if (c >= 0xd800 && c <= 0xdfff) out += '\ufffd';
    else out += ch;
  }
  return out;
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

/** A value for a message: JSON, at most `max` characters, whatever the value (deep, cyclic, undefined). */
export function describeValue(v: unknown, max = 60): string {
  let t: string;
  try {
    // numbers as themselves (JSON would show NaN and ∞ as null)
    t = typeof v === 'number' ? String(v) : (JSON.stringify(v) ?? String(v));
  } catch {
    t = Array.isArray(v) ? '[…]' : typeof v === 'object' ? '{…}' : String(v);
  }
  return t.length > max ? t.slice(0, max) + '…' : t;
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
