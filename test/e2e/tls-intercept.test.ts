import { createRequire } from 'node:module';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startHttpsOrigin, type Origin } from '../helpers/origin.js';
import { startTestProxy, testProxyCa, testProxyCaPath, type TestProxy } from '../helpers/test-proxy.js';
import { curl, findPythonWithRequests, runCommand } from '../helpers/clients.js';
import { makeOriginCertificates } from '../helpers/test-certs.js';
import type { TestContext } from 'node:test';

const GCS = 'www.googleapis.com';
const originCerts = makeOriginCertificates([GCS, 'spliced.test', 'other.test', 'audited.test']);

const start = async (t: TestContext, extra: Record<string, unknown> = {}): Promise<{ origin: Origin; proxy: TestProxy; base: string }> => {
  await testProxyCa();
  const origin = await startHttpsOrigin(t, originCerts);
  const proxy = await startTestProxy(t, {
    resolve: { [GCS]: '127.0.0.1', 'spliced.test': '127.0.0.1', 'other.test': '127.0.0.1', 'audited.test': '127.0.0.1' },
    upstream: { tls: { extra_ca: [originCerts.caCertPath] } },
    rules: [
      { name: 'gcs-one-bucket', hosts: [GCS], ports: [origin.port], paths: ['/storage/v1/b/allowed-bkt'], methods: ['GET'] },
      { name: 'spliced', hosts: ['spliced.test'], ports: [origin.port] },
      { name: 'audited', hosts: ['audited.test'], ports: [origin.port], inspect: true },
    ],
    ...extra,
  });
  return { origin, proxy, base: `https://${GCS}:${origin.port}` };
};

const viaProxy = (proxy: TestProxy, url: string, more: string[] = []): ReturnType<typeof curl> =>
  curl(['-i', '--path-as-is', '--cacert', testProxyCaPath, '-x', proxy.url, ...more, url]);

test('an intercepted request under the allowed bucket reaches the origin; both log lines name the rule', async (t) => {
  const { origin, proxy, base } = await start(t);
  const result = await viaProxy(proxy, `${base}/storage/v1/b/allowed-bkt/o?alt=json`);
  assert.equal(result.status, 200, result.stderr + result.body);
  assert.deepEqual(origin.seen.map((s) => s.url), ['/storage/v1/b/allowed-bkt/o?alt=json']);
  assert.equal(origin.seen[0]?.headers.host, `${GCS}:${origin.port}`);
  const flows = await proxy.waitForFlows(2);
  const request = flows.find((f) => f.kind === 'http');
  const tunnel = flows.find((f) => f.kind === 'tunnel');
  assert.equal(request?.url, `${base}/storage/v1/b/allowed-bkt/o?alt=json`);
  assert.equal(request?.rule, 'gcs-one-bucket');
  assert.equal(request?.parentId, tunnel?.id);
  assert.equal(tunnel?.method, 'CONNECT');
  assert.equal(tunnel?.tunnelMode, 'intercept');
  assert.equal(tunnel?.sni, GCS);
});

const denied: Record<string, { path: string; method?: string; reason: RegExp }> = {
  'denies a sibling bucket whose name extends the allowed one': { path: '/storage/v1/b/allowed-bkt-evil/o', reason: /path-not-allowed/ },
  'denies a bucket whose name ends with the allowed one': { path: '/storage/v1/b/xallowed-bkt/o', reason: /path-not-allowed/ },
  'denies the allowed name in another case': { path: '/storage/v1/b/Allowed-bkt/o', reason: /path-not-allowed/ },
  'denies a dot-dot escape from the allowed bucket': { path: '/storage/v1/b/allowed-bkt/../evil/o', reason: /ambiguous-path/ },
  'denies an encoded dot-dot escape': { path: '/storage/v1/b/allowed-bkt/%2e%2e/evil/o', reason: /ambiguous-path/ },
  'denies a mixed-case encoded dot-dot': { path: '/storage/v1/b/allowed-bkt/%2E./evil', reason: /ambiguous-path/ },
  'denies an encoded slash': { path: '/storage/v1/b/allowed-bkt%2f..%2fevil/o', reason: /ambiguous-path/ },
  'denies an encoded backslash': { path: '/storage/v1/b/allowed-bkt/..%5cevil', reason: /ambiguous-path/ },
  'denies a double slash': { path: '/storage/v1/b//allowed-bkt/o', reason: /ambiguous-path/ },
  'denies an overlong UTF-8 dot': { path: '/storage/v1/b/allowed-bkt/%c0%ae%c0%ae/evil', reason: /ambiguous-path/ },
  'denies a path that only starts like the bucket': { path: '/storage/v1/b/allowed-bkt.evil', reason: /path-not-allowed/ },
  'denies a method the rule does not list': { path: '/storage/v1/b/allowed-bkt/o', method: 'DELETE', reason: /method-not-allowed/ },
  'denies a path outside the bucket with the query naming it': { path: '/storage/v1/b/evil/o?x=/storage/v1/b/allowed-bkt', reason: /path-not-allowed/ },
};

for (const [name, c] of Object.entries(denied)) {
  test(`${name}, and the origin sees nothing`, async (t) => {
    const { origin, proxy, base } = await start(t);
    const result = await viaProxy(proxy, `${base}${c.path}`, c.method ? ['-X', c.method] : []);
    assert.equal(result.status, 403, result.stderr + result.body);
    assert.match(result.body, c.reason);
    assert.equal(origin.seen.length, 0);
    assert.equal(origin.connections(), 0, 'under a rule with paths or methods the origin is not even connected to');
  });
}

test('under an inspect-only rule the origin connection opens during the client handshake and the first request uses it', async (t) => {
  const { origin, proxy } = await start(t);
  const socket = net.connect(proxy.port, '127.0.0.1');
  t.after(() => socket.destroy());
  await once(socket, 'connect');
  socket.write(`CONNECT audited.test:${origin.port} HTTP/1.1\r\nHost: audited.test:${origin.port}\r\n\r\n`);
  const [established] = await once(socket, 'data') as [Buffer];
  assert.match(established.toString('latin1'), /^HTTP\/1\.1 200 /);
  const secure = tls.connect({ socket, servername: 'audited.test', ca: readFileSync(testProxyCaPath, 'utf8'), ALPNProtocols: ['http/1.1'] });
  await once(secure, 'secureConnect');
  for (let waited = 0; origin.connections() === 0 && waited < 5000; waited += 20) await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(origin.connections(), 1, 'connected before any request');
  assert.equal(origin.seen.length, 0, 'but nothing was sent on it yet');
  secure.write(`GET /first HTTP/1.1\r\nHost: audited.test:${origin.port}\r\nConnection: close\r\n\r\n`);
  let answer = '';
  secure.setEncoding('latin1').on('data', (chunk: string) => { answer += chunk; });
  await once(secure, 'end');
  assert.match(answer, /^HTTP\/1\.1 200 /);
  assert.deepEqual(origin.seen.map((s) => s.url), ['/first']);
  assert.equal(origin.connections(), 1, 'the request went out on the connection opened ahead');
});

test('under an inspect-only rule a request denied inside the tunnel (host-mismatch) still never reaches the origin', async (t) => {
  const { origin, proxy } = await start(t);
  const result = await curl(['--cacert', testProxyCaPath, '-x', proxy.url, '--max-time', '5', `https://audited.test:${origin.port}/`, '-H', `Host: other.test:${origin.port}`]);
  assert.equal(result.status, 403, 'a Host naming another host is denied inside the tunnel');
  assert.match(result.body, /host-mismatch/);
  assert.equal(origin.seen.length, 0, 'the origin saw no request');
});

test('a Host header naming another host inside the tunnel is denied as host-mismatch (no domain fronting)', async (t) => {
  const { origin, proxy, base } = await start(t);
  const result = await viaProxy(proxy, `${base}/storage/v1/b/allowed-bkt/o`, ['-H', `Host: other.test:${origin.port}`]);
  assert.equal(result.status, 403);
  assert.match(result.body, /host-mismatch/);
  assert.equal(origin.seen.length, 0);
});

test('an SNI that differs from the CONNECT host fails the intercepted handshake', async (t) => {
  const { origin, proxy } = await start(t);
  const result = await runCommand('openssl', ['s_client', '-proxy', `127.0.0.1:${proxy.port}`, '-connect', `${GCS}:${origin.port}`,
    '-servername', 'other.test', '-CAfile', testProxyCaPath, '-verify_return_error'], { input: 'GET / HTTP/1.1\r\nHost: other.test\r\n\r\n', timeoutMs: 10_000 });
  assert.notEqual(result.code, 0);
  assert.equal(origin.seen.length, 0);
  const flows = await proxy.waitForFlows(1);
  assert.equal(flows[0]?.reason, 'sni-mismatch');
});

test('a spliced tunnel checks the ClientHello SNI against the CONNECT host without decrypting', async (t) => {
  const { origin, proxy } = await start(t);
  const ok = await curl(['--cacert', originCerts.caCertPath, '-x', proxy.url, `https://spliced.test:${origin.port}/plain`]);
  assert.equal(ok.status, 200, ok.stderr);
  const mismatch = await runCommand('openssl', ['s_client', '-proxy', `127.0.0.1:${proxy.port}`, '-connect', `spliced.test:${origin.port}`,
    '-servername', 'other.test', '-CAfile', originCerts.caCertPath], { input: 'GET /fronted HTTP/1.1\r\nHost: other.test\r\n\r\n', timeoutMs: 10_000 });
  assert.doesNotMatch(mismatch.stdout, /origin saw/);
  const missing = await runCommand('openssl', ['s_client', '-proxy', `127.0.0.1:${proxy.port}`, '-connect', `spliced.test:${origin.port}`,
    '-noservername', '-CAfile', originCerts.caCertPath], { input: 'GET /nosni HTTP/1.1\r\nHost: spliced.test\r\n\r\n', timeoutMs: 10_000 });
  assert.doesNotMatch(missing.stdout, /origin saw/);
  assert.deepEqual(origin.seen.map((s) => s.url), ['/plain']);
  const flows = await proxy.waitForFlows(3);
  assert.deepEqual(flows.map((f) => f.reason).sort(), ['rule-matched', 'sni-mismatch', 'sni-missing']);
  assert.equal(flows.find((f) => f.reason === 'sni-mismatch')?.sni, 'other.test');
});

test('missing_sni: allow lets an SNI-less client through a spliced tunnel', async (t) => {
  const { origin, proxy } = await start(t, { missing_sni: 'allow' });
  const result = await runCommand('openssl', ['s_client', '-proxy', `127.0.0.1:${proxy.port}`, '-connect', `spliced.test:${origin.port}`,
    '-noservername', '-CAfile', originCerts.caCertPath, '-ign_eof'], { input: 'GET /nosni HTTP/1.1\r\nHost: spliced.test\r\nConnection: close\r\n\r\n', timeoutMs: 10_000 });
  assert.match(result.stdout, /origin saw GET \/nosni/);
});

test('Python requests and Node trust the proxy CA for intercepted hosts', async (t) => {
  const { origin, proxy, base } = await start(t);
  const python = findPythonWithRequests();
  if (python) {
    const env = { PATH: process.env.PATH ?? '', HOME: '/tmp', HTTPS_PROXY: proxy.url, REQUESTS_CA_BUNDLE: testProxyCaPath };
    const script = 'import sys,requests; r=requests.get(sys.argv[1], timeout=10); print(r.status_code)';
    const result = await runCommand(python, ['-c', script, `${base}/storage/v1/b/allowed-bkt/py`], { env });
    assert.equal(result.stdout.trim(), '200', result.stderr);
  }
  const node = await runCommand(process.execPath, ['-e', `
    const { ProxyAgent, fetch } = require(${JSON.stringify(createRequire(import.meta.url).resolve("undici"))});
    const fs = require('node:fs');
    const dispatcher = new ProxyAgent({ uri: process.argv[1], requestTls: { ca: fs.readFileSync(process.argv[2], 'utf8') } });
    fetch(process.argv[3], { dispatcher }).then((r) => { console.log(r.status); process.exit(0); }, (e) => { console.error(e); process.exit(1); });
  `, proxy.url, testProxyCaPath, `${base}/storage/v1/b/allowed-bkt/node`]);
  assert.equal(node.stdout.trim(), '200', node.stderr);
  assert.ok(origin.seen.some((s) => s.url.endsWith('/node')));
});

test('an upstream certificate that does not verify gives 502 naming the problem', async (t) => {
  const selfSigned = makeOriginCertificates(['www.googleapis.com']);
  await testProxyCa();
  const origin = await startHttpsOrigin(t, selfSigned);
  const proxy = await startTestProxy(t, {
    resolve: { [GCS]: '127.0.0.1' },
    rules: [{ name: 'gcs', hosts: [GCS], ports: [origin.port], paths: ['/'] }],
  });
  const result = await viaProxy(proxy, `https://${GCS}:${origin.port}/x`);
  assert.equal(result.status, 502);
  assert.match(result.body, /error=tls_certificate_error/);
  assert.match(result.body, /not trusted|self-signed|not signed/);
  assert.equal(origin.seen.length, 0);
});

test('HTTP/2 clients are served over ALPN h2 inside interception, with :authority checked like Host', async (t) => {
  const { origin, proxy, base } = await start(t);
  const ok = await curl(['-i', '--http2', '--cacert', testProxyCaPath, '-x', proxy.url, `${base}/storage/v1/b/allowed-bkt/h2`]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.body, /^HTTP\/1\.1 200 Connection Established\r\n\r\nHTTP\/2 200/);
  assert.match(ok.body, /origin saw GET \/storage\/v1\/b\/allowed-bkt\/h2/);
  const denied = await curl(['-i', '--http2', '--cacert', testProxyCaPath, '-x', proxy.url, `${base}/storage/v1/b/other/h2`]);
  assert.equal(denied.status, 403);
  assert.match(denied.body, /HTTP\/2 403/);
  assert.match(denied.body, /path-not-allowed/);
  const fronted = await curl(['-i', '--http2', '--cacert', testProxyCaPath, '-x', proxy.url, '-H', `Host: other.test:${origin.port}`, `${base}/storage/v1/b/allowed-bkt/h2`]);
  assert.equal(fronted.status, 403);
  assert.match(fronted.body, /host-mismatch/);
  assert.deepEqual(origin.seen.map((s) => s.url), ['/storage/v1/b/allowed-bkt/h2']);
});
