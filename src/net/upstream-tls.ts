import type net from 'node:net';
import tls from 'node:tls';
import { PortcullisError } from '../errors.js';

/** How Portcullis speaks TLS to origins. */
export interface UpstreamTlsSettings {
  /** Trusted roots: the system store plus configured extra CA certificates (PEM). */
  readonly ca: readonly string[];
  readonly minVersion: tls.SecureVersion;
  /**
   * Those roots and that version, built once: passing `ca` to every tls.connect would parse a
   * few hundred certificates per upstream connection (150-200 ms of CPU each, measured).
   */
  readonly context: tls.SecureContext;
}

const CERT_PROBLEMS: Record<string, string> = {
  CERT_HAS_EXPIRED: 'the origin certificate has expired',
  CERT_NOT_YET_VALID: 'the origin certificate is not yet valid',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'the origin certificate is self-signed',
  SELF_SIGNED_CERT_IN_CHAIN: 'the origin certificate chain ends in an untrusted self-signed root',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'the origin certificate is not signed by a trusted CA',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'the origin certificate issuer is not trusted',
  UNABLE_TO_GET_ISSUER_CERT: 'the origin certificate issuer is not trusted',
  ERR_TLS_CERT_ALTNAME_INVALID: 'the origin certificate does not name this host',
  CERT_REVOKED: 'the origin certificate is revoked',
  CERT_SIGNATURE_FAILURE: 'the origin certificate signature is invalid',
};

/** Names what went wrong in an upstream TLS handshake, for the 502 body and Proxy-Status. */
export const describeTlsFailure = (error: NodeJS.ErrnoException, host: string): PortcullisError => {
  const code = error.code ?? '';
  const problem = CERT_PROBLEMS[code];
  if (problem) return new PortcullisError('PCL_ERR_UPSTREAM_TLS', `${problem} (${code}) for ${host}`, { cause: error });
  return new PortcullisError('PCL_ERR_UPSTREAM_TLS_HANDSHAKE', `TLS handshake with ${host} failed: ${error.message}`, { cause: error });
};

/**
 * A TLS session to offer for resumption, and where to keep the sessions the origin issues. Both
 * belong to one origin host name: Node skips the host-name check on a resumed session, which is
 * sound only when the session was verified for that same name.
 */
export interface UpstreamTlsResumption {
  readonly session: Buffer | undefined;
  keep(session: Buffer): void;
}

/** Wraps a dialed TCP socket in verified client TLS: SNI and identity check against `host`. */
export const startUpstreamTls = (
  socket: net.Socket, host: { name: string; isIp: boolean }, settings: UpstreamTlsSettings, alpn: readonly string[], timeoutMs: number,
  resumption?: UpstreamTlsResumption,
): Promise<tls.TLSSocket> =>
  new Promise((resolve, reject) => {
    const secure = tls.connect({
      socket,
      host: host.name,
      ...(host.isIp ? {} : { servername: host.name }),
      secureContext: settings.context,
      ALPNProtocols: alpn as string[],
      rejectUnauthorized: true,
      ...(resumption?.session !== undefined ? { session: resumption.session } : {}),
    });
    // TLS 1.3 issues tickets after the handshake, TLS 1.2 during it: keep the newest, for as
    // long as the connection lives.
    if (resumption !== undefined) secure.on('session', (session: Buffer) => resumption.keep(session));
    const timer = setTimeout(() => {
      secure.destroy();
      reject(new PortcullisError('PCL_ERR_UPSTREAM_TIMEOUT', `TLS handshake with ${host.name} timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    const onError = (error: NodeJS.ErrnoException): void => {
      clearTimeout(timer);
      secure.destroy();
      reject(describeTlsFailure(error, host.name));
    };
    secure.once('secureConnect', () => {
      clearTimeout(timer);
      secure.off('error', onError);
      resolve(secure);
    });
    secure.once('error', onError);
  });
