import { randomBytes } from 'node:crypto';
import type { ProxyConfig } from './config/schema.js';
import type { FlowRecord } from './flow/flow-record.js';
import { silentLogger, type Logger } from './logging/logger.js';
import { createUpstreamPools } from './net/upstream-pools.js';
import { caOptionsFromConfig, loadOrCreateCertificateAuthority, type CertificateAuthority } from './tls/certificate-authority.js';
import { createListener, type Listener } from './net/listener.js';
import { createDnsListener } from './net/dns-listener.js';
import { createServiceRecordSource } from './net/dns-upstream.js';
import { createExfiltrationGuard } from './pipeline/exfiltration-guard.js';
import type { LookupAll } from './net/resolver.js';
import { createOriginalDestinationSource, type OriginalDestinationSource } from './net/original-destination.js';
import { buildProxyState, type ProxyState } from './proxy-state.js';
import { createAddonHost } from './addons/addon-host.js';
import { loadAddons } from './addons/load-addons.js';
import { createRateLimiter } from './pipeline/rate-limiter.js';
import type { Clock, ProxyRuntime } from './runtime.js';

export interface ProxyDeps {
  readonly logger?: Logger;
  readonly clock?: Clock;
  /** DNS lookup used for names not pinned in `resolve:`; the system resolver by default. */
  readonly lookup?: LookupAll;
  /** Receives every finished flow (access log, dashboard, tests). */
  readonly onFlow?: (record: FlowRecord) => void;
  /** Where transparent listeners read a connection's original destination; SO_ORIGINAL_DST by default. */
  readonly originalDestination?: OriginalDestinationSource;
  /** Log which CA was loaded or created (default true); worker processes leave that to the primary. */
  readonly announceCa?: boolean;
  /**
   * The part of each DNS client budget (dns.exfiltration rate and new_name_budget) this process
   * enforces: 1 alone, 1/N in each of N worker processes sharing the DNS listeners.
   */
  readonly dnsBudgetShare?: number;
  /** A ready CA (tests share one); otherwise start() loads or creates it in state_dir. */
  readonly certificateAuthority?: CertificateAuthority;
}

export interface Proxy {
  /** Binds every listener; resolves with their bound addresses, in config order. */
  start(): Promise<string[]>;
  /** Stops accepting; in-flight requests and tunnels get `graceMs` to finish, then are dropped. */
  close(options?: { graceMs?: number }): Promise<void>;
  /**
   * Swaps in a new policy atomically; connections already established keep going. With worker
   * processes it settles once every worker runs the new policy (rejecting if one refused it).
   */
  reload(config: ProxyConfig): void | Promise<void>;
  state(): ProxyState;
  /** The loaded CA (after start()). */
  ca(): CertificateAuthority;
  readonly listeners: readonly Listener[];
  /** Counters since start. */
  stats(): { readonly flows: number; readonly denied: number; readonly wouldDeny: number; readonly activeConnections: number };
}

/** The one notice about the CA: created (clients must now trust it) or loaded, and its warnings. */
export const announceCa = (logger: Logger, authority: CertificateAuthority): void => {
  logger.info({ cert: authority.certFile, fingerprint256: authority.fingerprint256, created: authority.created },
    authority.created ? 'created a new CA; clients that should accept intercepted TLS must trust it (portcullis ca trust)' : 'CA loaded');
  for (const warning of authority.warnings) logger.warn({ cert: authority.certFile }, warning);
};

/** The one construction point: builds the state, the upstream pool and the listeners. */
export const createProxy = (config: ProxyConfig, deps: ProxyDeps = {}): Proxy => {
  const logger = deps.logger ?? silentLogger;
  const stateDeps = { ...(deps.lookup ? { lookup: deps.lookup } : {}), logger };
  // Addons load asynchronously: until start() has loaded them, no hook runs (no listener is up either).
  let current = buildProxyState(config, stateDeps);
  let addonGeneration = 0;
  /** The state of `next` with its addons loaded; throws (the old state stays) when one does not load. */
  const stateWithAddons = async (next: ProxyConfig): Promise<ProxyState> => {
    if (next.addons.length === 0) return buildProxyState(next, stateDeps);
    addonGeneration += 1;
    const addons = createAddonHost(await loadAddons(next.addons, addonGeneration), { budgetMs: () => current.config.timeouts.addon, logger });
    return buildProxyState(next, { ...stateDeps, addons });
  };
  const clock = deps.clock ?? { now: () => Date.now() };
  const idPrefix = randomBytes(4).toString('hex');
  let flowCounter = 0;
  let authority = deps.certificateAuthority;
  const counters = { flows: 0, denied: 0, wouldDeny: 0 };
  const runtime: ProxyRuntime = {
    state: () => current,
    clock,
    logger,
    nextFlowId: () => `${idPrefix}-${(flowCounter += 1).toString(36)}`,
    recordFlow: (record) => {
      counters.flows += 1;
      if (record.verdict === 'deny') counters.denied += 1;
      if (record.wouldDeny) counters.wouldDeny += 1;
      try {
        deps.onFlow?.(record);
      } catch (error) {
        logger.error({ err: error }, 'flow observer failed');
      }
      current.addons.finished(record);
    },
    upstreamPools: createUpstreamPools({
      route: (key) => current.upstream.byKey(key), tls: () => current.upstreamTls,
      idleMs: config.timeouts.upstream_idle, handshakeTimeoutMs: () => current.config.timeouts.upstream_connect,
      http2: () => current.config.upstream?.http2 ?? true,
    }),
    certificateUsers: new WeakMap<object, string>(),
    ca: () => {
      if (!authority) throw new Error('the certificate authority is not loaded yet');
      return authority;
    },
    caForDownload: () => authority,
    rateLimiter: createRateLimiter(),
  };
  // SO_ORIGINAL_DST through the native addon, loaded (and logged) when a transparent listener starts.
  const listenerDeps = { originalDestination: deps.originalDestination ?? createOriginalDestinationSource({ logger }) };
  // DNS listeners share one exfiltration guard: a client's budgets are the same over UDP and TCP.
  const dnsDeps = { guard: createExfiltrationGuard(deps.dnsBudgetShare ?? 1), serviceRecords: createServiceRecordSource(() => current.config.dns.upstream) };
  const listeners = config.listen.map((listenerConfig) => (listenerConfig.mode === 'dns'
    ? createDnsListener(runtime, listenerConfig, dnsDeps)
    : createListener(runtime, listenerConfig, listenerDeps)));
  // Certificates for the exact host names that rules decrypt are made ahead of their first request.
  const prewarmLeaves = (): void => {
    for (const listener of listeners) listener.prewarmLeaves?.(current.policy.interceptedNames);
  };

  return {
    listeners,
    state: () => current,
    ca: () => runtime.ca(),
    stats: () => ({ ...counters, activeConnections: listeners.reduce((sum, listener) => sum + (listener.connections?.() ?? 0), 0) }),
    async start() {
      if (config.addons.length > 0) current = await stateWithAddons(config);
      if (!authority) {
        authority = await loadOrCreateCertificateAuthority(caOptionsFromConfig(config));
        if (deps.announceCa !== false) announceCa(logger, authority);
      }
      const bound: string[] = [];
      try {
        for (const listener of listeners) bound.push(await listener.listen());
      } catch (error) {
        await Promise.all(listeners.map((l) => l.close()));
        throw error;
      }
      prewarmLeaves();
      return bound;
    },
    async close(options = {}) {
      await Promise.all(listeners.map((l) => l.close(options.graceMs ?? 0)));
      await runtime.upstreamPools.close();
    },
    reload(next) {
      if (next.addons.length === 0) {
        current = buildProxyState(next, stateDeps);
        prewarmLeaves();
        return undefined;
      }
      return stateWithAddons(next).then((state) => {
        current = state;
        prewarmLeaves();
      });
    },
  };
};
