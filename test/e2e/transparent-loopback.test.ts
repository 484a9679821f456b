/**
 * Transparent listeners on 127.0.0.1 without a firewall: clients connect to them directly, as
 * a client whose traffic was routed to the proxy host would. No root needed. (With REDIRECT
 * rules and original destinations: transparent-netns.test.ts.)
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startHttpOrigin } from '../helpers/origin.js';
import { startTestProxy } from '../helpers/test-proxy.js';
import { curl, runCommand } from '../helpers/clients.js';
import { sendRaw, statusOf } from '../helpers/raw-client.js';

const pinned = { 'allowed.test': '127.0.0.1', 'denied.test': '127.0.0.1' };

test('transparent-http: an origin-form request is routed by its Host header and judged by the same rules', async (t) => {
  const origin = await startHttpOrigin(t);
  const proxy = await startTestProxy(t, {
    listen: [{ address: '127.0.0.1:0', mode: 'transparent-http' }],
    resolve: pinned,
    rules: [{ name: 'web', hosts: ['allowed.test'], ports: [origin.port], methods: ['GET'], paths: ['/public'] }],
  });
  const via = (host: string): string[] => ['--connect-to', `${host}:${origin.port}:127.0.0.1:${proxy.port}`];
  const ok = await curl([...via('allowed.test'), `http://allowed.test:${origin.port}/public/a?b=1`]);
  assert.equal(ok.status, 200, ok.stderr);
  assert.equal(ok.body, 'origin saw GET /public/a?b=1\n');
  assert.equal(origin.seen[0]?.headers.host, `allowed.test:${origin.port}`);
  const path = await curl(['-i', ...via('allowed.test'), `http://allowed.test:${origin.port}/private`]);
  assert.equal(path.status, 403);
  assert.match(path.body, /path-not-allowed/);
  const method = await curl([...via('allowed.test'), '-X', 'DELETE', `http://allowed.test:${origin.port}/public/a`]);
  assert.equal(method.status, 403);
  const host = await curl([...via('denied.test'), `http://denied.test:${origin.port}/public/a`]);
  assert.equal(host.status, 403);
  assert.equal(origin.seen.length, 1);
  const flows = await proxy.waitForFlows(4);
  const first = flows.find((f) => f.url === `http://allowed.test:${origin.port}/public/a?b=1`);
  assert.equal(first?.verdict, 'allow');
  assert.equal(first?.rule, 'web');
  assert.equal(first?.originalDestination, undefined, 'a direct connection has no original destination');
  assert.deepEqual(flows.filter((f) => f.verdict === 'deny').map((f) => f.reason).sort(), ['method-not-allowed', 'no-rule-matched', 'path-not-allowed']);
});

test('transparent-http: no Host, two Hosts, a CONNECT or an https:// URL are refused without reaching anyone', async (t) => {
  const origin = await startHttpOrigin(t);
  const proxy = await startTestProxy(t, {
    listen: [{ address: '127.0.0.1:0', mode: 'transparent-http' }],
    resolve: pinned,
    rules: [{ name: 'web', hosts: ['allowed.test'], ports: [origin.port] }],
  });
  const noHost = await sendRaw(proxy.port, 'GET / HTTP/1.0\r\n\r\n');
  assert.equal(statusOf(noHost), 400);
  assert.match(noHost, /no Host header/);
  const twoHosts = await sendRaw(proxy.port, `GET / HTTP/1.1\r\nHost: allowed.test:${origin.port}\r\nHost: denied.test\r\n\r\n`);
  assert.equal(statusOf(twoHosts), 400);
  const connect = await sendRaw(proxy.port, `CONNECT allowed.test:${origin.port} HTTP/1.1\r\nHost: allowed.test:${origin.port}\r\n\r\n`);
  assert.equal(statusOf(connect), 400);
  assert.match(connect, /transparent listener/);
  const https = await sendRaw(proxy.port, `GET https://allowed.test:${origin.port}/ HTTP/1.1\r\nHost: allowed.test:${origin.port}\r\n\r\n`);
  assert.equal(statusOf(https), 400);
  // An absolute-form http:// request is accepted when Host agrees with it.
  const absolute = await sendRaw(proxy.port, `GET http://allowed.test:${origin.port}/abs HTTP/1.1\r\nHost: allowed.test:${origin.port}\r\nConnection: close\r\n\r\n`);
  assert.equal(statusOf(absolute), 200);
  assert.equal(origin.seen.length, 1);
});

test('transparent-http: verify_original_destination fails closed when the original destination is unknown', async (t) => {
  const origin = await startHttpOrigin(t);
  const proxy = await startTestProxy(t, {
    listen: [{ address: '127.0.0.1:0', mode: 'transparent-http' }],
    resolve: pinned,
    transparent: { verify_original_destination: true },
    rules: [{ name: 'web', hosts: ['allowed.test'], ports: [origin.port] }],
  });
  const result = await curl(['--connect-to', `allowed.test:${origin.port}:127.0.0.1:${proxy.port}`, `http://allowed.test:${origin.port}/`]);
  assert.equal(result.status, 403);
  assert.match(result.body, /host-mismatch/);
  assert.equal(origin.seen.length, 0);
  const [flow] = await proxy.waitForFlows(1);
  assert.equal(flow?.reason, 'host-mismatch');
  assert.equal(flow?.rule, 'web');
});

test('transparent-tls: a denied SNI, a missing SNI and plain text end with an alert or a close, and each gets a log line', async (t) => {
  const proxy = await startTestProxy(t, {
    listen: [{ address: '127.0.0.1:0', mode: 'transparent-tls' }],
    resolve: pinned,
    rules: [{ name: 'tls', hosts: ['allowed.test'] }],
  });
  const denied = await curl(['--connect-to', `denied.test:443:127.0.0.1:${proxy.port}`, 'https://denied.test/']);
  assert.equal(denied.code, 35, denied.stderr);
  assert.match(denied.stderr, /alert/i);
  const bare = await runCommand('openssl', ['s_client', '-connect', `127.0.0.1:${proxy.port}`, '-noservername'], { timeoutMs: 10_000, input: 'Q\n' });
  assert.match(bare.stderr, /alert access denied/i);
  const plain = await sendRaw(proxy.port, 'GET / HTTP/1.1\r\nHost: allowed.test\r\n\r\n');
  assert.equal(plain, '');
  const flows = await proxy.waitForFlows(3);
  const bySni = flows.find((f) => f.sni === 'denied.test');
  assert.equal(bySni?.kind, 'tunnel');
  assert.equal(bySni?.verdict, 'deny');
  assert.equal(bySni?.reason, 'no-rule-matched');
  assert.equal(bySni?.url, 'denied.test:443');
  assert.deepEqual(flows.filter((f) => f.reason === 'sni-missing').map((f) => f.detail).sort(),
    ['the ClientHello has no SNI; transparent.sni_missing is deny', 'the client did not start TLS']);
});

test('transparent-tls: an allowed SNI is dialed at the checked address of that name, on 443 when the original port is unknown', async (t) => {
  const proxy = await startTestProxy(t, {
    listen: [{ address: '127.0.0.1:0', mode: 'transparent-tls' }],
    resolve: { 'allowed.test': '127.0.0.1', 'blocked.test': '10.255.255.1' },
    destinations: { allow_ranges: ['127.0.0.0/8'] },
    rules: [{ name: 'tls', hosts: ['allowed.test', 'blocked.test'] }],
  });
  const allowed = await curl(['--max-time', '5', '--connect-to', `allowed.test:443:127.0.0.1:${proxy.port}`, 'https://allowed.test/']);
  assert.notEqual(allowed.code, 0);
  const blocked = await curl(['--max-time', '5', '--connect-to', `blocked.test:443:127.0.0.1:${proxy.port}`, 'https://blocked.test/']);
  assert.equal(blocked.code, 35, blocked.stderr);
  const flows = await proxy.waitForFlows(2);
  const toAllowed = flows.find((f) => f.sni === 'allowed.test');
  assert.equal(toAllowed?.verdict, 'allow');
  assert.equal(toAllowed?.rule, 'tls');
  assert.equal(toAllowed?.port, 443);
  // Whatever listens (or not) on 127.0.0.1:443 here, the dial went to the pinned, checked address.
  assert.ok(toAllowed?.upstreamAddress === '127.0.0.1:443' || /PCL_ERR_UPSTREAM_/.test(toAllowed?.errorCode ?? ''), JSON.stringify(toAllowed));
  const toBlocked = flows.find((f) => f.sni === 'blocked.test');
  assert.equal(toBlocked?.verdict, 'deny');
  assert.equal(toBlocked?.reason, 'address-blocked');
});
