/**
 * The built-in stand-in model understands a fixed set of words (its `builtin.json`). Anything else gets a
 * clear message listing what it understands and how to install the real InstructPix2Pix model.
 * The check works on the model's own tokens: a word is understood when it is one whole token of the
 * stand-in's vocabulary that the model knows.
 */
import type { BuiltinInfo } from './model-contract';
import type { ClipTokenizer } from './tokenizer';

export const INSTALL_HINT = `for other edits use the real InstructPix2Pix model: export timbrooks/instruct-pix2pix with optimum-cli (README "Getting the InstructPix2Pix model") and pass --model DIR`;

/** Returns a one-line problem, or null when the instruction is fully understood. */
export function builtinInstructionProblem(instruction: string, info: BuiltinInfo, tok: ClipTokenizer): string | null {
  const editWords = new Set(Object.values(info.edits).flat());
  const known = new Set([...editWords, ...info.fillers, ...info.modifiers]);
  const tokens = tok.tokenize(instruction);
  const unknown: string[] = [];
  let edits = 0;
  let cur = '';
  let curKnown = true;
  for (const t of tokens) {
    const end = t.endsWith('</w>');
    const text = end ? t.slice(0, -4) : t;
    if (!end) {
      cur += text;
      curKnown = false; // a piece of a longer word: not one of the model's words
      continue;
    }
    const word = cur + text;
    const isPunct = /^[^\p{L}\p{N}]+$/u.test(word);
    if (!curKnown || (!known.has(word) && !isPunct)) unknown.push(word);
    else if (editWords.has(word)) edits++;
    cur = '';
    curKnown = true;
  }
  const list = Object.entries(info.edits)
    .map(([group, words]) => `${group}: ${words.join(', ')}`)
    .join('; ');
  if (unknown.length) {
    const u = [...new Set(unknown)].slice(0, 5).map((w) => `'${w}'`).join(', ');
    return `the built-in stand-in model does not understand ${u} in "${instruction}". It only makes colour and tone edits (${list}), e.g. "make it red", "make it darker", "make it black and white"; ${INSTALL_HINT}`;
  }
  if (edits === 0) return `"${instruction}" names no edit the built-in stand-in model knows (${list}); ${INSTALL_HINT}`;
  return null;
}
