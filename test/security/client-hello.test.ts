import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { Duplex } from 'node:stream';
import { once } from 'node:events';
import { test, type TestContext } from 'node:test';
import { makeOriginCertificates } from '../helpers/test-certs.js';
import { startTestProxy } from '../helpers/test-proxy.js';
import { alpnExt, clientHello, clientHelloMessage, echOuterExt, GREASE, records, serverNameExt, supportedGroupsExt, supportedVersionsExt } from '../helpers/tls-hello.js';

/**
 * TLS ClientHellos that could hide the real destination, sent through a spliced CONNECT
 * tunnel to allowed.test. The origin is a TLS server that counts every byte it receives: a
 * refused hello must leave it without a byte (the proxy connects before it answers 200, so a
 * TCP connection is expected, data is not). A hello split over many records must still pass.
 */
const HOST = 'allowed.test';
const certs = makeOriginCertificates([HOST]);

interface CountingOrigin {
  readonly port: number;
  bytes(): number;
  readonly requests: string[];
}

/** A TLS origin behind a byte counter: bytes() counts raw bytes received; requests lists decrypted request lines. */
const startOrigin = async (t: TestContext): Promise<CountingOrigin> => {
  let bytes = 0;
  const requests: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((raw) => {
    sockets.add(raw);
    raw.on('close', () => sockets.delete(raw));
    raw.on('error', () => {});
    // TLS runs over a JS stream fed from the raw socket, so every received byte is counted
    // here (a TLSSocket wrapped around the socket itself would read its handle directly).
    const wire = new Duplex({
      read() {},
      write(chunk: Buffer, _encoding, callback) { raw.write(chunk, callback); },
      final(callback) { raw.end(); callback(); },
    });
    raw.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      wire.push(chunk);
    });
    raw.on('end', () => wire.push(null));
    const secure = new tls.TLSSocket(wire as unknown as net.Socket, { isServer: true, cert: certs.cert, key: certs.key });
    secure.on('error', () => {});
    secure.setEncoding('latin1').on('data', (text: string) => {
      requests.push(text.split('\r\n')[0] ?? '');
      secure.end('HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => {
    for (const socket of sockets) socket.destroy();
    server.close(() => resolve());
  }));
  return { port: (server.address() as net.AddressInfo).port, bytes: () => bytes, requests };
};

/** Opens a CONNECT tunnel and returns the socket after the 200. */
const tunnel = async (proxyPort: number, originPort: number): Promise<net.Socket> => {
  const socket = net.connect(proxyPort, '127.0.0.1');
  await once(socket, 'connect');
  socket.write(`CONNECT ${HOST}:${originPort} HTTP/1.1\r\nHost: ${HOST}:${originPort}\r\n\r\n`);
  const [head] = await once(socket, 'data') as [Buffer];
  assert.match(head.toString('latin1'), /^HTTP\/1\.1 200 /);
  return socket;
};

/** Sends bytes in the tunnel and waits until the proxy closes it (or 2 s pass). */
const sendAndWait = async (socket: net.Socket, bytes: Buffer): Promise<Buffer> => {
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.on('error', () => {});
  socket.write(bytes);
  await Promise.race([once(socket, 'close'), new Promise((resolve) => setTimeout(resolve, 2000))]);
  socket.destroy();
  return Buffer.concat(chunks);
};

const sni = serverNameExt(HOST);
const refused: ReadonlyArray<readonly [string, Buffer]> = [
  ['two server_name extensions, the second naming another host', clientHello([sni, serverNameExt('evil.test'), supportedVersionsExt(0x0304)])],
  ['two server_name extensions naming the allowed host twice', clientHello([sni, sni])],
  ['two host names in one server_name list', clientHello([serverNameExt(HOST, 'evil.test')])],
  ['a host name followed by a name of another type', clientHello([serverNameExt(HOST, [1, 'evil.test'])])],
  ['a name of unknown type alone', clientHello([serverNameExt([2, HOST])])],
  ['the same GREASE extension twice', clientHello([[0x1a1a, new Uint8Array(0)], sni, [0x1a1a, Uint8Array.from([0])]])],
  ['two ALPN extensions', clientHello([sni, alpnExt('h2'), alpnExt('http/1.1')])],
  ['bytes after the extensions', clientHello([sni], { trailing: Buffer.from([0, 0, 0]) })],
  ['a NUL inside the host name', clientHello([serverNameExt(`${HOST}\u0000.evil.test`)])],
  ['a split hello with an alert record in the middle', Buffer.concat([records(clientHello([sni]).subarray(5, 30), [25]), Buffer.from([0x15, 3, 3, 0, 2, 1, 0]), records(clientHello([sni]).subarray(30))])],
];

test('malformed or ambiguous ClientHellos in a spliced tunnel are refused; the origin receives no byte', async (t) => {
  const origin = await startOrigin(t);
  const proxy = await startTestProxy(t, { resolve: { [HOST]: '127.0.0.1' }, rules: [{ name: 'spliced', hosts: [HOST], ports: [origin.port] }] });
  for (const [name, hello] of refused) {
    await t.test(name, async () => {
      const before = origin.bytes();
      const socket = await tunnel(proxy.port, origin.port);
      const answer = await sendAndWait(socket, hello);
      assert.equal(answer[0], 0x15, `a TLS alert comes back, got ${answer.toString('hex')}`);
      assert.equal(origin.bytes() - before, 0, 'the origin received bytes');
    });
  }
  assert.equal(origin.bytes(), 0);
  const flows = await proxy.waitForFlows(refused.length);
  assert.ok(flows.every((flow) => flow.verdict === 'deny' && flow.reason === 'sni-mismatch'), JSON.stringify(flows.map((f) => [f.reason, f.detail])));
});

/**
 * A real TLS client whose ClientHello is re-framed into records of `size` bytes on its way out
 * (the rest of the handshake is left alone), as DPI-evading clients do.
 */
const fragmentingClient = (socket: net.Socket, size: number): tls.TLSSocket => {
  let first = true;
  const wire = new Duplex({
    read() {},
    write(chunk: Buffer, _encoding, callback) {
      if (first && chunk[0] === 0x16) {
        first = false;
        socket.write(records(chunk.subarray(5), [size]), callback);
        return;
      }
      socket.write(chunk, callback);
    },
  });
  socket.on('data', (chunk: Buffer) => wire.push(chunk));
  socket.on('end', () => wire.push(null));
  return tls.connect({ socket: wire as unknown as net.Socket, servername: HOST, ca: certs.caCert, maxVersion: 'TLSv1.2' });
};

for (const [name, size] of [['one-byte records', 1], ['seven-byte records', 7], ['two records', 200]] as const) {
  test(`a real ClientHello split into ${name} is reassembled, checked and spliced: the origin gets the request`, async (t) => {
    const origin = await startOrigin(t);
    const proxy = await startTestProxy(t, { resolve: { [HOST]: '127.0.0.1' }, rules: [{ name: 'spliced', hosts: [HOST], ports: [origin.port] }] });
    const socket = await tunnel(proxy.port, origin.port);
    const secure = fragmentingClient(socket, size);
    await once(secure, 'secureConnect');
    secure.write(`GET /split-${size} HTTP/1.1\r\nHost: ${HOST}\r\nConnection: close\r\n\r\n`);
    let answer = '';
    secure.setEncoding('latin1').on('data', (text: string) => { answer += text; });
    await Promise.race([once(secure, 'end'), new Promise((resolve) => setTimeout(resolve, 3000))]);
    secure.destroy();
    assert.match(answer, /^HTTP\/1\.1 200 /);
    assert.deepEqual(origin.requests, [`GET /split-${size} HTTP/1.1`]);
    const [flow] = await proxy.waitForFlows(1);
    assert.equal(flow?.sni, HOST);
    assert.equal(flow?.reason, 'rule-matched');
  });
}

test('a Chrome-shaped hello with GREASE everywhere, split into tiny records, is spliced byte for byte', async (t) => {
  const origin = await startOrigin(t);
  const proxy = await startTestProxy(t, { resolve: { [HOST]: '127.0.0.1' }, rules: [{ name: 'spliced', hosts: [HOST], ports: [origin.port] }] });
  const grease = GREASE[3] ?? 0x3a3a;
  const hello = records(clientHelloMessage([
    [grease, new Uint8Array(0)], sni, supportedGroupsExt(grease, 0x001d), alpnExt(Uint8Array.from([grease >> 8, grease & 0xff]), 'h2'),
    supportedVersionsExt(GREASE[12] ?? 0xcaca, 0x0304, 0x0303), [GREASE[14] ?? 0xeaea, Uint8Array.from([0])],
  ], { cipherSuites: [grease, 0x1301, 0x1302] }), [3]);
  const socket = await tunnel(proxy.port, origin.port);
  await sendAndWait(socket, hello);
  // The origin (a real TLS server) refuses the synthetic hello, but it received every byte of it, unchanged.
  assert.equal(origin.bytes(), hello.length);
  const [flow] = await proxy.waitForFlows(1);
  assert.equal(flow?.sni, HOST);
  assert.equal(flow?.verdict, 'allow');
});

test('a hello carrying Encrypted Client Hello is refused ech-present, the origin receiving no byte, unless the rule says ech: allow', async (t) => {
  const origin = await startOrigin(t);
  const hello = clientHello([sni, echOuterExt(), supportedVersionsExt(0x0304)]);
  const denying = await startTestProxy(t, { resolve: { [HOST]: '127.0.0.1' }, rules: [{ name: 'spliced', hosts: [HOST], ports: [origin.port] }] });
  const refusedAnswer = await sendAndWait(await tunnel(denying.port, origin.port), hello);
  assert.equal(refusedAnswer[0], 0x15, `a TLS alert comes back, got ${refusedAnswer.toString('hex')}`);
  assert.equal(origin.bytes(), 0);
  const [denied] = await denying.waitForFlows(1);
  assert.deepEqual([denied?.verdict, denied?.reason, denied?.rule], ['deny', 'ech-present', 'spliced']);
  const allowing = await startTestProxy(t, { resolve: { [HOST]: '127.0.0.1' }, rules: [{ name: 'spliced-ech', hosts: [HOST], ports: [origin.port], ech: 'allow' }] });
  await sendAndWait(await tunnel(allowing.port, origin.port), hello);
  assert.equal(origin.bytes(), hello.length);
  const [allowed] = await allowing.waitForFlows(1);
  assert.deepEqual([allowed?.verdict, allowed?.rule], ['allow', 'spliced-ech']);
});
