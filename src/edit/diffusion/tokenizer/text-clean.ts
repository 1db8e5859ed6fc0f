/**
 * The text clean-up that the original CLIP tokenizer (openai/CLIP simple_tokenizer.py) applies before
 * pre-tokenisation: `basic_clean` (ftfy.fix_text, then html.unescape twice, then strip) and
 * `whitespace_clean` (runs of whitespace → one space, strip), followed by lower-casing.
 *
 * ftfy is a large heuristic library; here we implement its default fixes that are plain character rules
 * (same order, repeated until nothing changes, per line, like ftfy 6): HTML entities ending in ';'
 * (also all-caps Latin ones, and only while no line so far contained '<'), C1 controls read as
 * Windows-1252, Latin ligatures, full/half-width forms, curly quotes, line breaks, lone surrogates,
 * ANSI terminal escapes, unwanted control characters, NFC. Not implemented: ftfy's mojibake detection
 * (re-decoding text that was UTF-8 read as Latin-1/Windows-1252, e.g. "cafÃ©"); such text is tokenised
 * as it is.
 *
 * Whitespace follows Python's definitions exactly (the `regex` module's \s for the patterns, str.isspace
 * for strip), not JavaScript's \s (which also matches U+FEFF and misses U+0085).
 */
import { HTML5_NAMED, HTML5_NUMERIC_DROPPED, HTML5_NUMERIC_REPLACED } from './html-entities';

/** The characters Python's `regex` module matches with \s (Unicode White_Space). */
export const PY_REGEX_WS = '\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
/** str.isspace() adds the information separators U+001C–U+001F. */
const PY_ISSPACE = PY_REGEX_WS + '\\u001c-\\u001f';

const WS_RUN = new RegExp(`[${PY_REGEX_WS}]+`, 'gu');
const STRIP = new RegExp(`^[${PY_ISSPACE}]+|[${PY_ISSPACE}]+$`, 'gu');

/** Python's str.strip() with no argument. */
export function pyStrip(s: string): string {
  return s.replace(STRIP, '');
}

// ---------------------------------------------------------------------------------------------
// html.unescape (Python stdlib semantics, HTML5 rules)

const CHARREF = /&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)/gu;

function numericRef(num: number): string {
  if (num in HTML5_NUMERIC_REPLACED) return HTML5_NUMERIC_REPLACED[num];
  if ((num >= 0xd800 && num <= 0xdfff) || num > 0x10ffff) return '\ufffd';
  for (const [a, b] of HTML5_NUMERIC_DROPPED) if (num >= a && num <= b) return '';
  return String.fromCodePoint(num);
}

function replaceCharref(_m: string, s: string): string {
  if (s[0] === '#') {
    const hex = s[1] === 'x' || s[1] === 'X';
    const digits = s.slice(hex ? 2 : 1).replace(/;$/, '');
    // Parse without losing precision on absurdly long references: anything past 7 significant digits is > 0x10FFFF.
    const sig = digits.replace(/^0+/, '');
    const num = sig.length > 8 ? Infinity : parseInt(sig || '0', hex ? 16 : 10);
    return numericRef(num);
  }
  if (Object.prototype.hasOwnProperty.call(HTML5_NAMED, s)) return HTML5_NAMED[s];
  // The longest prefix that is a known name (legacy references without ';'), as the standard defines.
  const cps = Array.from(s);
  for (let x = cps.length - 1; x > 1; x--) {
    const head = cps.slice(0, x).join('');
    if (Object.prototype.hasOwnProperty.call(HTML5_NAMED, head)) return HTML5_NAMED[head] + cps.slice(x).join('');
  }
  return '&' + s;
}

/** Python's html.unescape. */
export function htmlUnescape(s: string): string {
  if (!s.includes('&')) return s;
  return s.replace(CHARREF, replaceCharref);
}

// ---------------------------------------------------------------------------------------------
// The rule-based part of ftfy.fix_text

let ftfyEntities: Map<string, string> | null = null;
function ftfyEntityTable(): Map<string, string> {
  if (ftfyEntities) return ftfyEntities;
  const m = new Map<string, string>();
  for (const [name, ch] of Object.entries(HTML5_NAMED)) {
    if (!name.endsWith(';')) continue;
    m.set('&' + name, ch);
    if (name === name.toLowerCase()) {
      const upper = '&' + name.toUpperCase();
      if (htmlUnescape(upper) === upper) m.set(upper, ch.toUpperCase());
    }
  }
  return (ftfyEntities = m);
}

const FTFY_ENTITY = /&#?[0-9A-Za-z]{1,24};/g;
function ftfyUnescapeHtml(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(FTFY_ENTITY, (t) => {
    const known = ftfyEntityTable().get(t);
    if (known !== undefined) return known;
    if (t.startsWith('&#')) {
      const u = htmlUnescape(t);
      return u.includes(';') ? t : u;
    }
    return t;
  });
}

const C1 = /[\u0080-\u009f]/g;
const LIGATURES: Record<string, string> = {
  '\u0132': 'IJ',
  '\u0133': 'ij',
  '\u0149': '\u02bcn',
  '\u01f1': 'DZ',
  '\u01f2': 'Dz',
  '\u01f3': 'dz',
  '\u01c4': 'D\u017d',
  '\u01c5': 'D\u017e',
  '\u01c6': 'd\u017e',
  '\u01c7': 'LJ',
  '\u01c8': 'Lj',
  '\u01c9': 'lj',
  '\u01ca': 'NJ',
  '\u01cb': 'Nj',
  '\u01cc': 'nj',
  '\ufb00': 'ff',
  '\ufb01': 'fi',
  '\ufb02': 'fl',
  '\ufb03': 'ffi',
  '\ufb04': 'ffl',
  '\ufb05': '\u017ft',
  '\ufb06': 'st',
};
const LIGATURE_RE = new RegExp(`[${Object.keys(LIGATURES).join('')}]`, 'g');
const WIDTH_RE = /[\u3000\uff01-\uffef]/g;
const widthCache = new Map<string, string>();
function widthOf(c: string): string {
  if (c === '\u3000') return ' ';
  let r = widthCache.get(c);
  if (r === undefined) widthCache.set(c, (r = c.normalize('NFKC')));
  return r;
}
const SINGLE_QUOTES = /[\u02bc\u2018-\u201b]/g;
const DOUBLE_QUOTES = /[\u201c-\u201f]/g;
const SURROGATE = /[\ud800-\udfff]/;
/** Lone surrogates → U+FFFD (pairs are already whole characters in JavaScript strings). No regex lookbehind: older Safari lacks it. */
function fixSurrogates(text: string): string {
  if (!SURROGATE.test(text)) return text;
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        out += text[i] + text[i + 1];
        i++;
        continue;
      }
    }
    out += c >= 0xd800 && c <= 0xdfff ? '\ufffd' : text[i];
  }
  return out;
}
const ANSI = /\u001b\[(?:\p{Nd}|;)*[a-zA-Z]/gu;
const CONTROL = /[\u0000-\u0008\u000b\u000e-\u001f\u007f\u206a-\u206f\ufeff\ufff9-\ufffc]/g;

function fixSegment(text: string, unescape: boolean): string {
  for (;;) {
    const orig = text;
    if (unescape) text = ftfyUnescapeHtml(text);
    text = fixSurrogates(
      text
        .replace(C1, (c) => HTML5_NUMERIC_REPLACED[c.charCodeAt(0)] ?? c)
        .replace(LIGATURE_RE, (c) => LIGATURES[c])
        .replace(WIDTH_RE, widthOf)
        .replace(DOUBLE_QUOTES, '"')
        .replace(SINGLE_QUOTES, "'")
        .replace(/\r\n/g, '\n')
        .replace(/[\r\u2028\u2029\u0085]/g, '\n'),
    )
      .replace(ANSI, '')
      .replace(CONTROL, '')
      .normalize('NFC');
    if (text === orig) return text;
  }
}

/** The rule-based fixes of ftfy.fix_text with its default settings (see the file comment for what is left out). */
export function fixText(text: string): string {
  let out = '';
  let unescape = true; // ftfy's unescape_html="auto": off from the first line that contains '<' onwards
  let pos = 0;
  while (pos < text.length) {
    let brk = text.indexOf('\n', pos) + 1;
    if (brk === 0) brk = text.length;
    const seg = text.slice(pos, brk);
    if (seg.includes('<')) unescape = false;
    out += fixSegment(seg, unescape);
    pos = brk;
  }
  return out;
}

/** basic_clean + whitespace_clean + lower(), as the original tokenizer applies them. */
export function cleanText(text: string): string {
  const basic = pyStrip(htmlUnescape(htmlUnescape(fixText(text))));
  return pyStrip(basic.replace(WS_RUN, ' ')).toLowerCase();
}
