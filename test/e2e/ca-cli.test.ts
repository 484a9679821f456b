import { execFile, execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { BIN } from '../helpers/cli-process.js';

interface BinaryResult {
  readonly code: number;
  readonly stdout: Buffer;
  readonly stderr: string;
}

/** The built CLI with binary-safe stdout, in `cwd` (the embedded default config resolves state_dir there). */
const runCliIn = (cwd: string, args: readonly string[]): Promise<BinaryResult> =>
  new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], {
      cwd, timeout: 20_000, encoding: 'buffer', maxBuffer: 16 * 1024 * 1024,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: cwd },
    }, (error, stdout, stderr) => {
      const code = error ? (typeof (error as NodeJS.ErrnoException).code === 'number' ? Number((error as NodeJS.ErrnoException).code) : 1) : 0;
      resolve({ code, stdout, stderr: stderr.toString('utf8') });
    });
  });

const tempDir = (t: TestContext): string => {
  const dir = mkdtempSync(path.join(tmpdir(), 'pcl-ca-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
};

/** A config in `dir` whose state_dir is ./state next to it. */
const writeConfig = (dir: string, extra = ''): string => {
  const file = path.join(dir, 'portcullis.yaml');
  writeFileSync(file, `listen:\n  - address: 127.0.0.1:3999\nstate_dir: ./state\n${extra}`);
  return file;
};

const openssl = (args: readonly string[], input?: Buffer): string =>
  execFileSync('openssl', args as string[], { input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });

test('ca export writes the PEM, creating the CA in state_dir once', async (t) => {
  const dir = tempDir(t);
  const config = writeConfig(dir);
  const first = await runCliIn(dir, ['ca', 'export', '-c', config]);
  assert.equal(first.code, 0, first.stderr);
  const certFile = path.join(dir, 'state', 'ca.pem');
  assert.match(first.stderr, new RegExp(`created a new CA: ${certFile}`));
  assert.equal(first.stdout.toString('utf8'), readFileSync(certFile, 'utf8'));
  assert.equal(statSync(path.join(dir, 'state', 'ca-key.pem')).mode & 0o777, 0o600);
  assert.equal(new X509Certificate(first.stdout).ca, true);

  const second = await runCliIn(dir, ['ca', 'export', '-c', config, '--format', 'pem']);
  assert.equal(second.code, 0, second.stderr);
  assert.equal(second.stderr, '');
  assert.deepEqual(second.stdout, first.stdout);
});

test('ca export --format der is the same certificate in DER', async (t) => {
  const dir = tempDir(t);
  const config = writeConfig(dir);
  const der = await runCliIn(dir, ['ca', 'export', '-c', config, '--format', 'der']);
  assert.equal(der.code, 0, der.stderr);
  assert.notEqual(der.stdout[0], 0x2d, 'binary, not PEM text');
  const pem = openssl(['x509', '-inform', 'der'], der.stdout);
  assert.equal(pem, readFileSync(path.join(dir, 'state', 'ca.pem'), 'utf8'));
});

test('ca export --format p12 holds only the certificate, readable with an empty password', async (t) => {
  const dir = tempDir(t);
  const config = writeConfig(dir);
  const result = await runCliIn(dir, ['ca', 'export', '-c', config, '--format', 'p12']);
  assert.equal(result.code, 0, result.stderr);
  const p12 = path.join(dir, 'out.p12');
  writeFileSync(p12, result.stdout);
  const info = execFileSync('openssl', ['pkcs12', '-in', p12, '-nokeys', '-passin', 'pass:', '-info'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  assert.match(info, /friendlyName: portcullis/);
  assert.doesNotMatch(info, /PRIVATE KEY/);
  const certs = info.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n/g) ?? [];
  assert.deepEqual(certs, [readFileSync(path.join(dir, 'state', 'ca.pem'), 'utf8')]);
  const keys = execFileSync('openssl', ['pkcs12', '-in', p12, '-nocerts', '-nodes', '-passin', 'pass:'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  assert.doesNotMatch(keys, /KEY/);
  assert.throws(() => execFileSync('openssl', ['pkcs12', '-in', p12, '-nokeys', '-passin', 'pass:wrong'], { stdio: 'pipe' }), /Mac verify error/,
    'the MAC is real: a wrong password fails it');
  let keytool = false;
  try {
    execFileSync('keytool', ['-help'], { stdio: 'ignore' });
    keytool = true;
  } catch {
    // no JDK on this machine
  }
  if (keytool) {
    const list = execFileSync('keytool', ['-list', '-keystore', p12, '-storetype', 'PKCS12', '-storepass', ''], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    assert.match(list, /contains 1 entry/);
    assert.match(list, /portcullis, .*trustedCertEntry/);
  }
});

test('ca trust prints steps for every platform with the CA path, fingerprint and proxy address', async (t) => {
  const dir = tempDir(t);
  const config = writeConfig(dir);
  const result = await runCliIn(dir, ['ca', 'trust', '-c', config]);
  assert.equal(result.code, 0, result.stderr);
  const out = result.stdout.toString('utf8');
  const certFile = path.join(dir, 'state', 'ca.pem');
  const fingerprint = new X509Certificate(readFileSync(certFile)).fingerprint256;
  assert.match(out, new RegExp(`SHA-256 +${fingerprint}`));
  for (const expected of [
    `sudo cp ${certFile} /usr/local/share/ca-certificates/portcullis.crt`,
    'sudo update-ca-certificates',
    `sudo cp ${certFile} /etc/pki/ca-trust/source/anchors/portcullis.crt`,
    'sudo update-ca-trust',
    'Alpine',
    `sudo security add-trusted-cert -d -r trustRoot -k /Library/Keychains/System.keychain ${certFile}`,
    'certutil -addstore -f Root portcullis.crt',
    'Import-Certificate -FilePath portcullis.crt -CertStoreLocation Cert:\\LocalMachine\\Root',
    `keytool -importcert -cacerts -alias portcullis -file ${certFile} -noprompt -storepass changeit`,
    'REQUESTS_CA_BUNDLE=',
    'python3 -m certifi',
    `NODE_EXTRA_CA_CERTS=${certFile}`,
    '--cacert',
    'CURL_CA_BUNDLE=',
    'AWS_CA_BUNDLE=',
    'ca_bundle',
    'gcloud config set core/custom_ca_certs_file',
    'curl -x http://127.0.0.1:3999 http://portcullis.invalid/ca.pem -o portcullis-ca.pem',
    `portcullis ca export -c ${config} > portcullis-ca.pem`,
  ]) {
    assert.ok(out.includes(expected), `missing: ${expected}\n${out}`);
  }
});

test('without -c the embedded config creates the CA under the working directory', async (t) => {
  const dir = tempDir(t);
  const result = await runCliIn(dir, ['ca', 'export']);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout.toString('utf8'), readFileSync(path.join(dir, '.portcullis', 'ca.pem'), 'utf8'));
  const trust = await runCliIn(dir, ['ca', 'trust']);
  assert.equal(trust.code, 0, trust.stderr);
  assert.match(trust.stdout.toString('utf8'), /curl -x http:\/\/127\.0\.0\.1:3128 http:\/\/portcullis\.invalid\/ca\.pem/);
});

test('bad CA files exit 1 with the file named; bad usage exits 2', async (t) => {
  const dir = tempDir(t);
  const missing = path.join(dir, 'missing.pem');
  const config = writeConfig(dir, `ca:\n  cert: ${missing}\n  key: ./key.pem\n`);
  const bad = await runCliIn(dir, ['ca', 'export', '-c', config]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, new RegExp(`cannot read the CA certificate ${missing}: file not found`));
  assert.equal(bad.stdout.length, 0);
  assert.equal(existsSync(path.join(dir, 'state')), false);

  const halfConfig = writeConfig(dir, 'ca:\n  cert: ./ca.pem\n');
  const half = await runCliIn(dir, ['ca', 'trust', '-c', halfConfig]);
  assert.equal(half.code, 1);
  assert.match(half.stderr, /portcullis\.yaml:\d+ ca\.key: give both cert and key/);

  const format = await runCliIn(dir, ['ca', 'export', '--format', 'jks']);
  assert.equal(format.code, 2);
  assert.match(format.stderr, /Allowed choices are pem, der, p12/);
  const noSub = await runCliIn(dir, ['ca', 'frobnicate']);
  assert.equal(noSub.code, 2);
});
