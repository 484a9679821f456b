import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { test } from 'node:test';
import type { RulesAnswer } from '../../src/admin/api-types.js';
import type { DeniedGroup } from '../../src/admin/denied-hosts.js';
import type { FlowSummary, FlowView } from '../../src/admin/flow-view.js';
import { curl } from '../helpers/clients.js';
import { startHttpOrigin, startHttpsOrigin } from '../helpers/origin.js';
import { startTestAdmin } from '../helpers/test-admin.js';
import { testProxyCa, testProxyCaPath } from '../helpers/test-proxy.js';
import { makeOriginCertificates } from '../helpers/test-certs.js';

// Issue 5: the admin API over real sockets. Traffic goes through the proxy with curl; the
// flows, rule counters and Prometheus counters must match exactly what was sent.

/** A port with nothing listening (bound, then closed). */
const closedPort = async (): Promise<number> => {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
};

/** Value of one sample line in Prometheus text, or undefined when the series is absent. */
const sample = (text: string, series: string): number | undefined => {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
};

interface SseEvent { readonly event: string; readonly id?: string; readonly data: unknown }

/** Reads Server-Sent Events until `done` says so or the time runs out (bounded). */
const readEvents = (url: string, done: (events: SseEvent[]) => boolean, timeoutMs = 5000): Promise<SseEvent[]> =>
  new Promise((resolve, reject) => {
    const events: SseEvent[] = [];
    const req = http.get(url, (res) => {
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const fields = new Map<string, string>();
          for (const line of block.split('\n')) {
            const colon = line.indexOf(': ');
            if (colon > 0) fields.set(line.slice(0, colon), line.slice(colon + 2));
          }
          if (fields.has('data')) {
            events.push({ event: fields.get('event') ?? 'message', ...(fields.has('id') ? { id: fields.get('id') as string } : {}), data: JSON.parse(fields.get('data') as string) });
          }
          if (done(events)) {
            clearTimeout(timer);
            req.destroy();
            resolve(events);
            return;
          }
        }
      });
    });
    req.on('error', (error) => {
      if (!req.destroyed) reject(error);
    });
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error(`SSE: gave up after ${timeoutMs} ms with ${JSON.stringify(events)}`));
    }, timeoutMs);
  });

const streamedFlows = (events: SseEvent[]): FlowSummary[] => events.filter((e) => e.event === 'flows').flatMap((e) => e.data as FlowSummary[]);

test('flows, rules, denied hosts and metrics match exactly the traffic curl sent', async (t) => {
  const origin = await startHttpOrigin(t);
  const refused = await closedPort();
  const tlsCerts = makeOriginCertificates(['tls.test', 'gcs.test']);
  const tlsOrigin = await startHttpsOrigin(t, tlsCerts);
  const ca = await testProxyCa();
  const env = await startTestAdmin(t, {
    resolve: { 'api.test': '127.0.0.1', 'ro.test': '127.0.0.1', 'down.test': '127.0.0.1', 'tls.test': '127.0.0.1', 'gcs.test': '127.0.0.1', 'denied.test': '127.0.0.1' },
    upstream: { tls: { extra_ca: [tlsCerts.caCertPath] } },
    rules: [
      { name: 'api', hosts: ['api.test'], ports: [origin.port] },
      { name: 'readonly', hosts: ['ro.test'], ports: [origin.port], methods: ['GET'] },
      { name: 'down', hosts: ['down.test'], ports: [refused] },
      { name: 'tls-origin', hosts: ['tls.test'], ports: [tlsOrigin.port] },
      { name: 'gcs', hosts: ['gcs.test'], ports: [tlsOrigin.port], paths: ['/storage/ok'] },
    ],
  });
  const mintsBefore = ca.stats().mints;
  const live = readEvents(`${env.adminUrl}/api/flows/stream`, (events) => streamedFlows(events).length >= 8, 15_000);
  const proxy = ['-x', env.proxyUrl];

  const one = await curl([...proxy, '-H', 'Authorization: Bearer s3cr3t-bearer', '-H', 'Cookie: session=c00kie-value', `http://api.test:${origin.port}/one`]);
  assert.equal(one.status, 200);
  assert.equal((await curl([...proxy, `http://api.test:${origin.port}/two`])).status, 200);
  assert.equal((await curl([...proxy, `http://denied.test:${origin.port}/x`])).status, 403);
  assert.equal((await curl([...proxy, '-X', 'POST', `http://ro.test:${origin.port}/y`])).status, 403);
  assert.equal((await curl([...proxy, `http://down.test:${refused}/`])).status, 502);
  assert.notEqual((await curl([...proxy, 'https://denied.test/'])).code, 0, 'the CONNECT is refused');
  assert.equal((await curl([...proxy, '--cacert', tlsCerts.caCertPath, `https://tls.test:${tlsOrigin.port}/spliced`])).status, 200);
  assert.equal((await curl([...proxy, '--cacert', testProxyCaPath, `https://gcs.test:${tlsOrigin.port}/storage/ok/file`])).status, 200);
  // 8 requests: the intercepted one makes two flows (the tunnel and the request inside).
  await env.waitForFlows(9);

  await t.test('the live stream delivered every flow as it happened, in order', async () => {
    const flows = streamedFlows(await live);
    assert.deepEqual(flows.map((f) => f.seq), flows.map((_f, i) => i + 1));
    assert.ok(flows.every((f) => (f as Partial<FlowView>).requestHeaders === undefined), 'stream rows carry no headers');
  });

  const list = await env.api<{ flows: FlowSummary[]; lastSeq: number; capacity: number }>('/api/flows');
  assert.equal(list.status, 200);
  const flows = list.body.flows;
  assert.equal(flows.length, 9);
  assert.equal(list.body.capacity, 1000);
  const byUrl = (fragment: string): FlowSummary => {
    const found = flows.find((f) => f.url.includes(fragment));
    assert.ok(found, `no flow for ${fragment} in ${JSON.stringify(flows.map((f) => f.url))}`);
    return found;
  };

  await t.test('each flow carries its decision, rule and reason', () => {
    assert.deepEqual([byUrl('/one').decision, byUrl('/one').rule, byUrl('/one').status], ['allow', 'api', 200]);
    assert.deepEqual([byUrl('/x').decision, byUrl('/x').reason, byUrl('/x').rule], ['deny', 'no-rule-matched', undefined]);
    assert.deepEqual([byUrl('/y').reason, byUrl('/y').rule], ['method-not-allowed', 'readonly']);
    assert.equal(byUrl('down.test').errorCode, 'PCL_ERR_UPSTREAM_REFUSED');
    const tunnel = byUrl('denied.test:443');
    assert.deepEqual([tunnel.kind, tunnel.decision, tunnel.status], ['tunnel', 'deny', 403]);
    assert.equal(byUrl(`tls.test:${tlsOrigin.port}`).tunnelMode, 'splice');
    const inside = byUrl('/storage/ok/file');
    assert.equal(inside.rule, 'gcs');
    assert.ok(inside.parentId !== undefined);
    assert.equal(inside.tls?.certificate, 'minted');
    assert.equal(inside.tls?.sni, 'gcs.test');
    assert.match(inside.tls?.version ?? '', /^TLSv1\.[23]$/);
  });

  await t.test('one flow has its headers, with secrets redacted', async () => {
    const detail = await env.api<FlowView>(`/api/flows/${byUrl('/one').id}`);
    assert.equal(detail.status, 200);
    const headers = new Map(detail.body.requestHeaders?.map(([name, value]) => [name.toLowerCase(), value]));
    assert.equal(headers.get('authorization'), '[redacted]');
    assert.equal(headers.get('cookie'), '[redacted]');
    assert.doesNotMatch(detail.text, /s3cr3t-bearer|c00kie-value/);
    assert.ok(detail.body.responseHeaders?.some(([name]) => name.toLowerCase() === 'content-type'));
    assert.ok((detail.body.timings?.responseStartedAt ?? 0) >= detail.body.startedAt);
    assert.equal((await env.api('/api/flows/no-such-id')).status, 404);
  });

  await t.test('the list filters and pages', async () => {
    const denied = await env.api<{ flows: FlowSummary[] }>(`/api/flows?q=${encodeURIComponent('decision:deny')}`);
    assert.deepEqual(denied.body.flows.map((f) => f.reason).sort(), ['method-not-allowed', 'no-rule-matched', 'no-rule-matched']);
    const page = await env.api<{ flows: FlowSummary[] }>('/api/flows?after=2&limit=3');
    assert.deepEqual(page.body.flows.map((f) => f.seq), [3, 4, 5]);
    const newest = await env.api<{ flows: FlowSummary[] }>('/api/flows?limit=2');
    assert.deepEqual(newest.body.flows.map((f) => f.seq), [8, 9]);
    assert.equal((await env.api('/api/flows?limit=x')).status, 400);
  });

  await t.test('rules come with hit counters that match the traffic', async () => {
    const rules = await env.api<RulesAnswer>('/api/rules');
    const hits = Object.fromEntries(rules.body.rules.map((r) => [r.name, r.hits]));
    assert.deepEqual([hits.api?.allowed, hits.api?.denied], [2, 0]);
    assert.deepEqual([hits.readonly?.allowed, hits.readonly?.denied], [0, 1]);
    assert.deepEqual([hits.down?.allowed, hits['tls-origin']?.allowed, hits.gcs?.allowed], [1, 1, 2]);
    assert.equal(rules.body.unmatched.denied, 2);
    assert.match(rules.body.rules.find((r) => r.name === 'readonly')?.explain ?? '', /method GET/i);
  });

  await t.test('denied hosts are grouped with a ready-made allow rule', async () => {
    const denied = await env.api<{ groups: DeniedGroup[] }>('/api/denied');
    const group = denied.body.groups.find((g) => g.host === 'denied.test');
    assert.equal(group?.count, 2);
    assert.deepEqual(group?.ports, [443, origin.port]);
    assert.equal(group?.suggestion, `  - name: allow-denied.test\n    hosts: [denied.test]\n    ports: [443, ${origin.port}]\n`);
    assert.deepEqual(group?.samples?.map((sample) => sample.url).sort(), [`http://denied.test:${origin.port}/x`, 'https://denied.test:443/'].sort());
    // A POST refused by the rule's methods is deliberate: no rule is offered for it.
    const readOnly = denied.body.groups.find((g) => g.host === 'ro.test');
    assert.equal(readOnly?.suggestion, undefined);
    assert.match(readOnly?.note ?? '', /method-not-allowed: a rule limits this host's paths or methods on purpose/);
  });

  await t.test('/metrics counts requests, tunnels, errors, bytes and certificates exactly', async () => {
    const metrics = await env.api<string>('/metrics');
    assert.equal(metrics.status, 200);
    assert.match(metrics.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const text = metrics.text;
    const expected: Record<string, number> = {
      'portcullis_requests_total{decision="allow",reason="rule-matched",rule="api"}': 2,
      'portcullis_requests_total{decision="deny",reason="no-rule-matched",rule=""}': 1,
      'portcullis_requests_total{decision="deny",reason="method-not-allowed",rule="readonly"}': 1,
      'portcullis_requests_total{decision="allow",reason="rule-matched",rule="down"}': 1,
      'portcullis_requests_total{decision="allow",reason="rule-matched",rule="gcs"}': 1,
      'portcullis_tunnels_total{decision="deny",reason="no-rule-matched",rule="",mode=""}': 1,
      'portcullis_tunnels_total{decision="allow",reason="rule-matched",rule="tls-origin",mode="splice"}': 1,
      'portcullis_tunnels_total{decision="allow",reason="rule-matched",rule="gcs",mode="intercept"}': 1,
      'portcullis_upstream_errors_total{kind="connection_refused",code="PCL_ERR_UPSTREAM_REFUSED"}': 1,
      'portcullis_request_duration_seconds_count{decision="allow"}': 4,
      'portcullis_request_duration_seconds_count{decision="deny"}': 2,
      'portcullis_policy_rules': 5,
      'portcullis_active_connections': env.proxy.stats().activeConnections,
      'portcullis_certificates_minted_total': ca.stats().mints,
      'portcullis_certificate_cache_hits_total': ca.stats().hits,
      'portcullis_build_info{version="0.1.0"}': 1,
    };
    for (const [series, value] of Object.entries(expected)) assert.equal(sample(text, series), value, series);
    assert.ok(ca.stats().mints > mintsBefore || ca.stats().hits > 0, 'the intercepted host got a certificate');
    const sum = (kind: string, field: 'bytesUp' | 'bytesDown'): number => flows.filter((f) => f.kind === kind).reduce((n, f) => n + f[field], 0);
    assert.equal(sample(text, 'portcullis_client_bytes_out_total{kind="http"}'), sum('http', 'bytesDown'));
    assert.equal(sample(text, 'portcullis_client_bytes_in_total{kind="tunnel"}'), sum('tunnel', 'bytesUp'));
    assert.equal(sample(text, 'portcullis_client_bytes_out_total{kind="tunnel"}'), sum('tunnel', 'bytesDown'));
    assert.ok(sum('tunnel', 'bytesDown') > 0);
    assert.equal(byUrl('/one').bytesDown, Buffer.byteLength(one.body));
  });
});

test('the stream resumes after the last seq a client saw', async (t) => {
  const origin = await startHttpOrigin(t);
  const env = await startTestAdmin(t, { rules: [{ name: 'local', hosts: ['127.0.0.1'], ports: [origin.port] }] });
  for (const path of ['/a', '/b', '/c']) await curl(['-x', env.proxyUrl, `${origin.url}${path}`]);
  await env.waitForFlows(3);
  const events = await readEvents(`${env.adminUrl}/api/flows/stream?after=2`, (seen) => seen.some((e) => e.event === 'stats'));
  assert.deepEqual(events[0], { event: 'hello', data: { lastSeq: 3, capacity: 1000 } });
  assert.deepEqual(streamedFlows(events).map((f) => f.url), [`${origin.url}/c`]);
});

test('explain, CA, version and health answer; the proxy port serves none of it', async (t) => {
  const env = await startTestAdmin(t, {
    rules: [
      { name: 'gcs-one-bucket', hosts: ['www.googleapis.com'], paths: ['/storage/v1/b/allowed-bkt'], methods: ['GET'] },
      { name: 'aws', hosts: ['*.amazonaws.com'] },
    ],
  });
  const ask = async (query: string): Promise<Record<string, unknown>> => {
    const answer = await env.api<Record<string, unknown>>(`/api/explain?${query}`);
    assert.equal(answer.status, 200, answer.text);
    return answer.body;
  };
  const inside = await ask(`method=GET&url=${encodeURIComponent('https://www.googleapis.com/storage/v1/b/allowed-bkt/o')}`);
  assert.equal(inside.verdict, 'allow');
  assert.deepEqual((inside.stages as { stage: string }[]).map((s) => s.stage), ['tunnel', 'request']);
  const other = await ask(`method=GET&url=${encodeURIComponent('https://www.googleapis.com/storage/v1/b/other/o')}`);
  assert.deepEqual(other.decision, { verdict: 'deny', reason: 'path-not-allowed', rule: 'gcs-one-bucket', detail: 'path /storage/v1/b/other/o is not allowed for www.googleapis.com:443' });
  const spliced = await ask(`url=${encodeURIComponent('https://s3.amazonaws.com/x')}`);
  assert.deepEqual([spliced.verdict, spliced.spliced], ['allow', true]);
  assert.equal((await env.api('/api/explain?url=ftp://x/')).status, 400);
  assert.equal((await env.api('/api/explain')).status, 400);
  // candidate=: the decision with a suggested rule added, compiled in memory only.
  const candidate = '  - name: allow-evil.test\n    hosts: [evil.test]\n';
  const withCandidate = await ask(`url=${encodeURIComponent('http://evil.test/x')}&candidate=${encodeURIComponent(candidate)}`);
  assert.equal(withCandidate.verdict, 'allow');
  assert.deepEqual(withCandidate.candidate, { name: 'allow-evil.test', explain: 'allow allow-evil.test: host evil.test, port 80 (http)|443 (tls)' });
  const without = await ask(`url=${encodeURIComponent('http://evil.test/x')}`);
  assert.equal(without.verdict, 'deny', 'the candidate was never applied');
  const badCandidate = await env.api(`/api/explain?url=${encodeURIComponent('http://evil.test/x')}&candidate=${encodeURIComponent('  - name: x\n    hosts: ["*"]\n')}`);
  assert.equal(badCandidate.status, 400);
  assert.match(badCandidate.text, /bare/);

  const ca = await testProxyCa();
  const pem = await env.api<string>('/api/ca.pem');
  assert.equal(pem.text, ca.certPem);
  assert.match(pem.headers.get('content-disposition') ?? '', /portcullis-ca\.pem/);
  assert.doesNotMatch(pem.text, /PRIVATE KEY/);
  const der = await fetch(`${env.adminUrl}/api/ca.der`);
  assert.deepEqual(Buffer.from(await der.arrayBuffer()), ca.certDer);
  assert.equal((await env.api<{ fingerprint256: string }>('/api/ca')).body.fingerprint256, ca.fingerprint256);
  assert.match((await env.api('/api/ca/trust')).text, new RegExp(ca.fingerprint256));
  assert.equal((await env.api('/api/ca.p12')).status, 200);

  assert.deepEqual((await env.api('/api/version')).body, { name: 'portcullis', version: '0.1.0', node: process.version });
  assert.equal((await env.api('/healthz')).text, 'ok\n');
  const ready = await env.api<{ ready: boolean }>('/readyz');
  assert.deepEqual([ready.status, ready.body.ready], [200, true]);
  env.admin.setReady(false);
  assert.equal((await env.api('/readyz')).status, 503);
  env.admin.setReady(true);
  assert.equal((await env.api('/api/nope')).status, 404);
  assert.equal((await env.api('/api/flows', { method: 'POST' })).status, 405);

  // The proxy listener is not the admin listener: it answers its help page, never the API.
  for (const path of ['/api/flows', '/metrics', '/api/version']) {
    const response = await fetch(`${env.proxyUrl}${path}`);
    const body = await response.text();
    assert.equal(response.status, 400, path);
    assert.match(body, /This is Portcullis, an egress proxy/);
    assert.doesNotMatch(body, /portcullis_requests_total|"flows"/);
  }
});

test('without a token, loopback clients must use an IP or localhost (DNS rebinding) and POSTs must be same-origin', async (t) => {
  const env = await startTestAdmin(t, { rules: [] });
  const status = async (path: string, headers: Record<string, string>, method = 'GET'): Promise<number> =>
    new Promise((resolve, reject) => {
      const url = new URL(`${env.adminUrl}${path}`);
      const req = http.request({ host: url.hostname, port: url.port, path, method, headers }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
  assert.equal(await status('/api/flows', { host: `localhost:${new URL(env.adminUrl).port}` }), 200);
  assert.equal(await status('/api/flows', { host: 'attacker.example:9090' }), 403);
  assert.equal(await status('/metrics', { host: 'rebind.attacker.example' }), 403);
  assert.equal(await status('/healthz', { host: 'rebind.attacker.example' }), 200, 'health carries nothing');
  assert.equal(await status('/api/reload', { origin: 'http://evil.example' }, 'POST'), 403);
  assert.equal(await status('/api/reload', {}, 'POST'), 409, 'no config file: nothing to reload');
});
