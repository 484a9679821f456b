import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startHttpOrigin } from '../helpers/origin.js';
import { startTestProxy } from '../helpers/test-proxy.js';
import { curl } from '../helpers/clients.js';
import { sendRaw, statusOf } from '../helpers/raw-client.js';

/**
 * Each case hides a second request (to /smuggled) inside the first one's framing. A proxy
 * and an origin that disagree on where the first request ends would let it through under the
 * first request's decision. Portcullis must reject the ambiguous framing outright.
 */
// The hidden request names a denied host that resolves to the same origin: if the origin ever
// records /smuggled, a request reached it without a decision of its own.
const smuggled = (port: number): string => `GET /smuggled HTTP/1.1\r\nHost: denied.test:${port}\r\n\r\n`;
const head = (port: number): string => `POST http://allowed.test:${port}/first HTTP/1.1\r\nHost: allowed.test:${port}\r\n`;

const resolve = { 'allowed.test': '127.0.0.1', 'denied.test': '127.0.0.1' };

const cases: Record<string, (port: number) => string> = {
  'rejects Content-Length together with Transfer-Encoding': (p) =>
    `${head(p)}Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${smuggled(p)}`,
  'rejects two different Content-Length headers': (p) =>
    `${head(p)}Content-Length: 0\r\nContent-Length: 60\r\n\r\n${smuggled(p)}`,
  'rejects a Content-Length list': (p) => `${head(p)}Content-Length: 0, 60\r\n\r\n${smuggled(p)}`,
  'rejects an obs-folded Transfer-Encoding': (p) =>
    `${head(p)}Transfer-Encoding: identity\r\n chunked\r\nContent-Length: 3\r\n\r\nabc${smuggled(p)}`,
  'rejects bare LF line endings in the head': (p) =>
    `POST http://allowed.test:${p}/first HTTP/1.1\nHost: allowed.test:${p}\nContent-Length: 0\n\n${smuggled(p)}`,
  'rejects an invalid chunk size': (p) => `${head(p)}Transfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\n${smuggled(p)}`,
  'rejects a chunk size with a trailing junk character': (p) => `${head(p)}Transfer-Encoding: chunked\r\n\r\n3x\r\nabc\r\n0\r\n\r\n${smuggled(p)}`,
  'rejects Transfer-Encoding that does not end in chunked': (p) =>
    `${head(p)}Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n${smuggled(p)}`,
  'rejects a space before the header colon': (p) => `${head(p)}Transfer-Encoding : chunked\r\nContent-Length: 3\r\n\r\nabc${smuggled(p)}`,
  'rejects a NUL byte in a header value': (p) => `${head(p)}X-Evil: a\u0000b\r\nContent-Length: 0\r\n\r\n${smuggled(p)}`,
  'handles a request line with two spaces without passing a hidden request': (p) => `GET  http://allowed.test:${p}/ HTTP/1.1\r\nHost: allowed.test:${p}\r\n\r\n${smuggled(p)}`,
  'rejects a negative Content-Length': (p) => `${head(p)}Content-Length: -1\r\n\r\n${smuggled(p)}`,
  'rejects a Content-Length with a plus sign': (p) => `${head(p)}Content-Length: +0\r\n\r\n${smuggled(p)}`,
  'rejects a chunk extension with a bare CR': (p) => `${head(p)}Transfer-Encoding: chunked\r\n\r\n0;a\rb\r\n\r\n${smuggled(p)}`,
  'rejects Transfer-Encoding xchunked': (p) => `${head(p)}Transfer-Encoding: xchunked\r\nContent-Length: 3\r\n\r\nabc${smuggled(p)}`,
  'rejects an HTTP/1.0 request with chunked encoding': (p) =>
    `POST http://allowed.test:${p}/first HTTP/1.0\r\nHost: allowed.test:${p}\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${smuggled(p)}`,
};

for (const [name, build] of Object.entries(cases)) {
  test(`${name}; the origin never sees the hidden request`, async (t) => {
    const origin = await startHttpOrigin(t);
    const proxy = await startTestProxy(t, { resolve, rules: [{ name: 'a', hosts: ['allowed.test'], ports: [origin.port] }] });
    const reply = await sendRaw(proxy.port, build(origin.port), { idleMs: 400 });
    assert.ok(!origin.seen.some((s) => s.url === '/smuggled'), `smuggled request reached the origin; reply: ${reply}`);
    assert.ok([0, 200, 400, 403].includes(statusOf(reply)), reply);
    const next = await curl(['-x', proxy.url, `http://allowed.test:${origin.port}/still-serving`]);
    assert.equal(next.status, 200, 'the proxy keeps serving');
  });
}
