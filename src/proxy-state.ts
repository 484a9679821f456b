import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import type { ProxyConfig } from './config/schema.js';
import { PortcullisError } from './errors.js';
import type { UpstreamTlsSettings } from './net/tls-dialing-agent.js';
import { createAddressGuard } from './policy/address-guard.js';
import { compilePolicy, type CompiledPolicy } from './policy/policy-engine.js';
import { createResolver, type LookupAll } from './net/resolver.js';
import { createUpstreamDialer, type UpstreamDialer } from './net/upstream-dialer.js';

/**
 * Everything derived from one config: built once, immutable, swapped whole on reload so that
 * a decision never mixes two policies.
 */
export interface ProxyState {
  readonly config: ProxyConfig;
  readonly policy: CompiledPolicy;
  readonly dialer: UpstreamDialer;
  readonly upstreamTls: UpstreamTlsSettings;
}

/** Where Linux distributions keep the OS trust bundle (Debian/Ubuntu/Alpine, RHEL/Fedora, others). */
const SYSTEM_BUNDLES = ['/etc/ssl/certs/ca-certificates.crt', '/etc/pki/tls/certs/ca-bundle.crt', '/etc/ssl/cert.pem'];

/** The OS trust store, so a CA added with update-ca-certificates is trusted too; empty when none. */
const systemCaBundle = (): string[] => {
  for (const file of SYSTEM_BUNDLES) {
    try {
      return [readFileSync(file, 'utf8')];
    } catch {
      // try the next location
    }
  }
  return [];
};

/** Node's bundled Mozilla roots, the OS store and `upstream.tls.extra_ca` files, read once per config. */
const upstreamTlsSettings = (config: ProxyConfig): UpstreamTlsSettings => {
  const extra = (config.upstream?.tls?.extra_ca ?? []).map((file) => {
    try {
      return readFileSync(file, 'utf8');
    } catch (error) {
      throw new PortcullisError('PCL_ERR_CONFIG_READ', `upstream.tls.extra_ca: cannot read ${file}: ${(error as Error).message}`, { cause: error });
    }
  });
  return Object.freeze({ ca: Object.freeze([...tls.rootCertificates, ...systemCaBundle(), ...extra]), minVersion: config.upstream?.tls?.min_version ?? 'TLSv1.2' });
};

export const buildProxyState = (config: ProxyConfig, lookup?: LookupAll): ProxyState => {
  const policy = compilePolicy(config.rules);
  const resolver = createResolver(config.resolve, lookup);
  const dialer = createUpstreamDialer({
    resolver,
    addressCheck: createAddressGuard(config.destinations.allow_ranges),
    connectTimeoutMs: config.timeouts.upstream_connect,
  });
  return Object.freeze({ config, policy, dialer, upstreamTls: upstreamTlsSettings(config) });
};
