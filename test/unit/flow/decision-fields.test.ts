import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decisionFields } from '../../../src/flow/decision-fields.js';
import { allow, deny } from '../../../src/policy/decision.js';

test('an allow sets verdict, reason and rule only', () => {
  assert.deepEqual(decisionFields(allow('apt', true, false), false), { verdict: 'allow', reason: 'rule-matched', rule: 'apt' });
});

test('an enforced denial keeps its reason, rule, detail and the report-mode rule that would have allowed it', () => {
  const decision = { ...deny('path-not-allowed', 'gcs', 'path /x is not allowed'), wouldAllow: 'trial-bucket' };
  assert.deepEqual(decisionFields(decision, false), {
    verdict: 'deny', reason: 'path-not-allowed', rule: 'gcs', detail: 'path /x is not allowed', wouldAllow: 'trial-bucket',
  });
});

test('in dry run a denial passes with wouldDeny, and keys without a value are left out', () => {
  const fields = decisionFields(deny('no-rule-matched'), true);
  assert.deepEqual(fields, { verdict: 'allow', reason: 'no-rule-matched', wouldDeny: true });
  assert.ok(!('rule' in fields) && !('wouldAllow' in fields));
});
