import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type http from 'node:http';
import type net from 'node:net';
import { createDrainTracker } from '../../../src/net/drain-tracker.js';

/** Just what the tracker touches of a socket and a response. */
const fakeSocket = (): net.Socket & { wasDestroyed: () => boolean } => {
  let destroyed = false;
  return Object.assign(new EventEmitter(), { destroy: () => { destroyed = true; }, destroyed: false, wasDestroyed: () => destroyed }) as never;
};
const fakeResponse = (): http.ServerResponse & EventEmitter => Object.assign(new EventEmitter(), { socket: {}, shouldKeepAlive: true }) as never;

test('a drain closes idle HTTP connections, keeps busy ones and tunnels, and gives fresh ones a moment to send their request', () => {
  let now = 0;
  const tracker = createDrainTracker(() => now);
  const [idle, busy, tunnel, fresh, late] = [fakeSocket(), fakeSocket(), fakeSocket(), fakeSocket(), fakeSocket()];
  for (const socket of [idle, busy, tunnel, fresh]) tracker.accepted(socket);
  const done = fakeResponse();
  tracker.request(idle, done);
  done.emit('close');
  const inFlight = fakeResponse();
  tracker.request(busy, inFlight);
  tracker.tunnel(tunnel);
  tracker.tick([idle, busy, tunnel, fresh], now);
  assert.deepEqual([idle, busy, tunnel, fresh].map((s) => s.wasDestroyed()), [true, false, false, false]);
  // A request that arrives during the drain closes its connection after the response.
  now = 500;
  tracker.accepted(late);
  const duringDrain = fakeResponse();
  tracker.request(late, duringDrain);
  assert.equal(duringDrain.shouldKeepAlive, false);
  now = 1500;
  tracker.tick([busy, tunnel, fresh, late], now);
  assert.deepEqual([busy, tunnel, fresh, late].map((s) => s.wasDestroyed()), [false, false, true, false], 'the fresh one waited past its moment');
  inFlight.emit('close');
  tracker.tick([busy], now);
  assert.equal(busy.wasDestroyed(), true);
});
