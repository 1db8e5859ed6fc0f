/**
 * The built-in stand-in model understands a fixed set of words (its `builtin.json`). Anything else gets a
 * clear message listing what it understands and how to install the real InstructPix2Pix model.
 * The check works on the model's own tokens: a word is understood when it is one whole token of the
 * stand-in's vocabulary that the model knows.
 */
import type { BuiltinInfo } from './model-contract';
import { bytesToUnicode, type ClipTokenizer } from './tokenizer/tokenizer';

let byteOf: Map<string, number> | null = null;
/** The text of a byte-level BPE word (its characters stand for UTF-8 bytes: 'rÃ©d' is the token of 'réd'). */
export function tokenText(word: string): string {
  if (!byteOf) byteOf = new Map(bytesToUnicode().map((c, b) => [c, b]));
  const bytes = Uint8Array.from(Array.from(word), (c) => byteOf!.get(c) ?? 0x3f);
  return new TextDecoder().decode(bytes);
}

export const INSTALL_HINT = `for other edits use the real InstructPix2Pix model: export timbrooks/instruct-pix2pix with optimum-cli (README "Getting the InstructPix2Pix model") and pass --model DIR`;

export interface InstructionCheck {
  /** one line saying why the instruction cannot be done, or null */
  error: string | null;
  /** words the model does not know but can do without (an edit word is present): e.g. the object in "make the vase gold" */
  ignored: string[];
}

/**
 * Checks an instruction against the stand-in's words. It needs at least one edit word; other unknown words
 * (usually the object: "make the vase gold") are ignored — it edits the whole image, or the region the user
 * selected — and reported so the caller can say so.
 */
export function checkBuiltinInstruction(instruction: string, info: BuiltinInfo, tok: ClipTokenizer): InstructionCheck {
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
  const uniq = [...new Set(unknown.map(tokenText))];
  if (edits > 0) return { error: null, ignored: uniq };
  const list = Object.entries(info.edits)
    .map(([group, words]) => `${group}: ${words.join(', ')}`)
    .join('; ');
  const what = `It only makes colour and tone edits (${list}), e.g. "make it red", "make the vase gold", "make it black and white"; ${INSTALL_HINT}`;
  if (uniq.length) {
    const u = uniq
      .slice(0, 5)
      .map((w) => `'${w}'`)
      .join(', ');
    return { error: `the built-in stand-in model does not understand ${u} in "${instruction}". ${what}`, ignored: [] };
  }
  return { error: `"${instruction}" names no edit the built-in stand-in model knows. ${what}`, ignored: [] };
}

/** Returns the one-line problem, or null when the instruction can be done. */
export function builtinInstructionProblem(instruction: string, info: BuiltinInfo, tok: ClipTokenizer): string | null {
  return checkBuiltinInstruction(instruction, info, tok).error;
}
