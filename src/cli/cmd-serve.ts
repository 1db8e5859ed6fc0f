import { UserError } from '../core/errors';
import { MAX_PIXELS, startOipServer, type LogEntry } from '../io/node/oip-server';
import { choiceFlag, intFlag, parseCommand } from './args';
import { resolveModelDir } from './model-path';
import { warn } from './progress';

const USAGE = `usage: instruct-scene serve [--model DIR|builtin] [--host H] [--port P] [options]

Serves an InstructPix2Pix model folder over the Open Inference Protocol (KServe v2 REST, as Triton does): the
models text_encoder, unet, vae_encoder, vae_decoder and pipeline_config (the tokenizer and scheduler config),
on onnxruntime-node. Clients use it with --model http://HOST:PORT (edit, edit-image, models check, the viewer).

  --model DIR|builtin     the model folder (default builtin)
  --host H                address to listen on (default 127.0.0.1; 0.0.0.0 = every interface)
  --port P                (default 8000; 0 = any free port)
  --cors ORIGIN           let web pages from ORIGIN call the server (repeat for several; '*' = any origin);
                          requests from other origins are refused
  --model-prefix P        serve the models as P_text_encoder, P_unet, …; clients use http://HOST:PORT/P
  --device auto|cpu|cuda  execution provider (default auto: CUDA when onnxruntime-node's CUDA provider is
                          installed, else CPU)
  --threads N             onnxruntime threads per model (default: onnxruntime's choice)
  --max-batch N           most rows (first-axis entries) in one batched run (default 16; 1 = no batching)
  --queue N               requests waiting per model before new ones get 503 (default 32)
  --max-request-mb N      largest request body in MiB (default 64)
  --max-pixels N          largest image area one run works on, summed over a batch (default 4194304 =
                          2048×2048; latents count 64 pixels each): bounds the memory a request can take
  --request-timeout S     seconds a client has to send a whole request (default 300); slower ones get 408
  --quiet                 no log line per request
  --json                  log JSON lines

Logs one line per request (status, time in the queue and in the model, batch, bytes). Ctrl-C (SIGINT) or
SIGTERM stops it: requests in flight finish first (a second signal stops at once).`;

const MB = 1 << 20;

function fmtBytes(n: number): string {
  return n < 1024 ? `${n} B` : n < MB ? `${(n / 1024).toFixed(1)} kB` : `${(n / MB).toFixed(1)} MB`;
}

function textLine(e: LogEntry): string {
  const parts = [`${e.time} ${e.remote} ${e.method} ${e.path} ${e.status} ${e.ms.toFixed(1)} ms`];
  if (e.runMs !== undefined)
    parts.push(`(queue ${e.queueMs!.toFixed(1)} ms, run ${e.runMs.toFixed(1)} ms, batch ${e.batch![0]} req × ${e.batch![1]} rows)`);
  if (e.bytesIn || e.bytesOut) parts.push(`in ${fmtBytes(e.bytesIn)} out ${fmtBytes(e.bytesOut)}`);
  if (e.error) parts.push(`— ${e.error}`);
  return parts.join(' ');
}

export async function run(args: string[]): Promise<number> {
  const p = parseCommand(
    args,
    USAGE,
    {
      model: { type: 'string' },
      host: { type: 'string' },
      port: { type: 'string' },
      cors: { type: 'string', multiple: true },
      'model-prefix': { type: 'string' },
      device: { type: 'string' },
      threads: { type: 'string' },
      'max-batch': { type: 'string' },
      queue: { type: 'string' },
      'max-request-mb': { type: 'string' },
      'max-pixels': { type: 'string' },
      'request-timeout': { type: 'string' },
      quiet: { type: 'boolean' },
    },
    { positionals: [0, 0] },
  );
  if (!p) return 0;
  const v = p.values as Record<string, string | boolean | string[] | undefined>;
  const json = !!v.json;
  const model = typeof v.model === 'string' ? v.model : 'builtin';
  const host = typeof v.host === 'string' ? v.host : '127.0.0.1';
  const port = intFlag(v.port as string | undefined, 'port', 8000, 0);
  if (port > 65535) throw new UserError(`--port must be at most 65535, got ${port}`);
  const cors = (v.cors as string[] | undefined) ?? [];
  for (const c of cors)
    if (c !== '*' && !/^https?:\/\/[^/\s]+$/.test(c))
      throw new UserError(
        `--cors takes an origin like https://my.app or http://localhost:5173 (scheme, host, port; no path), or '*'; got '${c}'`,
      );
  const prefix = typeof v['model-prefix'] === 'string' ? v['model-prefix'] : '';
  if (prefix && !/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(prefix))
    throw new UserError(`--model-prefix takes letters, digits, '_', '.' and '-', got '${prefix}'`);
  const device = choiceFlag(v.device as string | undefined, 'device', ['auto', 'cpu', 'cuda'] as const, 'auto');
  const threads = v.threads === undefined ? undefined : intFlag(v.threads as string, 'threads', 0, 1);
  const maxBatch = intFlag(v['max-batch'] as string | undefined, 'max-batch', 16, 1);
  const queue = intFlag(v.queue as string | undefined, 'queue', 32, 1);
  const maxMb = intFlag(v['max-request-mb'] as string | undefined, 'max-request-mb', 64, 1);
  if (maxMb > 2047) throw new UserError('--max-request-mb must be below 2048');
  const maxPixels = intFlag(v['max-pixels'] as string | undefined, 'max-pixels', MAX_PIXELS, 1, 2 ** 31);
  const requestTimeout = intFlag(v['request-timeout'] as string | undefined, 'request-timeout', 300, 1, 86_400);
  const dir = await resolveModelDir(model);

  const say = (text: string, obj: Record<string, unknown>) => console.log(json ? JSON.stringify(obj) : text);
  const server = await startOipServer({
    dir,
    host,
    port,
    prefix,
    cors,
    device,
    threads,
    maxBatch,
    queue,
    maxRequestBytes: maxMb * MB,
    maxPixels,
    requestTimeoutMs: requestTimeout * 1000,
    log: v.quiet ? undefined : (e) => console.log(json ? JSON.stringify({ event: 'request', ...e }) : textLine(e)),
    onProgress: (msg) => (json ? undefined : console.log(msg)),
  });
  for (const w of server.warnings) warn(`${w} (served anyway; clients will refuse it)`);
  const names = server.models.map((m) => m.name);
  const client = `${server.url}${prefix ? `/${prefix}` : ''}`;
  say(
    `serving ${dir} (${names.join(', ')}) on onnxruntime-node (${server.provider})\n` +
      `CORS: ${cors.length ? cors.join(', ') : "off (browsers can't call it; add --cors ORIGIN)"}\n` +
      `listening on ${server.url} — use it with --model ${client}`,
    { event: 'listening', url: server.url, client, host: server.host, port: server.port, models: names, provider: server.provider, cors },
  );

  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (sig: NodeJS.Signals) => {
      if (stopping) {
        say(`${sig} again: stopping now`, { event: 'stopped', signal: sig, forced: true });
        process.exit(130);
      }
      stopping = true;
      say(`${sig}: stopping (finishing the requests in flight)`, { event: 'stopping', signal: sig });
      void server.close().then(() => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        say('stopped', { event: 'stopped', signal: sig });
        resolve();
      });
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  return 0;
}
