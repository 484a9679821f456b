import assert from 'node:assert/strict';
import { test } from 'node:test';
import { matchesFlowFilter, parseFlowFilter } from '../../../src/admin/flow-filter.js';
import type { FlowSummary } from '../../../src/admin/flow-view.js';
import { toFlowView } from '../../../src/admin/to-flow-view.js';
import { makeRecord } from './make-record.js';

const allowed = toFlowView(makeRecord({ url: 'http://api.example.com/v1/items', host: 'api.example.com', rule: 'api', method: 'POST' }), 1);
const denied = toFlowView(makeRecord({
  url: 'http://evil.test/exfil', host: 'evil.test', verdict: 'deny', reason: 'no-rule-matched', rule: undefined, status: 403,
  client: { address: '192.168.1.20', port: 1 }, detail: 'no rule allows host evil.test',
}), 2);
const tunnel = toFlowView(makeRecord({ kind: 'tunnel', method: 'CONNECT', url: 'pastebin.test:443', host: 'pastebin.test', port: 443, status: 0, rule: undefined, verdict: 'deny', reason: 'no-rule-matched' }), 3);
const flows: FlowSummary[] = [allowed, denied, tunnel];

const cases: [string, string, FlowSummary[]][] = [
  ['an empty filter matches everything', '', flows],
  ['host: matches a part of the host', 'host:example', [allowed]],
  ['status: matches the exact status', 'status:403', [denied]],
  ['status: 4xx matches the class', 'status:4xx', [denied]],
  ['status:0 matches flows that sent no status', 'status:0', [tunnel]],
  ['decision: matches allow or deny', 'decision:deny', [denied, tunnel]],
  ['rule: matches the rule name exactly, ignoring case', 'rule:API', [allowed]],
  ['rule:- matches flows no rule decided', 'rule:-', [denied, tunnel]],
  ['client: matches a prefix of the client address', 'client:192.168.', [denied]],
  ['method: matches the method', 'method:connect', [tunnel]],
  ['kind: matches http or tunnel', 'kind:tunnel', [tunnel]],
  ['reason: matches the reason code', 'reason:no-rule-matched', [denied, tunnel]],
  ['free text looks in the URL, host, rule, reason and detail', 'exfil', [denied]],
  ['terms combine with AND', 'decision:deny kind:http', [denied]],
  ['! negates a term', '!decision:deny', [allowed]],
  ['- negates a term too', '-host:evil decision:deny', [tunnel]],
  ['quotes keep spaces inside one term', '"no rule allows"', [denied]],
  ['an unknown field name is free text', 'foo:bar', []],
];

for (const [name, filter, expected] of cases) {
  test(name, () => {
    const parsed = parseFlowFilter(filter);
    assert.deepEqual(flows.filter((flow) => matchesFlowFilter(parsed, flow)).map((f) => f.seq), expected.map((f) => f.seq));
  });
}
