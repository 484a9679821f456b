import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createProxyMetrics, type MetricsSources } from '../../../src/admin/metrics.js';
import { makeRecord } from './make-record.js';

const sources = (certificates = { mints: 0, hits: 0, cached: 0 }): MetricsSources => ({
  activeConnections: () => 3,
  certificates: () => certificates,
  ruleCount: () => 2,
  version: '9.9.9',
});

const value = (text: string, series: string): number | undefined => {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
};

test('counts requests and tunnels by decision, reason and rule, with bytes and durations', async () => {
  const metrics = createProxyMetrics(sources());
  metrics.observe(makeRecord({ durationMs: 20, bytesUp: 10, bytesDown: 100 }));
  metrics.observe(makeRecord({ durationMs: 3000, bytesDown: 50 }));
  metrics.observe(makeRecord({ verdict: 'deny', reason: 'no-rule-matched', rule: undefined, bytesDown: 0 }));
  metrics.observe(makeRecord({ verdict: 'allow', wouldDeny: true, reason: 'path-not-allowed', rule: 'example' }));
  metrics.observe(makeRecord({ kind: 'tunnel', method: 'CONNECT', tunnelMode: 'splice', bytesUp: 7, bytesDown: 9 }));
  const text = await metrics.text();
  assert.equal(value(text, 'portcullis_requests_total{decision="allow",reason="rule-matched",rule="example"}'), 2);
  assert.equal(value(text, 'portcullis_requests_total{decision="deny",reason="no-rule-matched",rule=""}'), 1);
  assert.equal(value(text, 'portcullis_requests_total{decision="would-deny",reason="path-not-allowed",rule="example"}'), 1);
  assert.equal(value(text, 'portcullis_tunnels_total{decision="allow",reason="rule-matched",rule="example",mode="splice"}'), 1);
  assert.equal(value(text, 'portcullis_client_bytes_in_total{kind="http"}'), 10);
  assert.equal(value(text, 'portcullis_client_bytes_out_total{kind="http"}'), 250);
  assert.equal(value(text, 'portcullis_client_bytes_in_total{kind="tunnel"}'), 7);
  assert.equal(value(text, 'portcullis_request_duration_seconds_count{decision="allow"}'), 2);
  assert.equal(value(text, 'portcullis_request_duration_seconds_bucket{le="0.025",decision="allow"}'), 1);
  assert.equal(value(text, 'portcullis_request_duration_seconds_bucket{le="5",decision="allow"}'), 2);
  assert.equal(value(text, 'portcullis_request_duration_seconds_sum{decision="allow"}'), 3.02);
  assert.equal(value(text, 'portcullis_active_connections'), 3);
  assert.equal(value(text, 'portcullis_policy_rules'), 2);
  assert.equal(value(text, 'portcullis_build_info{version="9.9.9"}'), 1);
});

test('upstream errors are counted by kind and code; client aborts are not upstream errors', async () => {
  const metrics = createProxyMetrics(sources());
  metrics.observe(makeRecord({ errorCode: 'PCL_ERR_DNS_FAILED', status: 502 }));
  metrics.observe(makeRecord({ errorCode: 'PCL_ERR_UPSTREAM_TIMEOUT', status: 504 }));
  metrics.observe(makeRecord({ errorCode: 'PCL_ERR_UPSTREAM_TIMEOUT', status: 504 }));
  metrics.observe(makeRecord({ errorCode: 'PCL_ERR_CLIENT_ABORTED' }));
  const text = await metrics.text();
  assert.equal(value(text, 'portcullis_upstream_errors_total{kind="dns_error",code="PCL_ERR_DNS_FAILED"}'), 1);
  assert.equal(value(text, 'portcullis_upstream_errors_total{kind="connection_timeout",code="PCL_ERR_UPSTREAM_TIMEOUT"}'), 2);
  assert.doesNotMatch(text, /CLIENT_ABORTED/);
});

test('certificate mints and cache hits follow the CA counters at each scrape', async () => {
  const certificates = { mints: 2, hits: 5, cached: 2 };
  const metrics = createProxyMetrics(sources(certificates));
  let text = await metrics.text();
  assert.equal(value(text, 'portcullis_certificates_minted_total'), 2);
  assert.equal(value(text, 'portcullis_certificate_cache_hits_total'), 5);
  certificates.mints = 3;
  certificates.hits = 9;
  certificates.cached = 3;
  text = await metrics.text();
  assert.equal(value(text, 'portcullis_certificates_minted_total'), 3);
  assert.equal(value(text, 'portcullis_certificate_cache_hits_total'), 9);
  assert.equal(value(text, 'portcullis_certificate_cache_entries'), 3);
});

test('each instance has its own registry: two proxies in one process count separately', async () => {
  const a = createProxyMetrics(sources());
  const b = createProxyMetrics(sources());
  a.observe(makeRecord());
  a.reloaded(true);
  b.reloaded(false);
  const [textA, textB] = await Promise.all([a.text(), b.text()]);
  assert.equal(value(textA, 'portcullis_requests_total{decision="allow",reason="rule-matched",rule="example"}'), 1);
  assert.equal(value(textB, 'portcullis_requests_total{decision="allow",reason="rule-matched",rule="example"}'), undefined);
  assert.equal(value(textA, 'portcullis_config_reloads_total{result="ok"}'), 1);
  assert.equal(value(textB, 'portcullis_config_reloads_total{result="refused"}'), 1);
  assert.equal(value(textB, 'portcullis_config_reloads_total{result="ok"}'), 0);
});

test('counts DNS queries by decision, reason and type, and exfiltration suspicions per client', async () => {
  const metrics = createProxyMetrics(sources());
  const dns = { kind: 'dns' as const, port: 0, status: 0, bytesDown: 0, dns: { transport: 'udp' as const, rcode: 'NOERROR', answers: [] } };
  metrics.observe(makeRecord({ ...dns, method: 'A', rule: 'wild' }));
  metrics.observe(makeRecord({ ...dns, method: 'TYPE12345', verdict: 'deny', reason: 'dns-type-not-allowed', rule: 'wild' }));
  metrics.observe(makeRecord({ ...dns, method: 'A', verdict: 'deny', reason: 'dns-exfiltration-suspected', rule: 'wild', client: { address: '10.0.0.7', port: 1 } }));
  metrics.observe(makeRecord({ ...dns, method: 'AAAA', verdict: 'deny', reason: 'dns-exfiltration-suspected', rule: 'wild', client: { address: '10.0.0.7', port: 2 } }));
  const text = await metrics.text();
  assert.equal(value(text, 'portcullis_dns_queries_total{decision="allow",reason="rule-matched",rule="wild",type="A"}'), 1);
  assert.equal(value(text, 'portcullis_dns_queries_total{decision="deny",reason="dns-type-not-allowed",rule="wild",type="other"}'), 1);
  assert.equal(value(text, 'portcullis_dns_exfiltration_suspected_total{client="10.0.0.7"}'), 2);
  // A DNS query is not an HTTP request.
  assert.equal(value(text, 'portcullis_requests_total{decision="allow",reason="rule-matched",rule="wild"}'), undefined);
});
