import tls from 'node:tls';
import type { CanonicalHost } from '../flow/host.js';
import type { Clock } from '../runtime.js';
import { serverContextOptions, type ClientTlsProfile } from './client-tls-profile.js';
import { LruCache } from './lru-cache.js';

/** Where minted leaf certificates come from (the CertificateAuthority). */
export interface LeafSource {
  leafFor(host: CanonicalHost): Promise<{ readonly certPem: string; readonly keyPem: string; readonly notAfter: Date }>;
}

export interface LeafContexts {
  /** A server TLS context with a leaf minted for `host` and the listener's TLS settings; cached. */
  contextFor(host: CanonicalHost): Promise<tls.SecureContext>;
  size(): number;
}

const MAX_CONTEXTS = 1000;
/** The CA renews a leaf a day before it expires; contexts follow it. */
const RENEW_BEFORE_MS = 24 * 3600 * 1000;

/**
 * Server TLS contexts per host name, for one listener (they carry its TLS versions and ciphers,
 * and for TLS to the proxy its client CA). One mint per name at a time: concurrent handshakes
 * for a new name share the pending context.
 */
export const createLeafContexts = (clock: Clock, profile: ClientTlsProfile, leaves: () => LeafSource, clientCa?: string): LeafContexts => {
  const contexts = new LruCache<string, Promise<{ context: tls.SecureContext; notAfter: number }>>(MAX_CONTEXTS);
  const contextFor = async (host: CanonicalHost): Promise<tls.SecureContext> => {
    const cached = contexts.get(host.host);
    if (cached) {
      const entry = await cached;
      if (entry.notAfter - clock.now() > RENEW_BEFORE_MS) return entry.context;
      contexts.delete(host.host);
    }
    const created = leaves().leafFor(host).then((leaf) => ({
      notAfter: leaf.notAfter.getTime(),
      context: tls.createSecureContext(serverContextOptions(profile, {
        cert: leaf.certPem, key: leaf.keyPem, ...(clientCa !== undefined ? { ca: clientCa } : {}),
      })),
    }));
    created.catch(() => contexts.delete(host.host));
    contexts.set(host.host, created);
    return (await created).context;
  };
  return { contextFor, size: () => contexts.size };
};
