import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { test, type TestContext } from 'node:test';
import { expectedAccept } from '../../src/http/websocket-frames.js';
import type { OriginalDestinationSource } from '../../src/net/original-destination.js';
import { makeOriginCertificates } from '../helpers/test-certs.js';
import { startTestProxy, testProxyCa, testProxyCaPath } from '../helpers/test-proxy.js';
import { readFileSync } from 'node:fs';

/**
 * Upgrade smuggling: no Upgrade turns an allowed request into a blind tunnel. Each row is sent
 * through every listener kind (explicit absolute-form, transparent-http, inside an intercepted
 * tunnel) to a raw origin that records every byte it receives and answers as told; the assertions
 * are on what the origin received.
 */
const certs = makeOriginCertificates(['up.test']);
const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const DENIED = 'DELETE /storage/v1/b/other-bucket/o/victim HTTP/1.1\r\nHost: other\r\nContent-Length: 0\r\n\r\n';

type OriginAnswer = 'ok' | '101' | '101-wrong-accept';

interface RawOrigin {
  readonly port: number;
  /** Every byte received, all connections. */
  received(): string;
}

/** A TCP (or TLS) origin that records all it receives and answers the first request head as told; it never closes first. */
const startRawOrigin = async (t: TestContext, answer: OriginAnswer, secure: boolean): Promise<RawOrigin> => {
  let received = '';
  const onSocket = (socket: net.Socket): void => {
    let answered = false;
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      if (answered || !received.includes('\r\n\r\n')) return;
      answered = true;
      if (answer === 'ok') socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
      else socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${answer === '101' ? expectedAccept(KEY) : 'AAAA'}\r\n\r\n`);
    });
  };
  const server = secure ? tls.createServer({ cert: certs.cert, key: certs.key }, onSocket) : net.createServer(onSocket);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const sockets = new Set<net.Socket>();
  server.on(secure ? 'secureConnection' : 'connection', (s: net.Socket) => sockets.add(s));
  t.after(() => new Promise<void>((resolve) => {
    for (const s of sockets) s.destroy();
    server.close(() => resolve());
  }));
  return { port: (server.address() as net.AddressInfo).port, received: () => received };
};

/** Writes `payload` (then `after`, once the answer head arrived), and collects the answer until close or silence. */
const talk = async (socket: net.Socket, payload: string, after?: string): Promise<string> => new Promise((resolve) => {
  let answer = '';
  let sentAfter = false;
  const done = (): void => {
    clearTimeout(timer);
    socket.destroy();
    resolve(answer);
  };
  let timer = setTimeout(done, 1500);
  socket.on('data', (chunk: Buffer) => {
    answer += chunk.toString('latin1');
    if (after !== undefined && !sentAfter && answer.includes('\r\n\r\n')) {
      sentAfter = true;
      socket.write(after);
    }
    clearTimeout(timer);
    timer = setTimeout(done, 500);
  });
  socket.on('close', done);
  socket.on('error', done);
  socket.write(payload);
});

interface Kind {
  readonly name: string;
  /** The request line target and Host for a path on the origin. */
  request(origin: number, path: string): { target: string; host: string };
  readonly secure: boolean;
  /** A connection to the proxy on which to send the request (TLS inside a CONNECT for intercepted). */
  open(proxyPort: number, origin: number): Promise<net.Socket>;
  readonly listen: Record<string, unknown>;
  readonly originalDestination?: (port: number) => OriginalDestinationSource;
}

const plainSocket = (port: number): Promise<net.Socket> => new Promise((resolve, reject) => {
  const socket = net.connect(port, '127.0.0.1', () => resolve(socket));
  socket.once('error', reject);
});

const KINDS: readonly Kind[] = [
  {
    name: 'explicit (absolute-form)', secure: false, listen: {},
    request: (port, path) => ({ target: `http://up.test:${port}${path}`, host: `up.test:${port}` }),
    open: (proxyPort) => plainSocket(proxyPort),
  },
  {
    name: 'transparent-http', secure: false, listen: { listen: [{ address: '127.0.0.1:0', mode: 'transparent-http' }] },
    request: (port, path) => ({ target: path, host: `up.test:${port}` }),
    open: (proxyPort) => plainSocket(proxyPort),
  },
  {
    name: 'intercepted (wss inside CONNECT)', secure: true, listen: { upstream: { tls: { extra_ca: [certs.caCertPath] } } },
    request: (port, path) => ({ target: path, host: `up.test:${port}` }),
    open: async (proxyPort, origin) => {
      const raw = await plainSocket(proxyPort);
      raw.write(`CONNECT up.test:${origin} HTTP/1.1\r\nHost: up.test:${origin}\r\n\r\n`);
      await new Promise<void>((resolve) => raw.once('data', () => resolve()));
      return new Promise((resolve, reject) => {
        const secure = tls.connect({ socket: raw, servername: 'up.test', ca: readFileSync(testProxyCaPath, 'utf8'), ALPNProtocols: ['http/1.1'] }, () => resolve(secure));
        secure.once('error', reject);
      });
    },
  },
];

interface Row {
  readonly name: string;
  readonly answer: OriginAnswer;
  /** Upgrade-related headers of the request. */
  readonly headers: string;
  /** Sent right behind the request, in the same write (the `head`). */
  readonly pipelined?: string;
  /** Sent once the proxy answered. */
  readonly after?: string;
  readonly expectStatus: number;
  readonly expectReason?: string;
  /** What the origin may have received: nothing, or the upgrade request's head only. */
  readonly originSees: 'nothing' | 'upgrade-head-only';
}

const WS = `Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${KEY}\r\n`;
const ROWS: readonly Row[] = [
  { name: 'an unknown Upgrade token with a smuggled DELETE behind it', answer: 'ok', headers: 'Connection: Upgrade\r\nUpgrade: x\r\n', pipelined: DENIED, expectStatus: 403, expectReason: 'upgrade-not-allowed', originSees: 'nothing' },
  { name: 'an h2c upgrade with HTTP2-Settings', answer: '101', headers: 'Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n', pipelined: 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', expectStatus: 403, expectReason: 'upgrade-not-allowed', originSees: 'nothing' },
  { name: 'two tokens, websocket and h2c', answer: '101', headers: `Connection: Upgrade\r\nUpgrade: websocket, h2c\r\nSec-WebSocket-Key: ${KEY}\r\n`, expectStatus: 403, expectReason: 'upgrade-not-allowed', originSees: 'nothing' },
  { name: 'a WebSocket upgrade the origin refuses, with a smuggled DELETE behind it', answer: 'ok', headers: WS, pipelined: DENIED, expectStatus: 502, expectReason: 'upgrade-refused', originSees: 'upgrade-head-only' },
  { name: 'a WebSocket upgrade answered 101 with a smuggled DELETE behind it', answer: '101', headers: WS, pipelined: DENIED, expectStatus: 101, originSees: 'upgrade-head-only' },
  { name: 'a real 101, then a second request for a denied path', answer: '101', headers: WS, after: DENIED, expectStatus: 101, originSees: 'upgrade-head-only' },
  { name: 'a 101 without this request\'s Sec-WebSocket-Accept', answer: '101-wrong-accept', headers: WS, after: DENIED, expectStatus: 502, expectReason: 'upgrade-refused', originSees: 'upgrade-head-only' },
  { name: 'a WebSocket upgrade for a path the rule does not allow', answer: '101', headers: WS, expectStatus: 403, expectReason: 'path-not-allowed', originSees: 'nothing' },
];

for (const kind of KINDS) {
  for (const row of ROWS) {
    test(`${kind.name}: ${row.name} never reaches the origin as a request`, async (t) => {
      await testProxyCa();
      const origin = await startRawOrigin(t, row.answer, kind.secure);
      const proxy = await startTestProxy(t, {
        resolve: { 'up.test': '127.0.0.1' },
        rules: [{ name: 'ws', hosts: ['up.test'], ports: [origin.port], paths: ['/allowed'] }],
        ...kind.listen,
      });
      const path = row.expectReason === 'path-not-allowed' ? '/other/ws' : '/allowed/ws';
      const { target, host } = kind.request(origin.port, path);
      const socket = await kind.open(proxy.port, origin.port);
      const answer = await talk(socket, `GET ${target} HTTP/1.1\r\nHost: ${host}\r\n${row.headers}\r\n${row.pipelined ?? ''}`, row.after);
      assert.match(answer, new RegExp(`^HTTP/1\\.1 ${row.expectStatus} `), answer);
      if (row.expectReason) assert.match(answer, new RegExp(row.expectReason));
      const seen = origin.received();
      if (row.originSees === 'nothing') assert.equal(seen, '', 'the origin saw nothing');
      else {
        assert.match(seen, new RegExp(`^GET /allowed/ws HTTP/1\\.1\\r\\n`), seen);
        assert.equal(seen.indexOf('\r\n\r\n'), seen.length - 4, `the origin saw only the upgrade head: ${JSON.stringify(seen)}`);
        assert.doesNotMatch(seen, /h2c|HTTP2-Settings/i);
      }
      assert.doesNotMatch(seen, /DELETE|PRI \*/);
    });
  }
}

test('a request naming Upgrade: h2c without Connection: Upgrade is forwarded as a plain request, without Upgrade or HTTP2-Settings', async (t) => {
  const origin = await startRawOrigin(t, 'ok', false);
  const proxy = await startTestProxy(t, { resolve: { 'up.test': '127.0.0.1' }, rules: [{ name: 'ws', hosts: ['up.test'], ports: [origin.port] }] });
  const socket = await plainSocket(proxy.port);
  const answer = await talk(socket, `GET http://up.test:${origin.port}/x HTTP/1.1\r\nHost: up.test:${origin.port}\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n`);
  assert.match(answer, /^HTTP\/1\.1 200 /);
  assert.match(origin.received(), /^GET \/x HTTP\/1\.1\r\n/);
  assert.doesNotMatch(origin.received(), /upgrade|http2-settings/i);
});
