import net from 'node:net';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startHttpOrigin } from '../helpers/origin.js';
import { startTestProxy } from '../helpers/test-proxy.js';
import { curl } from '../helpers/clients.js';
import { sendRaw, statusOf } from '../helpers/raw-client.js';

const freePort = async (): Promise<number> => {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
};

const failingLookup = async (hostname: string): Promise<Array<{ address: string; family: number }>> => {
  throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
};

test('a refused upstream connection gives 502 with Proxy-Status connection_refused, for HTTP and CONNECT', async (t) => {
  const port = await freePort();
  const proxy = await startTestProxy(t, { resolve: { 'down.test': '127.0.0.1' }, rules: [{ name: 'down', hosts: ['down.test'], ports: [port] }] });
  const result = await curl(['-i', '-x', proxy.url, `http://down.test:${port}/`]);
  assert.equal(result.status, 502);
  assert.match(result.body, /proxy-status: portcullis; error=connection_refused/i);
  assert.match(result.body, /refused/);
  const raw = await sendRaw(proxy.port, `CONNECT down.test:${port} HTTP/1.1\r\n\r\n`, { idleMs: 300 });
  assert.equal(statusOf(raw), 502);
  assert.match(raw, /connection_refused/);
  const flows = await proxy.waitForFlows(2);
  assert.ok(flows.every((f) => f.errorCode === 'PCL_ERR_UPSTREAM_REFUSED'));
});

test('a DNS failure gives 502 with Proxy-Status dns_error', async (t) => {
  const proxy = await startTestProxy(t, { rules: [{ name: 'nx', hosts: ['nx.test'], ports: [80, 443] }] }, { lookup: failingLookup });
  const result = await curl(['-i', '-x', proxy.url, 'http://nx.test/']);
  assert.equal(result.status, 502);
  assert.match(result.body, /error=dns_error/);
  assert.match(result.body, /ENOTFOUND/);
  const raw = await sendRaw(proxy.port, 'CONNECT nx.test:443 HTTP/1.1\r\n\r\n', { idleMs: 300 });
  assert.equal(statusOf(raw), 502);
  assert.match(raw, /dns_error/);
});

test('an upstream that never answers gives 504 after the response timeout', async (t) => {
  const origin = await startHttpOrigin(t, () => { /* never answers */ });
  const proxy = await startTestProxy(t, {
    resolve: { 'slow.test': '127.0.0.1' }, timeouts: { upstream_response: '300ms' },
    rules: [{ name: 'slow', hosts: ['slow.test'], ports: [origin.port] }],
  });
  const result = await curl(['-i', '-x', proxy.url, `http://slow.test:${origin.port}/`]);
  assert.equal(result.status, 504);
  assert.match(result.body, /error=http_response_timeout/);
});

test('an upstream that resets mid-body cuts the client off and the proxy keeps serving', async (t) => {
  const origin = await startHttpOrigin(t, (req, res) => {
    if (req.url === '/reset') {
      res.writeHead(200, { 'content-length': '100000' });
      res.write(Buffer.alloc(1000, 1));
      setTimeout(() => res.socket?.destroy(), 50);
      return;
    }
    res.end('fine\n');
  });
  const proxy = await startTestProxy(t, { resolve: { 'flaky.test': '127.0.0.1' }, rules: [{ name: 'flaky', hosts: ['flaky.test'], ports: [origin.port] }] });
  const broken = await curl(['-x', proxy.url, `http://flaky.test:${origin.port}/reset`]);
  assert.notEqual(broken.code, 0);
  const fine = await curl(['-x', proxy.url, `http://flaky.test:${origin.port}/ok`]);
  assert.equal(fine.status, 200);
  assert.equal(fine.body, 'fine\n');
  const flows = await proxy.waitForFlows(2);
  assert.equal(flows.find((f) => f.url.endsWith('/reset'))?.errorCode, 'PCL_ERR_UPSTREAM_RESET');
});

test('a client that vanishes mid-upload is logged, the origin sees an incomplete body, and others are served', async (t) => {
  let aborted = 0;
  const origin = await startHttpOrigin(t);
  const proxy = await startTestProxy(t, { resolve: { 'up.test': '127.0.0.1' }, rules: [{ name: 'up', hosts: ['up.test'], ports: [origin.port] }] });
  await new Promise<void>((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port: proxy.port }, () => {
      socket.write(`POST http://up.test:${origin.port}/upload HTTP/1.1\r\nHost: up.test:${origin.port}\r\nContent-Length: 10000000\r\n\r\n`);
      socket.write(Buffer.alloc(1_000_000, 2), () => {
        setTimeout(() => {
          socket.destroy();
          aborted += 1;
          resolve();
        }, 100);
      });
    });
  });
  const [flow] = await proxy.waitForFlows(1);
  assert.equal(aborted, 1);
  assert.equal(flow?.errorCode, "PCL_ERR_CLIENT_ABORTED", JSON.stringify(flow));
  assert.ok((flow?.bytesUp ?? 0) > 0);
  assert.equal(origin.seen.filter((s) => s.bodyBytes === 10_000_000).length, 0, 'no complete upload reached the origin');
  const next = await curl(['-x', proxy.url, `http://up.test:${origin.port}/after`]);
  assert.equal(next.status, 200);
});

/** A raw origin: counts the requests that reach it and does what `act` says with each socket. */
const startRawOrigin = async (t: { after(fn: () => unknown): void }, act: (socket: net.Socket, count: number) => void) => {
  let requests = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('data', (data) => {
      requests += (data.toString('latin1').match(/^(GET|POST|HEAD) /gm) ?? []).length;
      act(socket, requests);
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => {
    server.close(() => resolve());
    for (const socket of sockets) socket.destroy(); // pooled keep-alive connections
  }));
  return { port: (server.address() as net.AddressInfo).port, requests: () => requests };
};

test('an origin that resets each fresh connection is asked once: 502, never a replayed request', async (t) => {
  const origin = await startRawOrigin(t, (socket) => socket.resetAndDestroy());
  const proxy = await startTestProxy(t, { resolve: { 'reset.test': '127.0.0.1' }, rules: [{ name: 'r', hosts: ['reset.test'], ports: [origin.port] }] });
  const result = await curl(['-i', '-x', proxy.url, `http://reset.test:${origin.port}/once`]);
  assert.equal(result.status, 502);
  assert.match(result.body, /error=connection_terminated|PCL_ERR_UPSTREAM_RESET/i);
  assert.equal(origin.requests(), 1);
});

test('a request that meets a pooled connection the origin just dropped is sent once more, on a new one', async (t) => {
  // Each connection answers its first request, then drops the connection on the next one
  // without answering: what a client meets when an origin closes an idle connection just as
  // the request goes out. The proxy must retry that (bodyless) request on a fresh connection.
  const perSocket = new WeakMap<net.Socket, number>();
  const origin = await startRawOrigin(t, (socket) => {
    const seen = (perSocket.get(socket) ?? 0) + 1;
    perSocket.set(socket, seen);
    if (seen === 1) socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok');
    else socket.destroy();
  });
  const proxy = await startTestProxy(t, { resolve: { 'idle.test': '127.0.0.1' }, rules: [{ name: 'i', hosts: ['idle.test'], ports: [origin.port] }] });
  for (const path of ['/first', '/second']) {
    const result = await curl(['-x', proxy.url, `http://idle.test:${origin.port}${path}`]);
    assert.equal(result.status, 200, path);
    assert.equal(result.body, 'ok');
  }
  assert.equal(origin.requests(), 3, 'first; second (dropped on the pooled connection); second again');
});
