import assert from 'node:assert/strict';
import { test } from 'node:test';
import { policyWithCandidate } from '../../../src/admin/explain-candidate.js';
import { explainRequest } from '../../../src/admin/explain-request.js';
import { ProxyConfigSchema } from '../../../src/config/schema.js';

const inForce = ProxyConfigSchema.parse({
  rules: [{ name: 'gcs', hosts: ['www.googleapis.com'], paths: ['/storage/v1/b/allowed-bkt'] }],
}).rules;

test('a candidate rule is explained with its matchers and decides with the policy in force', () => {
  const candidate = policyWithCandidate(inForce, '  - name: allow-evil.test\n    hosts: [evil.test]\n    ports: [8080]\n');
  assert.ok(candidate.ok, JSON.stringify(candidate));
  if (!candidate.ok) return;
  assert.equal(candidate.name, 'allow-evil.test');
  assert.equal(candidate.explain, 'allow allow-evil.test: host evil.test, port 8080');
  const allowed = explainRequest(candidate.policy, false, { method: 'GET', url: 'http://evil.test:8080/exfil', client: '10.0.0.5' });
  assert.ok(allowed.ok && allowed.verdict === 'allow' && allowed.decision.verdict === 'allow' && allowed.decision.rule === 'allow-evil.test');
  const otherPort = explainRequest(candidate.policy, false, { method: 'GET', url: 'http://evil.test/exfil', client: '10.0.0.5' });
  assert.ok(otherPort.ok && otherPort.verdict === 'deny');
  const gcs = explainRequest(candidate.policy, false, { method: 'GET', url: 'https://www.googleapis.com/storage/v1/b/allowed-bkt/o', client: '10.0.0.5' });
  assert.ok(gcs.ok && gcs.verdict === 'allow', 'the rules in force still apply');
});

test('a candidate named like a rule in force is renamed, so the two stay apart', () => {
  const candidate = policyWithCandidate(inForce, '  - name: gcs\n    hosts: [evil.test]\n');
  assert.ok(candidate.ok);
  if (candidate.ok) assert.equal(candidate.name, 'gcs-candidate');
});

const refused: ReadonlyArray<readonly [string, string, RegExp]> = [
  ['YAML that is not a rule', 'not: a rule', /problem|expected|rules/],
  ['two rules', '  - name: a\n    hosts: [a.test]\n  - name: b\n    hosts: [b.test]\n', /exactly one rule/],
  ['no rule', '', /exactly one rule|expected a list/],
  ['a rule the schema refuses', '  - name: a\n    hosts: ["*"]\n', /bare "\*"/],
  ['an unknown key', '  - name: a\n    hosts: [a.test]\n    allow_everything: true\n', /unknown key/],
  ['a text longer than a suggestion could be', `  - name: a\n    hosts: [${'a.test, '.repeat(600)}b.test]\n`, /longer than 4096/],
];

for (const [name, text, message] of refused) {
  test(`a candidate is refused when it is ${name}`, () => {
    const candidate = policyWithCandidate(inForce, text);
    assert.equal(candidate.ok, false);
    if (!candidate.ok) assert.match(candidate.error, message);
  });
}
