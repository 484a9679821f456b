import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { startHttpOrigin, type Origin } from '../helpers/origin.js';
import { startTestProxy, type TestProxy } from '../helpers/test-proxy.js';
import { sendRaw, statusOf } from '../helpers/raw-client.js';

/**
 * Every case names a destination that must not pass a policy allowing only `allowed.test`
 * and `*.example.test`. Every name used here resolves (by pin) to the recording origin, so a
 * bypass would show up as a request the origin saw. Targets are sent raw, exactly as written.
 */
const setup = async (t: TestContext, extra: Record<string, unknown> = {}): Promise<{ origin: Origin; proxy: TestProxy }> => {
  const origin = await startHttpOrigin(t);
  const names = ['allowed.test', 'denied.test', 'evil-example.test', 'example.test.evil.test', 'example.test', 'sub.example.test',
    'xn--bcher-kva.example.test', 'allowed.test.evil.test', 'evil.test'];
  const proxy = await startTestProxy(t, {
    resolve: Object.fromEntries(names.map((n) => [n, '127.0.0.1'])),
    rules: [
      { name: 'allowed', hosts: ['allowed.test'], ports: [origin.port] },
      { name: 'wild', hosts: ['*.example.test'], ports: [origin.port] },
    ],
    ...extra,
  });
  return { origin, proxy };
};

const get = (proxy: TestProxy, target: string, host: string): Promise<string> =>
  sendRaw(proxy.port, `GET ${target} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`, { idleMs: 300 });
const connect = (proxy: TestProxy, authority: string): Promise<string> =>
  sendRaw(proxy.port, `CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n\r\n`, { idleMs: 300 });

const deniedTargets: Record<string, (port: number) => string> = {
  'a name that only ends like the wildcard (evil-example.test)': (p) => `evil-example.test:${p}`,
  'the wildcard suffix followed by another domain': (p) => `example.test.evil.test:${p}`,
  'the apex of a wildcard rule': (p) => `example.test:${p}`,
  'an allowed name followed by another domain': (p) => `allowed.test.evil.test:${p}`,
  'an unlisted host': (p) => `denied.test:${p}`,
  'the loopback address in dotted form': (p) => `127.0.0.1:${p}`,
  'the loopback address as one decimal number': (p) => `2130706433:${p}`,
  'the loopback address in hex': (p) => `0x7f000001:${p}`,
  'the loopback address in dotted hex': (p) => `0x7f.0x0.0x0.0x1:${p}`,
  'the loopback address in octal': (p) => `0177.0.0.1:${p}`,
  'the loopback address in short form': (p) => `127.1:${p}`,
  'the loopback address with a trailing dot': (p) => `127.0.0.1.:${p}`,
  'IPv6 loopback': (p) => `[::1]:${p}`,
  'IPv4-mapped IPv6 loopback': (p) => `[::ffff:127.0.0.1]:${p}`,
  'IPv4-mapped IPv6 loopback in hex': (p) => `[::ffff:7f00:1]:${p}`,
  'IPv4-mapped IPv6 in full form': (p) => `[0:0:0:0:0:ffff:127.0.0.1]:${p}`,
  'the unspecified address': (p) => `0.0.0.0:${p}`,
  'the unspecified address as 0': (p) => `0:${p}`,
};

for (const [name, target] of Object.entries(deniedTargets)) {
  test(`denies ${name} in absolute-form and CONNECT; the origin sees nothing`, async (t) => {
    const { origin, proxy } = await setup(t);
    const authority = target(origin.port);
    const plain = await get(proxy, `http://${authority}/`, authority);
    assert.ok([400, 403].includes(statusOf(plain)), `${authority}: ${plain}`);
    const tunnel = await connect(proxy, authority);
    assert.ok([400, 403].includes(statusOf(tunnel)), `${authority}: ${tunnel}`);
    assert.equal(origin.seen.length, 0);
    assert.equal(origin.connections(), 0);
  });
}

const userinfo: Record<string, (port: number) => string> = {
  'userinfo naming the allowed host before a denied one': (p) => `http://allowed.test:${p}@denied.test:${p}/`,
  'a fragment hiding the real host': (p) => `http://denied.test:${p}#@allowed.test:${p}/`,
  'an encoded at-sign': (p) => `http://allowed.test%40denied.test:${p}/`,
  'a backslash before the at-sign': (p) => `http://allowed.test:${p}\\@denied.test:${p}/`,
  'a question mark in the authority': (p) => `http://denied.test:${p}?@allowed.test:${p}/`,
  'a percent-encoded host name': (p) => `http://%61llowed.test:${p}/`,
  'a host with a space': (p) => `http://allowed.test%20.evil.test:${p}/`,
};

for (const [name, target] of Object.entries(userinfo)) {
  test(`refuses ${name}; the origin sees nothing`, async (t) => {
    const { origin, proxy } = await setup(t);
    const url = target(origin.port);
    const reply = await get(proxy, url, `allowed.test:${origin.port}`);
    assert.ok([400, 403].includes(statusOf(reply)), `${url}: ${reply}`);
    assert.equal(origin.seen.length, 0);
  });
}

const allowedTargets: Record<string, (port: number) => string> = {
  'the allowed name in upper case': (p) => `ALLOWED.TEST:${p}`,
  'the allowed name with a trailing dot': (p) => `allowed.test.:${p}`,
  'a subdomain of the wildcard': (p) => `sub.example.test:${p}`,
  'a subdomain of the wildcard in mixed case with a trailing dot': (p) => `Sub.Example.TEST.:${p}`,
  'an IDN subdomain of the wildcard, in punycode as clients send it': (p) => `xn--bcher-kva.example.test:${p}`,
};

for (const [name, target] of Object.entries(allowedTargets)) {
  test(`normalizes ${name} and allows it`, async (t) => {
    const { origin, proxy } = await setup(t);
    const authority = target(origin.port);
    const reply = await get(proxy, `http://${authority}/ok`, authority);
    assert.equal(statusOf(reply), 200, reply);
    assert.equal(origin.seen.length, 1);
  });
}

test('a name that resolves to a blocked range is refused before any connection (address-blocked)', async (t) => {
  const { origin, proxy } = await setup(t, { destinations: { allow_ranges: [] } });
  const reply = await get(proxy, `http://allowed.test:${origin.port}/`, `allowed.test:${origin.port}`);
  assert.equal(statusOf(reply), 403);
  assert.match(reply, /address-blocked/);
  assert.match(reply, /destination_ip_prohibited/);
  const tunnel = await connect(proxy, `allowed.test:${origin.port}`);
  assert.equal(statusOf(tunnel), 403);
  assert.equal(origin.connections(), 0);
});

test('an IP rule allows that IP in any notation, and only that IP', async (t) => {
  const origin = await startHttpOrigin(t);
  const proxy = await startTestProxy(t, { rules: [{ name: 'ip', hosts: ['127.0.0.1'], ports: [origin.port] }] });
  for (const form of ['127.0.0.1', '2130706433', '0x7f.0.0.1', '127.1', '[::ffff:127.0.0.1]']) {
    const reply = await get(proxy, `http://${form}:${origin.port}/ip`, `${form}:${origin.port}`);
    assert.equal(statusOf(reply), 200, `${form}: ${reply}`);
  }
  const other = await get(proxy, `http://127.0.0.2:${origin.port}/`, `127.0.0.2:${origin.port}`);
  assert.equal(statusOf(other), 403);
});

test('a raw Unicode host in the request line is rejected (request targets are ASCII)', async (t) => {
  const { origin, proxy } = await setup(t);
  const reply = await get(proxy, `http://bücher.example.test:${origin.port}/`, `xn--bcher-kva.example.test:${origin.port}`);
  assert.equal(statusOf(reply), 400);
  assert.equal(origin.seen.length, 0);
});

test('DNS is asked once per connection and the checked answer is the address dialed (no rebinding)', async (t) => {
  // The origin closes every connection, so each request needs a new lookup and a new check.
  const origin = await startHttpOrigin(t, (req, res) => {
    res.writeHead(200, { connection: 'close' });
    res.end('ok');
  });
  let calls = 0;
  // A rebinding resolver: a harmless answer first, then a blocked one.
  const lookup = async (): Promise<Array<{ address: string; family: number }>> => {
    calls += 1;
    return [{ address: calls === 1 ? '127.0.0.1' : '10.0.0.1', family: 4 }];
  };
  const proxy = await startTestProxy(t, { destinations: { allow_ranges: ['127.0.0.0/8'] }, rules: [{ name: 'r', hosts: ['rebind.test'], ports: [origin.port] }] }, { lookup });
  const first = await get(proxy, `http://rebind.test:${origin.port}/one`, `rebind.test:${origin.port}`);
  assert.equal(statusOf(first), 200);
  assert.equal(calls, 1);
  const flows = await proxy.waitForFlows(1);
  assert.equal(flows[0]?.upstreamAddress, `127.0.0.1:${origin.port}`);
  const second = await get(proxy, `http://rebind.test:${origin.port}/two`, `rebind.test:${origin.port}`);
  assert.equal(statusOf(second), 403, 'the second answer points into a blocked range');
  assert.match(second, /address-blocked/);
  assert.deepEqual(origin.seen.map((s) => s.url), ['/one']);
});
