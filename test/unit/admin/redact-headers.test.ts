import assert from 'node:assert/strict';
import { test } from 'node:test';
import { redactHeaderObject, redactHeaders } from '../../../src/flow/redact-headers.js';

test('credential headers keep their name and lose their value, whatever the case', () => {
  assert.deepEqual(redactHeaders([
    'Host', 'example.com', 'AUTHORIZATION', 'Bearer x', 'Proxy-Authorization', 'Basic y', 'cookie', 'a=b', 'Accept', '*/*',
  ]), [['Host', 'example.com'], ['AUTHORIZATION', '[redacted]'], ['Proxy-Authorization', '[redacted]'], ['cookie', '[redacted]'], ['Accept', '*/*']]);
  assert.deepEqual(redactHeaderObject({ 'set-cookie': 's=1', 'content-type': 'text/plain' }), [['set-cookie', '[redacted]'], ['content-type', 'text/plain']]);
});

test('a record keeps at most 100 headers, each value at most 1024 characters', () => {
  const many = Array.from({ length: 300 }, (_v, i) => [`x-h${i}`, 'v']).flat();
  assert.equal(redactHeaders(many).length, 100);
  const [[, long] = ['', '']] = redactHeaders(['x-long', 'a'.repeat(5000)]);
  assert.equal(long.length, 1025);
  assert.ok(long.endsWith('…'));
});
