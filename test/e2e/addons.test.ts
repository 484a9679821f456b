import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { curl } from '../helpers/clients.js';
import { ROOT } from '../helpers/cli-process.js';
import { startHttpOrigin, startHttpsOrigin } from '../helpers/origin.js';
import { makeOriginCertificates } from '../helpers/test-certs.js';
import { startTestProxy, testConfig, testProxyCa, testProxyCaPath } from '../helpers/test-proxy.js';

const GCS = 'www.googleapis.com';
const certs = makeOriginCertificates([GCS, 'other.test']);
const example = (name: string): string => path.join(ROOT, 'examples', 'addons', name);

const addonDir = (t: TestContext): string => {
  const dir = mkdtempSync(path.join(tmpdir(), 'pcl-addons-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
};

/** The requests of seed 000's attacker and of gsutil: the allowed bucket, decoys, other methods, ambiguous paths. */
const ONE_BUCKET_TABLE: ReadonlyArray<readonly [string, string]> = [
  ['GET', '/storage/v1/b/allowed-bkt/o?alt=json'],
  ['POST', '/storage/v1/b/allowed-bkt/o'],
  ['GET', '/storage/v1/b/allowed-bkt/o/dir%2Ffile'],
  ['GET', '/storage/v1/b/allowed-bkt-evil/o'],
  ['GET', '/storage/v1/b/other-bkt/o'],
  ['DELETE', '/storage/v1/b/allowed-bkt/o/x'],
  ['GET', '/storage/v1/b/allowed-bkt/../other-bkt/o'],
  ['GET', '/storage/v1/b/allowed-bkt/%2e%2e/other-bkt/o'],
  ['GET', '/storage/v1/b/allowed-bkt%2F..%2Fother-bkt/o'],
  ['GET', '/storage/v1/b/ALLOWED-BKT/o'],
  ['GET', '//storage/v1/b/allowed-bkt/o'],
  ['GET', '/'],
];

test('seed 000\'s one-bucket policy as an addon gives the same answer as the declarative rule, decoys and ambiguous paths included', async (t) => {
  await testProxyCa();
  const origin = await startHttpsOrigin(t, certs);
  process.env.GCS_PORT = String(origin.port);
  t.after(() => { delete process.env.GCS_PORT; });
  const common = { resolve: { [GCS]: '127.0.0.1' }, upstream: { tls: { extra_ca: [certs.caCertPath] } } };
  const declarative = await startTestProxy(t, {
    ...common, rules: [{ name: 'gcs-one-bucket', hosts: [GCS], ports: [origin.port], paths: ['/storage/v1/b/allowed-bkt'], methods: ['GET', 'POST'] }],
  });
  const addon = await startTestProxy(t, { ...common, addons: [example('gcs-one-bucket.ts')], rules: [] });
  for (const [method, target] of ONE_BUCKET_TABLE) {
    const answers: number[] = [];
    for (const proxy of [declarative, addon]) {
      const before = origin.seen.length;
      const result = await curl(['--path-as-is', '-X', method, '--cacert', testProxyCaPath, '-x', proxy.url, `https://${GCS}:${origin.port}${target}`]);
      answers.push(result.status);
      if (result.status === 403) assert.equal(origin.seen.length, before, `${method} ${target}: a denial reached the origin`);
    }
    assert.equal(answers[1], answers[0], `${method} ${target}: declarative ${answers[0]}, addon ${answers[1]}`);
  }
  const addonFlows = await addon.waitForFlows(ONE_BUCKET_TABLE.length);
  assert.ok(addonFlows.some((f) => f.reason === 'addon-denied' && f.rule === 'addon:gcs-one-bucket' && /only bucket allowed-bkt/.test(f.detail ?? '')));
  assert.ok(addonFlows.some((f) => f.verdict === 'allow' && f.rule === 'addon:gcs-one-bucket'));
  // Another host is not the addon's business: no rule, so its CONNECT is denied.
  const seenBefore = origin.seen.length;
  await curl(['--cacert', testProxyCaPath, '-x', addon.url, `https://other.test:${origin.port}/`]);
  const flows = await addon.waitForFlows(ONE_BUCKET_TABLE.length + 1);
  assert.ok(flows.some((f) => f.kind === 'tunnel' && f.host === 'other.test' && f.reason === 'no-rule-matched'));
  assert.equal(origin.seen.length, seenBefore);
});

test('an addon that throws and one that runs out of time fail closed for their flows (addon-failed); other flows go on', async (t) => {
  const origin = await startHttpOrigin(t);
  const dir = addonDir(t);
  writeFileSync(path.join(dir, 'flaky.mjs'), `export default {
  name: 'flaky',
  async requestHeaders(flow) {
    if (flow.request.path.startsWith('/throw')) throw new Error('bug in the addon');
    if (flow.request.path.startsWith('/slow')) await new Promise((r) => setTimeout(r, 5000));
  },
};\n`);
  const proxy = await startTestProxy(t, {
    resolve: { 'web.test': '127.0.0.1' }, timeouts: { addon: '300ms' },
    addons: [path.join(dir, 'flaky.mjs')], rules: [{ name: 'web', hosts: ['web.test'], ports: [origin.port] }],
  });
  const url = (p: string): string => `http://web.test:${origin.port}${p}`;
  const [thrown, slow, fine] = await Promise.all([
    curl(['-i', '-x', proxy.url, url('/throw')]), curl(['-i', '-x', proxy.url, url('/slow')]), curl(['-x', proxy.url, url('/fine')]),
  ]);
  assert.equal(thrown.status, 403);
  assert.match(thrown.stdout, /proxy-status: .*addon-failed rule=addon:flaky/i);
  assert.equal(slow.status, 403);
  assert.match(slow.body, /budget of 300 ms/);
  assert.equal(fine.status, 200);
  assert.deepEqual(origin.seen.map((s) => s.url), ['/fine']);
});

test('the tenant gate denies requests without X-Tenant, naming itself in Proxy-Status, and removes the header from those it lets through', async (t) => {
  const origin = await startHttpOrigin(t);
  const proxy = await startTestProxy(t, {
    resolve: { 'web.test': '127.0.0.1' }, addons: [example('tenant-gate.ts')], rules: [{ name: 'web', hosts: ['web.test'], ports: [origin.port] }],
  });
  const without = await curl(['-i', '-x', proxy.url, `http://web.test:${origin.port}/a`]);
  assert.equal(without.status, 403);
  assert.match(without.stdout, /proxy-status: portcullis; error=http_request_denied; details="addon-denied rule=addon:tenant-gate"/i);
  assert.match(without.body, /tenant-gate: X-Tenant header missing/);
  const unknown = await curl(['-x', proxy.url, '-H', 'X-Tenant: red', `http://web.test:${origin.port}/b`]);
  assert.equal(unknown.status, 403);
  const ok = await curl(['-x', proxy.url, '-H', 'X-Tenant: blue', `http://web.test:${origin.port}/c`]);
  assert.equal(ok.status, 200);
  assert.deepEqual(origin.seen.map((s) => s.url), ['/c']);
  assert.equal(origin.seen[0]?.headers['x-tenant'], undefined);
});

test('the per-client rate limit addon denies a client past its budget', async (t) => {
  const origin = await startHttpOrigin(t);
  process.env.RATE_REQUESTS = '2';
  t.after(() => { delete process.env.RATE_REQUESTS; });
  const proxy = await startTestProxy(t, {
    resolve: { 'web.test': '127.0.0.1' }, addons: [example('per-client-rate-limit.ts')], rules: [{ name: 'web', hosts: ['web.test'], ports: [origin.port] }],
  });
  const statuses: number[] = [];
  for (let i = 0; i < 4; i += 1) statuses.push((await curl(['-x', proxy.url, `http://web.test:${origin.port}/${i}`])).status);
  assert.deepEqual(statuses, [200, 200, 403, 403]);
});

test('hooks answer requests themselves, change bodies both ways, and see every finished flow; a reload loads the edited addon', async (t) => {
  const origin = await startHttpOrigin(t, (req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(`origin got ${req.headers['content-length'] ?? '?'} bytes\n`);
  });
  const dir = addonDir(t);
  const file = path.join(dir, 'shape.ts');
  const source = (marker: string): string => `import type { Addon } from 'portcullis';
const seen: string[] = [];
export default {
  name: 'shape',
  requestHeaders(flow) {
    if (flow.request.path === '/health') return { respond: { status: 200, body: '${marker}\\n' } };
  },
  request(flow, chunk) {
    if (chunk.includes('SECRET')) return { verdict: 'deny', reason: 'upload holds a secret' };
    return Buffer.from(chunk.toString('latin1').toLowerCase(), 'latin1');
  },
  response(_flow, chunk) {
    return Buffer.from(chunk.toString('latin1').toUpperCase(), 'latin1');
  },
  done(record) {
    seen.push(record.url);
  },
} satisfies Addon;\n`;
  writeFileSync(file, source('first'));
  const input = { resolve: { 'web.test': '127.0.0.1' }, addons: [file], rules: [{ name: 'web', hosts: ['web.test'], ports: [origin.port] }] };
  const proxy = await startTestProxy(t, input);
  const base = `http://web.test:${origin.port}`;
  assert.equal((await curl(['-x', proxy.url, `${base}/health`])).body, 'first\n');
  const upload = await curl(['-x', proxy.url, '--data-binary', 'HELLO', `${base}/up`]);
  assert.equal(upload.body, 'ORIGIN GOT 5 BYTES\n');
  assert.equal(origin.seen[0]?.body, 'hello');
  const refused = await curl(['-x', proxy.url, '-H', 'Transfer-Encoding: chunked', '--data-binary', 'a SECRET b', `${base}/up2`]);
  assert.equal(refused.status, 403);
  assert.match(refused.body, /addon-denied[\s\S]*upload holds a secret/);
  writeFileSync(file, source('second'));
  await proxy.proxy.reload(testConfig(input));
  assert.equal((await curl(['-x', proxy.url, `${base}/health`])).body, 'second\n');
  assert.equal(origin.seen.filter((s) => s.url === '/health').length, 0, 'answered by the addon, not the origin');
});

test('a misspelt hook or a missing file is refused at start and at reload, and the old addons stay', async (t) => {
  const origin = await startHttpOrigin(t);
  const dir = addonDir(t);
  const typo = path.join(dir, 'typo.mjs');
  writeFileSync(typo, 'export default { name: "typo", requestHeader() {} };\n');
  const { createProxy } = await import('../../src/proxy.js');
  await assert.rejects(createProxy(testConfig({ addons: [typo] }), { certificateAuthority: await testProxyCa() }).start(),
    /addons: .*typo\.mjs: unknown hook "requestHeader" \(did you mean requestHeaders\?\)/);
  const input = { resolve: { 'web.test': '127.0.0.1' }, addons: [example('tenant-gate.ts')], rules: [{ name: 'web', hosts: ['web.test'], ports: [origin.port] }] };
  const proxy = await startTestProxy(t, input);
  await assert.rejects(Promise.resolve(proxy.proxy.reload(testConfig({ ...input, addons: [path.join(dir, 'missing.ts')] }))), /addons: .*missing\.ts: /);
  assert.equal((await curl(['-x', proxy.url, `http://web.test:${origin.port}/`])).status, 403, 'the tenant gate still runs');
});
