/**
 * CLIP byte-level BPE tokenizer, behaving like the original (openai/CLIP simple_tokenizer.py): text clean-up
 * (see text-clean.ts), lower-casing, the original regex pre-tokenisation, UTF-8 bytes mapped to printable
 * characters (bytes_to_unicode), BPE with the "</w>" end-of-word marker, BOS/EOS around the text.
 * Loads the original `bpe_simple_vocab_16e6.txt.gz`, HF `vocab.json` + `merges.txt`, or HF `tokenizer.json`.
 * Runs unchanged in the browser and in Node. The method: docs/tokenizer.md.
 */
import { gunzipSync } from 'fflate';
import { UserError } from '../../../core/errors';
import { dirname, joinPath } from '../../../core/paths';
import { parseJson, type FileSource } from '../../../io/files/files';
import { cleanText, PY_REGEX_WS } from './text-clean';

/** The byte → character table of byte-level BPE: printable Latin-1 bytes stand for themselves, the rest map to U+0100 onwards. */
export function bytesToUnicode(): string[] {
  const table = new Array<string>(256);
  const printable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  let n = 0;
  for (let b = 0; b < 256; b++) table[b] = String.fromCharCode(printable(b) ? b : 256 + n++);
  return table;
}

/** The characters of bytesToUnicode() in the order the original vocabulary lists them (printable bytes first). */
function byteVocabOrder(table: string[]): string[] {
  const order: number[] = [];
  for (let b = 0; b < 256; b++) if (table[b].charCodeAt(0) === b) order.push(b);
  for (let b = 0; b < 256; b++) if (table[b].charCodeAt(0) !== b) order.push(b);
  return order.map((b) => table[b]);
}

const BYTE_TABLE = bytesToUnicode();
const ORIGINAL_MERGES = 49152 - 256 - 2; // what simple_tokenizer.py reads from the .gz (lines 1..48894)

export interface ClipTokenizerConfig {
  bos?: string;
  eos?: string;
  pad?: string;
  unk?: string;
  maxLength?: number;
  /** End-of-word suffix of the BPE model ("</w>" for CLIP). */
  suffix?: string;
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
}

export class ClipTokenizer {
  readonly bosId: number;
  readonly eosId: number;
  readonly padId: number;
  readonly unkId: number | null;
  readonly vocabSize: number;
  readonly maxLength: number;
  private readonly encoder: Map<string, number>;
  private readonly ranks: Map<string, number>;
  private readonly suffix: string;
  private readonly specials = new Map<string, number>();
  private readonly pattern: RegExp;
  private readonly cache = new Map<string, number[]>();
  private decoder: Map<number, string> | null = null;

  /**
   * @param vocab token → id
   * @param merges merge pairs in priority order
   * @param file named in error messages
   */
  constructor(vocab: Map<string, number>, merges: [string, string][], config: ClipTokenizerConfig = {}, file = 'tokenizer') {
    this.encoder = vocab;
    this.suffix = config.suffix ?? '</w>';
    const id = (tok: string, role: string) => {
      const v = vocab.get(tok);
      if (v === undefined) throw new UserError(`the ${role} token '${tok}' is not in the vocabulary`, file);
      return v;
    };
    const bos = config.bos ?? '<|startoftext|>',
      eos = config.eos ?? '<|endoftext|>';
    this.bosId = id(bos, 'BOS');
    this.eosId = id(eos, 'EOS');
    this.padId = id(config.pad ?? eos, 'padding');
    const unk = config.unk ?? eos;
    this.unkId = vocab.get(unk) ?? null;
    let maxId = -1;
    for (const v of vocab.values()) {
      if (!Number.isInteger(v) || v < 0) throw new UserError(`vocabulary id ${v} is not a non-negative integer`, file);
      if (v > maxId) maxId = v;
    }
    this.vocabSize = maxId + 1;
    this.maxLength = config.maxLength ?? 77;
    if (!Number.isInteger(this.maxLength) || this.maxLength < 2)
      throw new UserError(`model_max_length must be an integer ≥ 2, got ${this.maxLength}`, file);
    this.ranks = new Map();
    merges.forEach(([a, b], i) => {
      const key = a + '\n' + b;
      if (!this.ranks.has(key)) this.ranks.set(key, i);
    });
    // Special tokens are matched in the (lower-cased) text and map straight to their ids, like the original's pre-filled cache.
    for (const tok of new Set([bos, eos])) this.specials.set(tok.toLowerCase(), vocab.get(tok)!);
    const specialAlts = [...this.specials.keys()].map(escapeRe).join('|');
    // The original pattern is compiled with re.IGNORECASE; on lower-cased text that changes only two things, spelled
    // out here: "'ſ" matches "'s", and U+0345 (which folds to a letter) is matched by no alternative and so dropped.
    this.pattern = new RegExp(`${specialAlts}|'[sſ]|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^${PY_REGEX_WS}\\p{L}\\p{N}\\u0345]+`, 'gu');
  }

  /** From the original CLIP vocabulary file `bpe_simple_vocab_16e6.txt.gz`. */
  static fromOriginalBpe(gz: Uint8Array, file = 'bpe_simple_vocab_16e6.txt.gz'): ClipTokenizer {
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(gunzipSync(gz));
    } catch (e) {
      throw new UserError(`not a gzip-compressed UTF-8 BPE merges file (${(e as Error).message})`, file);
    }
    const lines = text.split('\n');
    if (lines.length < ORIGINAL_MERGES + 1)
      throw new UserError(`expected at least ${ORIGINAL_MERGES + 1} lines of BPE merges, found ${lines.length}`, file);
    const merges = lines.slice(1, ORIGINAL_MERGES + 1).map((l, i) => parseMerge(l, i + 2, file));
    const byteChars = byteVocabOrder(BYTE_TABLE);
    const tokens = [
      ...byteChars,
      ...byteChars.map((c) => c + '</w>'),
      ...merges.map(([a, b]) => a + b),
      '<|startoftext|>',
      '<|endoftext|>',
    ];
    const vocab = new Map<string, number>();
    tokens.forEach((t, i) => vocab.set(t, i)); // a later duplicate wins, as in the original's dict()
    return new ClipTokenizer(vocab, merges, {}, file);
  }

  /** From HF `vocab.json` and `merges.txt` text (and optional special tokens / max length). */
  static fromHf(
    vocabJson: string,
    mergesTxt: string,
    config: ClipTokenizerConfig = {},
    files: { vocab?: string; merges?: string } = {},
  ): ClipTokenizer {
    const vf = files.vocab ?? 'vocab.json',
      mf = files.merges ?? 'merges.txt';
    const vocab = vocabFromObject(parseJson(vocabJson, vf), vf);
    const merges: [string, string][] = [];
    const lines = mergesTxt.split(/\r?\n/);
    lines.forEach((line, i) => {
      if (i === 0 && line.startsWith('#version')) return;
      if (!line.trim()) return;
      merges.push(parseMerge(line, i + 1, mf));
    });
    checkMerges(merges, vocab, mf);
    return new ClipTokenizer(vocab, merges, config, vf);
  }

  /** From an HF tokenizers `tokenizer.json` (BPE model; merges as "a b" strings or [a, b] pairs). */
  static fromTokenizerJson(json: string, file = 'tokenizer.json', config: ClipTokenizerConfig = {}): ClipTokenizer {
    const j = parseJson(json, file);
    const model = j?.model;
    if (!model || typeof model !== 'object') throw new UserError('no "model" object (is this a tokenizers tokenizer.json?)', file);
    if (model.type !== undefined && model.type !== 'BPE') throw new UserError(`model type is '${model.type}', expected 'BPE'`, file);
    const vocab = vocabFromObject(model.vocab, file, 'model.vocab');
    if (!Array.isArray(model.merges)) throw new UserError('model.merges must be a list', file);
    const merges = (model.merges as unknown[]).map((m, i): [string, string] => {
      if (typeof m === 'string') return parseMerge(m, i, file, `model.merges[${i}]`);
      if (Array.isArray(m) && m.length === 2 && typeof m[0] === 'string' && typeof m[1] === 'string') return [m[0], m[1]];
      throw new UserError(`model.merges[${i}] must be "a b" or ["a", "b"]`, file);
    });
    checkMerges(merges, vocab, file);
    // Special tokens: the post-processor (RobertaProcessing/TemplateProcessing) names BOS/EOS; padding names pad.
    const cfg: ClipTokenizerConfig = { ...config };
    const around = specialsAround(j.post_processor);
    if (around.bos) cfg.bos ??= around.bos;
    if (around.eos) cfg.eos ??= around.eos;
    if (j.padding && typeof j.padding.pad_token === 'string') cfg.pad ??= j.padding.pad_token;
    if (typeof model.unk_token === 'string') cfg.unk ??= model.unk_token;
    if (typeof model.end_of_word_suffix === 'string') cfg.suffix ??= model.end_of_word_suffix;
    if (j.truncation && Number.isInteger(j.truncation.max_length)) cfg.maxLength ??= j.truncation.max_length;
    return new ClipTokenizer(vocab, merges, cfg, file);
  }

  /** The token strings of `text` (no BOS/EOS), e.g. ["a</w>", "photo</w>"]. */
  tokenize(text: string): string[] {
    if (!this.decoder) {
      this.decoder = new Map();
      for (const [t, i] of this.encoder) this.decoder.set(i, t);
    }
    return this.encodeText(text).map((i) => this.decoder!.get(i)!);
  }

  /** BOS + tokens + EOS, without padding or truncation. */
  encode(text: string): number[] {
    return [this.bosId, ...this.encodeText(text), this.eosId];
  }

  /** Exactly maxLength ids: truncated (EOS kept last) and padded with padId. */
  encodeForModel(text: string): number[] {
    const body = this.encodeText(text).slice(0, this.maxLength - 2);
    const ids = [this.bosId, ...body, this.eosId];
    while (ids.length < this.maxLength) ids.push(this.padId);
    return ids;
  }

  /** Ids of the text's tokens, without BOS/EOS. */
  private encodeText(text: string): number[] {
    const out: number[] = [];
    const clean = cleanText(text);
    const utf8 = new TextEncoder();
    for (const m of clean.matchAll(this.pattern)) {
      const piece = m[0];
      const special = this.specials.get(piece);
      if (special !== undefined) {
        out.push(special);
        continue;
      }
      let mapped = '';
      for (const b of utf8.encode(piece)) mapped += BYTE_TABLE[b];
      for (const id of this.bpe(mapped)) out.push(id);
    }
    return out;
  }

  /** Byte-level BPE of one pre-token (already mapped to byte characters) → ids. */
  private bpe(token: string): number[] {
    const hit = this.cache.get(token);
    if (hit) return hit;
    // Every byte character is in the BMP, so UTF-16 units are whole symbols.
    let word = token.split('');
    word[word.length - 1] += this.suffix;
    while (word.length > 1) {
      let best = Infinity,
        first = '',
        second = '';
      for (let i = 0; i < word.length - 1; i++) {
        const r = this.ranks.get(word[i] + '\n' + word[i + 1]);
        if (r !== undefined && r < best) {
          best = r;
          first = word[i];
          second = word[i + 1];
        }
      }
      if (best === Infinity) break;
      const next: string[] = [];
      for (let i = 0; i < word.length;) {
        if (i < word.length - 1 && word[i] === first && word[i + 1] === second) {
          next.push(first + second);
          i += 2;
        } else next.push(word[i++]);
      }
      word = next;
    }
    const ids = word.map((sym) => {
      const id = this.encoder.get(sym);
      if (id !== undefined) return id;
      if (this.unkId !== null) return this.unkId;
      throw new UserError(`the text contains '${sym}', which this tokenizer's vocabulary cannot express`);
    });
    if (this.cache.size > 50_000) this.cache.clear();
    this.cache.set(token, ids);
    return ids;
  }
}

function parseMerge(line: string, lineNo: number, file: string, where = `line ${lineNo}`): [string, string] {
  const parts = line.trim().split(/\s+/);
  if (parts.length !== 2 || !parts[0]) throw new UserError(`${where}: expected a merge "A B", got '${line.slice(0, 60)}'`, file);
  return [parts[0], parts[1]];
}

function vocabFromObject(obj: unknown, file: string, what = 'the vocabulary'): Map<string, number> {
  if (!obj || typeof obj !== 'object' || Array.isArray(obj)) throw new UserError(`${what} must be an object mapping tokens to ids`, file);
  const vocab = new Map<string, number>();
  for (const [t, id] of Object.entries(obj as Record<string, unknown>)) {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0)
      throw new UserError(`${what}: id of '${t}' must be a non-negative integer, got ${JSON.stringify(id)}`, file);
    vocab.set(t, id);
  }
  if (vocab.size === 0) throw new UserError(`${what} is empty`, file);
  return vocab;
}

function checkMerges(merges: [string, string][], vocab: Map<string, number>, file: string): void {
  for (let i = 0; i < merges.length; i++) {
    const [a, b] = merges[i];
    for (const t of [a, b, a + b]) {
      if (!vocab.has(t)) throw new UserError(`merge ${i + 1} ('${a} ${b}') uses '${t}', which is not in the vocabulary`, file);
    }
  }
}

/** BOS/EOS named by a tokenizers post-processor: RobertaProcessing/BertProcessing (cls, sep), TemplateProcessing, or a Sequence of them. */
function specialsAround(pp: any): { bos?: string; eos?: string } {
  if (!pp || typeof pp !== 'object') return {};
  if (pp.type === 'Sequence' && Array.isArray(pp.processors)) {
    for (const p of pp.processors) {
      const r = specialsAround(p);
      if (r.bos || r.eos) return r;
    }
    return {};
  }
  if (Array.isArray(pp.single)) {
    // [{SpecialToken: {id: BOS}}, {Sequence: {id: 'A'}}, {SpecialToken: {id: EOS}}]
    const seq = pp.single.findIndex((x: any) => x && x.Sequence);
    const name = (x: any) => (x && x.SpecialToken && typeof x.SpecialToken.id === 'string' ? x.SpecialToken.id : undefined);
    return { bos: seq > 0 ? name(pp.single[seq - 1]) : undefined, eos: seq >= 0 ? name(pp.single[seq + 1]) : undefined };
  }
  return {
    bos: Array.isArray(pp.cls) && typeof pp.cls[0] === 'string' ? pp.cls[0] : undefined,
    eos: Array.isArray(pp.sep) && typeof pp.sep[0] === 'string' ? pp.sep[0] : undefined,
  };
}

/** The content of a special-token entry in tokenizer_config.json / special_tokens_map.json (string or AddedToken object). */
function tokenContent(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof (v as { content?: unknown }).content === 'string') return (v as { content: string }).content;
  return undefined;
}

/**
 * Loads a model's tokenizer folder: `tokenizer.json`, or `vocab.json` + `merges.txt`; special tokens and the
 * maximum length from `special_tokens_map.json` / `tokenizer_config.json` when present. `dir` may also name
 * one file: the original `.gz` vocabulary, a `vocab.json` (merges.txt beside it) or a `tokenizer.json`.
 */
export async function loadTokenizer(dir: string, files: FileSource): Promise<ClipTokenizer> {
  const text = async (p: string) => new TextDecoder().decode(await files.read(p));
  const lower = dir.toLowerCase();
  if (lower.endsWith('.gz')) return ClipTokenizer.fromOriginalBpe(await files.read(dir), dir);
  const single = lower.endsWith('.json') ? dir : null;
  const folder = single ? dirname(single) : dir;
  const config: ClipTokenizerConfig = {};
  for (const name of ['tokenizer_config.json', 'special_tokens_map.json']) {
    const p = joinPath(folder, name);
    if (p === single || !(await files.exists(p))) continue;
    const c = parseJson(await files.read(p), p);
    if (!c || typeof c !== 'object') throw new UserError('expected a JSON object', p);
    config.bos = tokenContent(c.bos_token) ?? config.bos;
    config.eos = tokenContent(c.eos_token) ?? config.eos;
    config.pad = tokenContent(c.pad_token) ?? config.pad;
    config.unk = tokenContent(c.unk_token) ?? config.unk;
    const ml = c.model_max_length;
    // HF writes a huge sentinel (1e30) when there is no limit; CLIP models say 77.
    if (typeof ml === 'number' && Number.isInteger(ml) && ml >= 2 && ml <= 1 << 20) config.maxLength = ml;
  }
  if (single) {
    const json = await text(single);
    // A tokenizers file has a "model" object; anything else is taken for a vocab.json (whose "model" is a token id).
    const parsed = parseJson(json, single);
    if (parsed && typeof parsed === 'object' && parsed.model && typeof parsed.model === 'object')
      return ClipTokenizer.fromTokenizerJson(json, single, config);
    const mp = joinPath(folder, 'merges.txt');
    if (!(await files.exists(mp)))
      throw new UserError(`no merges.txt beside it (a vocab.json needs the merges.txt of the same tokenizer)`, single);
    return ClipTokenizer.fromHf(json, await text(mp), config, { vocab: single, merges: mp });
  }
  const tj = joinPath(folder, 'tokenizer.json');
  if (await files.exists(tj)) return ClipTokenizer.fromTokenizerJson(await text(tj), tj, config);
  const vp = joinPath(folder, 'vocab.json'),
    mp = joinPath(folder, 'merges.txt');
  if (!(await files.exists(vp)) || !(await files.exists(mp))) {
    throw new UserError(
      'no tokenizer files: expected tokenizer.json, or vocab.json and merges.txt (or give the original bpe_simple_vocab_16e6.txt.gz)',
      dir,
    );
  }
  return ClipTokenizer.fromHf(await text(vp), await text(mp), config, { vocab: vp, merges: mp });
}
