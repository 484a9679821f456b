/**
 * The CA the intercepting proxies sign their minted certificates with (S4, S5, S8). One
 * throw-away ECDSA P-256 CA, made with the openssl CLI, is given to all three — Portcullis
 * (`ca.cert`/`ca.key`), Squid (`tls-cert=`/`tls-key=`) and mitmproxy (`confdir/mitmproxy-ca.pem`)
 * — so every client handshake is verified against the same kind of key, and the load generator
 * trusts just this one certificate.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { runCommand } from './procs.js';

export interface InterceptCa {
  /** PEM certificate: what clients trust. */
  readonly certFile: string;
  /** PEM private key (PKCS#8). */
  readonly keyFile: string;
  /** Key then certificate in one PEM file (mitmproxy's `mitmproxy-ca.pem` layout). */
  readonly bundleFile: string;
  readonly commandLine: string;
}

export const makeInterceptCa = async (dir: string): Promise<InterceptCa> => {
  const certFile = path.join(dir, 'intercept-ca.pem');
  const keyFile = path.join(dir, 'intercept-ca-key.pem');
  const args = [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', '/O=Portcullis bench/CN=Portcullis bench interception CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ];
  const made = await runCommand('openssl', args, 30_000);
  if (made.code !== 0) throw new Error(`openssl (interception CA) failed: ${made.stderr}`);
  const bundleFile = path.join(dir, 'intercept-ca-bundle.pem');
  writeFileSync(bundleFile, `${readFileSync(keyFile, 'utf8').trimEnd()}\n${readFileSync(certFile, 'utf8')}`);
  return { certFile, keyFile, bundleFile, commandLine: `openssl ${args.join(' ')}` };
};
