import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { startHttpOrigin } from '../helpers/origin.js';
import { startTestProxy, testProxyCa, testProxyCaPath } from '../helpers/test-proxy.js';
import { curl } from '../helpers/clients.js';

/** A client CA and one certificate per user (CN = user), made with the openssl CLI. */
const clientCertificates = (t: TestContext, users: readonly string[]): { dir: string; caPath: string } => {
  const dir = mkdtempSync(path.join(tmpdir(), 'pcl-clients-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const run = (args: string[]): void => { execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] }); };
  run(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2',
    '-subj', '/CN=Test Client CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign']);
  for (const user of users) {
    run(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${user}.key`, '-out', `${user}.csr`, '-subj', `/CN=${user}`]);
    run(['x509', '-req', '-in', `${user}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${user}.pem`, '-days', '2']);
  }
  return { dir, caPath: path.join(dir, 'ca.pem') };
};

test('on a TLS listener with client_ca, the client certificate names the user for rules with users', async (t) => {
  await testProxyCa();
  const origin = await startHttpOrigin(t);
  const clients = clientCertificates(t, ['alice', 'bob']);
  const proxy = await startTestProxy(t, {
    listen: [{ address: '127.0.0.1:0', tls: { client_ca: clients.caPath, require_client_certificate: true } }],
    resolve: { 'allowed.test': '127.0.0.1' },
    rules: [{ name: 'alice-only', hosts: ['allowed.test'], ports: [origin.port], users: ['alice'] }],
  });
  const via = (user?: string) => curl(['-i', '--proxy', `https://127.0.0.1:${proxy.port}`, '--proxy-cacert', testProxyCaPath,
    ...(user ? ['--proxy-cert', path.join(clients.dir, `${user}.pem`), '--proxy-key', path.join(clients.dir, `${user}.key`)] : []),
    `http://allowed.test:${origin.port}/as-${user ?? 'nobody'}`]);
  const alice = await via('alice');
  assert.equal(alice.status, 200, alice.stderr);
  const bob = await via('bob');
  assert.equal(bob.status, 403);
  assert.match(bob.body, /client-not-allowed/);
  const nobody = await via();
  assert.notEqual(nobody.code, 0, 'no certificate, no TLS session');
  assert.deepEqual(origin.seen.map((s) => s.url), ['/as-alice']);
  const flows = await proxy.waitForFlows(2);
  assert.equal(flows.find((f) => f.url.endsWith('/as-alice'))?.user, 'alice');
});

test('with an optional client certificate, a certificate from another CA identifies nobody', async (t) => {
  await testProxyCa();
  const origin = await startHttpOrigin(t);
  const trusted = clientCertificates(t, ['alice']);
  const stranger = clientCertificates(t, ['alice']);
  const proxy = await startTestProxy(t, {
    listen: [{ address: '127.0.0.1:0', tls: { client_ca: trusted.caPath } }],
    resolve: { 'allowed.test': '127.0.0.1' },
    rules: [{ name: 'alice-only', hosts: ['allowed.test'], ports: [origin.port], users: ['alice'] }],
  });
  const via = (dir?: string) => curl(['-i', '--proxy', `https://127.0.0.1:${proxy.port}`, '--proxy-cacert', testProxyCaPath,
    ...(dir ? ['--proxy-cert', path.join(dir, 'alice.pem'), '--proxy-key', path.join(dir, 'alice.key')] : []),
    `http://allowed.test:${origin.port}/`]);
  assert.equal((await via(trusted.dir)).status, 200);
  const forged = await via(stranger.dir);
  assert.equal(forged.status, 403, 'a CN of "alice" from an untrusted CA is not alice');
  assert.equal((await via()).status, 403);
  assert.equal(origin.seen.length, 1);
});
