import { mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startHttpOrigin } from '../helpers/origin.js';
import { curl } from '../helpers/clients.js';
import { runCli, startCli } from '../helpers/cli-process.js';

const FIXTURES = path.resolve('test/fixtures/configs');

const tempDir = (t: { after(fn: () => void): void }): string => {
  const dir = mkdtempSync(path.join(tmpdir(), 'pcl-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
};

const configFor = (originPort: number, extra = ''): string => `
listen:
  - address: 127.0.0.1:0
resolve:
  allowed.test: 127.0.0.1
  denied.test: 127.0.0.1
destinations:
  allow_ranges: [127.0.0.0/8]
rules:
  - name: allowed-origin
    hosts: [allowed.test]
    ports: [${originPort}]
${extra}`;

test('check accepts a valid config and lists the rules', async () => {
  const result = await runCli(['check', '-c', path.join(FIXTURES, 'valid-minimal.yaml')]);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /OK/);
  assert.match(result.stdout, /everything else: deny/);
});

test('check also reads the files a config names, and refuses one that cannot be read', async () => {
  // valid-full.yaml uses every key; its extra_ca files do not exist on this machine.
  assert.ok(readdirSync(FIXTURES).includes('valid-full.yaml'));
  const result = await runCli(['check', '-c', path.join(FIXTURES, 'valid-full.yaml')]);
  assert.equal(result.code, 1);
  assert.match(result.stderr, /upstream\.tls\.extra_ca: cannot read .*origin-ca\.pem/);
});

test('check rejects every invalid fixture with file:line key: problem and exit 1', async () => {
  const invalid = readdirSync(FIXTURES).filter((f) => f.startsWith('invalid-'));
  assert.ok(invalid.length >= 10);
  for (const file of invalid) {
    const full = path.join(FIXTURES, file);
    const result = await runCli(['check', '-c', full]);
    assert.equal(result.code, 1, `${file} should be rejected`);
    assert.match(result.stderr, new RegExp(`^${full.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+`, 'm'), `${file}: ${result.stderr}`);
  }
});

test('check names a missing file, and usage errors exit 2', async () => {
  const missing = await runCli(['check', '-c', '/nonexistent/portcullis.yaml']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /not found/);
  const usage = await runCli(['check']);
  assert.equal(usage.code, 2);
  const unknown = await runCli(['frobnicate']);
  assert.equal(unknown.code, 2);
});

test('explain prints the decision and the rule without touching the network', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'p.yaml');
  writeFileSync(file, `
rules:
  - name: gcs-one-bucket
    hosts: [www.googleapis.com]
    paths: [/storage/v1/b/allowed-bkt]
    methods: [GET]
  - name: debian
    hosts: [deb.debian.org]
`);
  const allowed = await runCli(['explain', '-c', file, 'GET', 'https://www.googleapis.com/storage/v1/b/allowed-bkt/o']);
  assert.equal(allowed.code, 0, allowed.stderr);
  assert.match(allowed.stdout, /ALLOW by rule "gcs-one-bucket"/);
  const evil = await runCli(['explain', '-c', file, 'GET', 'https://www.googleapis.com/storage/v1/b/allowed-bkt-evil/o']);
  assert.equal(evil.code, 1);
  assert.match(evil.stdout, /DENY path-not-allowed/);
  const plain = await runCli(['explain', '-c', file, 'GET', 'http://deb.debian.org/debian/']);
  assert.equal(plain.code, 0);
  assert.match(plain.stdout, /ALLOW by rule "debian"/);
  const other = await runCli(['explain', '-c', file, 'GET', 'http://evil.test/']);
  assert.equal(other.code, 1);
  assert.match(other.stdout, /DENY no-rule-matched \(default: deny\)/);
});

test('run serves, writes one JSON access-log line per flow, reopens the log on SIGUSR1, and exits 0 on SIGTERM', async (t) => {
  const origin = await startHttpOrigin(t);
  const dir = tempDir(t);
  const logFile = path.join(dir, 'access.log');
  const file = path.join(dir, 'p.yaml');
  writeFileSync(file, configFor(origin.port, `log: { format: json, file: ${logFile} }\n`));
  const cli = startCli(t, ['-c', file]);
  const [, address] = await cli.waitFor(/listening on http:\/\/(127\.0\.0\.1:\d+)/);
  const proxy = `http://${address}`;
  assert.equal((await curl(['-x', proxy, `http://allowed.test:${origin.port}/a`])).status, 200);
  assert.equal((await curl(['-x', proxy, `http://denied.test:${origin.port}/b`])).status, 403);
  const readLines = async (f: string, n: number): Promise<Record<string, unknown>[]> => {
    const deadline = Date.now() + 5000;
    for (;;) {
      let lines: string[] = [];
      try { lines = readFileSync(f, 'utf8').trim().split('\n').filter(Boolean); } catch { /* not yet created */ }
      if (lines.length >= n) return lines.map((l) => JSON.parse(l) as Record<string, unknown>);
      if (Date.now() > deadline) throw new Error(`expected ${n} lines in ${f}, got ${lines.length}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  };
  const lines = await readLines(logFile, 2);
  assert.equal(lines[0]?.verdict, 'allow');
  assert.equal(lines[0]?.rule, 'allowed-origin');
  assert.equal(lines[0]?.status, 200);
  assert.equal(lines[1]?.verdict, 'deny');
  assert.equal(lines[1]?.reason, 'no-rule-matched');
  assert.equal(lines[1]?.host, 'denied.test');
  renameSync(logFile, `${logFile}.1`);
  cli.child.kill('SIGUSR1');
  await new Promise((r) => setTimeout(r, 100));
  assert.equal((await curl(['-x', proxy, `http://allowed.test:${origin.port}/after-rotate`])).status, 200);
  const rotated = await readLines(logFile, 1);
  assert.match(String(rotated[0]?.url), /after-rotate/);
  assert.equal(await cli.stop(), 0);
});

test('run writes Squid-format lines that Squid log tools can read', async (t) => {
  const origin = await startHttpOrigin(t);
  const dir = tempDir(t);
  const file = path.join(dir, 'p.yaml');
  writeFileSync(file, configFor(origin.port, 'log: { format: squid }\n'));
  const cli = startCli(t, ['-c', file]);
  const [, address] = await cli.waitFor(/listening on http:\/\/(127\.0\.0\.1:\d+)/);
  await curl(['-x', `http://${address}`, `http://allowed.test:${origin.port}/sq`]);
  await curl(['-x', `http://${address}`, `http://denied.test:${origin.port}/sq`]);
  await cli.waitFor(/TCP_DENIED\/403/, 'stdout');
  const lines = cli.stdout().trim().split('\n');
  assert.match(lines[0] ?? '', /^\d+\.\d{3} +\d+ 127\.0\.0\.1 TCP_MISS\/200 \d+ GET http:\/\/allowed\.test:\d+\/sq - HIER_DIRECT\/127\.0\.0\.1 text\/plain$/);
  assert.match(lines[1] ?? '', /^\d+\.\d{3} +\d+ 127\.0\.0\.1 TCP_DENIED\/403 \d+ GET http:\/\/denied\.test:\d+\/sq - HIER_NONE\/- /);
  assert.equal(await cli.stop(), 0);
});

test('run refuses to start on a broken config, naming the file and line', async (t) => {
  const result = await runCli(['run', '-c', path.join(FIXTURES, 'invalid-bare-star.yaml')]);
  assert.equal(result.code, 1);
  assert.match(result.stderr, /invalid-bare-star\.yaml:\d+ rules\[0\]\.hosts\[\d\]:/);
  void t;
});

test('SIGHUP reloads the policy, and a broken new config leaves the old one in force', async (t) => {
  const origin = await startHttpOrigin(t);
  const dir = tempDir(t);
  const file = path.join(dir, 'p.yaml');
  writeFileSync(file, configFor(origin.port));
  const cli = startCli(t, ['-c', file]);
  const [, address] = await cli.waitFor(/listening on http:\/\/(127\.0\.0\.1:\d+)/);
  const proxy = `http://${address}`;
  assert.equal((await curl(['-x', proxy, `http://denied.test:${origin.port}/`])).status, 403);
  writeFileSync(file, `${configFor(origin.port)}  - name: now-allowed\n    hosts: [denied.test]\n    ports: [${origin.port}]\n`);
  cli.child.kill('SIGHUP');
  await cli.waitFor(/config reloaded/);
  assert.equal((await curl(['-x', proxy, `http://denied.test:${origin.port}/`])).status, 200);
  writeFileSync(file, 'rules:\n  - name: broken\n    hosts: ["*"]\n');
  cli.child.kill('SIGHUP');
  await cli.waitFor(/reload refused/);
  assert.equal((await curl(['-x', proxy, `http://denied.test:${origin.port}/`])).status, 200, 'old policy still answers');
  assert.equal(await cli.stop(), 0);
});

test('run without -c starts on the embedded default config', async (t) => {
  const dir = tempDir(t);
  const cli = startCli(t, ['--listen', '127.0.0.1:0'], dir);
  await cli.waitFor(/listening on http:\/\/127\.0\.0\.1:\d+ \(3 rules, default deny\)/);
  await cli.waitFor(/export http_proxy=/);
  assert.equal(await cli.stop(), 0);
});

test('SIGTERM stops accepting, lets an in-flight request finish, flushes the log and exits 0', async (t) => {
  const origin = await startHttpOrigin(t, (req, res) => {
    setTimeout(() => res.end('slow but complete\n'), 700);
  });
  const dir = tempDir(t);
  const logFile = path.join(dir, 'access.log');
  const file = path.join(dir, 'p.yaml');
  writeFileSync(file, configFor(origin.port, `log: { format: json, file: ${logFile} }\ntimeouts: { shutdown_grace: 5s }\n`));
  const cli = startCli(t, ['-c', file]);
  const [, address] = await cli.waitFor(/listening on http:\/\/(127\.0\.0\.1:\d+)/);
  const inFlight = curl(['-x', `http://${address}`, `http://allowed.test:${origin.port}/slow`]);
  await new Promise((r) => setTimeout(r, 250));
  cli.child.kill('SIGTERM');
  const result = await inFlight;
  assert.equal(result.status, 200);
  assert.equal(result.body, 'slow but complete\n');
  assert.equal(await cli.stop(), 0);
  const refused = await curl(['-x', `http://${address}`, `http://allowed.test:${origin.port}/late`]);
  assert.notEqual(refused.code, 0, 'no longer accepting');
  const lines = readFileSync(logFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(lines.length, 1);
  assert.equal(lines[0]?.status, 200);
});

test('saving the config file reloads it without a signal; a broken save is refused', async (t) => {
  const origin = await startHttpOrigin(t);
  const dir = tempDir(t);
  const file = path.join(dir, 'p.yaml');
  writeFileSync(file, configFor(origin.port));
  const cli = startCli(t, ['-c', file]);
  const [, address] = await cli.waitFor(/listening on http:\/\/(127\.0\.0\.1:\d+)/);
  const proxy = `http://${address}`;
  assert.equal((await curl(['-x', proxy, `http://denied.test:${origin.port}/`])).status, 403);
  writeFileSync(file, `${configFor(origin.port)}  - name: saved\n    hosts: [denied.test]\n    ports: [${origin.port}]\n`);
  await cli.waitFor(/config reloaded/);
  assert.equal((await curl(['-x', proxy, `http://denied.test:${origin.port}/`])).status, 200);
  writeFileSync(file, 'rules: [ { name: broken, hosts: ["*"] } ]\n');
  await cli.waitFor(/reload refused/);
  assert.equal((await curl(['-x', proxy, `http://denied.test:${origin.port}/`])).status, 200, 'the old policy stays');
  assert.equal(await cli.stop(), 0);
});

test('run --workers 2 shares the listener between two processes, with one access log, reload and shutdown', async (t) => {
  const origin = await startHttpOrigin(t);
  const dir = tempDir(t);
  const logFile = path.join(dir, 'access.log');
  const file = path.join(dir, 'p.yaml');
  writeFileSync(file, configFor(origin.port, `log: { format: json, file: ${logFile} }\nstate_dir: ${path.join(dir, 'state')}\n`));
  const cli = startCli(t, ['-c', file, '--workers', '2']);
  const [, address] = await cli.waitFor(/listening on http:\/\/(127\.0\.0\.1:\d+)/, 'stderr', 20_000);
  const proxy = `http://${address}`;
  for (let i = 0; i < 12; i += 1) {
    assert.equal((await curl(['-x', proxy, `http://allowed.test:${origin.port}/w${i}`])).status, 200);
  }
  assert.equal((await curl(['-x', proxy, `http://denied.test:${origin.port}/`])).status, 403);
  writeFileSync(file, `${configFor(origin.port)}  - name: later\n    hosts: [denied.test]\n    ports: [${origin.port}]\nlog: { format: json, file: ${logFile} }\nstate_dir: ${path.join(dir, 'state')}\n`);
  cli.child.kill('SIGHUP');
  await cli.waitFor(/config reloaded/);
  await new Promise((r) => setTimeout(r, 200));
  for (let i = 0; i < 4; i += 1) {
    assert.equal((await curl(['-x', proxy, `http://denied.test:${origin.port}/after-${i}`])).status, 200, 'every worker has the new policy');
  }
  // logrotate: rename, then SIGUSR1; every worker appends to the new file from then on.
  renameSync(logFile, `${logFile}.1`);
  cli.child.kill('SIGUSR1');
  await new Promise((r) => setTimeout(r, 300));
  for (let i = 0; i < 6; i += 1) {
    assert.equal((await curl(['-x', proxy, `http://allowed.test:${origin.port}/rotated-${i}`])).status, 200);
  }
  assert.equal(await cli.stop(), 0);
  assert.equal(cli.stderr().match(/created a new CA/g)?.length, 1, 'the CA notice is printed once, by the primary');
  assert.doesNotMatch(cli.stderr(), /CA loaded/, 'and the workers say nothing about the CA');
  const read = (name: string): Array<{ flow_id: string; url: string }> =>
    readFileSync(name, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { flow_id: string; url: string });
  const lines = read(`${logFile}.1`);
  assert.equal(lines.length, 17, 'one whole JSON line per flow, though two processes append to the file');
  const processes = new Set(lines.map((l) => l.flow_id.split('-')[0]));
  assert.equal(processes.size, 2, 'both workers served connections');
  const rotated = read(logFile);
  assert.deepEqual(rotated.map((l) => new URL(l.url).pathname).sort(), [0, 1, 2, 3, 4, 5].map((i) => `/rotated-${i}`));
});

test('explain --user judges rules scoped to users and groups', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'p.yaml');
  writeFileSync(file, 'auth:\n  basic: { users_file: ./users }\n  groups: { ops: [bob] }\nrules: [{ name: ops, hosts: [r.test], users: ["group:ops"] }]\n');
  const bob = await runCli(['explain', '-c', file, 'GET', 'http://r.test/', '--user', 'bob']);
  assert.equal(bob.code, 0, bob.stdout + bob.stderr);
  assert.match(bob.stdout, /ALLOW by rule "ops"/);
  const carol = await runCli(['explain', '-c', file, 'GET', 'http://r.test/', '--user', 'carol']);
  assert.equal(carol.code, 1);
  assert.match(carol.stdout, /client-not-allowed/);
});
