import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { startHttpOrigin, startHttpsOrigin } from '../helpers/origin.js';
import { startTestProxy, testProxyCa, testProxyCaPath } from '../helpers/test-proxy.js';
import { curl, findPythonWithRequests, runCommand } from '../helpers/clients.js';
import { makeOriginCertificates } from '../helpers/test-certs.js';

const LEGACY = 'legacy.test';
const certs = makeOriginCertificates([LEGACY, 'allowed.test']);
const mismatched = makeOriginCertificates(['somebody-else.test']);

const legacyProxy = async (t: Parameters<typeof startHttpsOrigin>[0], listenerTls?: Record<string, unknown>) => {
  await testProxyCa();
  // The origin demands TLS 1.2 or newer, like the server of seed document 001.
  const origin = await startHttpsOrigin(t, { ...certs, minVersion: 'TLSv1.2' });
  const proxy = await startTestProxy(t, {
    listen: [{ address: '127.0.0.1:0', ...(listenerTls ? { tls: listenerTls } : {}) }],
    resolve: { [LEGACY]: '127.0.0.1' },
    upstream: { tls: { extra_ca: [certs.caCertPath] } },
    rules: [{ name: 'legacy-api', hosts: [LEGACY], ports: [origin.port], inspect: true }],
  });
  return { origin, proxy };
};

const opensslTls1 = (proxyPort: number, originPort: number, path: string) =>
  runCommand('openssl', ['s_client', '-tls1', '-cipher', 'DEFAULT:@SECLEVEL=0', '-proxy', `127.0.0.1:${proxyPort}`,
    '-connect', `${LEGACY}:${originPort}`, '-servername', LEGACY, '-CAfile', testProxyCaPath, '-verify_return_error', '-ign_eof'],
  { input: `GET ${path} HTTP/1.1\r\nHost: ${LEGACY}:${originPort}\r\nConnection: close\r\n\r\n`, timeoutMs: 10_000 });

test('a TLS 1.0-only client (openssl s_client -tls1) reaches a TLS 1.2-only origin through a legacy listener', async (t) => {
  const { origin, proxy } = await legacyProxy(t, { min_version: 'TLSv1' });
  const result = await opensslTls1(proxy.port, origin.port, '/bridged');
  assert.match(result.stdout, /Protocol\s*: TLSv1\b/, result.stdout + result.stderr);
  assert.match(result.stdout, /origin saw GET \/bridged/);
  assert.deepEqual(origin.seen.map((s) => s.url), ['/bridged']);
});

test('a listener left at the default refuses TLS 1.0 clients', async (t) => {
  const { origin, proxy } = await legacyProxy(t);
  const result = await opensslTls1(proxy.port, origin.port, '/old');
  assert.doesNotMatch(result.stdout, /origin saw/);
  assert.equal(origin.seen.length, 0);
});

test('a Python client forced to TLS 1.0 reaches the TLS 1.2-only origin through the bridge', async (t) => {
  const python = findPythonWithRequests() ?? 'python3';
  const { origin, proxy } = await legacyProxy(t, { min_version: 'TLSv1' });
  const script = `
import ssl, sys, http.client
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.set_ciphers('DEFAULT:@SECLEVEL=0')
ctx.minimum_version = ssl.TLSVersion.TLSv1
ctx.maximum_version = ssl.TLSVersion.TLSv1
ctx.load_verify_locations(sys.argv[1])
conn = http.client.HTTPSConnection('127.0.0.1', int(sys.argv[2]), context=ctx, timeout=10)
conn.set_tunnel(sys.argv[3], int(sys.argv[4]))
conn.request('GET', '/from-python')
r = conn.getresponse()
print(r.status, conn.sock.version(), r.read().decode().strip())
`;
  const result = await runCommand(python, ['-c', script, testProxyCaPath, String(proxy.port), LEGACY, String(origin.port)]);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout.trim(), '200 TLSv1 origin saw GET /from-python');
});

test('https_proxy=https://... works: the same port speaks TLS to the proxy itself', async (t) => {
  await testProxyCa();
  const plainOrigin = await startHttpOrigin(t);
  const tlsOrigin = await startHttpsOrigin(t, certs);
  const proxy = await startTestProxy(t, {
    resolve: { 'allowed.test': '127.0.0.1' },
    rules: [{ name: 'both', hosts: ['allowed.test'], ports: [plainOrigin.port, tlsOrigin.port] }],
  });
  const viaTlsProxy = `https://127.0.0.1:${proxy.port}`;
  const plain = await curl(['--proxy', viaTlsProxy, '--proxy-cacert', testProxyCaPath, `http://allowed.test:${plainOrigin.port}/over-tls-proxy`]);
  assert.equal(plain.status, 200, plain.stderr);
  const tunnelled = await curl(['--proxy', viaTlsProxy, '--proxy-cacert', testProxyCaPath, '--cacert', certs.caCertPath, `https://allowed.test:${tlsOrigin.port}/tls-in-tls`]);
  assert.equal(tunnelled.status, 200, tunnelled.stderr);
  const denied = await curl(['-i', '--proxy', viaTlsProxy, '--proxy-cacert', testProxyCaPath, `http://denied.test:${plainOrigin.port}/`]);
  assert.equal(denied.status, 403);
  assert.deepEqual(plainOrigin.seen.map((s) => s.url), ['/over-tls-proxy']);
  assert.deepEqual(tlsOrigin.seen.map((s) => s.url), ['/tls-in-tls']);
  const python = findPythonWithRequests();
  if (python) {
    const env = { PATH: process.env.PATH ?? '', HOME: '/tmp', HTTP_PROXY: viaTlsProxy, REQUESTS_CA_BUNDLE: testProxyCaPath };
    const result = await runCommand(python, ['-c', 'import sys,requests; print(requests.get(sys.argv[1], timeout=10).status_code)', `http://allowed.test:${plainOrigin.port}/py-tls-proxy`], { env });
    assert.equal(result.stdout.trim(), '200', result.stderr);
  }
});

test('clients can fetch the CA through the proxy at http://portcullis.invalid/ and from the proxy port', async (t) => {
  const proxy = await startTestProxy(t, { rules: [] });
  const expected = readFileSync(testProxyCaPath, 'utf8');
  const through = await curl(['-x', proxy.url, 'http://portcullis.invalid/ca.pem']);
  assert.equal(through.status, 200);
  assert.equal(through.body, expected);
  const direct = await curl([`${proxy.url}/ca.pem`]);
  assert.equal(direct.body, expected);
  const der = await runCommand('sh', ['-c', `curl -s -x ${proxy.url} http://portcullis.invalid/ca.der | openssl x509 -inform der -noout -subject`]);
  assert.match(der.stdout, /Portcullis/);
});

test('an origin certificate for another name gives 502 saying the name does not match', async (t) => {
  await testProxyCa();
  const origin = await startHttpsOrigin(t, mismatched);
  const proxy = await startTestProxy(t, {
    resolve: { 'allowed.test': '127.0.0.1' },
    upstream: { tls: { extra_ca: [mismatched.caCertPath] } },
    rules: [{ name: 'i', hosts: ['allowed.test'], ports: [origin.port], inspect: true }],
  });
  const result = await curl(['-i', '--cacert', testProxyCaPath, '-x', proxy.url, `https://allowed.test:${origin.port}/`]);
  assert.equal(result.status, 502);
  assert.match(result.body, /does not name this host/);
  assert.match(result.body, /proxy-status: portcullis; error=tls_certificate_error/i);
  assert.equal(origin.seen.length, 0);
});
