import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Addon, AddonRequestFlow } from '../../../src/addons/addon-api.js';
import { createAddonHost } from '../../../src/addons/addon-host.js';
import { silentLogger } from '../../../src/logging/logger.js';
import { allow, deny, type Decision } from '../../../src/policy/decision.js';

const flow = (decision: Decision): AddonRequestFlow => ({
  id: 'f-1',
  kind: 'http',
  client: { address: '10.0.0.5', port: 40000 },
  listener: '127.0.0.1:3128',
  destination: { host: 'api.example.com', port: 443 },
  decision: { verdict: decision.verdict, reason: decision.reason, ...(decision.rule ? { rule: decision.rule } : {}) },
  request: { method: 'GET', url: 'https://api.example.com/v1', path: '/v1', headers: {} },
});

const decideWith = async (addons: Addon[], decision: Decision, budgetMs = 200): Promise<Decision> => {
  const warnings: string[] = [];
  const logger = { ...silentLogger, warn: (_: object, message: string) => { warnings.push(message); } };
  const host = createAddonHost(addons, { budgetMs: () => budgetMs, logger });
  return (await host.decide({ hook: 'requestHeaders', flow: flow(decision) }, decision)).decision;
};

const denying: Addon = { name: 'gate', requestHeaders: () => ({ verdict: 'deny', reason: 'no tenant' }) };
const allowing: Addon = { name: 'opener', requestHeaders: () => ({ verdict: 'allow' }) };
const throwing: Addon = { name: 'broken', requestHeaders: () => { throw new Error('boom'); } };
const slow: Addon = { name: 'slow', requestHeaders: () => new Promise((resolve) => setTimeout(resolve, 1000)) };

test('an addon deny on an allowed request denies it with addon-denied, naming the addon and its reason', async () => {
  const decision = await decideWith([denying], allow('api'));
  assert.equal(decision.verdict, 'deny');
  assert.equal(decision.reason, 'addon-denied');
  assert.equal(decision.rule, 'addon:gate');
  assert.match(decision.verdict === 'deny' ? decision.detail ?? '' : '', /gate: no tenant/);
});

test('an addon deny or failure on a security denial keeps the rules\' reason; on a gap, the addon\'s own reason replaces it', async () => {
  for (const reason of ['ambiguous-path', 'host-mismatch', 'userinfo-in-url', 'address-blocked'] as const) {
    const rules = deny(reason, undefined, 'from the rules');
    for (const addon of [denying, throwing]) {
      const decision = await decideWith([addon], rules);
      assert.deepEqual(decision, rules, `${addon.name} on ${reason}`);
    }
  }
  for (const reason of ['no-rule-matched', 'path-not-allowed'] as const) {
    assert.equal((await decideWith([denying], deny(reason))).reason, 'addon-denied', reason);
    assert.equal((await decideWith([throwing], deny(reason))).reason, 'addon-failed', reason);
  }
});

test('an addon allow lifts only gaps in the rules, never a security denial', async () => {
  for (const gap of ['no-rule-matched', 'port-not-allowed', 'client-not-allowed', 'method-not-allowed', 'path-not-allowed'] as const) {
    const decision = await decideWith([allowing], deny(gap));
    assert.equal(decision.verdict, 'allow', gap);
    assert.equal(decision.rule, 'addon:opener');
  }
  for (const hard of ['ambiguous-path', 'host-mismatch', 'userinfo-in-url', 'address-blocked', 'credential-misdirected', 'ech-present', 'invalid-destination'] as const) {
    const decision = await decideWith([allowing], deny(hard));
    assert.equal(decision.verdict, 'deny', hard);
    assert.equal(decision.reason, hard);
  }
});

test('on an allowed request, a throw, a timeout or something that is not a verdict fails closed with addon-failed', async () => {
  const notAVerdict: Addon = { name: 'odd', requestHeaders: () => ({ verdict: 'maybe' }) as never };
  for (const addon of [throwing, slow, notAVerdict]) {
    const decision = await decideWith([addon], allow('api'), 50);
    assert.equal(decision.verdict, 'deny', addon.name);
    assert.equal(decision.reason, 'addon-failed', addon.name);
    assert.equal(decision.rule, `addon:${addon.name}`);
  }
});

test('addons run in order: a later deny wins over an earlier allow, and the first deny stops the rest', async () => {
  let laterRan = false;
  const later: Addon = { name: 'later', requestHeaders: () => { laterRan = true; } };
  const decision = await decideWith([allowing, denying, later], deny('no-rule-matched'));
  assert.equal(decision.reason, 'addon-denied');
  assert.equal(laterRan, false);
});
