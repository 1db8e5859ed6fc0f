/**
 * Tokenizer speed: loading each file format and encoding prompts (cold and warm BPE cache).
 * Run: node bin/run-ts.mjs bench/tokenizer.ts [--vocab PATH/bpe_simple_vocab_16e6.txt.gz] (the original CLIP vocabulary;
 *   default: ../shared/data/clip/ beside the repository when present)
 * Writes bench/results/tokenizer.json.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'fflate';
import { Rng } from '../src/core/rng';
import { writeFileAtomic } from '../src/io/node/node-files';
import { ClipTokenizer } from '../src/edit/diffusion/tokenizer/tokenizer';

const HERE = dirname(fileURLToPath(import.meta.url));
const arg = process.argv.indexOf('--vocab');
const gzPath = arg > 0 ? process.argv[arg + 1] : join(HERE, '../../shared/data/clip/bpe_simple_vocab_16e6.txt.gz');
const gz = new Uint8Array(readFileSync(gzPath));

function time<T>(f: () => T, reps = 3): { ms: number; value: T } {
  let best = Infinity,
    value!: T;
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    value = f();
    best = Math.min(best, performance.now() - t0);
  }
  return { ms: best, value };
}

const fromGz = time(() => ClipTokenizer.fromOriginalBpe(gz));
const tok = fromGz.value;
// HF files equivalent to the .gz, to time the other loaders.
const words = 'a photo of the bear make it snow turn into polar gold vase night sepia brighter darker van gogh painting'.split(' ');
const rng = new Rng(1);
const prompts = Array.from({ length: 2000 }, () =>
  Array.from({ length: 4 + rng.int(12) }, () => words[rng.int(words.length)] + (rng.next() < 0.1 ? String(rng.int(100)) : '')).join(' '),
);
{
  const vocab: Record<string, number> = {};
  const merges = new TextDecoder().decode(gunzipSync(gz)).split('\n').slice(1, 48895);
  const bs: number[] = [];
  for (let b = 33; b <= 126; b++) bs.push(b);
  for (let b = 161; b <= 172; b++) bs.push(b);
  for (let b = 174; b <= 255; b++) bs.push(b);
  const cs = bs.slice();
  let n = 0;
  for (let b = 0; b < 256; b++)
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n++);
    }
  const chars = cs.map((c) => String.fromCharCode(c));
  [...chars, ...chars.map((c) => c + '</w>'), ...merges.map((m) => m.replace(' ', '')), '<|startoftext|>', '<|endoftext|>'].forEach(
    (t, i) => (vocab[t] = i),
  );
  const vocabJson = JSON.stringify(vocab),
    mergesTxt = '#version: 0.2\n' + merges.join('\n');
  const tokJson = JSON.stringify({ model: { type: 'BPE', vocab, merges, end_of_word_suffix: '</w>' } });
  const fromHf = time(() => ClipTokenizer.fromHf(vocabJson, mergesTxt));
  const fromJson = time(() => ClipTokenizer.fromTokenizerJson(tokJson));

  const cold = time(() => {
    const t = ClipTokenizer.fromOriginalBpe(gz);
    const t0 = performance.now();
    for (const p of prompts) t.encodeForModel(p);
    return performance.now() - t0;
  }, 1).value;
  const warm = time(() => {
    for (const p of prompts) tok.encodeForModel(p);
  }).ms;
  const result = {
    bench: 'tokenizer',
    date: new Date().toISOString(),
    node: process.version,
    load_ms: { original_gz: +fromGz.ms.toFixed(1), vocab_json_merges_txt: +fromHf.ms.toFixed(1), tokenizer_json: +fromJson.ms.toFixed(1) },
    encode: {
      prompts: prompts.length,
      cold_cache_us_per_prompt: +((cold * 1000) / prompts.length).toFixed(2),
      warm_cache_us_per_prompt: +((warm * 1000) / prompts.length).toFixed(2),
      cold_over_warm: +(cold / warm).toFixed(2),
    },
  };
  await writeFileAtomic(join(HERE, 'results/tokenizer.json'), JSON.stringify(result, null, 2) + '\n');
  console.log(JSON.stringify(result, null, 2));
}
