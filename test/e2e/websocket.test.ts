import https from 'node:https';
import http from 'node:http';
import net from 'node:net';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { WebSocket, WebSocketServer } from 'ws';
import { startTestProxy, testProxyCa, testProxyCaPath } from '../helpers/test-proxy.js';
import { makeOriginCertificates } from '../helpers/test-certs.js';

const certs = makeOriginCertificates(['ws.test']);

/** An echo WebSocket origin; records every upgrade path it accepted. */
const startWsOrigin = async (t: TestContext, secure: boolean): Promise<{ port: number; upgrades: string[]; requests: string[] }> => {
  const requests: string[] = [];
  const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    requests.push(req.url ?? '');
    res.end('plain answer\n');
  };
  const server = secure ? https.createServer({ cert: certs.cert, key: certs.key }, handler) : http.createServer(handler);
  const upgrades: string[] = [];
  const wss = new WebSocketServer({ server });
  wss.on('connection', (socket, req) => {
    upgrades.push(req.url ?? '');
    socket.on('message', (data) => socket.send(`echo:${data.toString()}`));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => {
    for (const client of wss.clients) client.terminate();
    wss.close();
    server.closeAllConnections();
    server.close(() => resolve());
  }));
  return { port: (server.address() as net.AddressInfo).port, upgrades, requests };
};

/** Opens CONNECT host:port through the proxy and resolves with the raw tunnel socket. */
const openTunnel = (proxyPort: number, authority: string): Promise<net.Socket> =>
  new Promise((resolve, reject) => {
    const socket = net.connect(proxyPort, '127.0.0.1', () => socket.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n\r\n`));
    let text = '';
    const onData = (chunk: Buffer): void => {
      text += chunk.toString('latin1');
      if (!text.includes('\r\n\r\n')) return;
      socket.off('data', onData);
      if (text.startsWith('HTTP/1.1 200')) resolve(socket);
      else reject(new Error(text.split('\r\n')[0]));
    };
    socket.on('data', onData);
    socket.on('error', reject);
  });

const exchange = (ws: WebSocket, message: string): Promise<string> =>
  new Promise((resolve, reject) => {
    ws.once('open', () => ws.send(message));
    ws.once('message', (data) => resolve(data.toString()));
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`status ${res.statusCode}`)));
  });

test('a wss:// upgrade inside an intercepted tunnel is policed by its path, then relayed both ways', async (t) => {
  await testProxyCa();
  const origin = await startWsOrigin(t, true);
  const proxy = await startTestProxy(t, {
    resolve: { 'ws.test': '127.0.0.1' }, upstream: { tls: { extra_ca: [certs.caCertPath] } },
    rules: [{ name: 'ws', hosts: ['ws.test'], ports: [origin.port], paths: ['/socket'] }],
  });
  const ca = readFileSync(testProxyCaPath, 'utf8');
  const connect = async (path: string): Promise<string> => {
    const raw = await openTunnel(proxy.port, `ws.test:${origin.port}`);
    const ws = new WebSocket(`wss://ws.test:${origin.port}${path}`, {
      createConnection: () => tls.connect({ socket: raw, servername: 'ws.test', ca }),
    } as unknown as WebSocket.ClientOptions);
    t.after(() => ws.terminate());
    try {
      return await exchange(ws, 'hello');
    } finally {
      ws.close();
    }
  };
  assert.equal(await connect('/socket/chat'), 'echo:hello');
  await assert.rejects(connect('/other'), /status 403/);
  assert.deepEqual(origin.upgrades, ['/socket/chat']);
  const flows = await proxy.waitForFlows(3);
  const upgrade = flows.find((f) => f.url.endsWith('/socket/chat'));
  assert.equal(upgrade?.status, 101);
  assert.ok((upgrade?.bytesDown ?? 0) > 0);
});

test('a ws:// upgrade sent in absolute form to the proxy is decided, then relayed', async (t) => {
  const origin = await startWsOrigin(t, false);
  const proxy = await startTestProxy(t, {
    resolve: { 'ws.test': '127.0.0.1' },
    rules: [{ name: 'ws', hosts: ['ws.test'], ports: [origin.port], paths: ['/socket'] }],
  });
  // A forward-proxy client sends the upgrade in absolute form; written by hand since the ws
  // client only speaks origin-form.
  const connect = (path: string): Promise<string> => new Promise((resolve) => {
    const socket = net.connect(proxy.port, '127.0.0.1', () => {
      socket.write(`GET http://ws.test:${origin.port}${path} HTTP/1.1\r\nHost: ws.test:${origin.port}\r\nConnection: Upgrade\r\n`
        + 'Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n');
    });
    let text = '';
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      if (text.includes('\r\n\r\n')) {
        socket.destroy();
        resolve(text.split('\r\n')[0] ?? '');
      }
    });
    socket.on('error', () => resolve(text));
  });
  assert.equal(await connect('/socket'), 'HTTP/1.1 101 Switching Protocols');
  assert.match(await connect('/elsewhere'), /^HTTP\/1\.1 403/);
  assert.deepEqual(origin.upgrades, ['/socket']);
});

test('an origin that answers an upgrade with 200 gets no raw relay, so no unchecked request can follow', async (t) => {
  await testProxyCa();
  const requests: string[] = [];
  const server = https.createServer({ cert: certs.cert, key: certs.key }, (req, res) => {
    requests.push(req.url ?? '');
    res.writeHead(200, { 'content-length': '2' });
    res.end('ok');
  });
  server.on('upgrade', (req, socket) => {
    // A hostile or broken origin: pretends nothing happened and keeps the connection open.
    requests.push(req.url ?? '');
    socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }));
  const port = (server.address() as net.AddressInfo).port;
  const proxy = await startTestProxy(t, {
    resolve: { 'ws.test': '127.0.0.1' }, upstream: { tls: { extra_ca: [certs.caCertPath] } },
    rules: [{ name: 'ws', hosts: ['ws.test'], ports: [port], paths: ['/socket'] }],
  });
  const raw = await openTunnel(proxy.port, `ws.test:${port}`);
  const secure = tls.connect({ socket: raw, servername: 'ws.test', ca: readFileSync(testProxyCaPath, 'utf8') });
  const reply = await new Promise<string>((resolve) => {
    let text = '';
    secure.on('data', (c: Buffer) => { text += c.toString('latin1'); });
    secure.on('close', () => resolve(text));
    secure.on('error', () => resolve(text));
    secure.on('secureConnect', () => {
      secure.write(`GET /socket HTTP/1.1\r\nHost: ws.test:${port}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`);
      setTimeout(() => secure.write(`GET /smuggled HTTP/1.1\r\nHost: ws.test:${port}\r\n\r\n`), 200);
    });
    setTimeout(() => { secure.destroy(); resolve(text); }, 3000).unref();
  });
  assert.match(reply, /^HTTP\/1\.1 502/);
  assert.match(reply, /upgrade-refused/);
  assert.deepEqual(requests, ['/socket']);
});
