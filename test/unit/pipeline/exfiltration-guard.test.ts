import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  createExfiltrationGuard, shannonEntropy, subdomainCharacters, suspiciousName, type ExfiltrationLimits,
} from '../../../src/pipeline/exfiltration-guard.js';
import { base32, tunnelNames } from '../../helpers/dns-tunnel.js';

const LIMITS: ExfiltrationLimits = {
  max_label_length: 48, max_name_length: 120, max_entropy: 4.5,
  rate: { count: 50, perMs: 1000 }, new_name_budget: { count: 1000, perMs: 600_000 },
};

/** Deterministic "secret" bytes (no randomness in unit tests). */
const secret = (size: number): Uint8Array => {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i += 32) out.set(createHash('sha256').update(String(i)).digest().subarray(0, Math.min(32, size - i)), i);
  return out;
};

const cases: ReadonlyArray<[string, string, RegExp | undefined]> = [
  ['passes an ordinary name', 'www.example.com', undefined],
  ['passes a long, readable AWS load balancer name', 'internal-my-load-balancer-1234567890.us-west-2.elb.amazonaws.com', undefined],
  ['passes a long bucket name', 'prod-eu-west-1-logs-bucket-123456789012.s3.amazonaws.com', undefined],
  ['flags a 63-character label (iodine, dnscat2)', `${'a1'.repeat(31)}b.t.example.com`, /a label of 63 characters, more than dns\.exfiltration\.max_label_length \(48\)/],
  ['flags a name longer than max_name_length', `${'abcdefghij.'.repeat(11)}example.com`, /name of 132 characters, more than dns\.exfiltration\.max_name_length \(120\)/],
  ['flags base32 data in several labels below the length limits', `${base32(secret(40)).match(/.{1,32}/g)?.join('.')}.t.example.com`, /bits of entropy per character, more than dns\.exfiltration\.max_entropy \(4\.5\)/],
];

for (const [title, name, expected] of cases) {
  test(`suspiciousName ${title}`, () => {
    const found = suspiciousName(name, LIMITS);
    if (expected === undefined) assert.equal(found, undefined);
    else assert.match(found ?? '', expected);
  });
}

test('subdomainCharacters keeps the labels left of the registrable domain', () => {
  assert.equal(subdomainCharacters('a1.b2.t.example.com'), 'a1b2t');
  assert.equal(subdomainCharacters('bucket.s3.amazonaws.com'), 'buckets3');
  assert.equal(subdomainCharacters('example.com'), '');
  assert.equal(subdomainCharacters('www.example.co.uk'), 'www');
});

test('shannonEntropy is 0 for one repeated character and log2(n) for n distinct ones', () => {
  assert.equal(shannonEntropy('aaaa'), 0);
  assert.equal(shannonEntropy('abcd'), 2);
  assert.equal(shannonEntropy(''), 0);
});

test('1 KB in iodine-style labels (63 characters of base32) is flagged on the first query and none of it passes', () => {
  const guard = createExfiltrationGuard();
  const names = tunnelNames(secret(1024), 63, 3, 't.example.com');
  const verdicts = names.map((name, i) => guard.admit('10.0.0.9', name, i, LIMITS));
  assert.ok(verdicts.every((verdict) => !verdict.ok), JSON.stringify(verdicts));
});

test('1 KB in short labels under every per-name limit runs out of the new-name budget long before 1 KB has passed', () => {
  const guard = createExfiltrationGuard();
  const names = tunnelNames(secret(1024), 20, 1, 't.example.com');
  assert.equal(names.every((name) => suspiciousName(name, LIMITS) === undefined), true);
  let passedCharacters = 0;
  let firstRefusal: string | undefined;
  // One query every 100 ms: slower than the rate limit, as a careful tool would go.
  names.forEach((name, i) => {
    const verdict = guard.admit('10.0.0.9', name, i * 100, LIMITS);
    if (verdict.ok) passedCharacters += 20;
    else firstRefusal ??= verdict.detail;
  });
  assert.match(firstRefusal ?? '', /new_name_budget/);
  // 5 bits a base32 character: what passed is under 1000 characters, about 600 bytes of the 1024.
  assert.ok(passedCharacters * 5 / 8 < 1024, `${passedCharacters} characters passed`);
  assert.ok(passedCharacters <= LIMITS.new_name_budget.count);
});

test('a client over the rate is refused until its budget refills; asking again for a known name costs no new-name budget', () => {
  const guard = createExfiltrationGuard();
  const limits = { ...LIMITS, rate: { count: 5, perMs: 1000 } };
  const results = Array.from({ length: 7 }, () => guard.admit('10.0.0.1', 'www.example.com', 0, limits).ok);
  assert.deepEqual(results, [true, true, true, true, true, false, false]);
  assert.equal(guard.admit('10.0.0.1', 'www.example.com', 1000, limits).ok, true);
  // Another client has its own budget.
  assert.equal(guard.admit('10.0.0.2', 'www.example.com', 0, limits).ok, true);
});

test('a flagged name throttles its client: its next ordinary queries wait about one window of the rate', () => {
  const guard = createExfiltrationGuard();
  const limits = { ...LIMITS, rate: { count: 10, perMs: 1000 } };
  assert.equal(guard.admit('10.0.0.1', `${'x'.repeat(60)}.example.com`, 0, limits).ok, false);
  assert.equal(guard.admit('10.0.0.1', 'www.example.com', 0, limits).ok, false);
  assert.equal(guard.admit('10.0.0.1', 'www.example.com', 900, limits).ok, false);
  assert.equal(guard.admit('10.0.0.1', 'www.example.com', 1200, limits).ok, true);
});

test('a guard in one of two worker processes keeps half of each budget', () => {
  const guard = createExfiltrationGuard(1 / 2);
  const limits = { ...LIMITS, rate: { count: 10, perMs: 1000 } };
  const passed = Array.from({ length: 10 }, () => guard.admit('10.0.0.1', 'www.example.com', 0, limits).ok).filter(Boolean).length;
  assert.equal(passed, 5);
});

test('flagged names in a row keep the client throttled until one window after the last, not longer', () => {
  const guard = createExfiltrationGuard();
  const limits = { ...LIMITS, rate: { count: 10, perMs: 1000 } };
  for (let i = 0; i < 50; i += 1) assert.equal(guard.admit('10.0.0.1', `${'x'.repeat(60)}${i}.example.com`, i * 10, limits).ok, false);
  assert.equal(guard.admit('10.0.0.1', 'www.example.com', 490 + 900, limits).ok, false);
  assert.equal(guard.admit('10.0.0.1', 'www.example.com', 490 + 1200, limits).ok, true);
});
