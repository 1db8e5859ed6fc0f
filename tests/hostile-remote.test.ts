/**
 * The remote-inference client (issue 15) against a hostile server on loopback (issue 17's bar): an endless or
 * huge answer, a body that drips, metadata nested 10,000 deep, inference answers that do not hold what the
 * server's own metadata promised, and a pipeline_config zip that lies. Each is one RemoteError / UserError line,
 * with bounded memory and time. (Mutated answers of every kind: `npm run fuzz -- --readers remote`.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { zipSync } from 'fflate';
import { UserError } from '../src/core/errors';
import { OipClient, RemoteError, type ModelMetadata } from '../src/edit/diffusion/remote/oip-client';
import { encodeBody } from '../src/edit/diffusion/remote/oip-tensors';
import { RemoteRuntime } from '../src/edit/diffusion/remote/remote-runtime';
import { bundleFiles } from '../src/edit/diffusion/remote/pipeline-config';

type Handler = (path: string, res: ServerResponse) => void;
let handler: Handler = (_p, res) => res.end();
let server: Server;
let url = '';
beforeAll(async () => {
  server = createServer((req, res) => {
    req.resume();
    req.on('end', () => handler(new URL(req.url ?? '/', 'http://x').pathname, res));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

async function fails(p: Promise<unknown>, re: RegExp): Promise<RemoteError> {
  let err: unknown = null;
  try {
    await p;
  } catch (e) {
    err = e;
  }
  expect(err, `expected a refusal matching ${re}`).toBeInstanceOf(UserError);
  expect((err as Error).message).toMatch(re);
  expect((err as Error).message).not.toMatch(/[\n\r]/);
  return err as RemoteError;
}

const client = (o: ConstructorParameters<typeof OipClient>[1] = {}) => new OipClient(url, { retries: 0, timeoutMs: 10_000, ...o });
const META: ModelMetadata = {
  name: 'vae_decoder',
  inputs: [{ name: 'latent_sample', datatype: 'FP32', shape: [-1, 4, -1, -1] }],
  outputs: [{ name: 'sample', datatype: 'FP32', shape: [-1, 3, -1, -1] }],
};
const input = { name: 'latent_sample', datatype: 'FP32' as const, shape: [1, 4, 1, 1], data: new Float32Array(4) };

describe('the client against a hostile server', () => {
  it('an endless answer is cut at maxResponseBytes; a declared huge length is refused before reading', async () => {
    let sent = 0;
    handler = (_p, res) => {
      res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
      const chunk = Buffer.alloc(64 << 10, 1);
      const pump = () => {
        // bounded: stops when the client leaves, or after 256 MB
        while (!res.destroyed && sent < 256 << 20) {
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
    };
    const before = process.memoryUsage().arrayBuffers;
    const e = await fails(
      client({ maxResponseBytes: 1 << 20 }).infer('vae_decoder', [input]),
      /the answer is over 1,048,576 bytes, more than the 1,048,576 this client reads/,
    );
    expect(e.kind).toBe('protocol');
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(32 << 20);
    expect(sent).toBeLessThan(256 << 20);

    handler = (_p, res) => {
      res.writeHead(200, { 'Content-Length': String(10 * 2 ** 30) });
      res.write('{');
    };
    const t0 = performance.now();
    await fails(client().modelMetadata('vae_decoder'), /the answer is 10,737,418,240 bytes, more than the 16,777,216 this client reads/);
    expect(performance.now() - t0).toBeLessThan(5000);
  }, 60_000);

  it('a body that drips is cut at the time limit of the call', async () => {
    handler = (_p, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.write('{"name": "x", ');
      const t = setInterval(() => (res.destroyed ? clearInterval(t) : res.write(' ')), 100);
      res.on('close', () => clearInterval(t));
    };
    const t0 = performance.now();
    const e = await fails(client({ timeoutMs: 1000 }).modelMetadata('vae_decoder'), /no answer within 1 s/);
    expect(e.kind).toBe('timeout');
    expect(performance.now() - t0).toBeLessThan(5000);
  });

  it('metadata nested 10,000 deep is one line, not a RangeError', async () => {
    const deep = '['.repeat(10_000) + ']'.repeat(10_000);
    handler = (_p, res) => res.end(`{"inputs": [{"name": ${deep}}], "outputs": []}`);
    await fails(client().modelMetadata('vae_decoder'), /malformed model metadata \(a tensor without name, datatype and shape/);
    handler = (_p, res) => res.end(`{"inputs": [], "outputs": [{"name": "sample", "datatype": "FP32", "shape": ${deep}}]}`);
    await fails(client().modelMetadata('vae_decoder'), /malformed model metadata \('sample' has shape/);
  });

  it('an inference answer must hold what the metadata promised: every output, its datatype and fixed sizes', async () => {
    const rt = new RemoteRuntime(`${url}/`, { retries: 0, timeoutMs: 10_000 });
    const session = await rt.createSession({ path: rt.register('vae_decoder', META) } as Parameters<RemoteRuntime['createSession']>[0]);
    const answer = (outputs: { name: string; datatype: string; shape: number[]; data: Float32Array | Uint8Array }[]) => {
      const { body, headerLength } = encodeBody(
        {
          outputs: outputs.map((o) => ({
            name: o.name,
            datatype: o.datatype,
            shape: o.shape,
            parameters: { binary_data_size: o.data.byteLength },
          })),
        },
        outputs.map((o) => new Uint8Array(o.data.buffer, o.data.byteOffset, o.data.byteLength)),
      );
      handler = (_p, res) => res.writeHead(200, { 'Inference-Header-Content-Length': String(headerLength) }).end(body);
    };
    const feeds = { latent_sample: { type: 'float32' as const, data: new Float32Array(4), dims: [1, 4, 1, 1] } };
    answer([{ name: 'other', datatype: 'FP32', shape: [1], data: new Float32Array(1) }]);
    await fails(session.run(feeds), /vae_decoder: malformed inference response: output 'sample' is missing/);
    answer([{ name: 'sample', datatype: 'UINT8', shape: [1, 3, 8, 8], data: new Uint8Array(192) }]);
    await fails(session.run(feeds), /output 'sample' is UINT8, its metadata says FP32/);
    answer([{ name: 'sample', datatype: 'FP32', shape: [1, 5, 8, 8], data: new Float32Array(320) }]);
    await fails(session.run(feeds), /output 'sample' has shape \[1,5,8,8\], its metadata says \[-1,3,-1,-1\]/);
    answer([{ name: 'sample', datatype: 'FP32', shape: [1, 3, 8, 8], data: new Float32Array(192) }]);
    expect((await session.run(feeds)).sample.dims).toEqual([1, 3, 8, 8]);
  });

  it('a pipeline_config zip whose directory lies about its entries is refused', async () => {
    const zip = zipSync({ 'tokenizer/vocab.json': new TextEncoder().encode('{"a": 0}') });
    const many = zip.slice();
    const eocd = many.length - 22;
    new DataView(many.buffer).setUint16(eocd + 8, 0xffff, true);
    new DataView(many.buffer).setUint16(eocd + 10, 0xffff, true);
    expect(() => bundleFiles(many, 'pipeline_config', 'http://server/v2/models/pipeline_config')).toThrow(
      /pipeline_config \(the pipeline files\)/,
    );
    const dv = new DataView(zip.buffer);
    for (let i = zip.length - 22; i > 0; i--) if (dv.getUint32(i, true) === 0x02014b50) dv.setUint32(i + 24, 0x7fffffff, true);
    expect(() => bundleFiles(zip, 'pipeline_config', 'http://server/v2/models/pipeline_config')).toThrow(/claims 2147483647 bytes/);
  });
});
