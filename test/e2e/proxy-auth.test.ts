import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import bcrypt from 'bcryptjs';
import { startHttpOrigin, startHttpsOrigin } from '../helpers/origin.js';
import { startTestProxy, testProxyCa, testProxyCaPath } from '../helpers/test-proxy.js';
import { curl } from '../helpers/clients.js';
import { sendRaw, statusOf } from '../helpers/raw-client.js';
import { makeOriginCertificates } from '../helpers/test-certs.js';

const certs = makeOriginCertificates(['allowed.test']);

const usersFile = (t: TestContext, users: Record<string, string>): string => {
  const dir = mkdtempSync(path.join(tmpdir(), 'pcl-auth-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'users.htpasswd');
  writeFileSync(file, Object.entries(users).map(([user, password]) => `${user}:${bcrypt.hashSync(password, 4)}`).join('\n'));
  return file;
};

test('with auth.basic, a client without credentials gets 407 with a realm, and the origin sees nothing', async (t) => {
  const origin = await startHttpOrigin(t);
  const proxy = await startTestProxy(t, {
    resolve: { 'allowed.test': '127.0.0.1' },
    auth: { basic: { users_file: usersFile(t, { alice: 'wonderland' }), realm: 'Egress' } },
    rules: [{ name: 'a', hosts: ['allowed.test'], ports: [origin.port] }],
  });
  const none = await curl(['-i', '-x', proxy.url, `http://allowed.test:${origin.port}/`]);
  assert.equal(none.status, 407, none.body);
  assert.match(none.body, /proxy-authenticate: Basic realm="Egress"/i);
  const wrong = await curl(['-i', '-x', proxy.url, '-U', 'alice:nope', `http://allowed.test:${origin.port}/`]);
  assert.equal(wrong.status, 407);
  assert.match(wrong.body, /credentials-invalid/);
  const connect = await sendRaw(proxy.port, `CONNECT allowed.test:${origin.port} HTTP/1.1\r\n\r\n`, { idleMs: 300 });
  assert.equal(statusOf(connect), 407);
  assert.equal(origin.connections(), 0);
  const ok = await curl(['-x', proxy.url, '-U', 'alice:wonderland', `http://allowed.test:${origin.port}/in`]);
  assert.equal(ok.status, 200);
  assert.equal(origin.seen[0]?.headers['proxy-authorization'], undefined, 'credentials are not forwarded');
  const flows = await proxy.waitForFlows(4);
  assert.equal(flows.at(-1)?.user, 'alice');
});

test('rules scoped to users and groups allow only those users, through tunnels and interception', async (t) => {
  await testProxyCa();
  const origin = await startHttpsOrigin(t, certs);
  const proxy = await startTestProxy(t, {
    resolve: { 'allowed.test': '127.0.0.1' },
    upstream: { tls: { extra_ca: [certs.caCertPath] } },
    auth: { basic: { users_file: usersFile(t, { alice: 'a-pass', bob: 'b-pass', carol: 'c-pass' }) }, groups: { ops: ['bob'] } },
    rules: [
      { name: 'alice-all', hosts: ['allowed.test'], ports: [origin.port], users: ['alice'], inspect: true },
      { name: 'ops-reports', hosts: ['allowed.test'], ports: [origin.port], users: ['group:ops'], paths: ['/reports'] },
    ],
  });
  const as = (user: string, pathname: string) =>
    curl(['-i', '--cacert', testProxyCaPath, '-x', proxy.url, '-U', user, `https://allowed.test:${origin.port}${pathname}`]);
  assert.equal((await as('alice:a-pass', '/anything')).status, 200);
  assert.equal((await as('bob:b-pass', '/reports/q1')).status, 200);
  const bobElsewhere = await as('bob:b-pass', '/admin');
  assert.equal(bobElsewhere.status, 403);
  assert.match(bobElsewhere.body, /path-not-allowed/);
  const carol = await as('carol:c-pass', '/reports/q1');
  assert.notEqual(carol.status, 200);
  assert.match(carol.stderr + carol.body, /403/);
  assert.deepEqual(origin.seen.map((s) => s.url), ['/anything', '/reports/q1']);
});
