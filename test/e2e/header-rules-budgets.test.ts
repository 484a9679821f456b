import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runCommand, curl } from '../helpers/clients.js';
import { startHttpOrigin } from '../helpers/origin.js';
import { startTestProxy } from '../helpers/test-proxy.js';

const pins = { 'web.test': '127.0.0.1', 'api.test': '127.0.0.1' };

test('header rules: global and per rule, on requests and responses; no Via or X-Forwarded-For of our own; client forwarding headers stripped or replaced', async (t) => {
  const origin = await startHttpOrigin(t, (_req, res) => {
    res.writeHead(200, { server: 'nginx/1.0 (leaky)', 'x-internal': 'node-7', 'content-type': 'text/plain' });
    res.end('ok\n');
  });
  const proxy = await startTestProxy(t, {
    resolve: pins,
    headers: { request: { remove: ['X-Debug'], set: { 'X-Env': 'prod' } }, response: { remove: ['Server'] }, forwarded: 'strip' },
    rules: [
      { name: 'web', hosts: ['web.test'], ports: [origin.port] },
      { name: 'api', hosts: ['api.test'], ports: [origin.port], headers: { request: { add: { 'X-Tenant': 'blue' } }, response: { set: { 'X-Internal': 'hidden' } }, forwarded: 'replace' } },
    ],
  });
  const common = ['-i', '-x', proxy.url, '-H', 'X-Debug: 1', '-H', 'X-Env: dev', '-H', 'X-Forwarded-For: 10.66.6.6', '-H', 'Via: 1.1 sneaky', '-H', 'Forwarded: for=10.66.6.6'];
  const web = await curl([...common, `http://web.test:${origin.port}/`]);
  assert.equal(web.status, 200);
  assert.doesNotMatch(web.stdout, /^server:/im, 'Server removed from the response');
  assert.match(web.stdout, /^x-internal: node-7/im);
  const seenWeb = origin.seen[0]?.headers;
  assert.equal(seenWeb?.['x-debug'], undefined);
  assert.equal(seenWeb?.['x-env'], 'prod', 'set replaces the client value');
  for (const name of ['x-forwarded-for', 'via', 'forwarded']) assert.equal(seenWeb?.[name], undefined, `${name} stripped`);

  const api = await curl([...common, `http://api.test:${origin.port}/`]);
  assert.match(api.stdout, /^x-internal: hidden/im, 'the rule sets a response header');
  const seenApi = origin.seen[1]?.headers;
  assert.equal(seenApi?.['x-tenant'], 'blue');
  assert.equal(seenApi?.['x-env'], 'prod', 'global rules apply too');
  assert.equal(seenApi?.['x-forwarded-for'], '127.0.0.1', 'replace: the real client, not what it claimed');
  assert.equal(seenApi?.forwarded, 'for=127.0.0.1');
  assert.equal(seenApi?.via, undefined);
});

test('by default a client\'s forwarding headers pass untouched and Portcullis adds none', async (t) => {
  const origin = await startHttpOrigin(t);
  const proxy = await startTestProxy(t, { resolve: pins, rules: [{ name: 'web', hosts: ['web.test'], ports: [origin.port] }] });
  await curl(['-x', proxy.url, '-H', 'X-Forwarded-For: 192.0.2.1', `http://web.test:${origin.port}/`]);
  await curl(['-x', proxy.url, `http://web.test:${origin.port}/plain`]);
  assert.equal(origin.seen[0]?.headers['x-forwarded-for'], '192.0.2.1');
  assert.equal(origin.seen[1]?.headers['x-forwarded-for'], undefined);
  assert.equal(origin.seen[1]?.headers.via, undefined);
});

test('max_request_bytes: a declared length over the budget gets 413 and the origin sees nothing; a chunked body is cut when it passes it', async (t) => {
  const origin = await startHttpOrigin(t);
  const proxy = await startTestProxy(t, { resolve: pins, rules: [{ name: 'up', hosts: ['api.test'], ports: [origin.port], max_request_bytes: 65536 }] });
  const small = await curl(['-x', proxy.url, '--data-binary', 'x'.repeat(1000), `http://api.test:${origin.port}/small`]);
  assert.equal(small.status, 200);
  const declared = await runCommand('sh', ['-c', `head -c 200000 /dev/zero | curl -s -o /dev/null -w '%{http_code}' -x ${proxy.url} --data-binary @- http://api.test:${origin.port}/declared`]);
  assert.equal(declared.stdout, '413');
  const chunked = await runCommand('sh', ['-c', `head -c 200000 /dev/zero | curl -s -o /dev/null -w '%{http_code}' -x ${proxy.url} -H 'Transfer-Encoding: chunked' --data-binary @- http://api.test:${origin.port}/chunked`]);
  assert.equal(chunked.stdout, '413');
  assert.deepEqual(origin.seen.map((s) => s.url), ['/small'], 'no oversized body was ever completed at the origin');
  const flows = await proxy.waitForFlows(3);
  assert.deepEqual(flows.filter((f) => f.reason === 'body-too-large').map((f) => f.status).sort(), [413, 413]);
});

test('rate: per_client beyond the rate gets 429 with Retry-After; other clients and rules are not limited', async (t) => {
  const origin = await startHttpOrigin(t);
  const proxy = await startTestProxy(t, {
    resolve: pins,
    rules: [{ name: 'limited', hosts: ['api.test'], ports: [origin.port], rate: { per_client: '3/m' } }, { name: 'free', hosts: ['web.test'], ports: [origin.port] }],
  });
  const statuses: number[] = [];
  for (let i = 0; i < 5; i += 1) statuses.push((await curl(['-x', proxy.url, `http://api.test:${origin.port}/r${i}`])).status);
  assert.deepEqual(statuses, [200, 200, 200, 429, 429]);
  const limited = await curl(['-i', '-x', proxy.url, `http://api.test:${origin.port}/again`]);
  assert.match(limited.stdout, /^retry-after: \d+/im);
  assert.match(limited.stdout, /rate-limited/);
  assert.equal((await curl(['-x', proxy.url, `http://web.test:${origin.port}/free`])).status, 200);
  assert.equal(origin.seen.filter((s) => s.url.startsWith('/r')).length, 3);
});
