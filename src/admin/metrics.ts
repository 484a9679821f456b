import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { PortcullisErrorCode } from '../errors.js';
import type { FlowRecord } from '../flow/flow-record.js';
import { upstreamFailure } from '../http/proxy-status.js';
import { decisionOf } from './to-flow-view.js';

/** What the metrics read at scrape time. */
export interface MetricsSources {
  activeConnections(): number;
  /** Leaf certificate cache of the CA, when one is loaded. */
  certificates(): { readonly mints: number; readonly hits: number; readonly cached: number } | undefined;
  ruleCount(): number;
  readonly version: string;
}

export interface ProxyMetrics {
  /** Counts one finished flow. */
  observe(record: FlowRecord): void;
  /** Counts a config reload attempt (SIGHUP or the API). */
  reloaded(ok: boolean): void;
  /** Prometheus text exposition. */
  text(): Promise<string>;
  readonly contentType: string;
}

/** Query types with a label of their own; the rest are "other" (a client picks the type: the label set stays small). */
const DNS_TYPES = new Set(['A', 'AAAA', 'HTTPS', 'SVCB']);

/** Seconds; request durations through a proxy span from a millisecond to minutes. */
const DURATION_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

const isUpstreamError = (code: string | undefined): code is PortcullisErrorCode =>
  code !== undefined && (code === 'PCL_ERR_DNS_FAILED' || code.startsWith('PCL_ERR_UPSTREAM_'));

/** A counter that mirrors a monotonic number kept elsewhere (read at scrape time). */
const mirroredCounter = (registry: Registry, name: string, help: string, read: () => number | undefined): void => {
  let seen = 0;
  new Counter({
    name, help, registers: [registry],
    collect() {
      const value = read();
      if (value !== undefined && value > seen) {
        this.inc(value - seen);
        seen = value;
      }
    },
  });
};

/**
 * The proxy's Prometheus metrics, in a registry of their own (never prom-client's global
 * one), so several proxies in one process, as in the tests, each count only their traffic.
 */
export const createProxyMetrics = (sources: MetricsSources): ProxyMetrics => {
  const registry = new Registry();
  const registers = [registry];
  const requests = new Counter({
    name: 'portcullis_requests_total', help: 'HTTP requests (plain, and inside intercepted tunnels) by decision, reason code and rule.',
    labelNames: ['decision', 'reason', 'rule'] as const, registers,
  });
  const tunnels = new Counter({
    name: 'portcullis_tunnels_total', help: 'CONNECT tunnels by decision, reason code, rule and mode (splice or intercept).',
    labelNames: ['decision', 'reason', 'rule', 'mode'] as const, registers,
  });
  const dnsQueries = new Counter({
    name: 'portcullis_dns_queries_total', help: 'DNS queries to the DNS listeners by decision, reason code, rule and query type (A, AAAA, HTTPS, SVCB, other).',
    labelNames: ['decision', 'reason', 'rule', 'type'] as const, registers,
  });
  const exfiltration = new Counter({
    name: 'portcullis_dns_exfiltration_suspected_total', help: 'DNS queries refused as suspected exfiltration (dns-exfiltration-suspected), by client address.',
    labelNames: ['client'] as const, registers,
  });
  const duration = new Histogram({
    name: 'portcullis_request_duration_seconds', help: 'Time from request to the end of the response, by decision.',
    labelNames: ['decision'] as const, buckets: DURATION_BUCKETS, registers,
  });
  const bytesIn = new Counter({
    name: 'portcullis_client_bytes_in_total', help: 'Bytes from clients toward upstreams (request bodies, tunnel bytes), counted when each flow ends.',
    labelNames: ['kind'] as const, registers,
  });
  const bytesOut = new Counter({
    name: 'portcullis_client_bytes_out_total', help: 'Bytes from upstreams toward clients (response bodies, tunnel bytes), counted when each flow ends.',
    labelNames: ['kind'] as const, registers,
  });
  const upstreamErrors = new Counter({
    name: 'portcullis_upstream_errors_total', help: 'Failures reaching or talking to an upstream, by kind (RFC 9209 error type) and error code.',
    labelNames: ['kind', 'code'] as const, registers,
  });
  const reloads = new Counter({
    name: 'portcullis_config_reloads_total', help: 'Config reload attempts: ok, or refused (the old policy stayed).',
    labelNames: ['result'] as const, registers,
  });
  new Gauge({
    name: 'portcullis_active_connections', help: 'Client connections open now.', registers,
    collect() { this.set(sources.activeConnections()); },
  });
  new Gauge({
    name: 'portcullis_policy_rules', help: 'Allow rules in the policy in force.', registers,
    collect() { this.set(sources.ruleCount()); },
  });
  new Gauge({
    name: 'portcullis_certificate_cache_entries', help: 'Minted leaf certificates in the cache.', registers,
    collect() { this.set(sources.certificates()?.cached ?? 0); },
  });
  mirroredCounter(registry, 'portcullis_certificates_minted_total', 'Leaf certificates minted for intercepted hosts.', () => sources.certificates()?.mints);
  mirroredCounter(registry, 'portcullis_certificate_cache_hits_total', 'Leaf certificates served from the cache.', () => sources.certificates()?.hits);
  const info = new Gauge({ name: 'portcullis_build_info', help: 'Always 1; the version is a label.', labelNames: ['version'] as const, registers });
  info.set({ version: sources.version }, 1);
  // Series that exist from the first scrape, at 0, so rate() and alerts see them.
  reloads.inc({ result: 'ok' }, 0);
  reloads.inc({ result: 'refused' }, 0);
  for (const kind of ['http', 'tunnel']) {
    bytesIn.inc({ kind }, 0);
    bytesOut.inc({ kind }, 0);
  }

  return {
    observe(record) {
      const decision = decisionOf(record);
      const rule = record.rule ?? '';
      if (record.kind === 'dns') {
        dnsQueries.inc({ decision, reason: record.reason, rule, type: DNS_TYPES.has(record.method) ? record.method : 'other' });
        if (record.reason === 'dns-exfiltration-suspected') exfiltration.inc({ client: record.client.address });
        return;
      }
      if (record.kind === 'tunnel') {
        tunnels.inc({ decision, reason: record.reason, rule, mode: record.tunnelMode ?? '' });
      } else {
        requests.inc({ decision, reason: record.reason, rule });
        duration.observe({ decision }, Math.max(0, record.durationMs) / 1000);
      }
      if (record.bytesUp > 0) bytesIn.inc({ kind: record.kind }, record.bytesUp);
      if (record.bytesDown > 0) bytesOut.inc({ kind: record.kind }, record.bytesDown);
      if (isUpstreamError(record.errorCode)) {
        upstreamErrors.inc({ kind: upstreamFailure(record.errorCode).type, code: record.errorCode });
      }
    },
    reloaded: (ok) => reloads.inc({ result: ok ? 'ok' : 'refused' }),
    text: () => registry.metrics(),
    contentType: registry.contentType,
  };
};
