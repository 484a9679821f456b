import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { runCli, startCli } from '../helpers/cli-process.js';

const tempFile = (t: TestContext, name: string, text: string): string => {
  const dir = mkdtempSync(path.join(tmpdir(), 'pcl-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, name);
  writeFileSync(file, text);
  return file;
};

const POLICY = `
rules:
  - name: gcs-one-bucket
    hosts: [www.googleapis.com]
    paths: [/storage/v1/b/allowed-bkt]
  - name: google-auth
    hosts: [accounts.google.com]
`;

test('explain CONNECT host:port gives the tunnel decision: intercepted, spliced or denied', async (t) => {
  const file = tempFile(t, 'p.yaml', POLICY);
  const intercepted = await runCli(['explain', '-c', file, 'CONNECT', 'www.googleapis.com:443']);
  assert.equal(intercepted.code, 0, intercepted.stderr);
  assert.match(intercepted.stdout, /tunnel: {2}CONNECT www\.googleapis\.com:443 -> ALLOW by rule "gcs-one-bucket" \(intercepted/);
  assert.match(intercepted.stdout, /each request inside is decided on its own/);
  const spliced = await runCli(['explain', '-c', file, 'CONNECT', 'accounts.google.com:443']);
  assert.equal(spliced.code, 0, spliced.stderr);
  assert.match(spliced.stdout, /not decrypted \(spliced\)/);
  const denied = await runCli(['explain', '-c', file, 'CONNECT', 'evil.test:443']);
  assert.equal(denied.code, 1);
  assert.match(denied.stdout, /DENY no-rule-matched/);
  const port = await runCli(['explain', '-c', file, 'CONNECT', 'accounts.google.com:8443']);
  assert.equal(port.code, 1);
  assert.match(port.stdout, /DENY port-not-allowed/);
});

const malformed: ReadonlyArray<readonly [string, string[], RegExp]> = [
  ['a CONNECT without a port', ['CONNECT', 'www.googleapis.com'], /missing port/],
  ['a CONNECT with a URL', ['CONNECT', 'https://www.googleapis.com/'], /CONNECT takes host:port, not a URL/],
  ['a port with a leading zero', ['CONNECT', 'accounts.google.com:0443'], /cannot start with 0/],
  ['a port out of range', ['GET', 'http://accounts.google.com:99999/'], /out of range 1-65535/],
  ['a URL without a scheme', ['GET', 'accounts.google.com/'], /not an absolute URL/],
  ['an ftp URL', ['GET', 'ftp://accounts.google.com/'], /unsupported scheme/],
  ['a method that is not a token', ['GE T', 'https://accounts.google.com/'], /not an HTTP method/],
];

for (const [name, args, message] of malformed) {
  test(`explain exits 2 on malformed input, as its help says: ${name}`, async (t) => {
    const file = tempFile(t, 'p.yaml', POLICY);
    const result = await runCli(['explain', '-c', file, ...args]);
    assert.equal(result.code, 2, result.stdout + result.stderr);
    assert.match(result.stderr, message);
    assert.equal(result.stdout, '');
  });
}

test('explain says DENY (exit 1) for credentials in the URL: the proxy denies them, they are not bad input', async (t) => {
  const file = tempFile(t, 'p.yaml', POLICY);
  const result = await runCli(['explain', '-c', file, 'GET', 'https://user:pw@accounts.google.com/']);
  assert.equal(result.code, 1);
  assert.match(result.stdout, /DENY userinfo-in-url/);
});

test('explain --help documents CONNECT host:port and the exit codes', async () => {
  const result = await runCli(['explain', '--help']);
  assert.equal(result.code, 0);
  assert.match(result.stdout, /CONNECT www\.googleapis\.com:443/);
  assert.match(result.stdout, /exit 0 allowed, 1 denied, 2 bad input/);
});

test('check says to put a port in ports: and names the port range', async (t) => {
  const file = tempFile(t, 'p.yaml', `
rules:
  - name: web
    hosts: [example.com:443, "*.example.org:8443"]
    ports: [99999]
`);
  const result = await runCli(['check', '-c', file]);
  assert.equal(result.code, 1);
  assert.match(result.stderr, /:4 rules\[0\]\.hosts\[0\]: "example\.com:443": a host entry holds no port; put the port in ports: \(ports: \[443\]\)/);
  assert.match(result.stderr, /rules\[0\]\.hosts\[1\]: .*put the port in ports: \(ports: \[8443\]\)/);
  assert.match(result.stderr, /:5 rules\[0\]\.ports\[0\]: a port is 1 to 65535, got 99999/);
});

test('check accepts credentials in upstream.proxy, names a bad one without printing it, and never prints the password', async (t) => {
  const good = tempFile(t, 'p.yaml', 'upstream:\n  proxy: http://gateway:s3cret-parent-pw@parent.example:3128\n');
  const ok = await runCli(['check', '-c', good]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.doesNotMatch(ok.stdout + ok.stderr, /s3cret-parent-pw/);
  const bad = tempFile(t, 'q.yaml', 'upstream:\n  proxy: http://gate:way:s3cret%zz@parent.example:3128\n');
  const refused = await runCli(['check', '-c', bad]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /upstream\.proxy: .*(percent-encoding|user name)/);
  assert.doesNotMatch(refused.stdout + refused.stderr, /s3cret/);
});

test('run names a transparent-tls listener as such in its banner', async (t) => {
  const file = tempFile(t, 'p.yaml', `
listen:
  - address: 127.0.0.1:0
  - { address: 127.0.0.1:0, mode: transparent-tls }
admin: { enabled: false }
state_dir: ${path.join(tmpdir(), `pcl-banner-${process.pid}`)}
rules:
  - name: a
    hosts: [example.com]
`);
  t.after(() => rmSync(path.join(tmpdir(), `pcl-banner-${process.pid}`), { recursive: true, force: true }));
  const cli = startCli(t, ['-c', file, '--workers', '1']);
  const [line] = await cli.waitFor(/listening on .*\n/, 'stderr', 20_000);
  assert.match(line, /listening on http:\/\/127\.0\.0\.1:\d+, 127\.0\.0\.1:\d+ \(transparent-tls\) \(1 rules, default deny\)/);
  assert.match(cli.stderr(), /transparent listeners need firewall rules/);
  assert.equal(await cli.stop(), 0);
});
