import type tls from 'node:tls';
import type { ListenerConfig } from '../config/schema.js';

/** What TLS clients of one listener may speak (intercepted tunnels and TLS to the proxy). */
export interface ClientTlsProfile {
  readonly minVersion: tls.SecureVersion;
  readonly maxVersion: tls.SecureVersion;
  readonly ciphers?: string;
}

const ORDER: readonly tls.SecureVersion[] = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];

/**
 * Builds the profile from a listener's `tls:`. Allowing TLS 1.0/1.1 (the legacy bridge of
 * seed document 001) also lowers OpenSSL's security level, without which OpenSSL 3 refuses
 * those versions and their SHA-1 based ciphers whatever minVersion says.
 */
export const clientTlsProfile = (listener: ListenerConfig): ClientTlsProfile => {
  const minVersion = listener.tls?.min_version ?? 'TLSv1.2';
  const maxVersion = listener.tls?.max_version ?? 'TLSv1.3';
  const legacy = ORDER.indexOf(minVersion) < ORDER.indexOf('TLSv1.2');
  const ciphers = listener.tls?.ciphers ?? (legacy ? 'DEFAULT:@SECLEVEL=0' : undefined);
  return ciphers === undefined ? { minVersion, maxVersion } : { minVersion, maxVersion, ciphers };
};
