import http from 'node:http';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startHttpOrigin } from '../helpers/origin.js';
import { startTestProxy } from '../helpers/test-proxy.js';
import { curl } from '../helpers/clients.js';
import { sendRaw, statusOf } from '../helpers/raw-client.js';

const pinned = { 'allowed.test': '127.0.0.1', 'denied.test': '127.0.0.1', 'other.allowed.test': '127.0.0.1' };

const rulesFor = (port: number): unknown[] => [
  { name: 'allowed', hosts: ['allowed.test'], ports: [port] },
];

test('an allowed GET reaches the origin exactly as sent, and is logged with its rule', async (t) => {
  const origin = await startHttpOrigin(t);
  const proxy = await startTestProxy(t, { resolve: pinned, rules: rulesFor(origin.port) });
  const result = await curl(['-x', proxy.url, `http://allowed.test:${origin.port}/some/path?q=1&r=%20x`]);
  assert.equal(result.status, 200, result.stderr);
  assert.equal(result.body, `origin saw GET /some/path?q=1&r=%20x\n`);
  assert.equal(origin.seen.length, 1);
  assert.equal(origin.seen[0]?.url, '/some/path?q=1&r=%20x');
  assert.equal(origin.seen[0]?.headers.host, `allowed.test:${origin.port}`);
  const [flow] = await proxy.waitForFlows(1);
  assert.equal(flow?.verdict, 'allow');
  assert.equal(flow?.rule, 'allowed');
  assert.equal(flow?.status, 200);
  assert.equal(flow?.upstreamAddress, `127.0.0.1:${origin.port}`);
  assert.equal(flow?.url, `http://allowed.test:${origin.port}/some/path?q=1&r=%20x`);
});

test('a denied host gets 403 naming host, reason and the default, and the origin sees nothing', async (t) => {
  const origin = await startHttpOrigin(t);
  const proxy = await startTestProxy(t, { resolve: pinned, rules: rulesFor(origin.port) });
  const result = await curl(['-i', '-x', proxy.url, `http://denied.test:${origin.port}/`]);
  assert.equal(result.status, 403);
  assert.match(result.body, /proxy-status: portcullis; error=http_request_denied; details="no-rule-matched"/i);
  assert.match(result.body, /denied\.test/);
  assert.match(result.body, /reason: +no-rule-matched/);
  assert.match(result.body, /default: deny/);
  assert.equal(origin.seen.length, 0);
  assert.equal(origin.connections(), 0);
  const [flow] = await proxy.waitForFlows(1);
  assert.equal(flow?.verdict, 'deny');
  assert.equal(flow?.reason, 'no-rule-matched');
  assert.equal(flow?.status, 403);
});

test('a port the rule does not list is denied with port-not-allowed', async (t) => {
  const origin = await startHttpOrigin(t);
  const proxy = await startTestProxy(t, { resolve: pinned, rules: [{ name: 'allowed', hosts: ['allowed.test'] }] });
  const result = await curl(['-i', '-x', proxy.url, `http://allowed.test:${origin.port}/`]);
  assert.equal(result.status, 403);
  assert.match(result.body, /port-not-allowed/);
  assert.equal(origin.connections(), 0);
});

test('request bodies stream up in both framings and responses stream down', async (t) => {
  const origin = await startHttpOrigin(t, (req, res, seen) => {
    res.writeHead(201, { 'content-type': 'application/json', 'x-origin': 'yes' });
    res.end(JSON.stringify({ bytes: seen.bodyBytes, te: req.headers['transfer-encoding'] ?? null, cl: req.headers['content-length'] ?? null }));
  });
  const proxy = await startTestProxy(t, { resolve: pinned, rules: rulesFor(origin.port) });
  const post = (body: Buffer, chunked: boolean): Promise<{ status: number; json: Record<string, unknown>; headers: http.IncomingHttpHeaders }> =>
    new Promise((resolve, reject) => {
      const req = http.request({
        host: '127.0.0.1', port: proxy.port, method: 'POST', path: `http://allowed.test:${origin.port}/upload`,
        headers: chunked ? { 'transfer-encoding': 'chunked' } : { 'content-length': String(body.length) },
      }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => { text += c; });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) as Record<string, unknown>, headers: res.headers }));
      });
      req.on('error', reject);
      const half = Math.floor(body.length / 2);
      req.write(body.subarray(0, half));
      setTimeout(() => req.end(body.subarray(half)), 20);
    });
  const body = Buffer.alloc(300_000, 7);
  const fixed = await post(body, false);
  assert.equal(fixed.status, 201);
  assert.deepEqual(fixed.json, { bytes: 300_000, te: null, cl: '300000' });
  assert.equal(fixed.headers['x-origin'], 'yes');
  const chunked = await post(body, true);
  assert.equal(chunked.status, 201);
  assert.equal(chunked.json.bytes, 300_000);
  assert.equal(chunked.json.te, 'chunked');
  const flows = await proxy.waitForFlows(2);
  assert.equal(flows[0]?.bytesUp, 300_000);
});

test('keep-alive: two requests share one client connection and one pooled upstream connection', async (t) => {
  const origin = await startHttpOrigin(t);
  const proxy = await startTestProxy(t, { resolve: pinned, rules: rulesFor(origin.port) });
  const result = await curl(['-v', '-x', proxy.url, `http://allowed.test:${origin.port}/one`, `http://allowed.test:${origin.port}/two`]);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stderr, /Re-using existing connection|Reusing existing connection/);
  assert.deepEqual(origin.seen.map((s) => s.url), ['/one', '/two']);
  assert.equal(origin.connections(), 1);
});

test('hop-by-hop headers and headers named by Connection never reach the origin', async (t) => {
  const origin = await startHttpOrigin(t);
  const proxy = await startTestProxy(t, { resolve: pinned, rules: rulesFor(origin.port) });
  const result = await curl(['-x', proxy.url, '-H', 'Connection: keep-alive, X-Secret', '-H', 'X-Secret: s3cret', '-H', 'Keep-Alive: timeout=5',
    '-H', 'Proxy-Authorization: Basic Zm9vOmJhcg==', '-H', 'TE: trailers', '-H', 'X-Kept: yes', `http://allowed.test:${origin.port}/`]);
  assert.equal(result.status, 200);
  const headers = origin.seen[0]?.headers ?? {};
  assert.equal(headers['x-secret'], undefined);
  assert.equal(headers['keep-alive'], undefined);
  assert.equal(headers['proxy-authorization'], undefined);
  assert.equal(headers.te, undefined);
  assert.equal(headers['x-kept'], 'yes');
});

test('a Host header that disagrees with the URL is denied as host-mismatch', async (t) => {
  const origin = await startHttpOrigin(t);
  const proxy = await startTestProxy(t, { resolve: pinned, rules: rulesFor(origin.port) });
  const cases = [
    `GET http://allowed.test:${origin.port}/ HTTP/1.1\r\nHost: denied.test\r\n\r\n`,
    `GET http://allowed.test:${origin.port}/ HTTP/1.1\r\nHost: allowed.test:${origin.port}\r\nHost: denied.test\r\n\r\n`,
    `GET http://allowed.test:${origin.port}/ HTTP/1.1\r\nHost: allowed.test:1\r\n\r\n`,
  ];
  for (const raw of cases) {
    const reply = await sendRaw(proxy.port, raw, { idleMs: 300 });
    assert.ok([400, 403].includes(statusOf(reply)), reply);
  }
  assert.equal(origin.seen.length, 0);
});

test('a URL with userinfo is refused before any connection', async (t) => {
  const origin = await startHttpOrigin(t);
  const proxy = await startTestProxy(t, { resolve: pinned, rules: rulesFor(origin.port) });
  const reply = await sendRaw(proxy.port, `GET http://user:pw@allowed.test:${origin.port}/ HTTP/1.1\r\nHost: allowed.test:${origin.port}\r\n\r\n`, { idleMs: 300 });
  assert.equal(statusOf(reply), 403, reply);
  assert.match(reply, /userinfo-in-url/);
  const connect = await sendRaw(proxy.port, `CONNECT user@allowed.test:${origin.port} HTTP/1.1\r\n\r\n`, { idleMs: 300 });
  assert.equal(statusOf(connect), 403, connect);
  assert.equal(origin.connections(), 0);
});

test('a request sent to the proxy as if it were a web server gets the help page', async (t) => {
  const proxy = await startTestProxy(t, { rules: [] });
  const result = await curl(['-i', `${proxy.url}/`]);
  assert.equal(result.status, 400);
  assert.match(result.body, /This is Portcullis, an egress proxy/);
  const again = await curl([`${proxy.url}/favicon.ico`]);
  assert.equal(again.status, 400, 'the proxy keeps serving');
});

test('dry_run lets a denied request pass and logs that it would have been denied', async (t) => {
  const origin = await startHttpOrigin(t);
  const proxy = await startTestProxy(t, { resolve: pinned, rules: rulesFor(origin.port), dry_run: true });
  const result = await curl(['-x', proxy.url, `http://denied.test:${origin.port}/x`]);
  assert.equal(result.status, 200);
  assert.equal(origin.seen.length, 1);
  const [flow] = await proxy.waitForFlows(1);
  assert.equal(flow?.wouldDeny, true);
  assert.equal(flow?.reason, 'no-rule-matched');
  assert.equal(proxy.proxy.stats().wouldDeny, 1);
});

test('Expect: 100-continue is answered only for allowed requests, so a denied client never sends its body', async (t) => {
  const origin = await startHttpOrigin(t, (req, res, seen) => res.end(`got ${seen.bodyBytes}`));
  const proxy = await startTestProxy(t, { resolve: pinned, rules: rulesFor(origin.port) });
  const allowed = await curl(['-x', proxy.url, '-H', 'Expect: 100-continue', '--data-binary', 'x'.repeat(2048), `http://allowed.test:${origin.port}/up`]);
  assert.equal(allowed.body, 'got 2048');
  assert.equal(origin.seen[0]?.headers.expect, undefined);
  const reply = await sendRaw(proxy.port, `POST http://denied.test:${origin.port}/up HTTP/1.1\r\nHost: denied.test:${origin.port}\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n`, { idleMs: 300 });
  assert.match(reply, /^HTTP\/1\.1 403/);
  assert.doesNotMatch(reply, /100 Continue/);
});

test('several listeners serve the same policy', async (t) => {
  const origin = await startHttpOrigin(t);
  const proxy = await startTestProxy(t, { listen: [{ address: '127.0.0.1:0' }, { address: '127.0.0.1:0' }], resolve: pinned, rules: rulesFor(origin.port) });
  const addresses = proxy.proxy.listeners.map((l) => l.address());
  assert.equal(addresses.length, 2);
  assert.notEqual(addresses[0], addresses[1]);
  for (const address of addresses) {
    assert.equal((await curl(['-x', `http://${address}`, `http://allowed.test:${origin.port}/`])).status, 200);
    assert.equal((await curl(['-x', `http://${address}`, `http://denied.test:${origin.port}/`])).status, 403);
  }
});
