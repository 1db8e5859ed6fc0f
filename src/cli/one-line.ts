import { escapeControls } from '../core/errors';

/** Longest message printed; longer ones keep their start and end around a note of what was cut. */
const MAX_MESSAGE = 1000;

/**
 * One printable line from any message: line breaks, tabs and other control characters (C0, DEL, C1, the
 * Unicode line and paragraph separators) are shown escaped (`\n`, `\t`, `\x1b`), lone surrogates become
 * U+FFFD (so the UTF-8 written to the terminal is valid), and very long messages (a quoted 60,000-character
 * argument) are shortened in the middle.
 */
export function oneLine(msg: string): string {
  let out = escapeControls(msg);
  if (out.length > MAX_MESSAGE) {
    const cps = Array.from(out);
    out = `${cps.slice(0, 700).join('')} …(${cps.length - 950} characters cut)… ${cps.slice(-250).join('')}`;
  }
  return out;
}
