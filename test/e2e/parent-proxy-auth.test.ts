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
import { startHttpsOrigin } from '../helpers/origin.js';
import { makeOriginCertificates } from '../helpers/test-certs.js';
import { startTestProxy } from '../helpers/test-proxy.js';

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
