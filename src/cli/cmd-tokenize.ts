import { joinPath } from '../core/paths';
import { UserError } from '../core/errors';
import { nodeFiles, isDirectory } from '../io/node/node-files';
import { loadTokenizer } from '../edit/diffusion/tokenizer/tokenizer';
import { parseCommand, requireFlag } from './args';

const USAGE = `usage: instruct-scene tokenize --vocab FILE_OR_DIR [--pad] [--json] TEXT...

CLIP-tokenizes each TEXT (lower-cased, whitespace cleaned, byte-level BPE) and prints its ids with BOS and EOS.
  --vocab  the original bpe_simple_vocab_16e6.txt.gz, a vocab.json (merges.txt beside it), a tokenizer.json,
           a tokenizer folder, or a model folder with a tokenizer/ folder
  --pad    pad (and truncate) to the model's length (77), as the text encoder receives them
  --json   print one JSON array with one list of ids per TEXT`;

export async function run(args: string[]): Promise<number> {
  const p = parseCommand(args, USAGE, { vocab: { type: 'string' }, pad: { type: 'boolean' } }, { positionals: [1, Infinity] });
  if (!p) return 0;
  let vocab = requireFlag(p.values.vocab, 'vocab');
  if (!(await nodeFiles.exists(vocab))) throw new UserError('no such file or folder', vocab);
  if ((await isDirectory(vocab)) && (await isDirectory(joinPath(vocab, 'tokenizer')))) vocab = joinPath(vocab, 'tokenizer');
  const tok = await loadTokenizer(vocab, nodeFiles);
  const ids = p.positionals.map((t) => (p.values.pad ? tok.encodeForModel(t) : tok.encode(t)));
  if (p.values.json) console.log(JSON.stringify(ids));
  else {
    p.positionals.forEach((t, i) => {
      console.log(`${JSON.stringify(t)} (${ids[i].length} ids)`);
      console.log(`  ids:    ${ids[i].join(' ')}`);
      console.log(`  tokens: ${tok.tokenize(t).join(' ')}`);
    });
  }
  return 0;
}
