import { test } from 'node:test';
import assert from 'node:assert/strict';
import { identifyBySni as transparentTlsTarget } from '../../../src/pipeline/identify-tunnel.js';
import type { PeekResult } from '../../../src/net/peek-client-hello.js';
import type { OriginalDestination } from '../../../src/net/original-destination.js';

const hello = (sni?: string): PeekResult => (sni === undefined
  ? { status: 'ok', alpn: [], version: 0x0304, ech: false, length: 200 }
  : { status: 'ok', sni, alpn: [], version: 0x0304, ech: false, length: 200 });
const dialed: OriginalDestination = { address: '10.200.3.2', port: 8443, family: 4 };
const dialed6: OriginalDestination = { address: 'fd00::2', port: 443, family: 6 };

test('the SNI names the destination, on the port the client dialed', () => {
  const target = transparentTlsTarget(hello('API.Example.com.'), dialed, 'deny');
  assert.ok(target.ok);
  assert.deepEqual(target.destination, { host: { kind: 'name', host: 'api.example.com' }, port: 8443 });
  assert.equal(target.byOriginalDestination, false);
});

test('without an original destination the port is 443', () => {
  const target = transparentTlsTarget(hello('example.com'), undefined, 'deny');
  assert.ok(target.ok && target.destination.port === 443);
});

test('a ClientHello without SNI is denied with a TLS alert by default', () => {
  const target = transparentTlsTarget(hello(), dialed, 'deny');
  assert.ok(!target.ok);
  assert.deepEqual([target.reason, target.detail, target.refusal.alert], ['sni-missing', 'the ClientHello has no SNI; transparent.sni_missing is deny', 'access_denied']);
});

test('sni_missing: original-destination routes to the dialed IP, which the policy then judges as an IP', () => {
  const target = transparentTlsTarget(hello(), dialed, 'original-destination');
  assert.ok(target.ok);
  assert.deepEqual(target.destination, { host: { kind: 'ip', host: '10.200.3.2', family: 4 }, port: 8443 });
  assert.equal(target.byOriginalDestination, true);
  const v6 = transparentTlsTarget(hello(), dialed6, 'original-destination');
  assert.ok(v6.ok && v6.destination.host.host === 'fd00::2');
});

test('sni_missing: original-destination still denies when the original destination is unknown', () => {
  const target = transparentTlsTarget(hello(), undefined, 'original-destination');
  assert.equal(target.ok, false);
  assert.ok(!target.ok && target.reason === 'sni-missing' && /unknown/.test(target.detail));
});

test('a malformed ClientHello, plain text or silence is refused, never routed', () => {
  const invalid = transparentTlsTarget({ status: 'invalid', error: 'truncated ClientHello' }, dialed, 'original-destination');
  assert.ok(!invalid.ok && invalid.reason === 'invalid-destination' && invalid.refusal.alert === 'access_denied');
  const plain = transparentTlsTarget({ status: 'not-tls' }, dialed, 'original-destination');
  assert.ok(!plain.ok && plain.reason === 'sni-missing' && plain.refusal.alert === undefined);
  const silent = transparentTlsTarget({ status: 'timeout' }, dialed, 'original-destination');
  assert.ok(!silent.ok && /in time/.test(silent.detail));
});

test('an SNI that is not a valid host name is refused', () => {
  const target = transparentTlsTarget(hello('bad..name'), dialed, 'deny');
  assert.ok(!target.ok && target.reason === 'invalid-destination');
});
