import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { curl } from '../helpers/clients.js';
import { startHttpOrigin, startHttpsOrigin } from '../helpers/origin.js';
import { makeOriginCertificates } from '../helpers/test-certs.js';
import { startTestProxy, testProxyCa, testProxyCaPath } from '../helpers/test-proxy.js';

/**
 * Portcullis -> Squid (Debian's, with basic authentication) -> origin: the policy is enforced
 * here first, then the parent applies its own; plain HTTP, spliced tunnels and intercepted hosts
 * all go through it with Portcullis's credentials, and no_proxy / a rule's `proxy: direct` skip it.
 */
const SQUID = ['/usr/sbin/squid', '/usr/bin/squid'].find((file) => existsSync(file));
const NCSA = '/usr/lib/squid/basic_ncsa_auth';
const certs = makeOriginCertificates(['secure.test', 'spliced.test']);
const NAMES = ['plain.test', 'secure.test', 'spliced.test', 'direct.test', 'bypass.test'];
const PASSWORD = 'sq:uid/pass@word';

const freePort = (): Promise<number> => new Promise((resolve) => {
  const server = net.createServer().listen(0, '127.0.0.1', () => {
    const { port } = server.address() as net.AddressInfo;
    server.close(() => resolve(port));
  });
});

const startSquid = async (t: TestContext): Promise<{ url: (withCredentials: boolean) => string; log: () => string }> => {
  const dir = mkdtempSync(path.join(tmpdir(), 'pcl-squid-'));
  chmodSync(dir, 0o777); // squid drops privileges to Debian's proxy user
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const hash = execFileSync('openssl', ['passwd', '-apr1', PASSWORD], { encoding: 'utf8' }).trim();
  writeFileSync(path.join(dir, 'passwd'), `gateway:${hash}\n`, { mode: 0o644 });
  writeFileSync(path.join(dir, 'hosts'), NAMES.map((name) => `127.0.0.1 ${name}`).join('\n') + '\n', { mode: 0o644 });
  const port = await freePort();
  writeFileSync(path.join(dir, 'squid.conf'), `http_port 127.0.0.1:${port}
auth_param basic program ${NCSA} ${dir}/passwd
auth_param basic realm parent
acl authed proxy_auth REQUIRED
http_access allow authed
http_access deny all
hosts_file ${dir}/hosts
cache deny all
cache_mem 0 MB
access_log stdio:${dir}/access.log squid
cache_log ${dir}/cache.log
pid_filename ${dir}/squid.pid
coredump_dir ${dir}
shutdown_lifetime 0 seconds
pinger_enable off
visible_hostname parent-test
logfile_rotate 0
`);
  const child = spawn(SQUID as string, ['-N', '-f', path.join(dir, 'squid.conf')], { stdio: 'ignore' });
  t.after(() => { child.kill('SIGKILL'); });
  for (let i = 0; i < 100; i += 1) {
    const up = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => { socket.destroy(); resolve(true); });
      socket.once('error', () => resolve(false));
    });
    if (up) break;
    if (child.exitCode !== null) throw new Error(`squid exited: ${readFileSync(path.join(dir, 'cache.log'), 'utf8')}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    url: (withCredentials) => `http://${withCredentials ? `gateway:${encodeURIComponent(PASSWORD)}@` : ''}127.0.0.1:${port}`,
    log: () => (existsSync(path.join(dir, 'access.log')) ? readFileSync(path.join(dir, 'access.log'), 'utf8') : ''),
  };
};

test('Portcullis -> Squid with basic auth -> origin: plain HTTP, a spliced tunnel and an intercepted host; no_proxy and proxy: direct skip the parent', {
  skip: SQUID === undefined || !existsSync(NCSA) ? 'squid is not installed (scripts/install-test-deps.sh installs it)' : false,
  timeout: 60_000,
}, async (t) => {
  await testProxyCa();
  const squid = await startSquid(t);
  const plain = await startHttpOrigin(t);
  const secure = await startHttpsOrigin(t, certs);
  const gateway = await startTestProxy(t, {
    resolve: Object.fromEntries(NAMES.map((name) => [name, '127.0.0.1'])),
    upstream: { proxy: squid.url(true), no_proxy: ['bypass.test'], tls: { extra_ca: [certs.caCertPath] } },
    rules: [
      { name: 'plain', hosts: ['plain.test', 'bypass.test'], ports: [plain.port] },
      { name: 'direct', hosts: ['direct.test'], ports: [plain.port], proxy: 'direct' },
      { name: 'spliced', hosts: ['spliced.test'], ports: [secure.port] },
      { name: 'inspected', hosts: ['secure.test'], ports: [secure.port], paths: ['/ok'] },
    ],
  });
  const via = ['--cacert', testProxyCaPath, '-x', gateway.url];
  assert.equal((await curl([...via, `http://plain.test:${plain.port}/through-squid`])).status, 200);
  assert.equal((await curl(['--cacert', certs.caCertPath, '-x', gateway.url, `https://spliced.test:${secure.port}/tunnelled`])).status, 200);
  assert.equal((await curl([...via, `https://secure.test:${secure.port}/ok/intercepted`])).status, 200);
  assert.equal((await curl([...via, `https://secure.test:${secure.port}/not-ok`])).status, 403, 'Portcullis decides first');
  assert.equal((await curl([...via, `http://bypass.test:${plain.port}/no-proxy`])).status, 200);
  assert.equal((await curl([...via, `http://direct.test:${plain.port}/rule-direct`])).status, 200);
  assert.deepEqual(plain.seen.map((s) => s.url).sort(), ['/no-proxy', '/rule-direct', '/through-squid']);
  assert.deepEqual(secure.seen.map((s) => s.url).sort(), ['/ok/intercepted', '/tunnelled']);
  let log = '';
  for (let i = 0; i < 50 && !/secure\.test/.test(log); i += 1) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    log = squid.log();
  }
  assert.match(log, /TCP_MISS\/200 \d+ GET http:\/\/plain\.test:\d+\/through-squid gateway HIER_DIRECT/, log);
  assert.match(log, /CONNECT spliced\.test:\d+ gateway/);
  assert.match(log, /CONNECT secure\.test:\d+ gateway/);
  assert.match(log, /plain\.test:\d+\/through-squid/);
  assert.doesNotMatch(log, /bypass\.test|direct\.test|not-ok/, 'no_proxy, proxy: direct and denied requests never reach the parent');
  assert.doesNotMatch(log, /TCP_DENIED/, 'the parent accepted the gateway\'s credentials every time');
});

test('with wrong parent credentials Squid refuses, and the client gets 502 naming the parent, never the password', {
  skip: SQUID === undefined || !existsSync(NCSA) ? 'squid is not installed' : false,
  timeout: 30_000,
}, async (t) => {
  const squid = await startSquid(t);
  const plain = await startHttpOrigin(t);
  const gateway = await startTestProxy(t, {
    resolve: { 'plain.test': '127.0.0.1' },
    upstream: { proxy: squid.url(true).replace(encodeURIComponent(PASSWORD), 'wrong-password-123') },
    rules: [{ name: 'plain', hosts: ['plain.test'], ports: [plain.port] }, { name: 'tls', hosts: ['plain.test'], ports: [443] }],
  });
  const refused = await curl(['-s', '-x', gateway.url, `http://plain.test:${plain.port}/x`]);
  assert.equal(refused.status, 407, 'a plain request\'s answer from the parent is passed on as it is');
  const tunnel = await curl(['-s', '-o', '/dev/null', '-w', '%{http_connect}', '-x', gateway.url, 'https://plain.test/']);
  assert.equal(tunnel.stdout, '502');
  const flows = await gateway.waitForFlows(2);
  assert.match(JSON.stringify(flows), /parent proxy http:\/\/127\.0\.0\.1:\d+ refused CONNECT plain\.test:443: HTTP\/1\.1 407/);
  assert.doesNotMatch(JSON.stringify(flows), /wrong-password-123/);
  assert.equal(plain.seen.length, 0);
});
