import type { KeyObject, webcrypto } from 'node:crypto';
import { PortcullisError } from '../errors.js';
import * as leafDer from './leaf-der.js';

export type WebCrypto = webcrypto.Crypto;

/** The CA's signing key: for @peculiar/x509 (the CA certificate) and for node:crypto (leaves). */
export interface Signer {
  readonly key: webcrypto.CryptoKey;
  readonly algorithm: { readonly name: string; readonly hash: string };
  /** The same key for node:crypto's synchronous sign (leaves), with its digest and DER AlgorithmIdentifier. */
  readonly nodeKey: KeyObject;
  readonly digest: 'sha256' | 'sha384';
  readonly algorithmDer: Buffer;
}

const ECDSA_SHA256 = leafDer.tlv(0x30, leafDer.oid('1.2.840.10045.4.3.2'));
const ECDSA_SHA384 = leafDer.tlv(0x30, leafDer.oid('1.2.840.10045.4.3.3'));
const SHA256_WITH_RSA = leafDer.tlv(0x30, leafDer.oid('1.2.840.113549.1.1.11'), Buffer.from([0x05, 0x00]));

export const caError = (message: string, cause?: unknown): PortcullisError =>
  new PortcullisError('PCL_ERR_CA_INVALID', message, cause === undefined ? undefined : { cause });

export const errnoText = (error: unknown): string => {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'ENOENT' ? 'file not found (ENOENT)' : code === 'EACCES' ? 'permission denied (EACCES)' : (error as Error).message;
};

/** The certificate's signing key as a non-extractable WebCrypto key, with the matching signature algorithm. */
export const importSigner = async (crypto: WebCrypto, key: KeyObject, keyFile: string): Promise<Signer> => {
  const pkcs8 = key.export({ type: 'pkcs8', format: 'der' });
  if (key.asymmetricKeyType === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    const namedCurve = curve === 'prime256v1' ? 'P-256' : curve === 'secp384r1' ? 'P-384' : undefined;
    if (namedCurve === undefined) throw caError(`${keyFile}: EC CA keys must use P-256 or P-384, not ${curve ?? 'an unknown curve'}`);
    const signingKey = await crypto.subtle.importKey('pkcs8', pkcs8, { name: 'ECDSA', namedCurve }, false, ['sign']);
    const p384 = namedCurve === 'P-384';
    return {
      key: signingKey, algorithm: { name: 'ECDSA', hash: p384 ? 'SHA-384' : 'SHA-256' },
      nodeKey: key, digest: p384 ? 'sha384' : 'sha256', algorithmDer: p384 ? ECDSA_SHA384 : ECDSA_SHA256,
    };
  }
  if (key.asymmetricKeyType === 'rsa') {
    const algorithm = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
    return {
      key: await crypto.subtle.importKey('pkcs8', pkcs8, algorithm, false, ['sign']), algorithm,
      nodeKey: key, digest: 'sha256', algorithmDer: SHA256_WITH_RSA,
    };
  }
  throw caError(`${keyFile}: CA keys must be EC (P-256, P-384) or RSA, not ${key.asymmetricKeyType ?? 'unknown'}`);
};
