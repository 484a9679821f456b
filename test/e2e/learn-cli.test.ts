import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { parseDocument } from 'yaml';
import { runCli, startCli } from '../helpers/cli-process.js';
import { curl } from '../helpers/clients.js';
import { startHttpOrigin, startHttpsOrigin, type Origin } from '../helpers/origin.js';
import { makeOriginCertificates } from '../helpers/test-certs.js';

// Issue 16 through the real CLI on real files: `portcullis run` (dry run) writes the access log
// of real curl traffic through it, `learn` proposes rules, `check --lint` accepts them, the
// proxy enforcing them lets the legitimate requests reach the origins and no probe, and
// `replay` of that second log against the proposal changes nothing (so replay decides as the
// proxy did), while a candidate missing one rule lists exactly that rule's requests.

const BUCKET_PATH = '/storage/v1/b/allowed-bkt';

const tempDir = (t: TestContext): string => {
  const dir = mkdtempSync(path.join(tmpdir(), 'pcl-learn-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
};

interface Setup {
  readonly dir: string;
  readonly web: Origin;
  readonly tls: Origin;
  readonly bundle: string;
}

const baseConfig = (setup: Setup, log: string): Record<string, unknown> => ({
  listen: [{ address: '127.0.0.1:0' }],
  state_dir: path.join(setup.dir, 'state'),
  resolve: { 'storage.googleapis.com': '127.0.0.1', 'deb.debian.org': '127.0.0.1', 'pypi.org': '127.0.0.1' },
  destinations: { allow_ranges: ['127.0.0.0/8'] },
  upstream: { tls: { extra_ca: [path.join(setup.dir, 'origin-ca.pem')] } },
  log: { format: 'json', file: path.join(setup.dir, log) },
});

const writeConfig = (file: string, config: Record<string, unknown>): void => {
  writeFileSync(file, parseDocument(JSON.stringify(config)).toString());
};

/** The same traffic both times: what the servers need, then the probes. Returns what legitimately went to deb.debian.org. */
const sendTraffic = async (setup: Setup, proxy: string): Promise<{ legit: number; apt: number }> => {
  const via = ['-x', proxy, '--cacert', setup.bundle];
  const storage = `https://storage.googleapis.com:${setup.tls.port}`;
  const apt = `http://deb.debian.org:${setup.web.port}`;
  const legit = [
    `${storage}${BUCKET_PATH}/o?prefix=backups%2F`,
    `${storage}${BUCKET_PATH}/o/report.csv?alt=json`,
    `${storage}/download${BUCKET_PATH}/o/report.csv?alt=media`,
    `https://pypi.org:${setup.tls.port}/simple/requests/`,
    `${apt}/debian/dists/bookworm/InRelease`,
    `${apt}/debian/pool/main/c/curl/curl_7.88.1-10_amd64.deb`,
  ];
  for (const url of legit) assert.equal((await curl([...via, url])).status, 200, url);
  // Probes: a decoy bucket, an ambiguous path, a forged Host header and the metadata address.
  await curl([...via, `${storage}/storage/v1/b/allowed-bkt-evil/o`]);
  await curl([...via, '--path-as-is', `${storage}${BUCKET_PATH}/../evil-bkt/o`]);
  await curl([...via, '-H', 'Host: collector.exfil.test', `${apt}/debian/probe-host`]);
  assert.equal((await curl([...via, 'http://169.254.169.254/latest/meta-data/'])).status, 403, 'the address guard refuses it before any packet leaves');
  return { legit: legit.length, apt: 2 };
};

/** Runs the proxy on `config` until the traffic is sent, then stops it (SIGTERM flushes the log). */
const record = async (t: TestContext, setup: Setup, config: string): Promise<{ legit: number; apt: number }> => {
  const cli = startCli(t, ['-c', config, '--workers', '1']);
  const [, address] = await cli.waitFor(/listening on http:\/\/(127\.0\.0\.1:\d+)/);
  const sent = await sendTraffic(setup, `http://${address}`);
  assert.equal(await cli.stop(), 0, cli.stderr());
  return sent;
};

const seenPaths = (origin: Origin, from: number): string[] => origin.seen.slice(from).map((request) => request.url);

test('learn, check --lint and replay on a log the proxy wrote; the learned policy passes the legitimate traffic and no probe', { timeout: 120_000 }, async (t) => {
  const dir = tempDir(t);
  const certs = makeOriginCertificates(['storage.googleapis.com', 'pypi.org']);
  writeFileSync(path.join(dir, 'origin-ca.pem'), certs.caCert);
  const web = await startHttpOrigin(t);
  const tls = await startHttpsOrigin(t, certs);
  const setup: Setup = { dir, web, tls, bundle: path.join(dir, 'bundle.pem') };

  // 1. Watch: dry run, with the bucket rule so the storage API is decrypted and its paths logged.
  const watchFile = path.join(dir, 'watch.yaml');
  writeConfig(watchFile, {
    ...baseConfig(setup, 'watch.log'), dry_run: true,
    rules: [{ name: 'gcs-one-bucket', hosts: ['storage.googleapis.com'], ports: [tls.port], paths: [BUCKET_PATH, `/download${BUCKET_PATH}`] }],
  });
  const caExport = await runCli(['ca', 'export', '-c', watchFile]);
  assert.equal(caExport.code, 0, caExport.stderr);
  writeFileSync(setup.bundle, `${caExport.stdout}\n${certs.caCert}`);
  await record(t, setup, watchFile);
  assert.ok(seenPaths(tls, 0).includes('/storage/v1/b/allowed-bkt-evil/o'), 'in dry run the decoy went through: that is why it must not be learned');

  // 2. Learn.
  const proposed = path.join(dir, 'proposed.yaml');
  const learned = await runCli(['learn', path.join(dir, 'watch.log'), '-o', proposed]);
  assert.equal(learned.code, 0, learned.stderr);
  assert.match(learned.stderr, /^learn: 3 rules from \d+ log lines: \d+ covered, 1 held back for review, [1-9]\d* never proposed -> .*proposed\.yaml\n$/);
  const text = readFileSync(proposed, 'utf8');
  const rules = (parseDocument(text).toJS() as { rules: Array<{ name: string; hosts: string[]; ports?: number[]; paths?: string[] }> }).rules;
  assert.deepEqual(rules.map((rule) => [rule.hosts, rule.ports, rule.paths]).sort(), [
    [['deb.debian.org'], [web.port], ['/debian']],
    [['pypi.org'], [tls.port], undefined],
    [['storage.googleapis.com'], [tls.port], [`/download${BUCKET_PATH}/o/report.csv`, `${BUCKET_PATH}/o`]],
  ]);
  assert.match(text, /# covers 2 log lines \(2 requests, 0 tunnels\) from 1 client: 127\.0\.0\.1 \(2\)\n\s+- name: deb\.debian\.org/);
  assert.match(text, /would deny: path-not-allowed \(rule gcs-one-bucket\)/);
  assert.match(text, /ambiguous-path; from 127\.0\.0\.1/);
  assert.match(text, /host-mismatch; from 127\.0\.0\.1/);
  assert.match(text, /address-blocked; from 127\.0\.0\.1/);

  // 3. Lint the proposal against the same log: nothing broader than it needs to be.
  const lint = await runCli(['check', '-c', proposed, '--lint', path.join(dir, 'watch.log')]);
  assert.equal(lint.code, 0, lint.stdout + lint.stderr);
  assert.match(lint.stdout, /lint: nothing broader than it needs to be against \d+ log lines/);

  // 4. Replay the watch log: the probes that dry run let through would now be denied.
  const preview = await runCli(['replay', '-c', proposed, path.join(dir, 'watch.log')]);
  assert.equal(preview.code, 1, preview.stdout + preview.stderr);
  assert.match(preview.stdout, /Allowed before, denied now: 2\n/);
  assert.match(preview.stdout, /GET https:\/\/storage\.googleapis\.com:\d+\/storage\/v1\/b\/allowed-bkt-evil\/o/);
  assert.match(preview.stdout, /now denied: ambiguous-path \(closest rule storage\.googleapis\.com\)/);

  // 5. Enforce: the proposal's rules in the running config.
  const enforceFile = path.join(dir, 'enforce.yaml');
  writeConfig(enforceFile, { ...baseConfig(setup, 'enforce.log'), rules });
  const [webBefore, tlsBefore] = [web.seen.length, tls.seen.length];
  const sent = await record(t, setup, enforceFile);
  const reached = [...seenPaths(tls, tlsBefore), ...seenPaths(web, webBefore)];
  assert.equal(reached.length, sent.legit, `only the legitimate requests reached the origins: ${reached.join(' ')}`);
  assert.ok(!reached.some((url) => /evil|probe-host/.test(url)));

  // 6. Replay what the enforcing proxy logged: the same decisions, line for line.
  const same = await runCli(['replay', '-c', proposed, path.join(dir, 'enforce.log')]);
  assert.equal(same.code, 0, same.stdout);
  assert.match(same.stdout, /Nothing changes\.\n$/);

  // 7. A candidate without the apt rule: exactly the apt requests change, grouped under that rule.
  const candidate = path.join(dir, 'candidate.yaml');
  writeConfig(candidate, { rules: rules.filter((rule) => rule.name !== 'deb.debian.org') });
  const missing = await runCli(['replay', '-c', candidate, path.join(dir, 'enforce.log')]);
  assert.equal(missing.code, 1, missing.stdout);
  assert.match(missing.stdout, new RegExp(`Allowed before, denied now: ${sent.apt}\\n {2}${sent.apt} x was allowed by rule deb\\.debian\\.org; now denied: no-rule-matched \\(default deny\\)\\n`));
  assert.doesNotMatch(missing.stdout, /Denied before, allowed now/);
  const json = await runCli(['replay', '--json', '-c', candidate, path.join(dir, 'enforce.log')]);
  assert.equal((JSON.parse(json.stdout) as { changed: number }).changed, sent.apt);
});

test('learn and replay refuse bad input with exit 2 and name the file and line', async (t) => {
  const dir = tempDir(t);
  const log = path.join(dir, 'bad.log');
  writeFileSync(log, '{"kind":"http","verdict":"allow","client":"10.0.0.1","method":"GET","url":"http://a.example/","reason":"rule-matched"}\nthis is not an access log line\n');
  const bad = await runCli(['learn', log]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /bad\.log:2: "this" is not a Squid timestamp \(seconds\.millis\)/);
  assert.match(bad.stderr, /--skip-bad-lines/);
  const skipped = await runCli(['learn', log, '--skip-bad-lines']);
  assert.equal(skipped.code, 0, skipped.stderr);
  assert.match(skipped.stdout, /hosts: \[a\.example\]/);
  const missing = await runCli(['learn', path.join(dir, 'none.log')]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /none\.log: cannot read it: file not found/);
  writeFileSync(path.join(dir, 'broken.yaml'), 'rules:\n  - name: x\n    hosts: ["*"]\n');
  const config = await runCli(['replay', '-c', path.join(dir, 'broken.yaml'), log, '--skip-bad-lines']);
  assert.equal(config.code, 2);
  assert.match(config.stderr, /broken\.yaml:3 rules\[0\]\.hosts\[0\]:/);
  const lintNoFlag = await runCli(['check', '-c', path.join(dir, 'broken.yaml'), log]);
  assert.equal(lintNoFlag.code, 2);
  assert.match(lintNoFlag.stderr, /log files are read only with --lint/);
});

test('explain and check show a mode: report rule: it never allows, and a denial it would allow names it', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'staged.yaml');
  writeFileSync(file, [
    'rules:',
    '  - name: apt',
    '    hosts: [deb.debian.org]',
    '    ports: [80]',
    '  - name: trial-pypi',
    '    hosts: [pypi.org]',
    '    mode: report',
    '',
  ].join('\n'));
  const check = await runCli(['check', '-c', file]);
  assert.equal(check.code, 0, check.stderr);
  assert.match(check.stdout, /report trial-pypi: host pypi\.org, port 80 \(http\)\|443 \(tls\) \(mode: report, never allows\)/);
  const denied = await runCli(['explain', '-c', file, 'GET', 'https://pypi.org/simple/']);
  assert.equal(denied.code, 1);
  assert.match(denied.stdout, /tunnel: {2}CONNECT pypi\.org:443 -> DENY no-rule-matched \(default: deny\): no rule allows host pypi\.org; would allow: rule "trial-pypi" \(mode: report, not enforced\)/);
  const allowed = await runCli(['explain', '-c', file, 'GET', 'http://deb.debian.org/debian/']);
  assert.equal(allowed.code, 0);
  assert.doesNotMatch(allowed.stdout, /would allow/);
});
