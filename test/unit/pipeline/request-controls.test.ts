import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileRequestControls, pathWithCredentials, requestHeadersFor, responseHeadersFor } from '../../../src/pipeline/request-controls.js';
import { testConfig } from '../../helpers/test-proxy.js';

const controlsFor = (input: Record<string, unknown>) => compileRequestControls(testConfig(input), (r, e) => `secret-${r}-${e}`);

test('header rules apply global first, then the rule; set replaces, add keeps, remove drops (any case)', () => {
  const controls = controlsFor({
    headers: { request: { remove: ['x-debug'], set: { 'X-Env': 'prod' } }, response: { remove: ['Server'] } },
    rules: [{ name: 'r', hosts: ['a.test'], headers: { request: { add: { 'X-Env': 'extra' } }, response: { add: { 'X-Seen': '1' } } } }],
  }).forRule('r');
  assert.deepEqual(requestHeadersFor(['X-Debug', '1', 'x-env', 'dev', 'Accept', '*/*'], controls, '10.0.0.1', false),
    ['Accept', '*/*', 'X-Env', 'prod', 'X-Env', 'extra']);
  assert.deepEqual(responseHeadersFor(['SERVER', 'x', 'Content-Type', 'text/plain'], controls), ['Content-Type', 'text/plain', 'X-Seen', '1']);
});

test('forwarded: keep passes the client\'s headers, strip drops them, replace names the real client (IPv6 quoted)', () => {
  const raw = ['X-Forwarded-For', '1.2.3.4', 'Forwarded', 'for=1.2.3.4', 'Via', '1.1 x', 'X-Forwarded-Proto', 'https'];
  assert.deepEqual(requestHeadersFor([...raw], controlsFor({}).forRule(undefined), '10.0.0.1', false), raw);
  assert.deepEqual(requestHeadersFor([...raw], controlsFor({ headers: { forwarded: 'strip' } }).forRule(undefined), '10.0.0.1', false), []);
  assert.deepEqual(requestHeadersFor([...raw], controlsFor({ headers: { forwarded: 'replace' } }).forRule(undefined), '2001:db8::1', false),
    ['X-Forwarded-For', '2001:db8::1', 'Forwarded', 'for="[2001:db8::1]"']);
});

test('credentials: a header is set always without a stand-in, only where the stand-in is with one; query parameters likewise', () => {
  const controls = controlsFor({
    rules: [{ name: 'r', hosts: ['a.test'], inject: [
      { header: 'Authorization', value: 'Bearer {secret}', secret: { env: 'X' }, replace: 'PCL_TOKEN_R1' },
      { header: 'X-Api-Key', secret: { env: 'Y' } },
      { query: 'key', secret: { env: 'Z' } },
    ] }],
  });
  const rule = controls.forRule('r');
  assert.deepEqual(requestHeadersFor(['Authorization', 'Bearer PCL_TOKEN_R1'], rule, '10.0.0.1', true),
    ['Authorization', 'Bearer secret-0-0', 'X-Api-Key', 'secret-0-1']);
  assert.deepEqual(requestHeadersFor(['Authorization', 'Basic other'], rule, '10.0.0.1', true), ['Authorization', 'Basic other', 'X-Api-Key', 'secret-0-1']);
  assert.deepEqual(requestHeadersFor(['Authorization', 'Bearer PCL_TOKEN_R1'], rule, '10.0.0.1', false), ['Authorization', 'Bearer PCL_TOKEN_R1'], 'not injectable: untouched');
  assert.equal(pathWithCredentials('/v1?a=1', rule), '/v1?a=1&key=secret-0-2');
  assert.equal(pathWithCredentials('/v1?key=mine', rule), '/v1?key=secret-0-2');
  assert.deepEqual(controls.findStandIn('x PCL_TOKEN_R1 y'), { standIn: 'PCL_TOKEN_R1', rule: 'r' });
  assert.equal(controls.findStandIn('nothing here'), undefined);
});
