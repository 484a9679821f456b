import { execFileSync } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import type { CanonicalHost } from '../../../src/flow/host.js';
import { parseHost } from '../../../src/flow/host.js';
import { loadOrCreateCertificateAuthority, type CertificateAuthorityOptions } from '../../../src/tls/certificate-authority.js';
import { LruCache } from '../../../src/tls/lru-cache.js';
import { runCommand } from '../../helpers/clients.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const tempDir = (t: TestContext): string => {
  const dir = mkdtempSync(path.join(tmpdir(), 'pcl-ca-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
};

const host = (text: string): CanonicalHost => {
  const parsed = parseHost(text);
  assert.ok(parsed.ok, text);
  return parsed.value;
};

const options = (stateDir: string, extra: Partial<CertificateAuthorityOptions> = {}): CertificateAuthorityOptions =>
  ({ stateDir, leafKey: 'ecdsa', cacheSize: 100, ...extra });

const openssl = (args: readonly string[], cwd?: string): string =>
  execFileSync('openssl', args as string[], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

/** `openssl x509 -text` of the first certificate in `pem`. */
const certText = (pem: string): string => execFileSync('openssl', ['x509', '-noout', '-text'], { input: pem, encoding: 'utf8' });

/** `openssl verify`; returns [ok, output]. */
const verify = (dir: string, caFile: string, leafPem: string, untrusted?: string): [boolean, string] => {
  const leafFile = path.join(dir, `leaf-${Math.random().toString(16).slice(2)}.pem`);
  writeFileSync(leafFile, leafPem);
  try {
    const out = execFileSync('openssl', ['verify', '-x509_strict', '-purpose', 'sslserver', '-CAfile', caFile,
      ...(untrusted ? ['-untrusted', untrusted] : []), leafFile], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return [true, out];
  } catch (error) {
    return [false, String((error as { stderr?: string }).stderr ?? error) + String((error as { stdout?: string }).stdout ?? '')];
  }
};

const firstCert = (pem: string): string => {
  const end = pem.indexOf('-----END CERTIFICATE-----') + '-----END CERTIFICATE-----'.length;
  return pem.slice(0, end) + '\n';
};

/** The DER bytes of one tbsCertificate field (3: issuer, 5: subject), from a minimal DER walk. */
const tbsField = (pem: string, index: 3 | 5): Buffer => {
  const der = new X509Certificate(pem).raw;
  const element = (offset: number): { content: number; end: number } => {
    let length = der[offset + 1] as number;
    let header = 2;
    if (length & 0x80) {
      const bytes = length & 0x7f;
      length = 0;
      for (let i = 0; i < bytes; i += 1) length = length * 256 + (der[offset + 2 + i] as number);
      header += bytes;
    }
    return { content: offset + header, end: offset + header + length };
  };
  const tbs = element(element(0).content);
  let offset = tbs.content;
  for (let i = 0; i < index + 1; i += 1) {
    const field = element(offset);
    if (i === index) return der.subarray(offset, field.end);
    offset = field.end;
  }
  throw new Error('unreachable');
};

test('the LRU cache keeps the most recently used entries within its bound', () => {
  const evicted: string[] = [];
  const cache = new LruCache<string, number>(2, { onEvict: (key) => evicted.push(key) });
  cache.set('a', 1).set('b', 2);
  assert.equal(cache.get('a'), 1);
  cache.set('c', 3);
  assert.deepEqual([...cache.keys()], ['a', 'c']);
  assert.deepEqual(evicted, ['b']);
  assert.equal(cache.peek('a'), 1);
  cache.set('d', 4);
  assert.deepEqual([...cache.keys()], ['c', 'd'], 'peek does not refresh recency');
  assert.equal(cache.size, 2);
  assert.throws(() => new LruCache(0), RangeError);
});

test('a generated CA is written to state_dir (key 0600) and a restart loads the same CA', async (t) => {
  const dir = tempDir(t);
  const stateDir = path.join(dir, 'state', 'nested');
  const before = Date.now();
  const ca = await loadOrCreateCertificateAuthority(options(stateDir));
  assert.equal(ca.created, true);
  assert.equal(ca.generated, true);
  assert.equal(statSync(stateDir).mode & 0o777, 0o700);
  assert.equal(statSync(path.join(stateDir, 'ca-key.pem')).mode & 0o777, 0o600);
  assert.equal(statSync(path.join(stateDir, 'ca.pem')).mode & 0o777, 0o644);
  assert.equal(readFileSync(path.join(stateDir, 'ca.pem'), 'utf8'), ca.certPem);

  const cert = new X509Certificate(ca.certPem);
  assert.equal(cert.ca, true);
  assert.equal(ca.fingerprint256, cert.fingerprint256);
  assert.deepEqual(ca.certDer, cert.raw);
  assert.match(cert.subject, /^O=Portcullis\nCN=Portcullis CA [0-9a-f]{8}$/);
  assert.ok(cert.checkPrivateKey(createPrivateKey(readFileSync(path.join(stateDir, 'ca-key.pem'), 'utf8'))));
  const notBefore = Date.parse(cert.validFrom);
  assert.ok(Math.abs(before - HOUR - notBefore) < 5 * 60_000, `backdated about an hour: ${cert.validFrom}`);
  assert.ok(Math.abs(Date.parse(cert.validTo) - notBefore - 3652.5 * DAY) < 2 * DAY, `ten years: ${cert.validTo}`);
  const text = certText(ca.certPem);
  assert.match(text, /Basic Constraints: critical\s+CA:TRUE, pathlen:0/);
  assert.match(text, /Key Usage: critical\s+Certificate Sign, CRL Sign/);
  assert.match(text, /Subject Key Identifier/);
  assert.match(text, /ecdsa-with-SHA256/);
  assert.match(text, /NIST CURVE: P-256/);
  assert.match(cert.serialNumber, /^[0-7][0-9A-F]{31}$/, 'a positive 16-byte serial');

  const again = await loadOrCreateCertificateAuthority(options(stateDir));
  assert.equal(again.created, false);
  assert.equal(again.certPem, ca.certPem);
  assert.equal(again.fingerprint256, ca.fingerprint256);
  assert.deepEqual(again.warnings, []);
});

test('a CA key readable by others is tightened to 0600, with a warning', async (t) => {
  const stateDir = tempDir(t);
  await loadOrCreateCertificateAuthority(options(stateDir));
  chmodSync(path.join(stateDir, 'ca-key.pem'), 0o644);
  const ca = await loadOrCreateCertificateAuthority(options(stateDir));
  assert.equal(statSync(path.join(stateDir, 'ca-key.pem')).mode & 0o777, 0o600);
  assert.equal(ca.warnings.length, 1);
  assert.match(ca.warnings[0] ?? '', /ca-key\.pem was readable by others \(mode 644\); tightened to 0600/);
});

test('a state_dir holding the certificate without its key is refused, naming both files', async (t) => {
  const stateDir = tempDir(t);
  await loadOrCreateCertificateAuthority(options(stateDir));
  rmSync(path.join(stateDir, 'ca-key.pem'));
  await assert.rejects(loadOrCreateCertificateAuthority(options(stateDir)), (error: Error & { code?: string }) => {
    assert.equal(error.code, 'PCL_ERR_CA_INVALID');
    assert.match(error.message, /found .*ca\.pem but not .*ca-key\.pem/);
    return true;
  });
});

test('a leaf names its host in SAN and CN, is for TLS servers only, and chains to the CA', async (t) => {
  const dir = tempDir(t);
  const ca = await loadOrCreateCertificateAuthority(options(dir));
  const caCert = new X509Certificate(ca.certPem);
  const start = Date.now();
  const leaf = await ca.leafFor(host('a.test'));
  const cert = new X509Certificate(leaf.certPem);
  assert.equal(cert.subjectAltName, 'DNS:a.test');
  assert.equal(cert.subject, 'CN=a.test');
  assert.equal(cert.checkHost('a.test'), 'a.test');
  assert.equal(cert.checkHost('b.test'), undefined);
  assert.equal(cert.checkHost('x.a.test'), undefined);
  assert.equal(cert.ca, false);
  assert.ok(cert.verify(caCert.publicKey));
  assert.ok(cert.checkIssued(caCert));
  assert.ok(cert.checkPrivateKey(createPrivateKey(leaf.keyPem)));
  assert.equal(createPrivateKey(leaf.keyPem).asymmetricKeyDetails?.namedCurve, 'prime256v1');
  assert.deepEqual(tbsField(leaf.certPem, 3), tbsField(ca.certPem, 5), 'issuer bytes equal the CA subject bytes');

  const notBefore = Date.parse(cert.validFrom);
  const notAfter = Date.parse(cert.validTo);
  assert.ok(Math.abs(start - HOUR - notBefore) < 5 * 60_000, `backdated about an hour: ${cert.validFrom}`);
  assert.ok(notAfter - notBefore <= 397 * DAY, `at most 397 days: ${cert.validFrom} .. ${cert.validTo}`);
  assert.ok(notAfter - start > 390 * DAY);
  assert.equal(leaf.notAfter.getTime(), notAfter);

  const text = certText(leaf.certPem);
  assert.match(text, /Basic Constraints: critical\s+CA:FALSE/);
  assert.match(text, /Key Usage: critical\s+Digital Signature\n/);
  assert.match(text, /Extended Key Usage:\s+TLS Web Server Authentication\n/);
  const caSki = /Subject Key Identifier:\s+([0-9A-F:]+)/.exec(certText(ca.certPem))?.[1];
  assert.ok(caSki);
  assert.match(text, new RegExp(`Authority Key Identifier:\\s+(keyid:)?${caSki}`));
  assert.match(text, /Subject Key Identifier:\s+[0-9A-F:]+/);
  const [ok, output] = verify(dir, path.join(dir, 'ca.pem'), leaf.certPem);
  assert.ok(ok, output);
});

test('leaves for IP addresses carry an iPAddress SAN', async (t) => {
  const dir = tempDir(t);
  const ca = await loadOrCreateCertificateAuthority(options(dir));
  const v4 = new X509Certificate((await ca.leafFor(host('127.0.0.1'))).certPem);
  assert.equal(v4.subjectAltName, 'IP Address:127.0.0.1');
  assert.equal(v4.checkIP('127.0.0.1'), '127.0.0.1');
  assert.equal(v4.checkIP('127.0.0.2'), undefined);
  const v6 = new X509Certificate((await ca.leafFor(host('[::1]'))).certPem);
  assert.equal(v6.checkIP('::1'), '::1');
  assert.equal(v6.subject, 'CN=::1');
});

test('twenty concurrent first requests for one host mint once and share the leaf', async (t) => {
  const ca = await loadOrCreateCertificateAuthority(options(tempDir(t)));
  const leaves = await Promise.all(Array.from({ length: 20 }, () => ca.leafFor(host('a.test'))));
  assert.equal(new Set(leaves.map((leaf) => leaf.certPem)).size, 1);
  assert.deepEqual(ca.stats(), { mints: 1, hits: 19, cached: 1 });
  await ca.leafFor(host('b.test'));
  assert.deepEqual(ca.stats(), { mints: 2, hits: 19, cached: 2 });
});

test('the leaf cache is bounded: the least recently used host is evicted and minted again', async (t) => {
  const ca = await loadOrCreateCertificateAuthority(options(tempDir(t), { cacheSize: 2 }));
  for (const name of ['a.test', 'b.test', 'c.test', 'd.test']) await ca.leafFor(host(name));
  assert.deepEqual(ca.stats(), { mints: 4, hits: 0, cached: 2 });
  await ca.leafFor(host('d.test'));
  assert.equal(ca.stats().hits, 1);
  await ca.leafFor(host('a.test'));
  assert.deepEqual(ca.stats(), { mints: 5, hits: 1, cached: 2 });
});

test('a leaf within a day of expiry is renewed', async (t) => {
  let now = Date.now();
  const ca = await loadOrCreateCertificateAuthority(options(tempDir(t), { clock: () => now }));
  const first = await ca.leafFor(host('a.test'));
  now = first.notAfter.getTime() - 2 * DAY;
  assert.equal(await ca.leafFor(host('a.test')), first);
  now = first.notAfter.getTime() - 12 * HOUR;
  const renewed = await ca.leafFor(host('a.test'));
  assert.notEqual(renewed.certPem, first.certPem);
  assert.ok(renewed.notAfter > first.notAfter);
  assert.deepEqual(ca.stats(), { mints: 2, hits: 1, cached: 1 });
});

test('RSA leaves are 2048-bit and allow key encipherment', async (t) => {
  const dir = tempDir(t);
  const ca = await loadOrCreateCertificateAuthority(options(dir, { leafKey: 'rsa', rsaPoolSize: 1 }));
  const leaf = await ca.leafFor(host('rsa.test'));
  const key = createPrivateKey(leaf.keyPem);
  assert.equal(key.asymmetricKeyType, 'rsa');
  assert.equal(key.asymmetricKeyDetails?.modulusLength, 2048);
  assert.match(certText(leaf.certPem), /Key Usage: critical\s+Digital Signature, Key Encipherment/);
  const [ok, output] = verify(dir, path.join(dir, 'ca.pem'), leaf.certPem);
  assert.ok(ok, output);
});

test('name constraints limit a generated CA to the rules\' hosts', async (t) => {
  const dir = tempDir(t);
  const ca = await loadOrCreateCertificateAuthority(options(dir, { nameConstraints: ['*.example.com', 'api.example.com', 'www.googleapis.com', '10.1.2.3/8'] }));
  const text = certText(ca.certPem);
  assert.match(text, /Name Constraints: critical\s+Permitted:\s+DNS:example\.com\s+DNS:www\.googleapis\.com\s+IP:10\.0\.0\.0\/255\.0\.0\.0\n/);
  const caFile = path.join(dir, 'ca.pem');
  for (const name of ['a.example.com', 'www.googleapis.com', '10.9.8.7']) {
    const [ok, output] = verify(dir, caFile, (await ca.leafFor(host(name))).certPem);
    assert.ok(ok, `${name}: ${output}`);
  }
  for (const name of ['example.org', 'googleapis.com', '192.0.2.1', '[2001:db8::1]']) {
    const [ok, output] = verify(dir, caFile, (await ca.leafFor(host(name))).certPem);
    assert.equal(ok, false, `${name} must be outside the constraints`);
    assert.match(output, /permitted subtree violation/);
  }
  const changed = await loadOrCreateCertificateAuthority(options(dir, { nameConstraints: ['other.test'] }));
  assert.equal(changed.certPem, ca.certPem, 'an existing CA is kept');
  assert.match(changed.warnings.join('\n'), /is constrained to other hosts than the rules now name; delete/);
});

test('name constraints with only names leave no IP address permitted', async (t) => {
  const dir = tempDir(t);
  const ca = await loadOrCreateCertificateAuthority(options(dir, { nameConstraints: ['a.test'] }));
  assert.match(certText(ca.certPem), /IP:0\.0\.0\.0\/255\.255\.255\.255/);
  const [ok] = verify(dir, path.join(dir, 'ca.pem'), (await ca.leafFor(host('127.0.0.1'))).certPem);
  assert.equal(ok, false);
});

/** root (self-signed) -> intermediate (CA:TRUE, pathlen 0) made with the openssl CLI. */
const makeIntermediate = (dir: string): { root: string; intermediateFile: string; intermediateKey: string; fullChainFile: string } => {
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-384', '-nodes', '-keyout', 'root.key', '-out', 'root.pem',
    '-days', '30', '-subj', '/C=US/O=Acme Corp/CN=Acme Root', '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  // SEC1 ("EC PRIVATE KEY"), not PKCS#8: the loader must convert it.
  openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'intermediate.key'], dir);
  openssl(['req', '-new', '-key', 'intermediate.key', '-out', 'intermediate.csr', '-subj', '/C=US/O=Acme Corp/OU=Egress/CN=Acme Egress Intermediate'], dir);
  writeFileSync(path.join(dir, 'intermediate.ext'), 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n');
  openssl(['x509', '-req', '-in', 'intermediate.csr', '-CA', 'root.pem', '-CAkey', 'root.key', '-CAcreateserial', '-out', 'intermediate.pem',
    '-days', '20', '-extfile', 'intermediate.ext'], dir);
  const fullChain = readFileSync(path.join(dir, 'intermediate.pem'), 'utf8') + readFileSync(path.join(dir, 'root.pem'), 'utf8');
  writeFileSync(path.join(dir, 'full-chain.pem'), fullChain);
  return {
    root: path.join(dir, 'root.pem'),
    intermediateFile: path.join(dir, 'intermediate.pem'),
    intermediateKey: path.join(dir, 'intermediate.key'),
    fullChainFile: path.join(dir, 'full-chain.pem'),
  };
};

test('a brought intermediate CA signs leaves that verify to its root', async (t) => {
  const dir = tempDir(t);
  const files = makeIntermediate(dir);
  assert.match(readFileSync(files.intermediateKey, 'utf8'), /BEGIN EC PRIVATE KEY/);
  const stateDir = path.join(dir, 'state');
  const ca = await loadOrCreateCertificateAuthority(options(stateDir, { cert: files.fullChainFile, key: files.intermediateKey }));
  assert.equal(ca.generated, false);
  assert.equal(ca.created, false);
  assert.equal(ca.certFile, files.fullChainFile);
  assert.equal(ca.certPem.trim(), readFileSync(files.intermediateFile, 'utf8').trim());
  assert.equal(ca.chainPem.trim(), readFileSync(files.root, 'utf8').trim());
  const leaf = await ca.leafFor(host('a.test'));
  const served = leaf.certPem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n/g) ?? [];
  assert.equal(served.length, 3, 'the leaf, the intermediate, then the rest of the file');
  assert.equal(served[1], ca.certPem);
  assert.equal(served[2], ca.chainPem);
  assert.deepEqual(tbsField(leaf.certPem, 3), tbsField(ca.certPem, 5), 'issuer bytes equal the intermediate subject bytes');
  writeFileSync(path.join(dir, 'untrusted.pem'), served.slice(1).join(''));
  const [ok, output] = verify(dir, files.root, firstCert(leaf.certPem), path.join(dir, 'untrusted.pem'));
  assert.ok(ok, output);
  assert.throws(() => statSync(stateDir), /ENOENT/, 'nothing is written to state_dir for a brought CA');
});

test('a brought RSA CA with a PKCS#1 key signs with sha256WithRSAEncryption', async (t) => {
  const dir = tempDir(t);
  openssl(['genrsa', '-traditional', '-out', 'rsa-ca.key', '2048'], dir);
  assert.match(readFileSync(path.join(dir, 'rsa-ca.key'), 'utf8'), /BEGIN RSA PRIVATE KEY/);
  openssl(['req', '-x509', '-key', 'rsa-ca.key', '-out', 'rsa-ca.pem', '-days', '30', '-subj', '/CN=Acme RSA CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  const ca = await loadOrCreateCertificateAuthority(options(path.join(dir, 'state'),
    { cert: path.join(dir, 'rsa-ca.pem'), key: path.join(dir, 'rsa-ca.key') }));
  assert.equal(ca.chainPem, '');
  const leaf = await ca.leafFor(host('a.test'));
  assert.equal(leaf.certPem.match(/BEGIN CERTIFICATE/g)?.length, 1, 'a self-signed CA is not sent along');
  assert.match(certText(leaf.certPem), /Signature Algorithm: sha256WithRSAEncryption/);
  const [ok, output] = verify(dir, path.join(dir, 'rsa-ca.pem'), leaf.certPem);
  assert.ok(ok, output);
  assert.ok(new X509Certificate(leaf.certPem).verify(new X509Certificate(ca.certPem).publicKey));
});

test('brought CA files that cannot work are refused with the file named', async (t) => {
  const dir = tempDir(t);
  const files = makeIntermediate(dir);
  openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'other.key'], dir);
  openssl(['req', '-x509', '-key', 'other.key', '-out', 'not-ca.pem', '-days', '30', '-subj', '/CN=not a ca',
    '-addext', 'basicConstraints=critical,CA:FALSE'], dir);
  openssl(['genpkey', '-algorithm', 'ed25519', '-out', 'ed.key'], dir);
  openssl(['req', '-x509', '-key', 'ed.key', '-out', 'ed.pem', '-days', '30', '-subj', '/CN=ed ca', '-addext', 'basicConstraints=critical,CA:TRUE'], dir);
  openssl(['pkey', '-in', files.intermediateKey, '-aes256', '-passout', 'pass:secret', '-out', 'encrypted.key'], dir);
  writeFileSync(path.join(dir, 'garbage.pem'), 'hello\n');
  const at = (file: string): string => path.join(dir, file);
  const cases: { cert: string; key: string; message: RegExp }[] = [
    { cert: files.intermediateFile, key: at('other.key'), message: new RegExp(`${at('other.key')} does not match the certificate in ${files.intermediateFile}`) },
    { cert: at('not-ca.pem'), key: at('other.key'), message: new RegExp(`${at('not-ca.pem')}: the first certificate \\(CN=not a ca\\) is not a CA`) },
    { cert: at('ed.pem'), key: at('ed.key'), message: new RegExp(`${at('ed.key')}: CA keys must be EC \\(P-256, P-384\\) or RSA, not ed25519`) },
    { cert: files.intermediateFile, key: at('encrypted.key'), message: new RegExp(`${at('encrypted.key')}: encrypted keys are not supported`) },
    { cert: at('garbage.pem'), key: at('other.key'), message: new RegExp(`${at('garbage.pem')} holds no PEM certificate`) },
    { cert: at('missing.pem'), key: at('other.key'), message: new RegExp(`cannot read the CA certificate ${at('missing.pem')}: file not found`) },
    { cert: files.intermediateFile, key: at('missing.key'), message: new RegExp(`cannot read the CA key ${at('missing.key')}: file not found`) },
  ];
  for (const { cert, key, message } of cases) {
    await assert.rejects(loadOrCreateCertificateAuthority(options(at('state'), { cert, key })), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'PCL_ERR_CA_INVALID', error.message);
      assert.match(error.message, message);
      return true;
    });
  }
});

/** A TLS server minting its certificate per SNI name (the IP leaf when there is none), like the interceptor. */
const startTlsServer = async (t: TestContext, ca: { leafFor(host: CanonicalHost): Promise<{ certPem: string; keyPem: string }> }): Promise<number> => {
  const ipLeaf = await ca.leafFor(host('127.0.0.1'));
  const server = tls.createServer({
    cert: ipLeaf.certPem,
    key: ipLeaf.keyPem,
    SNICallback: (servername, callback) => {
      ca.leafFor(host(servername)).then(
        (leaf) => callback(null, tls.createSecureContext({ cert: leaf.certPem, key: leaf.keyPem })),
        (error: Error) => callback(error),
      );
    },
  }, (socket) => {
    socket.once('data', () => socket.end('HTTP/1.1 200 OK\r\ncontent-length: 3\r\nconnection: close\r\n\r\nok\n'));
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return (server.address() as AddressInfo).port;
};

const PYTHON_CLIENT = `
import socket, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[1])
ctx.verify_flags |= ssl.VERIFY_X509_STRICT
with socket.create_connection(("127.0.0.1", int(sys.argv[2])), timeout=10) as raw:
    with ctx.wrap_socket(raw, server_hostname=sys.argv[3]) as conn:
        conn.sendall(b"GET / HTTP/1.0\\r\\n\\r\\n")
        print(conn.version(), conn.recv(100).split(b"\\r\\n")[0].decode())
`;

test('curl, openssl s_client and strict Python accept minted leaves', async (t) => {
  for (const leafKey of ['ecdsa', 'rsa'] as const) {
    const dir = tempDir(t);
    const ca = await loadOrCreateCertificateAuthority(options(dir, { leafKey, rsaPoolSize: 1 }));
    const caFile = path.join(dir, 'ca.pem');
    const port = await startTlsServer(t, ca);
    const curl = await runCommand('curl', ['-sS', '--max-time', '10', '--cacert', caFile, '--resolve', `a.test:${port}:127.0.0.1`, `https://a.test:${port}/`]);
    assert.equal(curl.code, 0, `${leafKey} curl: ${curl.stderr}`);
    assert.equal(curl.stdout, 'ok\n');
    const curlIp = await runCommand('curl', ['-sS', '--max-time', '10', '--cacert', caFile, `https://127.0.0.1:${port}/`]);
    assert.equal(curlIp.code, 0, `${leafKey} curl by IP: ${curlIp.stderr}`);
    const sClient = await runCommand('openssl', ['s_client', '-verify_return_error', '-x509_strict', '-CAfile', caFile, '-servername', 'a.test',
      '-verify_hostname', 'a.test', '-connect', `127.0.0.1:${port}`], { input: '', timeoutMs: 10_000 });
    assert.equal(sClient.code, 0, `${leafKey} s_client: ${sClient.stderr}`);
    assert.match(sClient.stdout, /Verify return code: 0 \(ok\)/);
    for (const name of ['a.test', '127.0.0.1']) {
      const python = await runCommand('python3', ['-c', PYTHON_CLIENT, caFile, String(port), name], { timeoutMs: 10_000 });
      assert.equal(python.code, 0, `${leafKey} python ${name}: ${python.stderr}`);
      assert.match(python.stdout, /^TLSv1\.[23] HTTP\/1\.1 200 OK$/m);
    }
    const untrusted = await runCommand('curl', ['-sS', '--max-time', '10', '--resolve', `a.test:${port}:127.0.0.1`, `https://a.test:${port}/`]);
    assert.equal(untrusted.code, 60, 'without the CA, curl refuses the leaf');
  }
});

test('clients trusting only the root accept leaves of a brought intermediate', async (t) => {
  const dir = tempDir(t);
  const files = makeIntermediate(dir);
  const ca = await loadOrCreateCertificateAuthority(options(path.join(dir, 'state'), { cert: files.intermediateFile, key: files.intermediateKey }));
  const port = await startTlsServer(t, ca);
  const curl = await runCommand('curl', ['-sS', '--max-time', '10', '--cacert', files.root, '--resolve', `a.test:${port}:127.0.0.1`, `https://a.test:${port}/`]);
  assert.equal(curl.code, 0, curl.stderr);
  const python = await runCommand('python3', ['-c', PYTHON_CLIENT, files.root, String(port), 'a.test'], { timeoutMs: 10_000 });
  assert.equal(python.code, 0, python.stderr);
});
