import http from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import type { TestContext } from 'node:test';

/** One request as the origin saw it. */
export interface SeenRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly rawHeaders: readonly string[];
  readonly bodyBytes: number;
  readonly body: string;
  readonly remotePort: number;
}

export interface Origin {
  readonly port: number;
  readonly url: string;
  /** Every request that reached this origin, in arrival order (filled when the body ended). */
  readonly seen: SeenRequest[];
  /** Number of TCP connections accepted. */
  connections(): number;
}

export type OriginHandler = (req: http.IncomingMessage, res: http.ServerResponse, seen: SeenRequest) => void;

const defaultHandler: OriginHandler = (req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain' });
  res.end(`origin saw ${req.method} ${req.url}\n`);
};

const KEEP_BODY_BYTES = 64 * 1024;

const record = (server: http.Server, seen: SeenRequest[], handler: OriginHandler): void => {
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const chunks: Buffer[] = [];
    let kept = 0;
    let bytes = 0;
    req.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (kept < KEEP_BODY_BYTES) {
        chunks.push(chunk);
        kept += chunk.length;
      }
    });
    req.on('end', () => {
      const entry: SeenRequest = {
        method: req.method ?? '', url: req.url ?? '', headers: req.headers, rawHeaders: req.rawHeaders,
        bodyBytes: bytes, body: Buffer.concat(chunks).toString('utf8'), remotePort: req.socket.remotePort ?? 0,
      };
      seen.push(entry);
      handler(req, res, entry);
    });
  });
};

/** Where an origin listens: 127.0.0.1 on a free port unless a test needs another loopback address or a given port. */
export interface OriginBind {
  readonly host?: string;
  readonly port?: number;
}

const start = async (t: TestContext, server: http.Server | https.Server, scheme: 'http' | 'https', seen: SeenRequest[], bind: OriginBind = {}): Promise<Origin> => {
  let connections = 0;
  const sockets = new Set<net.Socket>();
  server.on('connection', (socket: net.Socket) => {
    connections += 1;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  const host = bind.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(bind.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  t.after(() => new Promise<void>((resolve) => {
    for (const socket of sockets) socket.destroy();
    server.close(() => resolve());
  }));
  const port = (server.address() as net.AddressInfo).port;
  return { port, url: `${scheme}://${host}:${port}`, seen, connections: () => connections };
};

/** A plain HTTP origin on 127.0.0.1:0 that records what reached it. */
export const startHttpOrigin = (t: TestContext, handler: OriginHandler = defaultHandler, bind?: OriginBind): Promise<Origin> => {
  const seen: SeenRequest[] = [];
  const server = http.createServer({ keepAliveTimeout: 5000 });
  record(server, seen, handler);
  return start(t, server, 'http', seen, bind);
};

/** A TLS origin with the given certificate, recording what reached it. */
export const startHttpsOrigin = (
  t: TestContext, tls: { cert: string; key: string; minVersion?: 'TLSv1.2' | 'TLSv1.3' }, handler: OriginHandler = defaultHandler, bind?: OriginBind,
): Promise<Origin> => {
  const seen: SeenRequest[] = [];
  const server = https.createServer({ cert: tls.cert, key: tls.key, minVersion: tls.minVersion ?? 'TLSv1.2', keepAliveTimeout: 5000 });
  record(server, seen, handler);
  return start(t, server, 'https', seen, bind);
};
