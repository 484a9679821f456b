import { Duplex } from 'node:stream';
import tls from 'node:tls';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { parseClientHello } from '../../../src/net/client-hello.js';

/** A real ClientHello from Node's TLS stack, captured in memory (no socket). */
const captureClientHello = (options: tls.ConnectionOptions): Promise<Buffer> =>
  new Promise((resolve) => {
    const wire = new Duplex({
      read() {},
      write(chunk: Buffer, _encoding, callback) {
        resolve(Buffer.from(chunk));
        callback();
      },
    });
    const client = tls.connect({ ...options, socket: wire as unknown as import('node:net').Socket });
    client.on('error', () => {});
    setTimeout(() => client.destroy(), 50).unref();
  });

/** Re-frames one handshake message into TLS records of at most `size` bytes each. */
const fragment = (hello: Buffer, size: number): Buffer => {
  const body = hello.subarray(5);
  const records: Buffer[] = [];
  for (let at = 0; at < body.length; at += size) {
    const piece = body.subarray(at, at + size);
    records.push(Buffer.from([0x16, 0x03, 0x01, piece.length >> 8, piece.length & 0xff]), piece);
  }
  return Buffer.concat(records);
};

const cases: Record<string, { options: tls.ConnectionOptions; sni?: string; alpn: string[] }> = {
  'reads the SNI and ALPN of a modern client': { options: { servername: 'www.googleapis.com', ALPNProtocols: ['h2', 'http/1.1'] }, sni: 'www.googleapis.com', alpn: ['h2', 'http/1.1'] },
  'reads a mixed-case SNI as sent': { options: { servername: 'Example.COM' }, sni: 'Example.COM', alpn: [] },
  'reports no SNI when the client sends none': { options: { servername: '' }, alpn: [] },
  'reads a TLS 1.2-only client': { options: { servername: 'legacy.test', maxVersion: 'TLSv1.2' }, sni: 'legacy.test', alpn: [] },
};

for (const [name, c] of Object.entries(cases)) {
  test(name, async () => {
    const hello = await captureClientHello(c.options);
    const result = parseClientHello(hello);
    assert.equal(result.status, 'ok');
    if (result.status !== 'ok') return;
    assert.equal(result.sni, c.sni);
    assert.deepEqual([...result.alpn], c.alpn);
    assert.equal(result.length, hello.length);
  });
}

test('says need-more for every strict prefix of a ClientHello and not-tls for plain HTTP', async () => {
  const hello = await captureClientHello({ servername: 'prefix.test' });
  for (let cut = 1; cut < hello.length; cut += 1) {
    assert.equal(parseClientHello(hello.subarray(0, cut)).status, 'need-more', `cut at ${cut}`);
  }
  assert.equal(parseClientHello(Buffer.from('GET / HTTP/1.1\r\n')).status, 'not-tls');
  assert.equal(parseClientHello(Buffer.from('CONNECT x:443 HTTP/1.1\r\n')).status, 'not-tls');
  assert.equal(parseClientHello(Buffer.from([0x16, 0x02])).status, 'not-tls');
});

test('reassembles a ClientHello split over many small records', async () => {
  const hello = await captureClientHello({ servername: 'fragmented.example.test' });
  for (const size of [1, 7, 64, 200]) {
    const result = parseClientHello(fragment(hello, size));
    assert.equal(result.status, 'ok', `records of ${size} bytes`);
    if (result.status === 'ok') assert.equal(result.sni, 'fragmented.example.test');
  }
});

test('never throws on arbitrary bytes', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 2048 }), (bytes) => {
    const result = parseClientHello(bytes);
    assert.ok(['ok', 'need-more', 'not-tls', 'invalid'].includes(result.status));
  }), { numRuns: 500 });
});

test('never throws on a real ClientHello with random bytes changed, and any SNI it reports is printable', async () => {
  const hello = await captureClientHello({ servername: 'mutate.test', ALPNProtocols: ['h2'] });
  fc.assert(fc.property(fc.array(fc.tuple(fc.nat(hello.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }), (edits) => {
    const copy = Buffer.from(hello);
    for (const [at, value] of edits) copy[at] = value;
    const result = parseClientHello(copy);
    if (result.status === 'ok' && result.sni !== undefined) assert.match(result.sni, /^[\x21-\x7e]+$/);
  }), { numRuns: 500 });
});

test('never throws on a real ClientHello cut anywhere and re-framed into random record sizes', async () => {
  const hello = await captureClientHello({ servername: 'frames.test' });
  fc.assert(fc.property(fc.integer({ min: 1, max: 300 }), fc.nat(hello.length), (size, cut) => {
    const framed = fragment(hello, size);
    const result = parseClientHello(framed.subarray(0, Math.min(cut + 5, framed.length)));
    assert.ok(['ok', 'need-more', 'invalid'].includes(result.status));
  }), { numRuns: 300 });
});

test('refuses two host names in one server_name list', () => {
  const name = Buffer.from('a.test');
  const entry = Buffer.concat([Buffer.from([0, 0, name.length]), name]);
  const list = Buffer.concat([entry, entry]);
  const sniExt = Buffer.concat([Buffer.from([0, 0, (list.length + 2) >> 8, (list.length + 2) & 0xff, list.length >> 8, list.length & 0xff]), list]);
  const extensions = Buffer.concat([Buffer.from([sniExt.length >> 8, sniExt.length & 0xff]), sniExt]);
  const body = Buffer.concat([Buffer.from([3, 3]), Buffer.alloc(32), Buffer.from([0]), Buffer.from([0, 2, 0x13, 0x01]), Buffer.from([1, 0]), extensions]);
  const handshake = Buffer.concat([Buffer.from([1, 0, body.length >> 8, body.length & 0xff]), body]);
  const record = Buffer.concat([Buffer.from([0x16, 3, 1, handshake.length >> 8, handshake.length & 0xff]), handshake]);
  const result = parseClientHello(record);
  assert.equal(result.status, 'invalid');
});
