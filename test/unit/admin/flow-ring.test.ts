import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createFlowRing } from '../../../src/admin/flow-ring.js';
import { makeRecord } from './make-record.js';

const filled = (capacity: number, count: number) => {
  const ring = createFlowRing(capacity);
  for (let i = 1; i <= count; i += 1) ring.push(makeRecord({ id: `f-${i}`, url: `http://example.com/${i}` }));
  return ring;
};

test('numbers flows from 1 and keeps them in order', () => {
  const ring = filled(5, 3);
  assert.deepEqual(ring.list().map((f) => f.seq), [1, 2, 3]);
  assert.equal(ring.lastSeq(), 3);
  assert.equal(ring.get('f-2')?.url, 'http://example.com/2');
});

test('keeps only the last `capacity` flows: the oldest go first, and cannot be fetched', () => {
  const ring = filled(3, 7);
  assert.equal(ring.size(), 3);
  assert.deepEqual(ring.list().map((f) => f.id), ['f-5', 'f-6', 'f-7']);
  assert.equal(ring.get('f-4'), undefined);
  assert.equal(ring.get('f-7')?.seq, 7);
});

test('without `after`, a limit gives the newest flows, oldest first', () => {
  assert.deepEqual(filled(10, 8).list({ limit: 3 }).map((f) => f.seq), [6, 7, 8]);
});

test('with `after`, pages forward from that seq, also across eviction', () => {
  const ring = filled(4, 10);
  assert.deepEqual(ring.list({ after: 7 }).map((f) => f.seq), [8, 9, 10]);
  assert.deepEqual(ring.list({ after: 2, limit: 2 }).map((f) => f.seq), [7, 8], 'flows 3-6 were evicted');
  assert.deepEqual(ring.list({ after: 10 }), []);
  assert.deepEqual(ring.list({ after: 0 }).map((f) => f.seq), [7, 8, 9, 10]);
});

test('a match function filters before the limit', () => {
  const ring = filled(10, 10);
  const even = ring.list({ limit: 2, match: (f) => f.seq % 2 === 0 });
  assert.deepEqual(even.map((f) => f.seq), [8, 10]);
});

test('views carry the decision and the display URL, with userinfo redacted', () => {
  const ring = createFlowRing(2);
  const view = ring.push(makeRecord({ verdict: 'allow', wouldDeny: true, url: 'http://user:pw@example.com/' }));
  assert.equal(view.decision, 'would-deny');
  assert.equal(view.url, 'http://***@example.com/');
  assert.ok(Object.isFrozen(view));
});

test('a capacity that is not a positive integer is refused', () => {
  assert.throws(() => createFlowRing(0), RangeError);
  assert.throws(() => createFlowRing(1.5), RangeError);
});
