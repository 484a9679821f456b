import { generateKeyPair, type KeyObject } from 'node:crypto';

export interface LeafKey {
  readonly publicKey: KeyObject;
  readonly privateKey: KeyObject;
}

/** A leaf key in the encodings a certificate and a TLS context take them. */
export interface EncodedLeafKey extends LeafKey {
  /** SubjectPublicKeyInfo, DER: goes into the certificate. */
  readonly spkiDer: Buffer;
  /** PKCS#8, PEM: what tls.createSecureContext reads. */
  readonly privateKeyPem: string;
}

// OpenSSL 3's encoders are slow: exporting a P-256 key's SPKI took 171 us and its PKCS#8 PEM
// 99 us on the bench VM, more than generating it (66 us). Done when a key is made, that work
// is off the path of the first request to a new host.
const encode = (key: LeafKey): EncodedLeafKey => ({
  ...key,
  spkiDer: key.publicKey.export({ type: 'spki', format: 'der' }),
  privateKeyPem: key.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
});

export const generateKeyPairAsync = (kind: 'ecdsa' | 'rsa'): Promise<LeafKey> => new Promise((resolve, reject) => {
  const done = (error: Error | null, publicKey: KeyObject, privateKey: KeyObject): void => {
    if (error) reject(error);
    else resolve({ publicKey, privateKey });
  };
  if (kind === 'rsa') generateKeyPair('rsa', { modulusLength: 2048, publicExponent: 0x10001 }, done);
  else generateKeyPair('ec', { namedCurve: 'prime256v1' }, done);
});

const generateEncoded = (kind: 'ecdsa' | 'rsa'): Promise<EncodedLeafKey> => generateKeyPairAsync(kind).then(encode);

/** Fresh leaf keys, generated in libuv's pool; a few are kept ready (and encoded) so a first request rarely waits. */
export const createLeafKeySource = (kind: 'ecdsa' | 'rsa', poolSize: number): (() => Promise<EncodedLeafKey>) => {
  if (poolSize <= 0) return () => generateEncoded(kind);
  const ready: EncodedLeafKey[] = [];
  let pending = 0;
  const refill = (): void => {
    while (ready.length + pending < poolSize) {
      pending += 1;
      generateEncoded(kind).then((key) => { ready.push(key); }, () => undefined).finally(() => { pending -= 1; });
    }
  };
  refill();
  return () => {
    const key = ready.shift();
    refill();
    return key ? Promise.resolve(key) : generateEncoded(kind);
  };
};
