import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import dnsPacket from 'dns-packet';
import { curl } from '../helpers/clients.js';
import { startHttpsOrigin, type Origin } from '../helpers/origin.js';
import { sendRaw, statusOf } from '../helpers/raw-client.js';
import { startTestProxy, testProxyCa, testProxyCaPath, type TestProxy } from '../helpers/test-proxy.js';
import { makeOriginCertificates } from '../helpers/test-certs.js';

/**
 * DNS over HTTPS and DNS over TLS around the policy: a DoH resolver reached through the proxy
 * answers any name the DNS listener refuses. Every name here resolves (by pin) to a recording
 * TLS origin that would answer, so a bypass shows up as a connection or request it saw.
 */
const NAMES = ['mozilla.cloudflare-dns.com', 'dns.google', 'resolver.example.com', 'www.example.com', 'api.example.org'];
const certs = makeOriginCertificates(NAMES);
const DNS_QUERY = dnsPacket.encode({ type: 'query', id: 1, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name: 'evil.test' }] });
const dir = mkdtempSync(path.join(tmpdir(), 'pcl-doh-'));
process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
/** The query as a file for curl --data-binary @FILE (it holds NUL bytes, which no argument may). */
const QUERY_FILE = path.join(dir, 'query.bin');
writeFileSync(QUERY_FILE, DNS_QUERY);

const setup = async (t: TestContext): Promise<{ origin: Origin; proxy: TestProxy }> => {
  await testProxyCa();
  const origin = await startHttpsOrigin(t, certs);
  const proxy = await startTestProxy(t, {
    resolve: Object.fromEntries(NAMES.map((name) => [name, '127.0.0.1'])),
    upstream: { tls: { extra_ca: [certs.caCertPath] } },
    rules: [
      { name: 'cloudflare-wide', hosts: ['*.cloudflare-dns.com'], ports: [origin.port] },
      { name: 'google-doh', hosts: ['dns.google'], ports: [origin.port] },
      { name: 'example-inspected', hosts: ['*.example.com'], ports: [origin.port], inspect: true },
      { name: 'api-no-ports', hosts: ['api.example.org'] },
    ],
  });
  return { origin, proxy };
};

const connect = (proxy: TestProxy, authority: string): Promise<string> =>
  sendRaw(proxy.port, `CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n\r\n`, { idleMs: 300 });

test('a spliced tunnel to a DoH resolver a wildcard rule covers is refused doh-blocked; the resolver sees nothing', async (t) => {
  const { origin, proxy } = await setup(t);
  const reply = await connect(proxy, `mozilla.cloudflare-dns.com:${origin.port}`);
  assert.equal(statusOf(reply), 403, reply);
  assert.match(reply, /doh-blocked/);
  assert.equal(origin.connections(), 0);
  const [flow] = await proxy.waitForFlows(1);
  assert.deepEqual([flow?.kind, flow?.reason, flow?.rule], ['tunnel', 'doh-blocked', 'cloudflare-wide']);
});

test('a resolver a rule names exactly stays reachable', async (t) => {
  const { origin, proxy } = await setup(t);
  const result = await curl(['-x', proxy.url, '--cacert', certs.caCertPath, '-H', 'content-type: application/dns-message',
    '--data-binary', `@${QUERY_FILE}`, `https://dns.google:${origin.port}/dns-query`]);
  assert.equal(result.status, 200, result.stderr);
  assert.equal(origin.seen.length, 1);
});

test('DNS messages to a host a wildcard allows are refused doh-blocked inside an intercepted tunnel, by media type and by ?dns=', async (t) => {
  const { origin, proxy } = await setup(t);
  const base = `https://resolver.example.com:${origin.port}`;
  const post = await curl(['-i', '-x', proxy.url, '--cacert', testProxyCaPath, '-H', 'content-type: application/dns-message',
    '--data-binary', `@${QUERY_FILE}`, `${base}/dns-query`]);
  assert.equal(post.status, 403, post.stderr + post.body);
  assert.match(post.body, /doh-blocked/);
  const json = await curl(['-i', '-x', proxy.url, '--cacert', testProxyCaPath, '-H', 'accept: application/dns-json', `${base}/resolve?name=evil.test&type=A`]);
  assert.equal(json.status, 403, json.body);
  const get = await curl(['-i', '-x', proxy.url, '--cacert', testProxyCaPath, `${base}/dns-query?dns=${DNS_QUERY.toString('base64url')}`]);
  assert.equal(get.status, 403, get.body);
  assert.equal(origin.seen.length, 0);
  // The same host without DNS messages passes.
  const page = await curl(['-x', proxy.url, '--cacert', testProxyCaPath, `${base}/index.html`]);
  assert.equal(page.status, 200, page.stderr);
  assert.deepEqual(origin.seen.map((s) => s.url), ['/index.html']);
  const reasons = (await proxy.waitForFlows(8)).filter((f) => f.kind === 'http').map((f) => f.reason);
  assert.deepEqual(reasons.filter((r) => r === 'doh-blocked').length, 3);
});

test('DNS over TLS (port 853) is never allowed by a rule without ports, wildcard or exact', async (t) => {
  const { origin, proxy } = await setup(t);
  for (const authority of ['www.example.com:853', 'api.example.org:853', 'dns.google:853']) {
    const reply = await connect(proxy, authority);
    assert.equal(statusOf(reply), 403, `${authority}: ${reply}`);
  }
  const flows = await proxy.waitForFlows(3);
  assert.deepEqual(flows.map((f) => f.reason), ['port-not-allowed', 'port-not-allowed', 'port-not-allowed']);
  assert.equal(origin.connections(), 0);
});
