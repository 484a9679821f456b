import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import net from 'node:net';
import { Duplex } from 'node:stream';
import tls from 'node:tls';
import { test } from 'node:test';
import type { OriginalDestinationSource } from '../../src/net/original-destination.js';
import { curl } from '../helpers/clients.js';
import { startHttpsOrigin } from '../helpers/origin.js';
import { makeOriginCertificates } from '../helpers/test-certs.js';
import { startTestProxy, testProxyCa, testProxyCaPath, type TestProxy } from '../helpers/test-proxy.js';

/**
 * TLS handshakes that never finish: a client that sends a ClientHello, reads the ServerHello and
 * leaves, or stalls mid-handshake. Every TLS server surface (TLS to the proxy, an intercepted
 * CONNECT, a transparent-tls listener) must close it within its timeout, log it, and free its
 * descriptor and its connection slot.
 */
const certs = makeOriginCertificates(['inspect.test']);
const HANDSHAKE_MS = 800;

/** The bytes of a real ClientHello for `servername`, taken from Node's own TLS client. */
const clientHello = (servername: string): Promise<Buffer> => new Promise((resolve) => {
  const wire = new Duplex({
    read() {},
    write(chunk: Buffer, _encoding, callback) {
      resolve(Buffer.from(chunk));
      callback();
    },
  });
  const client = tls.connect({ socket: wire, servername, rejectUnauthorized: false });
  client.on('error', () => {});
  setTimeout(() => client.destroy(), 200).unref();
});

const openFds = (): number => readdirSync('/proc/self/fd').length;

const connect = (port: number): Promise<net.Socket> => new Promise((resolve, reject) => {
  const socket = net.connect(port, '127.0.0.1', () => resolve(socket));
  socket.on('error', () => {});
  socket.once('error', reject);
});

/** Sends `prefix` (a CONNECT), waits for its answer, then the ClientHello; then leaves after the ServerHello, or stalls. */
const abandon = async (port: number, hello: Buffer, how: 'leave' | 'stall', prefix?: string): Promise<net.Socket> => {
  const socket = await connect(port);
  if (prefix !== undefined) {
    socket.write(prefix);
    await new Promise<void>((resolve) => socket.once('data', () => resolve()));
  }
  socket.write(hello);
  if (how === 'leave') socket.once('data', () => socket.end());
  // Either way the client reads what it is sent (so it sees the proxy close); it never answers.
  socket.resume();
  return socket;
};

/** Resolves once `check` holds, polling for at most `ms`. */
const eventually = async (check: () => boolean, ms: number): Promise<boolean> => {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return check();
};

const startProxy = async (t: Parameters<typeof startTestProxy>[0], origin: number, limits: Record<string, number> = {}): Promise<TestProxy> => {
  await testProxyCa();
  const redirected: OriginalDestinationSource = { status: () => ({ available: true }), lookup: () => ({ address: '127.0.0.1', port: origin, family: 4 }) };
  return startTestProxy(t, {
    listen: [{ address: '127.0.0.1:0' }, { address: '127.0.0.1:0', mode: 'transparent-tls' }],
    resolve: { 'inspect.test': '127.0.0.1' },
    upstream: { tls: { extra_ca: [certs.caCertPath] } },
    timeouts: { client_hello: HANDSHAKE_MS },
    limits: { max_connections: 10_000, max_connections_per_client: 10_000, ...limits },
    rules: [{ name: 'inspect', hosts: ['inspect.test'], ports: [origin], inspect: true }],
  }, { originalDestination: redirected });
};

test('300 abandoned and stalled handshakes on TLS to the proxy, inside intercepted CONNECTs and on a transparent-tls listener: all closed, logged, descriptors back', { timeout: 60_000 }, async (t) => {
  const origin = await startHttpsOrigin(t, certs);
  const proxy = await startProxy(t, origin.port);
  const transparentPort = Number(proxy.proxy.listeners[1]?.address().split(':').pop());
  const hello = await clientHello('inspect.test');
  const baseline = openFds();
  const clients: net.Socket[] = [];
  const surfaces: ReadonlyArray<readonly [number, string | undefined]> = [
    [proxy.port, undefined],
    [proxy.port, `CONNECT inspect.test:${origin.port} HTTP/1.1\r\nHost: inspect.test:${origin.port}\r\n\r\n`],
    [transparentPort, undefined],
  ];
  for (const [port, prefix] of surfaces) {
    for (let i = 0; i < 50; i += 1) {
      clients.push(await abandon(port, hello, 'leave', prefix), await abandon(port, hello, 'stall', prefix));
    }
  }
  t.after(() => clients.forEach((c) => c.destroy()));
  // The proxy closes every one of them (the stalled ones after the handshake timeout).
  assert.ok(await eventually(() => clients.every((c) => c.destroyed || c.readableEnded), HANDSHAKE_MS + 5000),
    `${clients.filter((c) => !c.destroyed && !c.readableEnded).length} client connections still open`);
  clients.forEach((c) => c.destroy());
  assert.ok(await eventually(() => openFds() <= baseline + 5, 5000), `descriptors: ${baseline} before, ${openFds()} after`);
  // One log line for each: TLS to the proxy is a refused connection, the others their tunnel's flow.
  const flows = await proxy.waitForFlows(300, 10_000);
  const failed = flows.filter((f) => f.reason === 'client-tls-failed' || f.errorCode === 'PCL_ERR_CLIENT_TLS');
  assert.equal(failed.length, 300, JSON.stringify(flows.slice(0, 3)));
  assert.ok(failed.some((f) => /did not finish within/.test(f.detail ?? '')), 'stalled ones say they timed out');
  // And the proxy still serves.
  const served = await curl(['-s', '--cacert', testProxyCaPath, '-x', proxy.url, `https://inspect.test:${origin.port}/after`]);
  assert.equal(served.status, 200, served.stderr);
});

test('stalled handshakes hold a client\'s connection slots only until the handshake timeout', { timeout: 30_000 }, async (t) => {
  const origin = await startHttpsOrigin(t, certs);
  const proxy = await startProxy(t, origin.port, { max_connections_per_client: 30 });
  const hello = await clientHello('inspect.test');
  const stalled = await Promise.all(Array.from({ length: 30 }, () => abandon(proxy.port, hello, 'stall')));
  t.after(() => stalled.forEach((c) => c.destroy()));
  const locked = await curl(['-s', '-o', '/dev/null', '-w', '%{http_code}', '-x', proxy.url, `http://inspect.test:${origin.port}/`]);
  assert.equal(locked.stdout, '503', 'while they are open, the 31st connection is over the limit');
  assert.ok(await eventually(() => stalled.every((c) => c.destroyed || c.readableEnded), HANDSHAKE_MS + 5000));
  const served = await curl(['-s', '--cacert', testProxyCaPath, '-x', proxy.url, `https://inspect.test:${origin.port}/freed`]);
  assert.equal(served.status, 200, served.stderr);
  assert.deepEqual(origin.seen.map((s) => s.url), ['/freed']);
});
