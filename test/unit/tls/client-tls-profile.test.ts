import { constants } from 'node:crypto';
import tls from 'node:tls';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clientTlsProfile, LEGACY_CIPHERS, MODERN_CIPHERS, serverContextOptions } from '../../../src/tls/client-tls-profile.js';
import { makeOriginCertificates } from '../../helpers/test-certs.js';

const legacyListener = { tls: { min_version: 'TLSv1' as const, require_client_certificate: false } };

const cases: ReadonlyArray<readonly [string, Parameters<typeof clientTlsProfile>[0], Partial<ReturnType<typeof clientTlsProfile>>]> = [
  ['a listener without tls: TLS 1.2 to 1.3, modern ciphers', {}, { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.3', ciphers: MODERN_CIPHERS, legacy: false }],
  ['a TLS 1.3-only listener keeps the modern list', { tls: { min_version: 'TLSv1.3', require_client_certificate: false } }, { minVersion: 'TLSv1.3', ciphers: MODERN_CIPHERS, legacy: false }],
  ['a listener down to TLS 1.0 gets the legacy list', legacyListener, { minVersion: 'TLSv1', ciphers: LEGACY_CIPHERS, legacy: true }],
  ['a listener down to TLS 1.1 gets the legacy list', { tls: { min_version: 'TLSv1.1', require_client_certificate: false } }, { ciphers: LEGACY_CIPHERS, legacy: true }],
  ['ciphers written in the config are kept as written', { tls: { min_version: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES128-SHA', require_client_certificate: false } }, { ciphers: 'ECDHE-RSA-AES128-SHA' }],
];

for (const [name, listener, expected] of cases) {
  test(`clientTlsProfile: ${name}`, () => {
    const profile = clientTlsProfile(listener);
    for (const [key, value] of Object.entries(expected)) assert.equal((profile as unknown as Record<string, unknown>)[key], value, key);
    assert.equal(profile.honorCipherOrder, true);
    assert.ok((profile.secureOptions & constants.SSL_OP_NO_RENEGOTIATION) !== 0, 'renegotiation refused');
    assert.ok((profile.secureOptions & constants.SSL_OP_CIPHER_SERVER_PREFERENCE) !== 0, 'server cipher order');
    assert.ok((profile.secureOptions & constants.SSL_OP_NO_COMPRESSION) !== 0, 'no compression');
  });
}

test('the modern list has only AEAD ciphers with forward secrecy: no CBC, no RSA key exchange, no SHA-1 MAC', () => {
  for (const cipher of MODERN_CIPHERS.split(':')) {
    assert.match(cipher, /^(TLS_|ECDHE-)/, cipher);
    assert.match(cipher, /GCM|CHACHA20-POLY1305|POLY1305/, cipher);
  }
});

test('the legacy list adds CBC for TLS 1.0/1.1 but never RC4, 3DES, export, anonymous or NULL ciphers', () => {
  assert.ok(LEGACY_CIPHERS.startsWith(MODERN_CIPHERS), 'modern ciphers come first');
  assert.doesNotMatch(LEGACY_CIPHERS, /RC4|DES|EXP|NULL|ADH|AECDH|MD5/);
  assert.match(LEGACY_CIPHERS, /@SECLEVEL=0$/);
});

test('serverContextOptions builds a context OpenSSL accepts, with every server setting', () => {
  const certs = makeOriginCertificates(['localhost']);
  for (const listener of [{}, legacyListener]) {
    const options = serverContextOptions(clientTlsProfile(listener), { cert: certs.cert, key: certs.key, ca: certs.caCert });
    assert.equal(options.honorCipherOrder, true);
    assert.equal(options.ca, certs.caCert);
    assert.ok(((options.secureOptions ?? 0) & constants.SSL_OP_NO_RENEGOTIATION) !== 0);
    assert.doesNotThrow(() => tls.createSecureContext(options));
  }
  const withoutCa = serverContextOptions(clientTlsProfile({}), { cert: certs.cert, key: certs.key });
  assert.equal('ca' in withoutCa, false);
});
