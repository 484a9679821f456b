import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { once } from 'node:events';
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import bcrypt from 'bcryptjs';
import { createParentDialers, parseParentProxyUrl } from '../../src/net/parent-proxy-dialer.js';
import { createResolver } from '../../src/net/resolver.js';
import { startHttpOrigin, startHttpsOrigin } from '../helpers/origin.js';
import { curl } from '../helpers/clients.js';
import { makeOriginCertificates } from '../helpers/test-certs.js';
import { startTestProxy, testProxyCaPath } from '../helpers/test-proxy.js';

/**
 * The CONNECT side of a parent proxy with credentials (upstream.proxy http://user:pw@parent):
 * the parent is a real Portcullis with auth.basic, the origin a real HTTPS server.
 */
const certs = makeOriginCertificates(['allowed.test']);

const usersFile = (t: TestContext, users: Record<string, string>): string => {
  const dir = mkdtempSync(path.join(tmpdir(), 'pcl-parent-auth-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'users.htpasswd');
  writeFileSync(file, Object.entries(users).map(([user, password]) => `${user}:${bcrypt.hashSync(password, 4)}`).join('\n'));
  return file;
};

test('the tunnel dialer sends the parent\'s credentials on CONNECT; without them, or with wrong ones, the parent refuses and the message hides them', async (t) => {
  const origin = await startHttpsOrigin(t, certs);
  const parent = await startTestProxy(t, {
    resolve: { 'allowed.test': '127.0.0.1' },
    auth: { basic: { users_file: usersFile(t, { gateway: 'p:ss/w@rd' }) } },
    rules: [{ name: 'parent-allows', hosts: ['allowed.test'], ports: [origin.port] }],
  });
  const destination = { host: { kind: 'name', host: 'allowed.test' } as const, port: origin.port };
  const dialerFor = (url: string): ReturnType<typeof createParentDialers> => {
    const parsed = parseParentProxyUrl(url);
    if (!parsed.ok) throw new Error(parsed.error);
    return createParentDialers(parsed.value, createResolver({}), { connectMs: 5000, responseMs: 5000 });
  };

  const good = dialerFor(`http://gateway:${encodeURIComponent('p:ss/w@rd')}@127.0.0.1:${parent.port}`);
  const { socket } = await good.tunnel.dial(destination);
  const secure = tls.connect({ socket, servername: 'allowed.test', ca: certs.caCert });
  await once(secure, 'secureConnect');
  secure.end('GET /through-authed-parent HTTP/1.1\r\nHost: allowed.test\r\nConnection: close\r\n\r\n');
  let answer = '';
  secure.setEncoding('latin1').on('data', (chunk: string) => { answer += chunk; });
  await once(secure, 'close');
  assert.match(answer, /^HTTP\/1\.1 200 /);
  assert.deepEqual(origin.seen.map((s) => s.url), ['/through-authed-parent']);
  const flows = await parent.waitForFlows(1);
  assert.equal(flows.find((f) => f.kind === 'tunnel')?.user, 'gateway', 'the parent saw the gateway authenticated');

  for (const url of [`http://127.0.0.1:${parent.port}`, `http://gateway:wrong-pw@127.0.0.1:${parent.port}`]) {
    await assert.rejects(dialerFor(url).tunnel.dial(destination), (error: Error) => {
      assert.match(error.message, /refused CONNECT allowed\.test:\d+: HTTP\/1\.1 407/);
      assert.match(error.message, /credentials/);
      assert.doesNotMatch(error.message, /wrong-pw|gateway:|p:ss/);
      return true;
    });
  }
  assert.equal(origin.seen.length, 1, 'nothing more reached the origin');
});

test('a gateway with upstream.proxy credentials reaches an authenticating parent for plain HTTP and through CONNECT (an intercepted host); the password is never logged', async (t) => {
  const https = await startHttpsOrigin(t, certs);
  const plain = await startHttpOrigin(t);
  const password = 'p:ss/w@rd';
  const parent = await startTestProxy(t, {
    resolve: { 'allowed.test': '127.0.0.1' },
    auth: { basic: { users_file: usersFile(t, { gateway: password }) } },
    rules: [{ name: 'parent-allows', hosts: ['allowed.test'], ports: [https.port, plain.port] }],
  });
  const gateway = await startTestProxy(t, {
    upstream: { proxy: `http://gateway:${encodeURIComponent(password)}@127.0.0.1:${parent.port}`, tls: { extra_ca: [certs.caCertPath] } },
    rules: [
      { name: 'plain', hosts: ['allowed.test'], ports: [plain.port] },
      { name: 'tls', hosts: ['allowed.test'], ports: [https.port], paths: ['/inspected'] },
    ],
  });
  const viaPlain = await curl(['-s', '-x', gateway.url, `http://allowed.test:${plain.port}/plain`]);
  assert.equal(viaPlain.status, 200, viaPlain.stderr);
  const viaInterception = await curl(['-s', '--cacert', testProxyCaPath, '-x', gateway.url, `https://allowed.test:${https.port}/inspected`]);
  assert.equal(viaInterception.status, 200, viaInterception.stderr);
  assert.deepEqual(plain.seen.map((s) => s.url), ['/plain']);
  assert.deepEqual(https.seen.map((s) => s.url), ['/inspected']);
  assert.equal(plain.seen[0]?.headers['proxy-authorization'], undefined, 'the credentials stop at the parent');
  const parentFlows = await parent.waitForFlows(2);
  assert.ok(parentFlows.every((f) => f.user === 'gateway'), JSON.stringify(parentFlows.map((f) => [f.method, f.user, f.reason])));
  const gatewayFlows = await gateway.waitForFlows(3);
  assert.doesNotMatch(JSON.stringify(gatewayFlows), /ss\/w@rd|cDpzcy93QHJk|Z2F0ZXdheTpw/, 'neither the password nor its Basic encoding in any flow');
});
