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
import { createUpstreamRoutes, type UpstreamRoutes } from './net/upstream-routes.js';
import { createUpstreamDialer } from './net/upstream-dialer.js';
import { compileRequestControls, type RequestControls } from './pipeline/request-controls.js';
import { noAddons, type AddonHost } from './addons/addon-host.js';
import { silentLogger, type Logger } from './logging/logger.js';

/**
 * Everything derived from one config: built once, immutable, swapped whole on reload so that
 * a decision never mixes two policies.
 */
export interface ProxyState {
  readonly config: ProxyConfig;
  readonly policy: CompiledPolicy;
  /** The ways out: direct (resolve once, address guard, the checked address), or a parent proxy, per destination and rule. */
  readonly upstream: UpstreamRoutes;
  readonly upstreamTls: UpstreamTlsSettings;
  /** Names to addresses: `resolve:` pins, then DNS. The dialers use it; so does verification through a parent proxy. */
  readonly resolver: Resolver;
  /** The config's addons and their hooks. */
  readonly addons: AddonHost;
  /** Header rules, credentials to inject and budgets, per rule. */
  readonly controls: RequestControls;
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

/**
 * The secret of rules[ruleIndex].inject[entryIndex]: the environment variable or the file (its
 * trailing newline dropped), read now; a reload reads them again (a rotated file is picked up).
 * Errors name the rule and the source, never a value.
 */
const secretReader = (config: ProxyConfig, env: NodeJS.ProcessEnv) => (ruleIndex: number, entryIndex: number): string => {
  const rule = config.rules[ruleIndex];
  const source = rule?.inject?.[entryIndex]?.secret;
  const where = `rules[${ruleIndex}] (${rule?.name ?? '?'}).inject[${entryIndex}].secret`;
  if (source === undefined) throw new PortcullisError('PCL_ERR_CONFIG_INVALID', `${where}: missing`);
  if ('env' in source) {
    const value = env[source.env];
    if (value === undefined || value === '') throw new PortcullisError('PCL_ERR_CONFIG_INVALID', `${where}: the environment variable ${source.env} is not set`);
    return value;
  }
  try {
    const value = readFileSync(source.file, 'utf8').replace(/\r?\n$/, '');
    if (value === '') throw new Error('the file is empty');
    return value;
  } catch (error) {
    throw new PortcullisError('PCL_ERR_CONFIG_READ', `${where}: cannot read ${source.file}: ${(error as Error).message}`, { cause: error });
  }
};

/** What buildProxyState takes besides the config; all optional. */
export interface StateDeps {
  /** DNS lookup for names not pinned in `resolve:` (the system resolver by default). */
  readonly lookup?: LookupAll;
  readonly now?: () => number;
  /** Where `inject` secrets given as { env } are read (process.env by default). */
  readonly env?: NodeJS.ProcessEnv;
  /** The addons of this config, loaded (loadAddons is asynchronous; the caller awaits it first). */
  readonly addons?: AddonHost;
  readonly logger?: Logger;
}

export const buildProxyState = (config: ProxyConfig, deps: StateDeps = {}): ProxyState => {
  const { lookup, now = Date.now, env = process.env } = deps;
  const policy = compilePolicy(expandGroups(config));
  const authenticator = loadAuthenticator(config, now);
  const resolver = createResolver(config.resolve, lookup);
  const addressGuard = createAddressGuard(config.destinations.allow_ranges);
  const direct = createUpstreamDialer({
    resolver,
    addressCheck: addressGuard,
    connectTimeoutMs: config.timeouts.upstream_connect,
  });
  return Object.freeze({
    config, policy, resolver, addressGuard,
    controls: compileRequestControls(config, secretReader(config, env)),
    addons: deps.addons ?? noAddons(deps.logger ?? silentLogger),
    upstream: createUpstreamRoutes(config, resolver, direct),
    upstreamTls: upstreamTlsSettings(config),
    ...(authenticator ? { authenticator } : {}),
  });
};
