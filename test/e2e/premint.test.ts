import assert from 'node:assert/strict';
import https from 'node:https';
import type net from 'node:net';
import { test } from 'node:test';
import { curl } from '../helpers/clients.js';
import { makeOriginCertificates } from '../helpers/test-certs.js';
import { startTestProxy, testProxyCa, testProxyCaPath } from '../helpers/test-proxy.js';

// Certificates made ahead: at start (and on reload) a listener mints, in the background, the
// leaves for the exact host names of rules that decrypt their tunnels, so the first request to
// such a host finds its certificate ready. Wildcards and spliced hosts are not minted ahead.

const PRE = 'pre.test';
const LATER = 'later.test';
const certs = makeOriginCertificates([PRE, LATER, 'a.wild.test', 'splice.test']);

const waitFor = async (what: string, condition: () => boolean, timeoutMs = 5000): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
};

test('the exact names of intercepting rules get their certificates before their first request; wildcards and spliced hosts do not; a reload adds new names', { timeout: 60_000 }, async (t) => {
  await testProxyCa();
  const seen: string[] = [];
  const origin = https.createServer({ cert: certs.cert, key: certs.key }, (req, res) => {
    seen.push(`${req.headers.host ?? ''}${req.url ?? ''}`);
    res.end('ok\n');
  });
  await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => { origin.closeAllConnections(); origin.close(() => resolve()); }));
  const port = (origin.address() as net.AddressInfo).port;
  const input = {
    resolve: { [PRE]: '127.0.0.1', [LATER]: '127.0.0.1', 'a.wild.test': '127.0.0.1', 'splice.test': '127.0.0.1' },
    upstream: { tls: { extra_ca: [certs.caCertPath] } },
    rules: [
      { name: 'pre', hosts: [PRE], ports: [port], paths: ['/ok'] },
      { name: 'wild', hosts: ['*.wild.test'], ports: [port], inspect: true },
      { name: 'splice', hosts: ['splice.test'], ports: [port] },
    ],
  };
  const proxy = await startTestProxy(t, input);
  const stats = (): { mints: number; hits: number } => proxy.proxy.ca().stats();
  const before = stats().mints;

  // Only pre.test: *.wild.test names no host to mint for, and splice.test is not decrypted.
  await waitFor('the certificate for pre.test', () => stats().mints === before + 1);
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.equal(stats().mints, before + 1);

  const get = async (host: string, path: string): Promise<number> =>
    (await curl(['--http1.1', '--cacert', testProxyCaPath, '-x', proxy.url, `https://${host}:${port}${path}`])).status;
  assert.equal(await get(PRE, '/ok/first'), 200);
  // The first request used the certificate made ahead: no mint on its path.
  assert.equal(stats().mints, before + 1);
  assert.equal(await get('a.wild.test', '/x'), 200);
  assert.equal(stats().mints, before + 2);
  assert.deepEqual(seen, [`${PRE}:${port}/ok/first`, `a.wild.test:${port}/x`]);

  // A reload that names a new host mints it ahead too.
  const { config } = proxy.proxy.state();
  const [first] = config.rules;
  assert.ok(first);
  await proxy.proxy.reload({ ...config, rules: [...config.rules, { ...first, name: 'later', hosts: [LATER] }] });
  await waitFor('the certificate for later.test', () => stats().mints === before + 3);
  assert.equal(await get(LATER, '/ok/later'), 200);
  assert.equal(stats().mints, before + 3);
});
