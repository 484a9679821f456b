import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatJson } from '../../src/logging/access-log-format.js';
import { curl } from '../helpers/clients.js';
import { startHttpOrigin } from '../helpers/origin.js';
import { sendRaw, statusOf } from '../helpers/raw-client.js';
import { startTestProxy } from '../helpers/test-proxy.js';

test('a rule in mode: report allows nothing; what it would have allowed is denied and logged with would_allow', async (t) => {
  const origin = await startHttpOrigin(t);
  const proxy = await startTestProxy(t, {
    resolve: { 'live.test': '127.0.0.1', 'trial.test': '127.0.0.1' },
    rules: [
      { name: 'live', hosts: ['live.test'], ports: [origin.port] },
      { name: 'trial', hosts: ['trial.test'], ports: [origin.port], mode: 'report' },
    ],
  });
  assert.equal((await curl(['-s', '-x', proxy.url, `http://live.test:${origin.port}/a`])).status, 200);
  assert.equal((await curl(['-s', '-x', proxy.url, `http://trial.test:${origin.port}/b`])).status, 403);
  const tunnel = await sendRaw(proxy.port, `CONNECT trial.test:${origin.port} HTTP/1.1\r\nHost: trial.test:${origin.port}\r\n\r\n`, { idleMs: 300 });
  assert.equal(statusOf(tunnel), 403);
  assert.deepEqual(origin.seen.map((r) => r.url), ['/a'], 'the trial rule let nothing through');
  const flows = await proxy.waitForFlows(3);
  const trial = flows.filter((f) => f.host === 'trial.test');
  assert.equal(trial.length, 2);
  for (const flow of trial) {
    assert.deepEqual([flow.verdict, flow.reason, flow.wouldAllow], ['deny', 'no-rule-matched', 'trial']);
    assert.equal(JSON.parse(formatJson(flow)).would_allow, 'trial');
  }
  assert.equal(flows.find((f) => f.host === 'live.test')?.wouldAllow, undefined);
});
