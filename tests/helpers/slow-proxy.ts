import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A proxy in front of the server that holds UNet inference calls for `delayMs` (a slow or stuck server). */
export async function slowProxy(target: string, delayMs: number) {
  const t = new URL(target);
  const stats = { unetCalls: 0, clientGone: 0, arrived: [] as (() => void)[] };
  const server: Server = createServer((req, res) => {
    const slow = req.method === 'POST' && /\/unet\/infer$/.test(req.url ?? ''); // not the CORS preflight
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      let gone = false;
      res.on('close', () => {
        if (!res.writableFinished) {
          gone = true;
          stats.clientGone++;
        }
      });
      const forward = () => {
        if (gone) return;
        const up = request({ host: t.hostname, port: t.port, path: req.url, method: req.method, headers: req.headers }, (ur) => {
          res.writeHead(ur.statusCode ?? 502, ur.headers);
          ur.pipe(res);
        });
        up.on('error', () => res.destroy());
        up.end(Buffer.concat(chunks));
      };
      if (slow) {
        stats.unetCalls++;
        stats.arrived.splice(0).forEach((f) => f());
        setTimeout(forward, delayMs);
      } else forward();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    stats,
    nextUnetCall: () => new Promise<void>((r) => stats.arrived.push(r)),
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
