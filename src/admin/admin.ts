import type { FlowRecord } from '../flow/flow-record.js';
import { silentLogger, type Logger } from '../logging/logger.js';
import type { AdminContext, AdminProxy, ReloadResult } from './admin-context.js';
import { createAdminServer } from './admin-server.js';
import { createFlowRing } from './flow-ring.js';
import { createFlowStream } from './flow-stream.js';
import type { LiveStats } from './flow-view.js';
import { createProxyMetrics } from './metrics.js';
import { createRateMeter } from './rate-meter.js';
import { createRuleCounters } from './rule-counters.js';
import { portcullisVersion } from './version.js';

export type { ReloadResult } from './admin-context.js';

export const DEFAULT_FLOW_BUFFER = 1000;

export interface AdminOptions {
  /** "host:port" for the admin listener; port 0 picks a free one. */
  readonly address: string;
  /** Required of clients off loopback (see resolveAdminToken). */
  readonly token?: string;
  /** How many finished flows the dashboard and API keep (a ring buffer). */
  readonly flowBuffer?: number;
  /** Reloads the config file; without it, POST /api/reload answers 409. */
  readonly reload?: () => Promise<ReloadResult>;
  readonly dashboardDir?: string;
  readonly logger?: Logger;
  readonly now?: () => number;
}

/** One proxy's observer and admin listener: feed it every finished flow with `record`. */
export interface Admin {
  /** The proxy's onFlow observer: buffer, counters, metrics, live stream. */
  record(record: FlowRecord): void;
  /** Reloads the config (the API's and SIGHUP's shared path), counting the outcome. */
  reload(): Promise<ReloadResult>;
  liveStats(): LiveStats;
  /** Binds the admin listener; resolves with its "host:port". */
  listen(): Promise<string>;
  /** Marks the proxy as ready (/readyz) or not. */
  setReady(ready: boolean): void;
  close(): Promise<void>;
}

export const createAdmin = (proxy: AdminProxy, options: AdminOptions): Admin => {
  const now = options.now ?? Date.now;
  const logger = options.logger ?? silentLogger;
  const startedAt = now();
  const ring = createFlowRing(options.flowBuffer ?? DEFAULT_FLOW_BUFFER);
  const counters = createRuleCounters();
  const rate = createRateMeter(5);
  const totals = { flows: 0, denied: 0, wouldDeny: 0 };
  let loadedAt = startedAt;
  let ready = false;
  const version = portcullisVersion();

  const metrics = createProxyMetrics({
    activeConnections: () => proxy.stats().activeConnections ?? 0,
    certificates: () => {
      try {
        return proxy.ca().stats();
      } catch {
        return undefined; // not loaded yet
      }
    },
    ruleCount: () => proxy.state().config.rules.length,
    version,
  });

  const liveStats = (): LiveStats => {
    const at = now();
    return {
      ...totals,
      activeConnections: proxy.stats().activeConnections ?? 0,
      flowsPerSecond: rate.rate(at),
      uptimeSeconds: Math.max(0, Math.round((at - startedAt) / 1000)),
    };
  };

  const stream = createFlowStream({ ring, stats: liveStats });

  const reload = async (): Promise<ReloadResult> => {
    if (options.reload === undefined) {
      return { ok: false, unavailable: true, problems: ['this proxy runs without a config file (-c FILE), so there is nothing to reload'] };
    }
    let result: ReloadResult;
    try {
      result = await options.reload();
    } catch (error) {
      result = { ok: false, problems: [(error as Error).message] };
    }
    if (!result.ok && result.unavailable) return result;
    metrics.reloaded(result.ok);
    if (result.ok) loadedAt = now();
    return result;
  };

  const ctx: AdminContext = {
    proxy, ring, counters, metrics, stream, version, liveStats, reload,
    policyLoadedAt: () => loadedAt,
    ready: () => ready,
  };
  const server = createAdminServer(ctx, {
    address: options.address, logger,
    ...(options.token !== undefined ? { token: options.token } : {}),
    ...(options.dashboardDir !== undefined ? { dashboardDir: options.dashboardDir } : {}),
  });

  return {
    record(record) {
      totals.flows += 1;
      if (record.verdict === 'deny') totals.denied += 1;
      if (record.wouldDeny === true) totals.wouldDeny += 1;
      rate.mark(now());
      counters.record(record);
      metrics.observe(record);
      stream.publish(ring.push(record));
    },
    reload,
    liveStats,
    listen: () => server.listen(),
    setReady: (value) => {
      ready = value;
    },
    close: () => {
      ready = false;
      return server.close();
    },
  };
};
