import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FlowRecord } from '../../../src/flow/flow-record.js';
import { HttpFlow, TunnelFlow } from '../../../src/pipeline/flow.js';
import { allow, deny } from '../../../src/policy/decision.js';

const origin = { id: 'f1', startedAt: 1000, client: { address: '10.0.0.1', port: 5000 }, listener: '127.0.0.1:3128' };
const collect = (): { records: FlowRecord[]; sink: (r: FlowRecord) => void } => {
  const records: FlowRecord[] = [];
  return { records, sink: (r) => records.push(r) };
};

test('an allow records verdict, reason and rule only', () => {
  const { records, sink } = collect();
  const flow = new HttpFlow(origin, 'GET', 'http://a.test/', sink);
  flow.decided(allow('apt', true, false));
  flow.finished(1010);
  assert.deepEqual([records[0]?.verdict, records[0]?.reason, records[0]?.rule, records[0]?.durationMs], ['allow', 'rule-matched', 'apt', 10]);
  assert.ok(!('detail' in (records[0] as object)) && !('wouldDeny' in (records[0] as object)));
});

test('an enforced denial keeps its reason, rule, detail and the report-mode rule that would have allowed it', () => {
  const { records, sink } = collect();
  const flow = new HttpFlow(origin, 'GET', 'http://a.test/x', sink);
  flow.decided({ ...deny('path-not-allowed', 'gcs', 'path /x is not allowed'), wouldAllow: 'trial-bucket' });
  flow.finished(1001);
  const [record] = records;
  assert.deepEqual([record?.verdict, record?.reason, record?.rule, record?.detail, record?.wouldAllow],
    ['deny', 'path-not-allowed', 'gcs', 'path /x is not allowed', 'trial-bucket']);
});

test('in a dry run a denial passes with wouldDeny and keeps its reason', () => {
  const { records, sink } = collect();
  const flow = new TunnelFlow(origin, 'a.test:443', sink);
  flow.decided(deny('no-rule-matched'), false);
  flow.finished(1001);
  assert.deepEqual([records[0]?.verdict, records[0]?.reason, records[0]?.wouldDeny], ['allow', 'no-rule-matched', true]);
  assert.ok(!('rule' in (records[0] as object)) && !('wouldAllow' in (records[0] as object)));
});

test('a flow is recorded exactly once; a request inside a tunnel names its parent and inherits user and TLS', () => {
  const { records, sink } = collect();
  const tunnel = new TunnelFlow(origin, 'a.test:443', sink);
  tunnel.authenticated('alice');
  tunnel.clientTlsEstablished({ certificate: 'minted', version: 'TLSv1.3' });
  const request = new HttpFlow({ ...origin, id: 'f2' }, 'GET', 'https://a.test/', sink, tunnel);
  request.finished(1002);
  request.finished(1003);
  assert.equal(records.length, 1);
  assert.deepEqual([records[0]?.parentId, records[0]?.user, records[0]?.tls?.version, records[0]?.kind], ['f1', 'alice', 'TLSv1.3', 'http']);
});

test('a client that left after a failure keeps the failure as the cause', () => {
  const { records, sink } = collect();
  const flow = new HttpFlow(origin, 'GET', 'http://a.test/', sink);
  flow.failed({ code: 'PCL_ERR_UPSTREAM_RESET', message: 'reset' });
  flow.clientLeft();
  flow.finished(1001);
  assert.equal(records[0]?.errorCode, 'PCL_ERR_UPSTREAM_RESET');
});
