import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import type { ProxyConfig } from './config/schema.js';
import { PortcullisError } from './errors.js';
import type { UpstreamTlsSettings } from './net/upstream-tls.js';
import { createBasicAuthenticator, type BasicAuthenticator } from './auth/basic-authenticator.js';
import { parseHtpasswd } from './auth/htpasswd.js';
import { createAddressGuard, type AddressGuard } from './policy/address-guard.js';
import { compilePolicy, type CompiledPolicy } from './policy/policy-engine.js';
import { createResolver, type LookupAll, type Resolver } from './net/resolver.js';
import { createParentDialers } from './net/parent-proxy-dialer.js';
import { parseParentProxyUrl, type ParentProxy } from './config/parent-proxy-url.js';
import { createUpstreamDialer, type UpstreamDialer } from './net/upstream-dialer.js';

/**
 * Everything derived from one config: built once, immutable, swapped whole on reload so that
 * a decision never mixes two policies.
 */
export interface ProxyState {
  readonly config: ProxyConfig;
  readonly policy: CompiledPolicy;
  /** Reaches a destination as a byte stream: tunnels, TLS to origins, upgrades. */
  readonly dialer: UpstreamDialer;
  /** Reaches where plain-HTTP requests go: the destination, or the parent proxy when one is set. */
  readonly httpDialer: UpstreamDialer;
  /** Set when `upstream.proxy` is: plain-HTTP requests are sent to it in absolute form. */
  readonly parent?: ParentProxy;
  readonly upstreamTls: UpstreamTlsSettings;
  /** Names to addresses: `resolve:` pins, then DNS. The dialers use it; so does verification through a parent proxy. */
  readonly resolver: Resolver;
  /** Which resolved addresses may be dialed (destinations.allow_ranges); the DNS listener answers only those. */
  readonly addressGuard: AddressGuard;
  /** Present when `auth.basic` is configured: every client must authenticate. */
  readonly authenticator?: BasicAuthenticator;
}

/** Loads the users file; a bad file is a config error naming file and line. */
const loadAuthenticator = (config: ProxyConfig, now: () => number): BasicAuthenticator | undefined => {
  const basic = config.auth?.basic;
  if (!basic) return undefined;
  let text: string;
  try {
    text = readFileSync(basic.users_file, 'utf8');
  } catch (error) {
    throw new PortcullisError('PCL_ERR_CONFIG_READ', `auth.basic.users_file: cannot read ${basic.users_file}: ${(error as Error).message}`, { cause: error });
  }
  const parsed = parseHtpasswd(text);
  if (!parsed.ok) {
    throw new PortcullisError('PCL_ERR_CONFIG_INVALID', parsed.problems.map((p) => `${basic.users_file}:${p.line} ${p.message}`).join('; '));
  }
  return createBasicAuthenticator(parsed.users, basic.realm, now);
};

/** `upstream.proxy` parsed, or undefined. */
const parentProxyOf = (config: ProxyConfig): ParentProxy | undefined => {
  const url = config.upstream?.proxy;
  if (url === undefined) return undefined;
  const parsed = parseParentProxyUrl(url);
  if (!parsed.ok) throw new PortcullisError('PCL_ERR_CONFIG_INVALID', parsed.error);
  return parsed.value;
};

/** Rules as the policy sees them: "group:NAME" in `users` replaced by the group's members. */
export const expandGroups = (config: ProxyConfig): ProxyConfig['rules'] => {
  const groups = config.auth?.groups ?? {};
  return config.rules.map((rule) => rule.users === undefined ? rule : {
    ...rule,
    users: rule.users.flatMap((user) => {
      if (!user.startsWith('group:')) return [user];
      const members = groups[user.slice(6)];
      if (members === undefined) throw new PortcullisError('PCL_ERR_CONFIG_INVALID', `rule "${rule.name}": unknown group "${user.slice(6)}" (define it under auth.groups)`);
      return members;
    }),
  });
};

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
  const ca = Object.freeze([...tls.rootCertificates, ...systemCaBundle(), ...extra]);
  const minVersion = config.upstream?.tls?.min_version ?? 'TLSv1.2';
  return Object.freeze({ ca, minVersion, context: tls.createSecureContext({ ca: [...ca], minVersion }) });
};

export const buildProxyState = (config: ProxyConfig, lookup?: LookupAll, now: () => number = Date.now): ProxyState => {
  const policy = compilePolicy(expandGroups(config));
  const authenticator = loadAuthenticator(config, now);
  const resolver = createResolver(config.resolve, lookup);
  const parent = parentProxyOf(config);
  const addressGuard = createAddressGuard(config.destinations.allow_ranges);
  const direct = createUpstreamDialer({
    resolver,
    addressCheck: addressGuard,
    connectTimeoutMs: config.timeouts.upstream_connect,
  });
  const viaParent = parent
    ? createParentDialers(parent, resolver, { connectMs: config.timeouts.upstream_connect, responseMs: config.timeouts.upstream_response })
    : undefined;
  return Object.freeze({
    config, policy, resolver, addressGuard,
    dialer: viaParent?.tunnel ?? direct,
    httpDialer: viaParent?.direct ?? direct,
    ...(parent ? { parent } : {}),
    upstreamTls: upstreamTlsSettings(config),
    ...(authenticator ? { authenticator } : {}),
  });
};
