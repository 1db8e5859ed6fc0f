import { UserError } from '../core/errors';
import { applyEnvLimits } from '../io/node/node-limits';
import { commands } from './commands';
import { oneLine } from './one-line';

export { oneLine };

const USAGE = `instruct-scene — edit 3D scenes with plain-language instructions

usage: instruct-scene COMMAND [options]

commands:
${Object.entries(commands)
  .map(([name, c]) => `  ${name.padEnd(12)} ${c.summary}`)
  .join('\n')}

Run 'instruct-scene COMMAND --help' for a command's options.`;

/** Runs the CLI; returns the exit code. Errors caused by input print one line; bugs print a stack with DEBUG=1. */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(USAGE);
    return name ? 0 : 1;
  }
  if (name === '--version') {
    console.log('0.1.0');
    return 0;
  }
  const cmd = commands[name];
  if (!cmd) {
    console.error(oneLine(`instruct-scene: unknown command '${name}' (commands: ${Object.keys(commands).join(', ')})`));
    return 2;
  }
  try {
    applyEnvLimits();
    (await import('../io/node/node-webp')).installNodeWebp(); // SOG images decode in Node too
    const mod = await cmd.load();
    const code = await mod.run(rest);
    return typeof code === 'number' ? code : 0;
  } catch (e) {
    return reportError(e, name);
  }
}

export function reportError(e: unknown, name: string): number {
  const say = (line: string) => console.error(oneLine(line));
  if (e instanceof UserError) {
    say(`instruct-scene ${name}: error: ${e.message}`);
    return 1;
  }
  const err = e as NodeJS.ErrnoException;
  if (
    err &&
    (err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ||
      err.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' ||
      err.code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL')
  ) {
    say(`instruct-scene ${name}: error: ${err.message.split('\n')[0]} (see 'instruct-scene ${name} --help')`);
    return 2;
  }
  if (err && err.code === 'ENOSPC') {
    say(`instruct-scene ${name}: error: the disk is full`);
    return 1;
  }
  if (err && err instanceof RangeError && /Array buffer allocation failed|Invalid typed array length|out of memory/i.test(err.message)) {
    say(`instruct-scene ${name}: error: out of memory (${err.message}); try a smaller --res, --downscale or --max-images`);
    return 1;
  }
  if (process.env.DEBUG) console.error(e);
  say(`instruct-scene ${name}: internal error: ${(e as Error)?.message ?? String(e)} (this is a bug; rerun with DEBUG=1 for details)`);
  return 70;
}
