/**
 * `instruct-scene serve` against hostile requests (issue 17's bar for the server of issue 15), on loopback with
 * bounded loops: deeply nested JSON, parser errors quoting control characters, non-finite binary inputs, requests
 * that make a model work on a huge image or on thousands of token ids, token ids past the vocabulary, slow-drip
 * ("slowloris") headers and bodies, oversized headers, and many connections at once. Each gets one JSON error
 * with a proper status, and the server keeps serving. (Malformed requests of other kinds, lying
 * Inference-Header-Content-Length and binary_data_size past the body: tests/remote-protocol.test.ts.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type Socket } from 'node:net';
import { startServe, type ServeProcess } from './helpers/serve';

let srv: ServeProcess;
beforeAll(async () => {
  srv = await startServe(['--model', 'builtin', '--max-pixels', '65536', '--request-timeout', '2', '--quiet']);
}, 120_000);
afterAll(async () => {
  await srv?.stop();
});

interface Reply {
  status: number;
  error: string;
}

async function post(path: string, body: string | Uint8Array, headers: Record<string, string> = {}): Promise<Reply & { raw: Uint8Array }> {
  const r = await fetch(srv.url + path, { method: 'POST', body: body as BodyInit, headers, signal: AbortSignal.timeout(30_000) });
  const raw = new Uint8Array(await r.arrayBuffer());
  let error = '';
  if (r.status !== 200) error = JSON.parse(new TextDecoder().decode(raw)).error;
  return { status: r.status, error, raw };
}

/** One JSON error of `status` whose message matches `re` and is one line. */
function expectError(r: Reply, status: number, re: RegExp): void {
  expect(r.status, r.error).toBe(status);
  expect(r.error).toMatch(re);
  expect([...r.error].some((c) => c.charCodeAt(0) < 0x20)).toBe(false);
}

const ready = async () => (await fetch(`${srv.url}/v2/health/ready`)).status;

function binary(inputs: { name: string; datatype: string; shape: number[]; data: Float32Array }[]) {
  const h = new TextEncoder().encode(
    JSON.stringify({
      inputs: inputs.map((t) => ({
        name: t.name,
        datatype: t.datatype,
        shape: t.shape,
        parameters: { binary_data_size: t.data.byteLength },
      })),
    }),
  );
  const body = new Uint8Array(h.length + inputs.reduce((s, t) => s + t.data.byteLength, 0));
  body.set(h);
  let o = h.length;
  for (const t of inputs) {
    body.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), o);
    o += t.data.byteLength;
  }
  return { body, headers: { 'Inference-Header-Content-Length': String(h.length) } };
}
const latents = (h: number, w: number) =>
  binary([{ name: 'latent_sample', datatype: 'FP32', shape: [1, 4, h, w], data: new Float32Array(4 * h * w).fill(0.1) }]);

/** A raw connection: what the server sends back until it closes (or `ms` pass). */
function rawConnection(port: number): { sock: Socket; reply: Promise<{ text: string; ms: number }> } {
  const t0 = performance.now();
  const sock = connect(port, '127.0.0.1');
  sock.on('error', () => {});
  const reply = new Promise<{ text: string; ms: number }>((resolve) => {
    let text = '';
    sock.on('data', (c) => (text += c.toString()));
    sock.on('close', () => resolve({ text, ms: performance.now() - t0 }));
  });
  return { sock, reply };
}

describe('serve: hostile requests get one JSON error and the server goes on', () => {
  it('JSON nested 10,000 deep, a datatype nested 200 deep, parser errors around control characters', async () => {
    const deep = '['.repeat(10_000) + ']'.repeat(10_000);
    expectError(
      await post('/v2/models/unet/infer', `{"inputs":[{"name":"sample","datatype":${deep}}]}`),
      400,
      /the JSON header is not valid JSON \(nested more than 256 levels deep\)/,
    );
    const d200 = '['.repeat(200) + '"FP32"' + ']'.repeat(200);
    expectError(
      await post('/v2/models/unet/infer', `{"inputs":[{"name":"sample","datatype":${d200},"shape":[1]}]}`),
      400,
      /unknown datatype/,
    );
    expectError(
      await post('/v2/models/unet/infer', `{"inputs":[{"name":"sample","shape":[${d200}]}]}`),
      400,
      /'shape' must be|unknown datatype/,
    );
    expectError(await post('/v2/models/unet/infer', '{"inputs": [\n\u0000\u001b[31m\n'), 400, /the JSON header is not valid JSON/);
    expect(await ready()).toBe(200);
  });

  it('non-finite binary float inputs are refused (JSON numbers cannot be NaN)', async () => {
    const { body, headers } = binary([
      {
        name: 'latent_sample',
        datatype: 'FP32',
        shape: [1, 4, 2, 2],
        data: Float32Array.from({ length: 16 }, (_, i) => (i === 7 ? NaN : 0.1)),
      },
    ]);
    expectError(await post('/v2/models/vae_decoder/infer', body, headers), 400, /input 'latent_sample' holds a value that is not finite/);
  });

  it('--max-pixels bounds the image a run works on (latents count 64 pixels); token ids must fit the vocabulary and the run', async () => {
    // 32×32 latents decode to 256×256 = 65,536 pixels: at the limit; 40×40 (a 26 kB request) is over it
    const ok = latents(32, 32);
    const r = await post('/v2/models/vae_decoder/infer', ok.body, ok.headers);
    expect(r.status, r.error).toBe(200);
    const big = latents(40, 40);
    expectError(
      await post('/v2/models/vae_decoder/infer', big.body, big.headers),
      413,
      /makes model 'vae_decoder' work on 102,400 image pixels, more than the server's limit of 65,536 \(serve --max-pixels\)/,
    );
    const unet = binary([
      { name: 'sample', datatype: 'FP32', shape: [1, 8, 40, 40], data: new Float32Array(8 * 1600) },
      { name: 'timestep', datatype: 'FP32', shape: [1], data: Float32Array.of(10) },
      { name: 'encoder_hidden_states', datatype: 'FP32', shape: [1, 77, 768], data: new Float32Array(77 * 768) },
    ]);
    expectError(await post('/v2/models/unet/infer', unet.body, unet.headers), 413, /model 'unet' work on 102,400 image pixels/);
    const image = binary([{ name: 'sample', datatype: 'FP32', shape: [2, 3, 256, 256], data: new Float32Array(2 * 3 * 256 * 256) }]);
    expectError(await post('/v2/models/vae_encoder/infer', image.body, image.headers), 413, /131,072 image pixels/);
    const ids = (rows: number, id: number) =>
      JSON.stringify({ inputs: [{ name: 'input_ids', datatype: 'INT64', shape: [rows, 77], data: new Array(rows * 77).fill(id) }] });
    expectError(
      await post('/v2/models/text_encoder/infer', ids(1, 49406)),
      400,
      /token id 49406, outside the model's vocabulary of \d+ tokens/,
    );
    expectError(await post('/v2/models/text_encoder/infer', ids(1, -1)), 400, /token id -1/);
    expectError(await post('/v2/models/text_encoder/infer', ids(65, 1)), 413, /5005 token ids, more than the 4928 one run takes/);
    expect((await post('/v2/models/text_encoder/infer', ids(2, 1))).status).toBe(200);
  });

  it('slow clients get 408 within --request-timeout, for a dripped body and for dripped headers', async () => {
    const port = srv.port;
    const drip = (first: string, next: string) => {
      const c = rawConnection(port);
      c.sock.write(first);
      let n = 0;
      const timer = setInterval(() => {
        if (c.sock.destroyed || n++ > 40) return clearInterval(timer);
        c.sock.write(next);
      }, 250);
      return c.reply.finally(() => clearInterval(timer));
    };
    const [body, headers] = await Promise.all([
      drip('POST /v2/models/unet/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n{"inputs": [', ' '),
      drip('POST /v2/models/unet/infer HTTP/1.1\r\nHost: x\r\n', 'X-Slow: 1\r\n'),
    ]);
    for (const r of [body, headers]) {
      expect(r.text).toMatch(
        /^HTTP\/1\.1 408 Request Timeout\r\n[\s\S]*\r\n\r\n\{"error":"the request did not arrive within 2 s \(serve --request-timeout\)"\}$/,
      );
      expect(r.ms).toBeLessThan(8000); // 2 s, checked every 0.5 s; generous for a loaded machine
    }
    expect(await ready()).toBe(200);
  }, 30_000);

  it('headers over 16 kB get 431; 300 idle connections and 40 requests at once are all answered', async () => {
    const big = rawConnection(srv.port);
    big.sock.write(`GET /v2 HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    const r = await big.reply;
    expect(r.text).toMatch(/^HTTP\/1\.1 431 Request Header Fields Too Large\r\n[\s\S]*\{"error":"the request headers are too large"\}$/);

    const idle = Array.from({ length: 300 }, () => rawConnection(srv.port));
    await new Promise((res) => setTimeout(res, 200));
    const good = latents(2, 2);
    const replies = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        i % 2 ? post('/v2/models/vae_decoder/infer', good.body, good.headers) : post('/v2/models/vae_decoder/infer', '{"inputs": 5}'),
      ),
    );
    replies.forEach((x, i) => {
      if (i % 2) expect(x.status, x.error).toBe(200);
      else expectError(x, 400, /'inputs' must be a non-empty array/);
    });
    for (const c of idle) c.sock.destroy();
    await Promise.all(idle.map((c) => c.reply));
    expect(await ready()).toBe(200);
  }, 60_000);
});
