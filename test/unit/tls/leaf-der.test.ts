import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, sign, X509Certificate } from 'node:crypto';
import {
  certificateSubject, encodeCertificate, encodeTbsCertificate, oid, subjectPublicKeyBits, tlv, toPem, type LeafTemplate,
} from '../../../src/tls/leaf-der.js';

const ECDSA_SHA256 = tlv(0x30, oid('1.2.840.10045.4.3.2'));
const caKeys = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const leafKeys = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const leafSpki = leafKeys.publicKey.export({ type: 'spki', format: 'der' });
// Issuer: O=Test, CN=Test CA as a DER Name.
const rdn = (id: string, value: string): Buffer => tlv(0x31, tlv(0x30, oid(id), tlv(0x0c, Buffer.from(value))));
const caName = tlv(0x30, rdn('2.5.4.10', 'Test'), rdn('2.5.4.3', 'Test CA'));

const template = (over: Partial<LeafTemplate> = {}): LeafTemplate => ({
  serial: Buffer.from('0102030405060708090a0b0c0d0e0f10', 'hex'),
  signatureAlgorithm: ECDSA_SHA256,
  issuer: caName,
  notBefore: new Date('2026-11-22T10:00:00Z'),
  notAfter: new Date('2027-12-24T10:00:00Z'),
  subject: { commonName: 'www.example.com' },
  spki: leafSpki,
  san: { kind: 'dns', name: 'www.example.com' },
  keyEncipherment: false,
  subjectKeyId: createHash('sha1').update(subjectPublicKeyBits(leafSpki)).digest(),
  authorityKeyId: Buffer.alloc(20, 7),
  ...over,
});

const signed = (leaf: LeafTemplate): X509Certificate => {
  const tbs = encodeTbsCertificate(leaf);
  const signature = sign('sha256', tbs, { key: caKeys.privateKey, dsaEncoding: 'der' });
  return new X509Certificate(toPem(encodeCertificate(tbs, ECDSA_SHA256, signature)));
};

test('a minted template is a certificate OpenSSL parses, signed by the CA key, with the fields given', () => {
  const cert = signed(template());
  assert.equal(cert.verify(caKeys.publicKey), true);
  assert.equal(cert.subject, 'CN=www.example.com');
  assert.equal(cert.issuer, 'O=Test\nCN=Test CA');
  assert.equal(cert.serialNumber.toLowerCase(), '0102030405060708090a0b0c0d0e0f10');
  assert.equal(cert.subjectAltName, 'DNS:www.example.com');
  assert.equal(new Date(cert.validFrom).toISOString(), '2026-11-22T10:00:00.000Z');
  assert.equal(new Date(cert.validTo).toISOString(), '2027-12-24T10:00:00.000Z');
  assert.equal(cert.ca, false);
  assert.deepEqual(cert.keyUsage, ['1.3.6.1.5.5.7.3.1']);
  assert.equal(cert.checkHost('www.example.com'), 'www.example.com');
  assert.equal(cert.checkHost('other.example.com'), undefined);
  assert.ok(cert.publicKey.equals(leafKeys.publicKey));
});

test('IP leaves carry the address as an iPAddress SAN, IPv4 and IPv6', () => {
  assert.equal(signed(template({ san: { kind: 'ip', address: '10.1.2.3' }, subject: { organization: 'Portcullis' } })).subjectAltName, 'IP Address:10.1.2.3');
  const v6 = signed(template({ san: { kind: 'ip', address: '2001:db8::1' } }));
  assert.equal(v6.subjectAltName, 'IP Address:2001:DB8:0:0:0:0:0:1');
  assert.equal(v6.checkIP('2001:db8::1'), '2001:db8::1');
  assert.equal(signed(template({ san: { kind: 'ip', address: '::1' } })).checkIP('::1'), '::1');
  assert.equal(signed(template({ san: { kind: 'ip', address: 'fe80::' } })).checkIP('fe80::'), 'fe80::');
});

test('dates from 2050 on use GeneralizedTime; long names get multi-byte lengths', () => {
  const cert = signed(template({ notAfter: new Date('2051-01-02T03:04:05Z') }));
  assert.equal(new Date(cert.validTo).toISOString(), '2051-01-02T03:04:05.000Z');
  const long = `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.example`;
  const withLong = signed(template({ san: { kind: 'dns', name: long }, subject: { commonName: long.slice(0, 64) } }));
  assert.equal(withLong.subjectAltName, `DNS:${long}`);
});

test('certificateSubject returns the subject Name bytes of a certificate, and subjectPublicKeyBits the key', () => {
  const cert = signed(template());
  assert.ok(certificateSubject(cert.raw).equals(tlv(0x30, rdn('2.5.4.3', 'www.example.com'))));
  const bits = subjectPublicKeyBits(leafSpki);
  assert.equal(bits.length, 65); // uncompressed P-256 point
  assert.equal(bits[0], 0x04);
  assert.throws(() => certificateSubject(Buffer.from([0x30, 0x05, 0x30])), /truncated/);
});
