import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type http from 'node:http';
import { test } from 'node:test';
import { createFlowRing } from '../../../src/admin/flow-ring.js';
import { createFlowStream } from '../../../src/admin/flow-stream.js';
import { makeRecord } from './make-record.js';

/** A response that records what was written and reports backpressure while `full`. */
const fakeResponse = () => {
  const res = Object.assign(new EventEmitter(), {
    written: [] as string[],
    full: false,
    status: 0,
    writeHead(status: number) { res.status = status; return res; },
    write(text: string) { res.written.push(text); return !res.full; },
    end() { res.emit('close'); },
  });
  return res;
};
const fakeRequest = { socket: { setNoDelay() {} }, headers: {} } as unknown as http.IncomingMessage;

const events = (written: string[]): { event: string; data: unknown }[] =>
  written.join('').split('\n\n').filter((block) => block.includes('data: ')).map((block) => ({
    event: /event: (\S+)/.exec(block)?.[1] ?? 'message',
    data: JSON.parse(/data: (.*)/.exec(block)?.[1] ?? 'null'),
  }));

const stats = () => ({ flows: 0, denied: 0, wouldDeny: 0, activeConnections: 0, flowsPerSecond: 0, uptimeSeconds: 0 });
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('a client gets the kept history after its seq, then new flows in batches', async () => {
  const ring = createFlowRing(10);
  const stream = createFlowStream({ ring, stats, batchMs: 5, statsMs: 60_000 });
  for (let i = 1; i <= 3; i += 1) ring.push(makeRecord({ id: `f-${i}` }));
  const res = fakeResponse();
  stream.attach(fakeRequest, res as unknown as http.ServerResponse, 1);
  assert.equal(res.status, 200);
  stream.publish(ring.push(makeRecord({ id: 'f-4' })));
  stream.publish(ring.push(makeRecord({ id: 'f-5' })));
  await pause(30);
  const flows = events(res.written).filter((e) => e.event === 'flows').map((e) => (e.data as { id: string }[]).map((f) => f.id));
  assert.deepEqual(flows, [['f-2', 'f-3'], ['f-4', 'f-5']]);
  stream.close();
  assert.equal(stream.clients(), 0);
});

test('a slow client keeps only the newest queued flows and is told how many it lost', async () => {
  const ring = createFlowRing(100);
  const stream = createFlowStream({ ring, stats, batchMs: 5, maxQueue: 3, statsMs: 60_000 });
  const res = fakeResponse();
  stream.attach(fakeRequest, res as unknown as http.ServerResponse, undefined);
  res.full = true; // writing x-0 reports backpressure, so the stream holds back from then on
  stream.publish(ring.push(makeRecord({ id: 'x-0' })));
  await pause(20);
  const before = res.written.length;
  for (let i = 1; i <= 10; i += 1) stream.publish(ring.push(makeRecord({ id: `x-${i}` })));
  await pause(20);
  assert.equal(res.written.length, before, 'nothing is written while the client is blocked');
  res.full = false;
  res.emit('drain');
  await pause(30);
  const after = events(res.written.slice(before));
  assert.deepEqual(after.filter((e) => e.event === 'dropped').map((e) => e.data), [{ count: 7 }]);
  assert.deepEqual(after.filter((e) => e.event === 'flows').flatMap((e) => (e.data as { id: string }[]).map((f) => f.id)), ['x-8', 'x-9', 'x-10']);
  stream.close();
});

test('beyond maxClients a new stream is refused with 503', () => {
  const stream = createFlowStream({ ring: createFlowRing(1), stats, maxClients: 1 });
  stream.attach(fakeRequest, fakeResponse() as unknown as http.ServerResponse, undefined);
  const refused = Object.assign(fakeResponse(), { end() {}, req: { method: 'GET' }, headersSent: false });
  stream.attach(fakeRequest, refused as unknown as http.ServerResponse, undefined);
  assert.equal(refused.status, 503);
  stream.close();
});
