import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startHttpOrigin, startHttpsOrigin } from '../helpers/origin.js';
import { startTestProxy } from '../helpers/test-proxy.js';
import { curl } from '../helpers/clients.js';
import { makeOriginCertificates } from '../helpers/test-certs.js';

const certs = makeOriginCertificates(['allowed.test', 'parent-denies.test']);

test('with upstream.proxy, requests and tunnels go through the parent, which applies its own policy too', async (t) => {
  const plain = await startHttpOrigin(t);
  const secure = await startHttpsOrigin(t, certs);
  const names = { 'allowed.test': '127.0.0.1', 'parent-denies.test': '127.0.0.1' };
  // The parent is a second Portcullis: it resolves names and holds the address policy.
  const parent = await startTestProxy(t, {
    resolve: names,
    rules: [{ name: 'parent-allows', hosts: ['allowed.test'], ports: [plain.port, secure.port] }],
  });
  const child = await startTestProxy(t, {
    upstream: { proxy: parent.url },
    rules: [
      { name: 'child-allows', hosts: ['allowed.test', 'parent-denies.test'], ports: [plain.port, secure.port] },
    ],
  });
  const http = await curl(['-x', child.url, `http://allowed.test:${plain.port}/via-parent`]);
  assert.equal(http.status, 200, http.stderr);
  assert.equal(plain.seen[0]?.url, '/via-parent');
  const https = await curl(['--cacert', certs.caCertPath, '-x', child.url, `https://allowed.test:${secure.port}/tunnel-via-parent`]);
  assert.equal(https.status, 200, https.stderr);
  assert.equal(secure.seen[0]?.url, '/tunnel-via-parent');

  const childDenies = await curl(['-i', '-x', child.url, `http://denied.test:${plain.port}/`]);
  assert.equal(childDenies.status, 403);
  const parentDeniesHttp = await curl(['-i', '-x', child.url, `http://parent-denies.test:${plain.port}/`]);
  assert.equal(parentDeniesHttp.status, 403, 'the parent\'s own 403 comes back');
  const parentDeniesTunnel = await curl(['-i', '--cacert', certs.caCertPath, '-x', child.url, `https://parent-denies.test:${secure.port}/`]);
  assert.notEqual(parentDeniesTunnel.code, 0);
  assert.match(parentDeniesTunnel.body + parentDeniesTunnel.stderr, /502/);
  assert.equal(plain.seen.length, 1);
  assert.equal(secure.seen.length, 1);

  const parentFlows = await parent.waitForFlows(4);
  assert.ok(parentFlows.some((f) => f.kind === 'http' && f.url.endsWith('/via-parent')), 'plain HTTP reached the parent in absolute form');
  assert.ok(parentFlows.some((f) => f.kind === 'tunnel' && f.url === `allowed.test:${secure.port}`));
  assert.ok(!parentFlows.some((f) => f.host === 'denied.test'), 'what the child denies never reaches the parent');
});
