import { isIPv4 } from 'node:net';

/**
 * DER encoding of the one certificate shape Portcullis mints for intercepted hosts (RFC 5280):
 * v3, a random serial, the CA's subject as issuer, CN (or O) subject, the leaf's public key,
 * and six fixed-form extensions. Pure: no keys, no I/O; the caller signs the TBS bytes.
 *
 * Why not @peculiar/x509 here (it still makes and reads the CA): building a leaf through its
 * generic ASN.1 schema layer cost 10-15 ms of CPU per host on the event loop, which every first
 * request to a new host waited for. This template costs a few microseconds.
 */

export interface LeafTemplate {
  /** 1-20 bytes, the first below 0x80 and not zero (a positive, minimally encoded INTEGER). */
  readonly serial: Buffer;
  /** DER AlgorithmIdentifier of the CA's signature, e.g. ecdsa-with-SHA256. */
  readonly signatureAlgorithm: Buffer;
  /** DER Name of the issuing CA (its certificate's subject, byte for byte). */
  readonly issuer: Buffer;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** The leaf subject: a common name, or (IPv4 under a name-constrained CA) an organization. */
  readonly subject: { readonly commonName: string } | { readonly organization: string };
  /** DER SubjectPublicKeyInfo of the leaf key. */
  readonly spki: Buffer;
  readonly san: { readonly kind: 'dns'; readonly name: string } | { readonly kind: 'ip'; readonly address: string };
  /** keyUsage keyEncipherment as well as digitalSignature (RSA leaves). */
  readonly keyEncipherment: boolean;
  readonly subjectKeyId: Buffer;
  readonly authorityKeyId: Buffer;
}

const length = (n: number): Buffer => {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let rest = n; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest % 256);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
};

export const tlv = (tag: number, ...content: Buffer[]): Buffer => {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), length(body.length), body]);
};

const sequence = (...content: Buffer[]): Buffer => tlv(0x30, ...content);

/** Dotted OID to DER. */
export const oid = (dotted: string): Buffer => {
  const arcs = dotted.split('.').map(Number);
  const bytes = [40 * (arcs[0] ?? 0) + (arcs[1] ?? 0)];
  for (const arc of arcs.slice(2)) {
    const base128 = [arc & 0x7f];
    for (let rest = Math.floor(arc / 128); rest > 0; rest = Math.floor(rest / 128)) base128.unshift(0x80 | (rest & 0x7f));
    bytes.push(...base128);
  }
  return tlv(0x06, Buffer.from(bytes));
};

const two = (n: number): string => String(n).padStart(2, '0');

/** UTCTime through 2049, GeneralizedTime from 2050 (RFC 5280 4.1.2.5). */
const time = (date: Date): Buffer => {
  const year = date.getUTCFullYear();
  const rest = `${two(date.getUTCMonth() + 1)}${two(date.getUTCDate())}${two(date.getUTCHours())}${two(date.getUTCMinutes())}${two(date.getUTCSeconds())}Z`;
  return year < 2050 ? tlv(0x17, Buffer.from(`${two(year % 100)}${rest}`, 'latin1')) : tlv(0x18, Buffer.from(`${year}${rest}`, 'latin1'));
};

const extension = (id: string, critical: boolean, value: Buffer): Buffer =>
  sequence(oid(id), ...(critical ? [Buffer.from([0x01, 0x01, 0xff])] : []), tlv(0x04, value));

const ipBytes = (address: string): Buffer => {
  if (isIPv4(address)) return Buffer.from(address.split('.').map(Number));
  // Canonical IPv6 text (possibly with "::"): expand to 8 groups of 16 bits.
  const [head = '', tail] = address.split('::');
  const groups = (text: string): string[] => (text === '' ? [] : text.split(':'));
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  const all = [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  const bytes = Buffer.alloc(16);
  all.forEach((group, i) => bytes.writeUInt16BE(parseInt(group, 16), i * 2));
  return bytes;
};

const OID_CN = '2.5.4.3';
const OID_O = '2.5.4.10';

/** The TBSCertificate: what the CA signs. */
export const encodeTbsCertificate = (leaf: LeafTemplate): Buffer => {
  const [attribute, value] = 'commonName' in leaf.subject ? [OID_CN, leaf.subject.commonName] : [OID_O, leaf.subject.organization];
  const subject = sequence(tlv(0x31, sequence(oid(attribute), tlv(0x0c, Buffer.from(value, 'utf8')))));
  // keyUsage BIT STRING: digitalSignature is bit 0 (0x80); keyEncipherment bit 2 (0x20).
  const keyUsage = leaf.keyEncipherment ? Buffer.from([0x03, 0x02, 0x05, 0xa0]) : Buffer.from([0x03, 0x02, 0x07, 0x80]);
  const generalName = leaf.san.kind === 'dns'
    ? tlv(0x82, Buffer.from(leaf.san.name, 'latin1'))
    : tlv(0x87, ipBytes(leaf.san.address));
  const extensions = sequence(
    extension('2.5.29.19', true, sequence()), // basicConstraints: not a CA
    extension('2.5.29.15', true, keyUsage),
    extension('2.5.29.37', false, sequence(oid('1.3.6.1.5.5.7.3.1'))), // extKeyUsage: serverAuth
    extension('2.5.29.17', false, sequence(generalName)),
    extension('2.5.29.14', false, tlv(0x04, leaf.subjectKeyId)),
    extension('2.5.29.35', false, sequence(tlv(0x80, leaf.authorityKeyId))),
  );
  return sequence(
    tlv(0xa0, tlv(0x02, Buffer.from([0x02]))), // version v3
    tlv(0x02, leaf.serial),
    leaf.signatureAlgorithm,
    leaf.issuer,
    sequence(time(leaf.notBefore), time(leaf.notAfter)),
    subject,
    leaf.spki,
    tlv(0xa3, extensions),
  );
};

/** Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue BIT STRING }. */
export const encodeCertificate = (tbs: Buffer, signatureAlgorithm: Buffer, signature: Buffer): Buffer =>
  sequence(tbs, signatureAlgorithm, tlv(0x03, Buffer.from([0x00]), signature));

/** The subjectPublicKey bits of a DER SubjectPublicKeyInfo (what a key identifier hashes). */
export const subjectPublicKeyBits = (spki: Buffer): Buffer => {
  const header = (at: number): { readonly start: number; readonly end: number } => {
    const first = spki[at + 1] ?? 0;
    if (first < 0x80) return { start: at + 2, end: at + 2 + first };
    const count = first & 0x7f;
    let n = 0;
    for (let i = 0; i < count; i += 1) n = n * 256 + (spki[at + 2 + i] ?? 0);
    return { start: at + 2 + count, end: at + 2 + count + n };
  };
  const outer = header(0);
  const algorithm = header(outer.start);
  const bits = header(algorithm.end);
  if (spki[algorithm.end] !== 0x03 || bits.end > spki.length) throw new Error('not a SubjectPublicKeyInfo');
  return spki.subarray(bits.start + 1, bits.end);
};

export const toPem = (der: Buffer, label = 'CERTIFICATE'): string => {
  const base64 = der.toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < base64.length; i += 64) lines.push(base64.slice(i, i + 64));
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
};

/** The subject Name of a DER certificate, byte for byte (to be a leaf's issuer). */
export const certificateSubject = (certificate: Buffer): Buffer => {
  const element = (at: number): { readonly tag: number; readonly start: number; readonly end: number } => {
    const first = certificate[at + 1] ?? 0;
    let start = at + 2;
    let size = first;
    if (first >= 0x80) {
      size = 0;
      for (let i = 0; i < (first & 0x7f); i += 1) size = size * 256 + (certificate[at + 2 + i] ?? 0);
      start += first & 0x7f;
    }
    if (start + size > certificate.length) throw new Error('truncated certificate');
    return { tag: certificate[at] ?? 0, start, end: start + size };
  };
  const tbs = element(element(0).start);
  let at = tbs.start;
  if (element(at).tag === 0xa0) at = element(at).end; // version
  for (let i = 0; i < 4; i += 1) at = element(at).end; // serial, signature, issuer, validity
  const subject = element(at);
  if (subject.tag !== 0x30) throw new Error('no subject Name where one was expected');
  return certificate.subarray(at, subject.end);
};
