// @peculiar/x509 2.x resolves its algorithms through tsyringe, which needs the Reflect metadata
// API; the polyfill must load before the library. Import @peculiar/x509 through this module
// (or import 'reflect-metadata' first) anywhere else.
import 'reflect-metadata';
import { createHash, sign, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import type { ProxyConfig } from '../config/schema.js';
import { PortcullisError } from '../errors.js';
import type { CanonicalHost } from '../flow/host.js';
import { loadCaFiles, loadStateCa, randomSerial } from './ca-files.js';
import * as leafDer from './leaf-der.js';
import { createLeafKeySource } from './leaf-keys.js';
import { LruCache } from './lru-cache.js';
import { id_ce_nameConstraints, nameConstraintsFromRules } from './name-constraints.js';

export { nameConstraintsExtension, nameConstraintsFromRules } from './name-constraints.js';

export interface LeafMaterial {
  /** The leaf, then (for a brought CA that is not self-signed) the CA certificate and the rest of its file. */
  readonly certPem: string;
  readonly keyPem: string;
  readonly notAfter: Date;
}

export interface CertificateAuthority {
  /** PEM of the CA certificate clients must trust (for a brought intermediate: that intermediate; its issuers are in chainPem). */
  readonly certPem: string;
  readonly certDer: Buffer;
  /** The certificates after the first in a brought CA's file, as PEM ("" when none). Sent after each leaf. */
  readonly chainPem: string;
  /** SHA-256 fingerprint "AB:CD:..." of the CA certificate. */
  readonly fingerprint256: string;
  readonly certFile: string;
  readonly keyFile: string;
  /** True when Portcullis generated this CA (in state_dir), false when it was brought. */
  readonly generated: boolean;
  /** True when this call created the CA files (first start): clients must be told to trust it. */
  readonly created: boolean;
  /** Things the operator should hear about (tightened permissions, stale name constraints); log them. */
  readonly warnings: readonly string[];
  /** Leaf for a host name or IP: minted on first use, cached (LRU), renewed within a day of notAfter. */
  leafFor(host: CanonicalHost): Promise<LeafMaterial>;
  stats(): { readonly mints: number; readonly hits: number; readonly cached: number };
}

export interface CertificateAuthorityOptions {
  readonly stateDir: string;
  readonly cert?: string;
  readonly key?: string;
  readonly leafKey: 'ecdsa' | 'rsa';
  readonly cacheSize: number;
  /** Rule host entries (names, *.names, IPs, CIDRs) a generated CA is constrained to. */
  readonly nameConstraints?: readonly string[];
  readonly clock?: () => number;
  /** RSA leaf keys kept ready (leafKey 'rsa' only); 0 generates each on demand. Default 4. */
  readonly rsaPoolSize?: number;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const LEAF_DAYS = 397;
const RENEW_BEFORE = DAY;
/** ECDSA leaf keys kept ready: a burst of new hosts takes them without waiting for keygen. */
const ECDSA_POOL_SIZE = 16;

/** The CA options a config asks for; `run` and `ca export` must agree, so both use this. */
export const caOptionsFromConfig = (config: ProxyConfig): CertificateAuthorityOptions => ({
  stateDir: config.state_dir,
  leafKey: config.ca.leaf_key,
  cacheSize: config.ca.cache_size,
  ...(config.ca.cert !== undefined && config.ca.key !== undefined && { cert: config.ca.cert, key: config.ca.key }),
  ...(config.ca.name_constraints && { nameConstraints: nameConstraintsFromRules(config.rules) }),
});

export const loadOrCreateCertificateAuthority = async (options: CertificateAuthorityOptions): Promise<CertificateAuthority> => {
  const crypto = webcrypto;
  const clock = options.clock ?? Date.now;
  const warnings: string[] = [];
  const brought = options.cert !== undefined && options.key !== undefined;
  const ca = brought
    ? { ...(await loadCaFiles(crypto, options.cert as string, options.key as string, clock())), certFile: options.cert as string, keyFile: options.key as string, created: false }
    : await loadStateCa(crypto, options, clock(), warnings);

  const caSki = ca.cert.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId
    ?? (await x509.SubjectKeyIdentifierExtension.create(ca.cert.publicKey, false, crypto)).keyId;
  const certPem = ca.cert.toString('pem') + '\n';
  const chainPem = ca.chain.map((cert) => cert.toString('pem') + '\n').join('');
  // Clients anchor at a root: a brought intermediate must travel with every leaf it signs.
  const servedChain = (ca.node.checkIssued(ca.node) ? '' : certPem) + chainPem;
  const takeKey = createLeafKeySource(options.leafKey, options.leafKey === 'rsa' ? options.rsaPoolSize ?? 4 : ECDSA_POOL_SIZE);
  // OpenSSL checks a leaf's CN against DNS name constraints when it has no DNS SAN, and an IPv4
  // CN reads as a host name: under a constrained CA, IPv4 leaves name themselves only in the SAN.
  const constrained = ca.cert.getExtension(id_ce_nameConstraints) !== null;
  const subjectFor = (host: CanonicalHost): leafDer.LeafTemplate['subject'] =>
    constrained && host.kind === 'ip' && host.family === 4 ? { organization: 'Portcullis' } : { commonName: host.host.slice(0, 64) };

  const issuer = leafDer.certificateSubject(Buffer.from(ca.cert.rawData));
  const authorityKeyId = Buffer.from(caSki, 'hex');

  const mint = async (host: CanonicalHost): Promise<LeafMaterial> => {
    const key = await takeKey();
    const spki = key.spkiDer;
    const now = Math.floor(clock() / 1000) * 1000; // certificates hold whole seconds
    const notBefore = new Date(Math.max(now - HOUR, ca.cert.notBefore.getTime()));
    const notAfter = new Date(Math.min(notBefore.getTime() + LEAF_DAYS * DAY, ca.cert.notAfter.getTime()));
    const { signer } = ca;
    const tbs = leafDer.encodeTbsCertificate({
      serial: Buffer.from(randomSerial(), 'hex'), signatureAlgorithm: signer.algorithmDer, issuer, notBefore, notAfter,
      subject: subjectFor(host), spki,
      san: host.kind === 'ip' ? { kind: 'ip', address: host.host } : { kind: 'dns', name: host.host },
      keyEncipherment: options.leafKey === 'rsa',
      subjectKeyId: createHash('sha1').update(leafDer.subjectPublicKeyBits(spki)).digest(),
      authorityKeyId,
    });
    const signature = sign(signer.digest, tbs, signer.nodeKey.asymmetricKeyType === 'ec' ? { key: signer.nodeKey, dsaEncoding: 'der' } : signer.nodeKey);
    const certPem = leafDer.toPem(leafDer.encodeCertificate(tbs, signer.algorithmDer, signature));
    return { certPem: certPem + servedChain, keyPem: key.privateKeyPem, notAfter };
  };

  interface Entry { readonly leaf: Promise<LeafMaterial>; notAfter?: number }
  const cache = new LruCache<string, Entry>(options.cacheSize);
  let mints = 0;
  let hits = 0;

  return {
    certPem,
    certDer: Buffer.from(ca.cert.rawData),
    chainPem,
    fingerprint256: ca.node.fingerprint256,
    certFile: ca.certFile,
    keyFile: ca.keyFile,
    generated: !brought,
    created: ca.created,
    warnings,
    leafFor(host) {
      const id = `${host.kind}:${host.host}`;
      const cached = cache.get(id);
      if (cached && (cached.notAfter === undefined || cached.notAfter - clock() > RENEW_BEFORE)) {
        hits += 1;
        return cached.leaf;
      }
      mints += 1;
      const entry: Entry = {
        leaf: mint(host).catch((error: unknown) => {
          throw new PortcullisError('PCL_ERR_CA_MINT', `cannot mint a certificate for ${host.host}: ${(error as Error).message}`, { cause: error });
        }),
      };
      cache.set(id, entry);
      entry.leaf.then((leaf) => { entry.notAfter = leaf.notAfter.getTime(); }, () => {
        if (cache.peek(id) === entry) cache.delete(id);
      });
      return entry.leaf;
    },
    stats: () => ({ mints, hits, cached: cache.size }),
  };
};
