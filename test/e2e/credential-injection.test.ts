import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { formatConsole, formatJson, formatSquid } from '../../src/logging/access-log-format.js';
import { curl } from '../helpers/clients.js';
import { startHttpOrigin, startHttpsOrigin } from '../helpers/origin.js';
import { startTestAdmin } from '../helpers/test-admin.js';
import { makeOriginCertificates } from '../helpers/test-certs.js';
import { startTestProxy, testConfig, testProxyCa, testProxyCaPath } from '../helpers/test-proxy.js';
import { createProxy } from '../../src/proxy.js';

/**
 * Credential injection: the workload holds only a stand-in; Portcullis puts the real secret in,
 * only on decrypted requests its rule allows, and refuses the stand-in anywhere else.
 */
const certs = makeOriginCertificates(['api.vendor.test', 'other.test']);
const SECRET = 'sk-live-7f3a9c1e5b2d4f6a8c0e';
const STAND_IN = 'PCL_TOKEN_VENDOR';
const pins = { 'api.vendor.test': '127.0.0.1', 'other.test': '127.0.0.1', 'plain.test': '127.0.0.1' };

const secretFile = (t: TestContext, value: string): string => {
  const dir = mkdtempSync(path.join(tmpdir(), 'pcl-secret-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'vendor-key');
  writeFileSync(file, `${value}\n`, { mode: 0o600 });
  return file;
};

test('the origin receives the injected secret in place of the stand-in; the stand-in is refused on another host and in plain HTTP; the secret is in no log, flow view or metric', async (t) => {
  await testProxyCa();
  process.env.PCL_TEST_VENDOR_KEY = SECRET;
  t.after(() => { delete process.env.PCL_TEST_VENDOR_KEY; });
  const vendor = await startHttpsOrigin(t, certs);
  const other = await startHttpsOrigin(t, certs);
  const plain = await startHttpOrigin(t);
  const env = await startTestAdmin(t, {
    resolve: pins,
    upstream: { tls: { extra_ca: [certs.caCertPath] } },
    rules: [
      {
        name: 'vendor', hosts: ['api.vendor.test'], ports: [vendor.port], inspect: true,
        inject: [{ header: 'Authorization', value: 'Bearer {secret}', secret: { env: 'PCL_TEST_VENDOR_KEY' }, replace: STAND_IN }],
      },
      { name: 'other', hosts: ['other.test'], ports: [other.port], inspect: true },
      { name: 'plain', hosts: ['plain.test', 'api.vendor.test'], ports: [plain.port] },
    ],
  });
  const via = ['--cacert', testProxyCaPath, '-x', env.proxyUrl];
  const ok = await curl([...via, '-H', `Authorization: Bearer ${STAND_IN}`, `https://api.vendor.test:${vendor.port}/v1/models`]);
  assert.equal(ok.status, 200, ok.stderr);
  assert.equal(vendor.seen[0]?.headers.authorization, `Bearer ${SECRET}`, 'the origin got the real secret');

  const misdirected = await curl([...via, '-H', `Authorization: Bearer ${STAND_IN}`, `https://other.test:${other.port}/collect`]);
  assert.equal(misdirected.status, 403);
  assert.match(misdirected.body, /credential-misdirected/);
  const inQuery = await curl([...via, `https://other.test:${other.port}/collect?token=${STAND_IN}`]);
  assert.equal(inQuery.status, 403);
  assert.equal(other.seen.length, 0, 'the other host saw nothing');
  // Even to the right host, plain HTTP is not decrypted by Portcullis: no injection, and the stand-in is refused.
  const overPlain = await curl(['-x', env.proxyUrl, '-H', `Authorization: Bearer ${STAND_IN}`, `http://api.vendor.test:${plain.port}/`]);
  assert.equal(overPlain.status, 403);
  assert.equal(plain.seen.length, 0);

  await env.waitForFlows(5);
  const flows = await env.api<{ flows: Array<{ id: string }> }>('/api/flows?limit=100');
  const details = await Promise.all(flows.body.flows.map((f) => env.api(`/api/flows/${encodeURIComponent(f.id)}`)));
  const metrics = await env.api('/metrics');
  const everything = [
    ...env.records.flatMap((r) => [formatJson(r), formatSquid(r), formatConsole(r, { color: false })]),
    flows.text, ...details.map((d) => d.text), metrics.text,
  ].join('\n');
  assert.ok(!everything.includes(SECRET), 'the secret appears nowhere');
  assert.ok(!everything.includes(Buffer.from(SECRET).toString('base64')));
  assert.ok(env.records.some((r) => r.reason === 'credential-misdirected' && r.rule === 'vendor'), 'the misdirected request is flagged, naming the rule');
});

test('a secret from a file goes into a query parameter; a reload picks up the rotated file', async (t) => {
  await testProxyCa();
  const origin = await startHttpsOrigin(t, certs);
  const file = secretFile(t, 'first-key-000111222333');
  const input = {
    resolve: pins, upstream: { tls: { extra_ca: [certs.caCertPath] } },
    rules: [{ name: 'vendor', hosts: ['api.vendor.test'], ports: [origin.port], inspect: true, inject: [{ query: 'key', secret: { file } }] }],
  };
  const proxy = await startTestProxy(t, input);
  const via = ['--cacert', testProxyCaPath, '-x', proxy.url];
  assert.equal((await curl([...via, `https://api.vendor.test:${origin.port}/q?x=1`])).status, 200);
  writeFileSync(file, 'second-key-444555666777\n');
  await proxy.proxy.reload(testConfig(input));
  assert.equal((await curl([...via, `https://api.vendor.test:${origin.port}/q`])).status, 200);
  assert.deepEqual(origin.seen.map((s) => s.url), ['/q?x=1&key=first-key-000111222333', '/q?key=second-key-444555666777']);
  const flows = await proxy.waitForFlows(3);
  assert.ok(!JSON.stringify(flows).includes('key-'), 'the logged URL is the one the client sent');
});

test('a missing secret is a config error naming the rule and the source, never a value', () => {
  const config = testConfig({ rules: [{ name: 'v', hosts: ['a.test'], inject: [{ header: 'X-Key', secret: { env: 'PCL_TEST_NOT_SET' } }] }] });
  assert.throws(() => createProxy(config), /rules\[0\] \(v\)\.inject\[0\]\.secret: the environment variable PCL_TEST_NOT_SET is not set/);
});
