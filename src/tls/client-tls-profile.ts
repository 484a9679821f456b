import { constants } from 'node:crypto';
import type tls from 'node:tls';
import type { ListenerConfig } from '../config/schema.js';

/**
 * What TLS clients of one listener may speak, and every server-side TLS setting Portcullis
 * uses when it is the TLS server: TLS to the proxy itself, intercepted tunnels, and
 * transparent-tls listeners. Build every server context with serverContextOptions().
 */
export interface ClientTlsProfile {
  readonly minVersion: tls.SecureVersion;
  readonly maxVersion: tls.SecureVersion;
  /** OpenSSL cipher string, TLS 1.3 suites included (Node hands those to SSL_CTX_set_ciphersuites). */
  readonly ciphers: string;
  /** True when the listener lets clients speak TLS 1.0 or 1.1 (the legacy bridge). */
  readonly legacy: boolean;
  /** OpenSSL SSL_OP_* flags: renegotiation refused, compression off, the server's cipher order. */
  readonly secureOptions: number;
  /** Pick the cipher by the server's order, not the client's. */
  readonly honorCipherOrder: true;
}

const ORDER: readonly tls.SecureVersion[] = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];

/**
 * TLS 1.3 suites, then TLS 1.2 with forward secrecy and an AEAD cipher only: no CBC (Lucky13,
 * padding oracles), no RSA key exchange (ROBOT, no forward secrecy), no SHA-1 MACs.
 */
export const MODERN_CIPHERS = [
  'TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256',
  'ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384', 'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305', 'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

/**
 * For a listener that asks for TLS 1.0/1.1 (an old client, seed document 001): those versions
 * have no AEAD ciphers, so CBC with ECDHE is added after the modern list, and RSA key exchange
 * last for clients without ECDHE; still no RC4, 3DES, export, anonymous or NULL ciphers.
 * OpenSSL 3 refuses TLS 1.0/1.1 and their SHA-1 signatures below security level 0.
 */
export const LEGACY_CIPHERS = `${MODERN_CIPHERS}:ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA:ECDHE-RSA-AES256-SHA:AES128-SHA:AES256-SHA:@SECLEVEL=0`;

/**
 * SSL_OP_NO_RENEGOTIATION: a client-initiated renegotiation (TLS 1.2 and earlier) is refused
 * with an alert instead of running a new handshake (a CPU cost the client chooses, and a way
 * to change the peer's identity mid-connection). SSL_OP_CIPHER_SERVER_PREFERENCE: our order.
 * SSL_OP_NO_COMPRESSION: no CRIME.
 */
export const SERVER_SECURE_OPTIONS = constants.SSL_OP_NO_RENEGOTIATION | constants.SSL_OP_CIPHER_SERVER_PREFERENCE | constants.SSL_OP_NO_COMPRESSION;

/** Builds the profile from a listener's `tls:`; an explicit `ciphers` is the operator's choice and is kept as written. */
export const clientTlsProfile = (listener: Pick<ListenerConfig, 'tls'>): ClientTlsProfile => {
  const minVersion = listener.tls?.min_version ?? 'TLSv1.2';
  const maxVersion = listener.tls?.max_version ?? 'TLSv1.3';
  const legacy = ORDER.indexOf(minVersion) < ORDER.indexOf('TLSv1.2');
  const ciphers = listener.tls?.ciphers ?? (legacy ? LEGACY_CIPHERS : MODERN_CIPHERS);
  return { minVersion, maxVersion, ciphers, legacy, secureOptions: SERVER_SECURE_OPTIONS, honorCipherOrder: true };
};

/** The certificate material of one server context. */
export interface ServerTlsMaterial {
  readonly cert: string | Buffer;
  readonly key: string | Buffer;
  /** CAs whose client certificates are accepted (TLS to the proxy with client_ca). */
  readonly ca?: string | Buffer | ReadonlyArray<string | Buffer>;
}

/** Options for tls.createSecureContext (or tls.createServer) of every server context a listener uses. */
export const serverContextOptions = (profile: ClientTlsProfile, material: ServerTlsMaterial): tls.SecureContextOptions => ({
  cert: material.cert,
  key: material.key,
  ...(material.ca !== undefined ? { ca: material.ca as tls.SecureContextOptions['ca'] } : {}),
  minVersion: profile.minVersion,
  maxVersion: profile.maxVersion,
  ciphers: profile.ciphers,
  honorCipherOrder: profile.honorCipherOrder,
  secureOptions: profile.secureOptions,
});
