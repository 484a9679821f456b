import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { curl } from '../helpers/clients.js';
import { startCli, type RunningCli } from '../helpers/cli-process.js';
import { kubeletVolume } from '../helpers/kubelet-volume.js';
import { startHttpOrigin, startHttpsOrigin } from '../helpers/origin.js';
import { makeOriginCertificates } from '../helpers/test-certs.js';

// A fleet on one machine, as deploy/kubernetes runs it: three `portcullis run` processes sharing
// one CA (a Secret-style volume) and one policy file (a ConfigMap-style volume, updated by the
// kubelet's ..data symlink swap), behind HAProxy in TCP mode on loopback whose health check is
// each replica's /readyz (the readiness probe). Clients trust the one CA.

const haproxyPath = ((): string | undefined => {
  for (const candidate of ['haproxy', '/usr/sbin/haproxy']) {
    try {
      execFileSync(candidate, ['-v'], { stdio: 'ignore' });
      return candidate;
    } catch {
      // next
    }
  }
  return undefined;
})();

const freePort = (): Promise<number> => new Promise((resolve, reject) => {
  const server = net.createServer();
  server.once('error', reject);
  server.listen(0, '127.0.0.1', () => {
    const { port } = server.address() as net.AddressInfo;
    server.close(() => resolve(port));
  });
});

const policy = (ports: { http: number; https: number }, extra = ''): string => `
listen:
  - address: 127.0.0.1:0
state_dir: ./state
ca: { cert: CA_DIR/tls.crt, key: CA_DIR/tls.key }
upstream: { tls: { extra_ca: [ORIGIN_CA] } }
resolve: { allowed.test: 127.0.0.1, secure.test: 127.0.0.1, later.test: 127.0.0.1 }
destinations: { allow_ranges: [127.0.0.0/8] }
log: { format: json, file: "-" }
timeouts: { shutdown_grace: 10s, shutdown_delay: 1s }
rules:
  - { name: allowed, hosts: [allowed.test], ports: [${ports.http}] }
  - { name: secure-path, hosts: [secure.test], ports: [${ports.https}], paths: [/ok] }
${extra}`;

interface Replica { readonly cli: RunningCli; readonly proxy: string; readonly admin: string }

const startReplica = async (t: TestContext, configFile: string, cwd: string): Promise<Replica> => {
  const cli = startCli(t, ['-c', configFile, '--workers', '1', '--admin', '127.0.0.1:0'], cwd);
  const [, proxy] = await cli.waitFor(/listening on http:\/\/(127\.0\.0\.1:\d+)/, 'stderr', 20_000);
  const [, admin] = await cli.waitFor(/admin API on http:\/\/(127\.0\.0\.1:\d+)\//, 'stderr', 20_000);
  return { cli, proxy: proxy!, admin: admin! };
};

const startHaproxy = async (t: TestContext, dir: string, replicas: readonly Replica[]): Promise<{ url: string; output: () => string }> => {
  const port = await freePort();
  const file = path.join(dir, 'haproxy.cfg');
  writeFileSync(file, `global
  maxconn 256
defaults
  log stderr format raw local0
  option tcplog
  mode tcp
  timeout connect 2s
  timeout client 30s
  timeout server 30s
  # The check's own timeout defaults to inter (100ms): on a loaded machine every replica would
  # miss it at once and the backend would have no server.
  timeout check 2s
  retries 3
  option redispatch 1
frontend proxy
  bind 127.0.0.1:${port}
  default_backend replicas
backend replicas
  balance roundrobin
  option httpchk GET /readyz
  http-check expect status 200
  default-server inter 100ms fall 1 rise 2
${replicas.map((r, i) => `  server r${i} ${r.proxy} check port ${r.admin.split(':')[1]}`).join('\n')}
`);
  const child = spawn(haproxyPath!, ['-db', '-f', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => { output += chunk; });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { output += chunk; });
  t.after(() => { if (child.exitCode === null) child.kill('SIGKILL'); });
  // Ready when the frontend accepts a connection (bounded).
  for (let i = 0; ; i += 1) {
    const up = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => { socket.destroy(); resolve(true); });
      socket.once('error', () => resolve(false));
    });
    if (up) break;
    if (i > 100 || child.exitCode !== null) throw new Error(`haproxy did not start:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { url: `http://127.0.0.1:${port}`, output: () => output };
};

/** Access-log lines of one replica (its stdout), parsed. */
const flows = (replica: Replica): { verdict: string; host?: string; url?: string; rule?: string }[] =>
  replica.cli.stdout().split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as { verdict: string });

const readyStatus = async (replica: Replica): Promise<number> => (await curl([`http://${replica.admin}/readyz`])).status;

test('three replicas behind HAProxy share one CA and one policy: every replica serves, a policy change reaches all, a drained or killed replica loses no request that had not started on it', { skip: !haproxyPath && 'haproxy missing: run scripts/install-test-deps.sh', timeout: 240_000 }, async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'pcl-fleet-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  chmodSync(dir, 0o755);

  // Origins: plain HTTP (one slow path, to hold a request open during a drain), and TLS.
  const origin = await startHttpOrigin(t, (req, res) => {
    const reply = (): void => { res.writeHead(200, { 'content-type': 'text/plain' }); res.end(`origin saw ${req.url}\n`); };
    if (req.url?.startsWith('/slow')) setTimeout(reply, 1500); else reply();
  });
  const certs = makeOriginCertificates(['secure.test']);
  const secure = await startHttpsOrigin(t, { cert: certs.cert, key: certs.key });

  // One CA for the fleet, as a Secret volume (tls.crt / tls.key), made with openssl.
  const caDir = path.join(dir, 'ca-secret');
  mkdirSync(caDir);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', path.join(dir, 'ca.key'), '-out', path.join(dir, 'ca.crt'), '-days', '2', '-subj', '/CN=Fleet Test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], { stdio: 'ignore' });
  const read = (file: string): string => execFileSync('cat', [file], { encoding: 'utf8' });
  kubeletVolume(caDir, { 'tls.crt': read(path.join(dir, 'ca.crt')), 'tls.key': read(path.join(dir, 'ca.key')) });
  const caCert = path.join(caDir, 'tls.crt');

  // One policy, as a ConfigMap volume.
  const configDir = path.join(dir, 'config');
  mkdirSync(configDir);
  const ports = { http: origin.port, https: secure.port };
  const render = (extra = ''): string => policy(ports, extra).replace(/CA_DIR/g, caDir).replace('ORIGIN_CA', certs.caCertPath);
  const volume = kubeletVolume(configDir, { 'portcullis.yaml': render() });
  const configFile = path.join(configDir, 'portcullis.yaml');

  const replicas: Replica[] = [];
  for (let i = 0; i < 3; i += 1) {
    const podDir = path.join(dir, `pod-${i}`);
    mkdirSync(podDir);
    replicas.push(await startReplica(t, configFile, podDir));
  }
  const haproxy = await startHaproxy(t, dir, replicas);
  const balancer = haproxy.url;

  // 1. Clients trusting the one CA reach allowed hosts through every replica (HAProxy round-robin).
  for (let i = 0; i < 6; i += 1) {
    const plain = await curl(['-x', balancer, `http://allowed.test:${origin.port}/lb-${i}`]);
    assert.equal(plain.status, 200, plain.stderr);
    const intercepted = await curl(['--cacert', caCert, '-x', balancer, `https://secure.test:${secure.port}/ok/lb-${i}`]);
    assert.equal(intercepted.status, 200, intercepted.stderr);
  }
  assert.equal((await curl(['--cacert', caCert, '-x', balancer, `https://secure.test:${secure.port}/not-ok`])).status, 403);
  for (const [i, replica] of replicas.entries()) {
    assert.ok(flows(replica).filter((f) => f.verdict === 'allow').length >= 2, `replica ${i} served nothing through the balancer`);
    // And each replica, asked directly, mints with the same CA the clients trust.
    assert.equal((await curl(['--cacert', caCert, '-x', `http://${replica.proxy}`, `https://secure.test:${secure.port}/ok/direct`])).status, 200);
  }

  // 2. A policy change (the kubelet's symlink swap) reaches every replica.
  assert.equal((await curl(['-x', `http://${replicas[0]!.proxy}`, `http://later.test:${origin.port}/before`])).status, 403);
  volume.update({ 'portcullis.yaml': render(`  - { name: later, hosts: [later.test], ports: [${origin.port}] }\n`) });
  for (const replica of replicas) {
    await replica.cli.waitFor(/config reloaded/, 'stderr', 15_000);
    assert.equal((await curl(['-x', `http://${replica.proxy}`, `http://later.test:${origin.port}/after`])).status, 200);
  }

  // 3. Drain: SIGTERM replica 1 while a slow request runs on it; /readyz says 503 during the
  //    drain, the slow request completes, and load through the balancer meanwhile all succeeds.
  const draining = replicas[1]!;
  const slow = curl(['-x', `http://${draining.proxy}`, `http://allowed.test:${origin.port}/slow`]);
  for (let i = 0; i < 50 && !origin.seen.some((r) => r.url === '/slow'); i += 1) await new Promise((resolve) => setTimeout(resolve, 20));
  draining.cli.child.kill('SIGTERM');
  let sawNotReady = false;
  for (let i = 0; i < 40 && !sawNotReady; i += 1) {
    sawNotReady = (await readyStatus(draining)) === 503;
    if (!sawNotReady) await new Promise((resolve) => setTimeout(resolve, 25));
  }
  assert.ok(sawNotReady, '/readyz did not go 503 during the drain');
  const duringDrain = await Promise.all(Array.from({ length: 12 }, (_, i) => curl(['-x', balancer, `http://allowed.test:${origin.port}/drain-${i}`])));
  assert.deepEqual(duringDrain.map((r) => r.status), Array(12).fill(200),
    duringDrain.filter((r) => r.status !== 200).map((r) => r.stderr).join('\n') + '\nDRAINING STDERR\n' + draining.cli.stderr() + '\nHAPROXY\n' + haproxy.output() + '\nFLOWS\n' + replicas.map((r) => r.cli.stdout()).join('\n---\n'));
  assert.equal((await slow).status, 200, 'the request in flight on the draining replica was cut');
  assert.equal(await draining.cli.stop(), 0);

  // 4. Kill replica 2 outright (SIGKILL): requests that start after it died all succeed.
  const killed = replicas[2]!;
  const exited = new Promise((resolve) => killed.cli.child.once('exit', resolve));
  killed.cli.child.kill('SIGKILL');
  await exited;
  const afterKill: number[] = [];
  for (let round = 0; round < 4; round += 1) {
    const batch = await Promise.all(Array.from({ length: 5 }, (_, i) => curl(['-x', balancer, `http://allowed.test:${origin.port}/after-kill-${round}-${i}`])));
    afterKill.push(...batch.map((r) => r.status));
  }
  assert.deepEqual(afterKill, Array(20).fill(200));
  // Everything that passed reached the origin exactly once.
  for (const url of ['/after-kill-0-0', '/after-kill-3-4', '/drain-0', '/drain-11']) {
    assert.equal(origin.seen.filter((r) => r.url === url).length, 1, url);
  }
});
