import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRateMeter } from '../../../src/admin/rate-meter.js';
import { createRuleCounters } from '../../../src/admin/rule-counters.js';
import { makeRecord } from './make-record.js';

test('rule counters split allowed, denied and would-deny per rule; denials without a rule go under null', () => {
  const counters = createRuleCounters();
  counters.record(makeRecord({ rule: 'a', startedAt: 100, durationMs: 5 }));
  counters.record(makeRecord({ rule: 'a', verdict: 'deny', reason: 'path-not-allowed', startedAt: 200, durationMs: 1 }));
  counters.record(makeRecord({ rule: 'a', wouldDeny: true, startedAt: 150, durationMs: 1 }));
  counters.record(makeRecord({ rule: undefined, verdict: 'deny', reason: 'no-rule-matched' }));
  assert.deepEqual(counters.get('a'), { allowed: 1, denied: 1, wouldDeny: 1, wouldAllow: 0, lastHitAt: 201 });
  assert.deepEqual(counters.get('never-hit'), { allowed: 0, denied: 0, wouldDeny: 0, wouldAllow: 0, lastHitAt: 0 });
  assert.equal(counters.get(null).denied, 1);
  assert.deepEqual(counters.names(), ['a']);
});

test('the rate meter averages whole seconds in its window and forgets older ones', () => {
  const meter = createRateMeter(5);
  for (let i = 0; i < 10; i += 1) meter.mark(1_000 + i);
  for (let i = 0; i < 5; i += 1) meter.mark(2_500);
  assert.equal(meter.rate(3_000), 3, '15 events over the last 5 s');
  assert.equal(meter.rate(2_000), 2, 'the second in progress is not counted');
  assert.equal(meter.rate(20_000), 0);
});

test('a denial a mode: report rule would have allowed counts for that rule', () => {
  const counters = createRuleCounters();
  counters.record(makeRecord({ rule: undefined, verdict: 'deny', reason: 'no-rule-matched', wouldAllow: 'trial', startedAt: 100, durationMs: 5 }));
  assert.deepEqual(counters.get('trial'), { allowed: 0, denied: 0, wouldDeny: 0, wouldAllow: 1, lastHitAt: 105 });
  assert.equal(counters.get(null).denied, 1);
});
