import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ProposalAnswer } from '../../src/admin/api-types.js';
import { curl } from '../helpers/clients.js';
import { startHttpOrigin } from '../helpers/origin.js';
import { startTestAdmin } from '../helpers/test-admin.js';

// Issue 16: the admin API behind the dashboard's "Propose policy" view, over real flows.

test('GET/POST /api/proposal learn from the buffer or an upload, with what the proposal changes against the running policy', async (t) => {
  const origin = await startHttpOrigin(t);
  const env = await startTestAdmin(t, {
    resolve: { 'api.internal.test': '127.0.0.1', 'new.internal.test': '127.0.0.1' },
    dry_run: true,
    rules: [{ name: 'internal-api', hosts: ['api.internal.test'], ports: [origin.port] }],
  });
  const proxy = ['-x', env.proxyUrl];
  for (const path of ['/v1/items', '/v1/orders']) assert.equal((await curl([...proxy, `http://api.internal.test:${origin.port}${path}`])).status, 200);
  assert.equal((await curl([...proxy, `http://new.internal.test:${origin.port}/health`])).status, 200, 'dry run lets it through');
  assert.equal((await curl([...proxy, '--path-as-is', `http://new.internal.test:${origin.port}/a/../../etc/passwd`])).status, 200);
  await env.waitForFlows(4);

  const live = await env.api<ProposalAnswer>('/api/proposal');
  assert.equal(live.status, 200);
  assert.deepEqual(live.body.rules.map((rule) => [rule.name, rule.hosts, rule.ports, rule.paths]), [
    ['api.internal.test', ['api.internal.test'], [origin.port], ['/v1']],
    ['new.internal.test', ['new.internal.test'], [origin.port], ['/health']],
  ]);
  assert.deepEqual(live.body.excluded.map((group) => [group.host, group.why, group.count]), [['new.internal.test', 'ambiguous-path', 1]]);
  // Against the running rules (judged as enforced): new.internal.test/health is newly allowed.
  assert.equal(live.body.replay.newlyAllowed[0]?.count, 1);
  assert.equal(live.body.replay.newlyAllowed[0]?.now, 'allowed by rule new.internal.test');

  const file = await env.api('/api/proposal.yaml');
  assert.equal(file.status, 200);
  assert.equal(file.headers.get('content-disposition'), 'attachment; filename="proposed.yaml"');
  assert.equal(file.text, live.body.yaml);

  const squid = `1700000000.123     12 10.0.0.9 TCP_TUNNEL/200 6000 CONNECT pypi.org:443 - HIER_DIRECT/151.101.0.223 -\nnot a log line\n`;
  const uploaded = await env.api<ProposalAnswer>('/api/proposal?wildcardMin=0', { method: 'POST', body: squid });
  assert.equal(uploaded.status, 200);
  assert.deepEqual([uploaded.body.source, uploaded.body.lines, uploaded.body.badLines, uploaded.body.rules[0]?.hosts], ['upload', 1, 1, ['pypi.org']]);
  assert.equal(uploaded.body.problems[0]?.source, 'upload:2');

  assert.equal((await env.api('/api/proposal', { method: 'POST', body: 'nothing useful\n' })).status, 400);
  assert.equal((await env.api('/api/proposal?wildcardMin=x')).status, 400);
  const crossSite = await env.api('/api/proposal', { method: 'POST', body: squid, headers: { origin: 'http://evil.example' } });
  assert.equal(crossSite.status, 403, 'a page elsewhere may not post logs to the admin API');
});
