import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fetch, ProxyAgent } from 'undici';
import { startHttpOrigin } from '../helpers/origin.js';
import { sendRaw, statusOf } from '../helpers/raw-client.js';
import { startTestProxy } from '../helpers/test-proxy.js';

/**
 * undici's ProxyAgent, Node's usual proxy client, sends `CONNECT host:port` even for http://
 * URLs and then plain HTTP inside. Each of those requests is judged like a forward request.
 */
const pinned = { 'plain.test': '127.0.0.1', 'other.test': '127.0.0.1' };

for (const [name, rule] of [
  ['a whole-host rule', {}],
  ['a rule with paths and methods', { paths: ['/allowed'], methods: ['GET'] }],
] as const) {
  test(`undici ProxyAgent fetches http:// URLs through CONNECT under ${name}; each request inside is judged in full`, async (t) => {
    const origin = await startHttpOrigin(t);
    const proxy = await startTestProxy(t, { resolve: pinned, rules: [{ name: 'plain', hosts: ['plain.test'], ports: [origin.port], ...rule }] });
    const dispatcher = new ProxyAgent({ uri: proxy.url });
    t.after(() => dispatcher.close());
    const allowed = await fetch(`http://plain.test:${origin.port}/allowed/x?y=1`, { dispatcher });
    assert.equal(allowed.status, 200);
    assert.match(await allowed.text(), /origin saw GET \/allowed\/x\?y=1/);
    if ('paths' in rule) {
      const denied = await fetch(`http://plain.test:${origin.port}/other`, { dispatcher });
      assert.equal(denied.status, 403);
      assert.match(await denied.text(), /path-not-allowed/);
      const post = await fetch(`http://plain.test:${origin.port}/allowed/x`, { dispatcher, method: 'POST', body: 'data' });
      assert.equal(post.status, 403);
    }
    assert.deepEqual(origin.seen.map((r) => `${r.method} ${r.url}`), ['GET /allowed/x?y=1']);
    const flows = await proxy.waitForFlows(1);
    const request = flows.find((f) => f.kind === 'http' && f.url.endsWith('/allowed/x?y=1'));
    assert.equal(request?.verdict, 'allow');
    assert.equal(request?.rule, 'plain');
    assert.ok(request?.parentId, 'the request belongs to its tunnel');
  });
}

test('inside a CONNECT tunnel, a plain request naming another host is host-mismatch and reaches nobody', async (t) => {
  const origin = await startHttpOrigin(t);
  const proxy = await startTestProxy(t, { resolve: pinned, rules: [{ name: 'both', hosts: ['plain.test', 'other.test'], ports: [origin.port] }] });
  const reply = await sendRaw(proxy.port,
    `CONNECT plain.test:${origin.port} HTTP/1.1\r\nHost: plain.test:${origin.port}\r\n\r\nGET /x HTTP/1.1\r\nHost: other.test:${origin.port}\r\nConnection: close\r\n\r\n`,
    { idleMs: 500 });
  assert.equal(statusOf(reply), 200);
  assert.match(reply, /403 Forbidden[\s\S]*host-mismatch/);
  assert.equal(origin.seen.length, 0);
});

test('CONNECT host:80 under a rule without ports (plain HTTP on 80 only) opens the tunnel, and refuses TLS in it', async (t) => {
  // The plain-HTTP side of such a tunnel is in the pipeline's unit tests: serving it here would need an origin on port 80.
  const origin = await startHttpOrigin(t);
  const proxy = await startTestProxy(t, { resolve: pinned, rules: [{ name: 'web', hosts: ['plain.test'] }] });
  // TLS bytes in a plain-HTTP-only tunnel: refused with the TLS decision (port 80 is not a TLS port).
  const tls = await sendRaw(proxy.port, Buffer.concat([
    Buffer.from('CONNECT plain.test:80 HTTP/1.1\r\nHost: plain.test:80\r\n\r\n'),
    Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05, 0x01, 0x00, 0x00, 0x01, 0x00]),
  ]), { idleMs: 500 });
  assert.equal(statusOf(tls), 200);
  const flows = await proxy.waitForFlows(1);
  assert.equal(flows[0]?.reason, 'port-not-allowed');
  assert.equal(flows[0]?.verdict, 'deny');
  assert.equal(origin.connections(), 0);
});
