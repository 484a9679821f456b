import net from 'node:net';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startHttpOrigin } from '../helpers/origin.js';
import { startTestProxy } from '../helpers/test-proxy.js';
import { curl } from '../helpers/clients.js';
import { sendRaw, statusOf } from '../helpers/raw-client.js';

const resolve = { 'allowed.test': '127.0.0.1' };

test('a header section over limits.max_header_bytes gets 431 and the origin sees nothing', async (t) => {
  const origin = await startHttpOrigin(t);
  const proxy = await startTestProxy(t, { resolve, limits: { max_header_bytes: 4096 }, rules: [{ name: 'a', hosts: ['allowed.test'], ports: [origin.port] }] });
  const reply = await sendRaw(proxy.port, `GET http://allowed.test:${origin.port}/ HTTP/1.1\r\nHost: allowed.test:${origin.port}\r\nX-Big: ${'a'.repeat(8000)}\r\n\r\n`, { idleMs: 300 });
  assert.equal(statusOf(reply), 431, reply);
  const longLine = await sendRaw(proxy.port, `GET http://allowed.test:${origin.port}/${'p'.repeat(8000)} HTTP/1.1\r\nHost: allowed.test:${origin.port}\r\n\r\n`, { idleMs: 300 });
  assert.equal(statusOf(longLine), 431, 'an over-long request line counts too');
  assert.equal(origin.seen.length, 0);
  const flows = await proxy.waitForFlows(2);
  assert.ok(flows.every((f) => f.reason === 'headers-too-large'));
});

test('more header fields than limits.max_headers gets 431', async (t) => {
  const origin = await startHttpOrigin(t);
  const proxy = await startTestProxy(t, { resolve, limits: { max_headers: 20 }, rules: [{ name: 'a', hosts: ['allowed.test'], ports: [origin.port] }] });
  const many = Array.from({ length: 30 }, (_, i) => `X-H${i}: ${i}`).join('\r\n');
  const reply = await sendRaw(proxy.port, `GET http://allowed.test:${origin.port}/ HTTP/1.1\r\nHost: allowed.test:${origin.port}\r\n${many}\r\n\r\n`, { idleMs: 300 });
  assert.equal(statusOf(reply), 431, reply);
  assert.equal(origin.seen.length, 0);
});

test('a client that sends its headers too slowly (slowloris) gets 408 and the proxy serves others meanwhile', async (t) => {
  const origin = await startHttpOrigin(t);
  const proxy = await startTestProxy(t, { resolve, timeouts: { client_headers: '800ms' }, rules: [{ name: 'a', hosts: ['allowed.test'], ports: [origin.port] }] });
  const slow = net.connect(proxy.port, '127.0.0.1');
  let reply = '';
  slow.on('data', (c: Buffer) => { reply += c.toString('latin1'); });
  slow.write(`GET http://allowed.test:${origin.port}/ HTTP/1.1\r\n`);
  const drip = setInterval(() => slow.write('X-Drip: 1\r\n'), 100);
  t.after(() => { clearInterval(drip); slow.destroy(); });
  const other = await curl(['-x', proxy.url, `http://allowed.test:${origin.port}/meanwhile`]);
  assert.equal(other.status, 200);
  await new Promise<void>((resolve) => { slow.once('close', () => resolve()); setTimeout(resolve, 5000).unref(); });
  clearInterval(drip);
  assert.equal(statusOf(reply), 408, reply);
  assert.deepEqual(origin.seen.map((s) => s.url), ['/meanwhile']);
});

test('connections over limits.max_connections_per_client get 503 and others are still served', async (t) => {
  const origin = await startHttpOrigin(t);
  const proxy = await startTestProxy(t, { resolve, limits: { max_connections_per_client: 2 }, rules: [{ name: 'a', hosts: ['allowed.test'], ports: [origin.port] }] });
  const held = await Promise.all([0, 1].map(() => new Promise<net.Socket>((resolve) => {
    const s = net.connect(proxy.port, '127.0.0.1', () => resolve(s));
  })));
  t.after(() => held.forEach((s) => s.destroy()));
  await new Promise((r) => setTimeout(r, 50));
  const third = await sendRaw(proxy.port, `GET http://allowed.test:${origin.port}/ HTTP/1.1\r\nHost: allowed.test:${origin.port}\r\n\r\n`, { idleMs: 300 });
  assert.equal(statusOf(third), 503, third);
  assert.match(third, /connection_limit_reached/);
  held.forEach((s) => s.destroy());
  await new Promise((r) => setTimeout(r, 100));
  const after = await curl(['-x', proxy.url, `http://allowed.test:${origin.port}/after`]);
  assert.equal(after.status, 200);
});

test('an idle keep-alive client connection is closed after timeouts.idle', async (t) => {
  const origin = await startHttpOrigin(t);
  const proxy = await startTestProxy(t, { resolve, timeouts: { idle: '300ms' }, rules: [{ name: 'a', hosts: ['allowed.test'], ports: [origin.port] }] });
  const closedByProxy = await new Promise<boolean>((resolve) => {
    const socket = net.connect(proxy.port, '127.0.0.1', () => socket.write(`GET http://allowed.test:${origin.port}/ HTTP/1.1\r\nHost: allowed.test:${origin.port}\r\n\r\n`));
    socket.on('data', () => {});
    socket.once('end', () => resolve(true));
    setTimeout(() => { socket.destroy(); resolve(false); }, 10_000).unref();
  });
  assert.equal(closedByProxy, true, 'the proxy closed the idle keep-alive connection itself');
});
