import assert from 'node:assert/strict';
import type http from 'node:http';
import { test } from 'node:test';
import { checkAdminAccess, isLoopbackAddress, isLoopbackBindHost } from '../../../src/admin/admin-auth.js';

const TOKEN = 'correct-horse-battery-staple';

const request = (remoteAddress: string, headers: http.IncomingHttpHeaders = {}): http.IncomingMessage =>
  ({ socket: { remoteAddress }, headers: { host: '127.0.0.1:9090', ...headers } }) as unknown as http.IncomingMessage;

test('loopback addresses are 127.0.0.0/8, ::1 and their IPv4-mapped forms', () => {
  for (const address of ['127.0.0.1', '127.10.0.3', '::1', '::ffff:127.0.0.1', '[::1]']) assert.ok(isLoopbackAddress(address), address);
  for (const address of ['10.0.0.1', '192.0.2.1', '::ffff:10.0.0.1', 'fe80::1', 'localhost', '', undefined]) assert.ok(!isLoopbackAddress(address), String(address));
  assert.ok(isLoopbackBindHost('localhost'));
  assert.ok(!isLoopbackBindHost('0.0.0.0'));
  assert.ok(!isLoopbackBindHost('::'));
});

const cases: [string, http.IncomingMessage, string | undefined, boolean, number | 'ok'][] = [
  ['a loopback client needs no token', request('127.0.0.1'), TOKEN, false, 'ok'],
  ['a loopback client may use localhost', request('::1', { host: 'localhost:9090' }), undefined, false, 'ok'],
  ['a non-loopback client without a token is refused with 401', request('192.0.2.7'), TOKEN, false, 401],
  ['a non-loopback client is refused when no token exists at all', request('192.0.2.7'), undefined, false, 401],
  ['a non-loopback client with the token passes', request('192.0.2.7', { authorization: `Bearer ${TOKEN}` }), TOKEN, false, 'ok'],
  ['a wrong token is refused, from anywhere', request('127.0.0.1', { authorization: 'Bearer nope-nope-nope-nope' }), TOKEN, false, 401],
  ['a token of another length is refused', request('192.0.2.7', { authorization: `Bearer ${TOKEN}x` }), TOKEN, false, 401],
  ['a bearer token when none is configured is refused', request('127.0.0.1', { authorization: `Bearer ${TOKEN}` }), undefined, false, 401],
  ['a loopback client under a DNS name is refused (rebinding)', request('127.0.0.1', { host: 'attacker.example:9090' }), undefined, false, 403],
  ['a DNS name is fine with the token', request('127.0.0.1', { host: 'proxy.internal:9090', authorization: `Bearer ${TOKEN}` }), TOKEN, false, 'ok'],
  ['a cross-origin POST is refused', request('127.0.0.1', { origin: 'http://evil.example' }), undefined, true, 403],
  ['a same-origin POST passes', request('127.0.0.1', { origin: 'http://127.0.0.1:9090' }), undefined, true, 'ok'],
  ['an opaque-origin POST is refused', request('127.0.0.1', { origin: 'null' }), undefined, true, 403],
  ['a POST without Origin (curl) passes', request('127.0.0.1'), undefined, true, 'ok'],
];

for (const [name, req, token, mutating, expected] of cases) {
  test(name, () => {
    const result = checkAdminAccess(req, token, mutating);
    assert.equal(result.ok ? 'ok' : result.status, expected, result.ok ? '' : result.message);
  });
}
