// @peculiar/x509 needs the Reflect metadata API loaded first (see certificate-authority.ts).
import 'reflect-metadata';
import { X509Certificate as NodeX509Certificate, createPrivateKey, randomBytes, type KeyObject } from 'node:crypto';
import { chmod, link, mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import * as x509 from '@peculiar/x509';
import { PortcullisError } from '../errors.js';
import { caError, errnoText, importSigner, type Signer, type WebCrypto } from './ca-signer.js';
import type { CertificateAuthorityOptions } from './certificate-authority.js';
import { generateKeyPairAsync } from './leaf-keys.js';
import { id_ce_nameConstraints, nameConstraintsExtension } from './name-constraints.js';
import { stateDirAdvice } from './state-dir-problem.js';

/** The CA's files as Portcullis finds or creates them in state_dir, checked before use. */
const HOUR = 3_600_000;
const CA_YEARS = 10;
const CA_CERT_FILE = 'ca.pem';
const CA_KEY_FILE = 'ca-key.pem';
const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

export interface LoadedCa {
  readonly cert: x509.X509Certificate;
  readonly node: NodeX509Certificate;
  readonly chain: readonly x509.X509Certificate[];
  readonly signer: Signer;
}

/** Reads a CA certificate (plus any chain after it) and its key, and checks they belong together. */
export const loadCaFiles = async (crypto: WebCrypto, certFile: string, keyFile: string, now: number): Promise<LoadedCa> => {
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

export const randomSerial = (): string => {
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
export const loadStateCa = async (crypto: WebCrypto, options: CertificateAuthorityOptions, now: number, warnings: string[]): Promise<LoadedCa & { certFile: string; keyFile: string; created: boolean }> => {
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
