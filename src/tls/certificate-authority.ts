// @peculiar/x509 2.x resolves its algorithms through tsyringe, which needs the Reflect metadata
// API; the polyfill must load before the library. Import @peculiar/x509 through this module
// (or import 'reflect-metadata' first) anywhere else.
import 'reflect-metadata';
import {
  createHash, generateKeyPair, randomBytes, sign, webcrypto, X509Certificate as NodeX509Certificate, createPrivateKey, type KeyObject,
} from 'node:crypto';
import { chmod, link, mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import * as x509 from '@peculiar/x509';
import { AsnConvert } from '@peculiar/asn1-schema';
import * as leafDer from './leaf-der.js';
import { GeneralName, GeneralSubtree, GeneralSubtrees, NameConstraints, id_ce_nameConstraints } from '@peculiar/asn1-x509';
import ipaddr from 'ipaddr.js';
import type { ProxyConfig } from '../config/schema.js';
import { PortcullisError } from '../errors.js';
import type { CanonicalHost } from '../flow/host.js';
import { parseHostPattern } from '../policy/host-pattern.js';
import { LruCache } from './lru-cache.js';
import { stateDirAdvice } from './state-dir-problem.js';

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

type WebCrypto = webcrypto.Crypto;

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const LEAF_DAYS = 397;
const CA_YEARS = 10;
const RENEW_BEFORE = DAY;
/** ECDSA leaf keys kept ready: a burst of new hosts takes them without waiting for keygen. */
const ECDSA_POOL_SIZE = 16;
const CA_CERT_FILE = 'ca.pem';
const CA_KEY_FILE = 'ca-key.pem';
const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

interface Signer {
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

interface LoadedCa {
  readonly cert: x509.X509Certificate;
  readonly node: NodeX509Certificate;
  readonly chain: readonly x509.X509Certificate[];
  readonly signer: Signer;
}

const caError = (message: string, cause?: unknown): PortcullisError =>
  new PortcullisError('PCL_ERR_CA_INVALID', message, cause === undefined ? undefined : { cause });

const errnoText = (error: unknown): string => {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'ENOENT' ? 'file not found (ENOENT)' : code === 'EACCES' ? 'permission denied (EACCES)' : (error as Error).message;
};

/** The certificate's signing key as a non-extractable WebCrypto key, with the matching signature algorithm. */
const importSigner = async (crypto: WebCrypto, key: KeyObject, keyFile: string): Promise<Signer> => {
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

/** Reads a CA certificate (plus any chain after it) and its key, and checks they belong together. */
const loadCaFiles = async (crypto: WebCrypto, certFile: string, keyFile: string, now: number): Promise<LoadedCa> => {
  let certText: string;
  let keyText: string;
  try {
    certText = await readFile(certFile, 'utf8');
  } catch (error) {
    throw caError(`cannot read the CA certificate ${certFile}: ${errnoText(error)}`, error);
  }
  try {
    keyText = await readFile(keyFile, 'utf8');
  } catch (error) {
    throw caError(`cannot read the CA key ${keyFile}: ${errnoText(error)}`, error);
  }
  const blocks = certText.match(PEM_CERT) ?? [];
  if (blocks.length === 0) throw caError(`${certFile} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  let certs: x509.X509Certificate[];
  let node: NodeX509Certificate;
  try {
    certs = blocks.map((block) => new x509.X509Certificate(block));
    node = new NodeX509Certificate(blocks[0] as string);
  } catch (error) {
    throw caError(`${certFile}: not a valid certificate: ${(error as Error).message}`, error);
  }
  const cert = certs[0] as x509.X509Certificate;
  if (!node.ca) throw caError(`${certFile}: the first certificate (${node.subject.replace(/\n/g, ', ')}) is not a CA (basicConstraints CA:TRUE is missing)`);
  const usage = cert.getExtension(x509.KeyUsagesExtension);
  if (usage && (usage.usages & x509.KeyUsageFlags.keyCertSign) === 0) throw caError(`${certFile}: the CA certificate's keyUsage does not allow keyCertSign`);
  if (cert.notAfter.getTime() <= now) throw caError(`${certFile}: the CA certificate expired on ${cert.notAfter.toISOString()}`);
  let key: KeyObject;
  try {
    key = createPrivateKey(keyText);
  } catch (error) {
    const encrypted = /passphrase/i.test((error as Error).message) || keyText.includes('ENCRYPTED');
    throw caError(`${keyFile}: ${encrypted ? 'encrypted keys are not supported; store the key unencrypted with mode 0600' : `not a PEM private key: ${(error as Error).message}`}`, error);
  }
  if (!node.checkPrivateKey(key)) throw caError(`${keyFile} does not match the certificate in ${certFile} (their public keys differ)`);
  return { cert, node, chain: certs.slice(1), signer: await importSigner(crypto, key, keyFile) };
};

const randomSerial = (): string => {
  const bytes = randomBytes(16);
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) || 0x01;
  return bytes.toString('hex');
};

const exists = async (file: string): Promise<boolean> => stat(file).then(() => true, (error: NodeJS.ErrnoException) => {
  if (error.code === 'ENOENT') return false;
  throw caError(`cannot inspect ${file}: ${errnoText(error)}`, error);
});

/** Writes a file in full under a temporary name with `mode`, synced; returns that name. */
const writeTemp = async (file: string, data: string, mode: number): Promise<string> => {
  const temp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const handle = await open(temp, 'wx', mode);
  try {
    await handle.writeFile(data);
    await handle.chmod(mode);
    await handle.sync();
  } finally {
    await handle.close();
  }
  return temp;
};

/** Permitted subtrees for the hosts rules name: a name (or *.name) permits it and its subdomains. */
export const nameConstraintsExtension = (entries: readonly string[]): x509.Extension => {
  const names = new Set<string>();
  const addresses = new Set<string>();
  for (const entry of entries) {
    const parsed = parseHostPattern(entry);
    if (!parsed.ok) throw caError(`name constraint ${JSON.stringify(entry)}: ${parsed.error}`);
    const pattern = parsed.value;
    if (pattern.kind === 'exact') names.add(pattern.name);
    else if (pattern.kind === 'subdomains') names.add(pattern.suffix);
    else if (pattern.kind === 'ip') {
      const address = ipaddr.parse(pattern.address);
      addresses.add(`${address.toNormalizedString()}/${address.kind() === 'ipv6' ? 128 : 32}`);
    } else {
      const [address, bits] = pattern.range;
      const network = address.kind() === 'ipv6'
        ? ipaddr.IPv6.networkAddressFromCIDR(`${address.toString()}/${bits}`)
        : ipaddr.IPv4.networkAddressFromCIDR(`${address.toString()}/${bits}`);
      addresses.add(`${network.toNormalizedString()}/${bits}`);
    }
  }
  // A subtree already covered by a shorter one adds nothing ("a.example.com" under "example.com").
  const dns = [...names].filter((name) => ![...names].some((other) => other !== name && name.endsWith(`.${other}`))).sort();
  // Without any entry of a type, that type would be unconstrained: permit only what cannot occur.
  if (dns.length === 0) dns.push('invalid');
  const ips = addresses.size > 0 ? [...addresses].sort() : ['0.0.0.0/32', '::/128'];
  const subtrees = [
    ...dns.map((dNSName) => new GeneralSubtree({ base: new GeneralName({ dNSName }) })),
    ...ips.map((iPAddress) => new GeneralSubtree({ base: new GeneralName({ iPAddress }) })),
  ];
  const value = AsnConvert.serialize(new NameConstraints({ permittedSubtrees: new GeneralSubtrees(subtrees) }));
  return new x509.Extension(id_ce_nameConstraints, true, value);
};

/** Every host entry of every rule: what a generated CA with name_constraints may issue for. */
export const nameConstraintsFromRules = (rules: ProxyConfig['rules']): string[] => [...new Set(rules.flatMap((rule) => rule.hosts))];

/** The CA options a config asks for; `run` and `ca export` must agree, so both use this. */
export const caOptionsFromConfig = (config: ProxyConfig): CertificateAuthorityOptions => ({
  stateDir: config.state_dir,
  leafKey: config.ca.leaf_key,
  cacheSize: config.ca.cache_size,
  ...(config.ca.cert !== undefined && config.ca.key !== undefined && { cert: config.ca.cert, key: config.ca.key }),
  ...(config.ca.name_constraints && { nameConstraints: nameConstraintsFromRules(config.rules) }),
});

/** Creates the CA files; false when another process created them first (theirs are kept). */
const generateCa = async (crypto: WebCrypto, certFile: string, keyFile: string, now: number, constraints: readonly string[] | undefined): Promise<boolean> => {
  const pair = await generateKeyPairAsync('ecdsa');
  const signer = await importSigner(crypto, pair.privateKey, keyFile);
  const spki = pair.publicKey.export({ type: 'spki', format: 'der' });
  const ski = await x509.SubjectKeyIdentifierExtension.create(spki, false, crypto);
  const notBefore = new Date(now - HOUR);
  const notAfter = new Date(notBefore);
  notAfter.setUTCFullYear(notAfter.getUTCFullYear() + CA_YEARS);
  const name: Record<string, string[]>[] = [{ O: ['Portcullis'] }, { CN: [`Portcullis CA ${randomBytes(4).toString('hex')}`] }];
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(), subject: name, issuer: name, notBefore, notAfter,
    publicKey: spki, signingKey: signer.key, signingAlgorithm: signer.algorithm,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      ski,
      new x509.AuthorityKeyIdentifierExtension(ski.keyId),
      ...(constraints === undefined ? [] : [nameConstraintsExtension(constraints)]),
    ],
  }, crypto);
  const keyTemp = await writeTemp(keyFile, pair.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, 0o600);
  const certTemp = await writeTemp(certFile, cert.toString('pem') + '\n', 0o644);
  try {
    // link() claims the key name exclusively: when another process got there first, keep its CA.
    return await link(keyTemp, keyFile).then(async () => {
      await rename(certTemp, certFile);
      return true;
    }, (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EEXIST') throw error;
      return false;
    });
  } finally {
    await unlink(keyTemp).catch(() => undefined);
    await unlink(certTemp).catch(() => undefined);
  }
};

/** Finds, checks or creates the CA in state_dir; brought files win when configured. */
const loadStateCa = async (crypto: WebCrypto, options: CertificateAuthorityOptions, now: number, warnings: string[]): Promise<LoadedCa & { certFile: string; keyFile: string; created: boolean }> => {
  const certFile = path.join(options.stateDir, CA_CERT_FILE);
  const keyFile = path.join(options.stateDir, CA_KEY_FILE);
  let created = false;
  try {
    await mkdir(options.stateDir, { recursive: true, mode: 0o700 });
    if (!(await exists(keyFile)) && !(await exists(certFile))) {
      created = await generateCa(crypto, certFile, keyFile, now, options.nameConstraints);
    }
  } catch (error) {
    if (error instanceof PortcullisError) throw error;
    throw new PortcullisError('PCL_ERR_CA_WRITE', `cannot create the CA in ${options.stateDir}: ${errnoText(error)}${stateDirAdvice(options.stateDir, (error as NodeJS.ErrnoException).code, process.getuid?.())}`, { cause: error });
  }
  // Another process may be between writing the key and the certificate: give it a moment.
  for (let attempt = 0; attempt < 20 && !(await exists(certFile)) && (await exists(keyFile)); attempt += 1) await sleep(100);
  const [hasCert, hasKey] = [await exists(certFile), await exists(keyFile)];
  if (hasCert !== hasKey) {
    const [found, missing] = hasCert ? [certFile, keyFile] : [keyFile, certFile];
    throw caError(`found ${found} but not ${missing}; restore it, or delete ${found} to generate a new CA (clients must then trust the new one)`);
  }
  const info = await stat(keyFile);
  if ((info.mode & 0o077) !== 0) {
    const mode = (info.mode & 0o777).toString(8);
    await chmod(keyFile, 0o600).then(
      () => warnings.push(`${keyFile} was readable by others (mode ${mode}); tightened to 0600`),
      (error: unknown) => warnings.push(`${keyFile} is readable by others (mode ${mode}) and could not be tightened: ${errnoText(error)}`),
    );
  }
  const loaded = await loadCaFiles(crypto, certFile, keyFile, now);
  if (options.nameConstraints !== undefined) {
    const wanted = Buffer.from(nameConstraintsExtension(options.nameConstraints).value);
    const present = loaded.cert.getExtension(id_ce_nameConstraints);
    if (present === null || !wanted.equals(Buffer.from(present.value))) {
      const has = present === null ? 'has no name constraints' : 'is constrained to other hosts than the rules now name';
      warnings.push(`the CA in ${certFile} ${has}; delete ${certFile} and ${keyFile} to generate a new one (clients must then trust it)`);
    }
  }
  return { ...loaded, certFile, keyFile, created };
};

interface LeafKey {
  readonly publicKey: KeyObject;
  readonly privateKey: KeyObject;
}

const generateKeyPairAsync = (kind: 'ecdsa' | 'rsa'): Promise<LeafKey> => new Promise((resolve, reject) => {
  const done = (error: Error | null, publicKey: KeyObject, privateKey: KeyObject): void => {
    if (error) reject(error);
    else resolve({ publicKey, privateKey });
  };
  if (kind === 'rsa') generateKeyPair('rsa', { modulusLength: 2048, publicExponent: 0x10001 }, done);
  else generateKeyPair('ec', { namedCurve: 'prime256v1' }, done);
});

/** Fresh leaf keys, generated in libuv's pool; a few are kept ready so a first request rarely waits. */
const createLeafKeySource = (kind: 'ecdsa' | 'rsa', poolSize: number): (() => Promise<LeafKey>) => {
  if (poolSize <= 0) return () => generateKeyPairAsync(kind);
  const ready: LeafKey[] = [];
  let pending = 0;
  const refill = (): void => {
    while (ready.length + pending < poolSize) {
      pending += 1;
      generateKeyPairAsync(kind).then((key) => { ready.push(key); }, () => undefined).finally(() => { pending -= 1; });
    }
  };
  refill();
  return () => {
    const key = ready.shift();
    refill();
    return key ? Promise.resolve(key) : generateKeyPairAsync(kind);
  };
};

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
    const spki = key.publicKey.export({ type: 'spki', format: 'der' });
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
    return { certPem: certPem + servedChain, keyPem: key.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, notAfter };
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
