import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import type net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { clientTlsProfile, serverContextOptions, type ClientTlsProfile } from '../../src/tls/client-tls-profile.js';
import { runCommand } from '../helpers/clients.js';
import { makeOriginCertificates } from '../helpers/test-certs.js';
import { startTestProxy, testProxyCa } from '../helpers/test-proxy.js';

/**
 * The server-side TLS settings every Portcullis TLS server uses (serverContextOptions), checked
 * from outside: testssl.sh against a listener of each kind, and a client-initiated
 * renegotiation with openssl s_client's `R` command.
 */
const ecdsa = makeOriginCertificates(['localhost', '127.0.0.1']);

/** An RSA leaf (what `ca.leaf_key: rsa` gives), for the legacy listener's RSA key exchange. */
const rsaLeaf = (t: TestContext): { cert: string; key: string } => {
  const dir = mkdtempSync(path.join(tmpdir(), 'pcl-rsa-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'k.pem', '-out', 'c.pem', '-days', '2', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { cwd: dir, stdio: 'ignore' });
  return { cert: readFileSync(path.join(dir, 'c.pem'), 'utf8'), key: readFileSync(path.join(dir, 'k.pem'), 'utf8') };
};

/** An HTTPS server built from a profile exactly as the listeners build theirs; it answers "ok", and echoes raw lines on /echo sockets. */
const serve = async (t: TestContext, profile: ClientTlsProfile, material: { cert: string; key: string }): Promise<{ port: number; received: () => string }> => {
  let received = '';
  const server = https.createServer(serverContextOptions(profile, material), (_req, res) => res.end('ok\n'));
  server.on('secureConnection', (socket: tls.TLSSocket) => {
    socket.on('data', (chunk: Buffer) => { received += chunk.toString('latin1'); });
    socket.on('error', () => {});
  });
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  }));
  return { port: (server.address() as net.AddressInfo).port, received: () => received };
};

const testssl = ['testssl', 'testssl.sh'].find((name) => {
  try {
    execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
});

/** Lines testssl.sh marks as findings ("not vulnerable (OK)" is lower case and never matches). */
const findings = (report: string): string[] => report.split('\n').filter((line) => /NOT ok|VULNERABLE/.test(line)).map((line) => line.trim());

/** testssl.sh against `target` ("host:port"); with `ip`, the name is sent as SNI to that address. */
const scan = async (target: string, ip?: string): Promise<string> => {
  const result = await runCommand(testssl ?? 'testssl', ['--quiet', '--color', '0', '--warnings', 'off', '-p', '-s', '-P', '-U',
    ...(ip ? ['--ip', ip] : []), target], { timeoutMs: 240_000 });
  assert.match(result.stdout, /Done /, `testssl did not finish:\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
};

const assertModern = (report: string): void => {
  assert.deepEqual(findings(report), [], report);
  assert.match(report, /TLS 1 {6}not offered/);
  assert.match(report, /TLS 1\.1 {4}not offered/);
  assert.match(report, /Obsolete CBC ciphers \(AES, ARIA etc\.\) +not offered/);
  assert.match(report, /Has server cipher order\? +yes \(OK\)/);
  assert.match(report, /Secure Client-Initiated Renegotiation +not vulnerable \(OK\)/);
  assert.match(report, /ROBOT +Server does not support any cipher suites that use RSA key transport/);
};

test('testssl.sh finds nothing "NOT ok" or "VULNERABLE" on the proxy\'s TLS port and on an intercepted leaf, and only the documented TLS 1.0 findings on a legacy listener', {
  skip: testssl === undefined ? 'testssl.sh is not installed (scripts/install-test-deps.sh installs it from Debian)' : false,
  timeout: 300_000,
}, async (t) => {
  // The real thing: TLS to the proxy itself on its explicit port, and a leaf minted for a host
  // it intercepts, on a transparent-tls listener (testssl.sh's own --proxy mode sends a CONNECT
  // with bare LF line ends, which Node's parser refuses); a paths rule, so no origin is dialed.
  await testProxyCa();
  const proxy = await startTestProxy(t, {
    listen: [{ address: '127.0.0.1:0' }, { address: '127.0.0.1:0', mode: 'transparent-tls' }],
    rules: [{ name: 'inspect', hosts: ['intercepted.test'], paths: ['/only'] }],
    limits: { max_connections_per_client: 10_000 },
  });
  const transparentPort = Number(proxy.proxy.listeners[1]?.address().split(':').pop());
  const legacy = await serve(t, clientTlsProfile({ tls: { min_version: 'TLSv1', require_client_certificate: false } }), rsaLeaf(t));
  const [toProxy, intercepted, legacyReport] = await Promise.all([
    scan(`127.0.0.1:${proxy.port}`), scan(`intercepted.test:${transparentPort}`, '127.0.0.1'), scan(`127.0.0.1:${legacy.port}`),
  ]);
  assertModern(toProxy);
  assertModern(intercepted);

  // docs/configuration.md (listen): a listener that accepts TLS 1.0/1.1 needs CBC ciphers, so
  // testssl.sh reports BEAST (TLS 1.0 CBC, mitigated by clients) and LUCKY13 (any CBC).
  const legacyFindings = findings(legacyReport);
  assert.ok(legacyFindings.length > 0 && legacyFindings.every((line) => /BEAST|LUCKY13|but also supports higher protocols/.test(line)), legacyReport);
  assert.match(legacyReport, /LUCKY13 .*potentially VULNERABLE/);
  assert.match(legacyReport, /TLS 1 {6}offered/);
  assert.match(legacyReport, /Has server cipher order\? +yes \(OK\)/);
  assert.match(legacyReport, /Secure Client-Initiated Renegotiation +not vulnerable \(OK\)/);
  assert.match(legacyReport, /ROBOT +not vulnerable \(OK\)/);
  assert.match(legacyReport, /TLS_FALLBACK_SCSV \(RFC 7507\) +Downgrade attack prevention supported \(OK\)/);
});

const renegotiate = async (port: number, version: '-tls1_2' | '-tls1', marker: string): Promise<string> => {
  // s_client reads "R" at the start of a line as "renegotiate"; the marker line goes after it.
  const result = await runCommand('sh', ['-c',
    `(sleep 0.5; printf 'R\\n'; sleep 1; printf '${marker}\\n'; sleep 1) | openssl s_client -connect 127.0.0.1:${port} ${version} -cipher 'DEFAULT:@SECLEVEL=0' -servername localhost 2>&1`],
  { timeoutMs: 15_000 });
  return result.stdout;
};

for (const [name, profile, version] of [
  ['a modern listener (TLS 1.2)', clientTlsProfile({}), '-tls1_2'],
  ['a legacy listener (TLS 1.0)', clientTlsProfile({ tls: { min_version: 'TLSv1', require_client_certificate: false } }), '-tls1'],
] as const) {
  test(`a client-initiated renegotiation is refused on ${name}, and nothing after it is read`, async (t) => {
    const server = await serve(t, profile, ecdsa);
    const output = await renegotiate(server.port, version, 'after-renegotiation');
    assert.match(output, /RENEGOTIATING/, output);
    assert.match(output, /no renegotiation|alert|error/i, output);
    assert.doesNotMatch(server.received(), /after-renegotiation/);
  });
}

test('for comparison, Node\'s defaults without the profile let the same renegotiation through', async (t) => {
  const server = https.createServer({ cert: ecdsa.cert, key: ecdsa.key, maxVersion: 'TLSv1.2' });
  let received = '';
  server.on('secureConnection', (socket: tls.TLSSocket) => socket.on('data', (chunk: Buffer) => { received += chunk.toString('latin1'); }));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  }));
  const output = await renegotiate((server.address() as net.AddressInfo).port, '-tls1_2', 'after-renegotiation');
  assert.match(output, /RENEGOTIATING/);
  assert.match(received, /after-renegotiation/, 'the renegotiation test can tell the difference');
});
