import assert from 'node:assert/strict';
import { test } from 'node:test';
import { toH2Headers } from '../../../src/net/h2-upstream.js';

test('toH2Headers: pseudo-headers from the request, Host left to :authority, names lowercased', () => {
  const headers = toH2Headers({ method: 'POST', path: '/a?b=1', headers: ['Host', 'evil.test', 'Content-Type', 'text/plain', 'X-Trace', 'one'] }, 'h2.test:8443');
  assert.deepEqual(headers, {
    ':method': 'POST', ':scheme': 'https', ':authority': 'h2.test:8443', ':path': '/a?b=1', 'content-type': 'text/plain', 'x-trace': 'one',
  });
});

test('toH2Headers: connection-specific fields are dropped (RFC 9113 8.2.2), TE only as "trailers"', () => {
  const headers = toH2Headers({
    method: 'GET', path: '/',
    headers: ['Connection', 'close', 'Keep-Alive', 'timeout=5', 'Proxy-Connection', 'keep-alive', 'Transfer-Encoding', 'chunked', 'Upgrade', 'h2c', 'TE', 'gzip'],
  }, 'h.test');
  assert.deepEqual(Object.keys(headers).filter((name) => !name.startsWith(':')), []);
  assert.equal(toH2Headers({ method: 'GET', path: '/', headers: ['TE', 'Trailers'] }, 'h.test').te, 'Trailers');
});

test('toH2Headers: a pseudo-header smuggled as a field is not sent; repeated names keep every value in order', () => {
  const headers = toH2Headers({ method: 'GET', path: '/ok', headers: [':path', '/admin', 'Set-Thing', 'a', 'set-thing', 'b', 'SET-THING', 'c'] }, 'h.test');
  assert.equal(headers[':path'], '/ok');
  assert.deepEqual(headers['set-thing'], ['a', 'b', 'c']);
});
