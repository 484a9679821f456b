import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Destination } from '../../../src/flow/destination.js';
import { TunnelFlow } from '../../../src/pipeline/flow.js';
import type { RequestSource } from '../../../src/pipeline/identify-request.js';
import { runRequest } from '../../../src/pipeline/request-pipeline.js';
import { createUpstreamDialer } from '../../../src/net/upstream-dialer.js';
import { createResolver } from '../../../src/net/resolver.js';
import { createAddressGuard } from '../../../src/policy/address-guard.js';
import {
  basicAuth, fakeAuthenticator, fakeContext, fakeExchange, recordingDialer, tableLookup, type ExchangeInput, type FakeContext,
} from '../../helpers/pipeline-fakes.js';

/**
 * The request pipeline without sockets: every listener kind feeds the same stages, so every
 * outcome is checked for each of them. A kind differs only in how the request names its
 * destination: an absolute URL (explicit), Host and the dialed port (transparent-http), or the
 * tunnel it came through (intercepted https, or plain HTTP inside a CONNECT).
 */
const RULES = [
  { name: 'web', hosts: ['www.example.com'], ports: [80, 443] },
  { name: 'bucket', hosts: ['storage.example.com'], ports: [80, 443], paths: ['/b/allowed'], methods: ['GET', 'PUT'] },
  { name: 'office', hosts: ['office.example.com'], ports: [80, 443], clients: ['192.168.0.0/16'] },
];

const tunnelTo = (host: string, port: number, scheme: 'http' | 'https', user?: string): RequestSource => {
  const flow = new TunnelFlow({ id: 'tunnel-1', startedAt: 0, client: { address: '10.1.1.1', port: 40000 }, listener: '127.0.0.1:3128' },
    `${host}:${port}`, () => {});
  if (user) flow.authenticated(user);
  const destination: Destination = { host: { kind: 'name', host }, port };
  return { kind: 'tunnel', tunnel: { flow, destination, scheme } };
};

/** How each listener kind sends "METHOD host path". */
interface Kind {
  readonly name: string;
  request(method: string, host: string, path: string, extra?: Partial<ExchangeInput>): ExchangeInput;
}

const KINDS: readonly Kind[] = [
  {
    name: 'explicit (absolute-form)',
    request: (method, host, path, extra = {}) => ({ method, target: `http://${host}${path}`, headers: [['Host', host]], source: { kind: 'explicit' }, ...extra }),
  },
  {
    name: 'transparent-http (Host)',
    request: (method, host, path, extra = {}) => ({
      method, target: path, headers: [['Host', host]], source: { kind: 'transparent-http', original: undefined }, ...extra,
    }),
  },
  {
    name: 'intercepted (inside a decrypted tunnel)',
    request: (method, host, path, extra = {}) => ({ method, target: path, headers: [['Host', host]], source: tunnelTo(host, 443, 'https'), ...extra }),
  },
  {
    name: 'plain HTTP inside a CONNECT tunnel',
    request: (method, host, path, extra = {}) => ({ method, target: path, headers: [['Host', host]], source: tunnelTo(host, 80, 'http'), ...extra }),
  },
];

const run = async (context: FakeContext, input: ExchangeInput): Promise<{ status: number; forwarded: boolean; reason: string; verdict: string; record: FakeContext['flows'][number] }> => {
  const { exchange, record } = fakeExchange(input);
  runRequest(context, exchange);
  await record.done;
  const [flow] = await context.waitForFlows(1);
  assert.ok(flow);
  return { status: record.answers[0]?.status ?? 200, forwarded: record.forwards.length === 1, reason: flow.reason, verdict: flow.verdict, record: flow };
};

for (const kind of KINDS) {
  test(`${kind.name}: an allowed request is forwarded to its destination with the rule named`, async () => {
    const context = fakeContext({ rules: RULES });
    const outcome = await run(context, kind.request('GET', 'www.example.com', '/index.html'));
    assert.equal(outcome.forwarded, true);
    assert.deepEqual([outcome.verdict, outcome.reason, outcome.record.rule, outcome.record.host], ['allow', 'rule-matched', 'web', 'www.example.com']);
  });

  const denials: ReadonlyArray<readonly [string, string, string, string, Partial<ExchangeInput>?]> = [
    ['a host no rule names', 'GET', 'evil.example.net', '/', {}],
    ['a path outside the rule', 'GET', 'storage.example.com', '/b/other/o', {}],
    ['a decoy bucket sharing the prefix', 'GET', 'storage.example.com', '/b/allowed-evil/o', {}],
    ['a method the rule does not list', 'DELETE', 'storage.example.com', '/b/allowed/o', {}],
    ['an ambiguous path', 'GET', 'storage.example.com', '/b/allowed/../other', {}],
    ['a client outside the rule', 'GET', 'office.example.com', '/', {}],
  ];
  const expected = ['no-rule-matched', 'path-not-allowed', 'path-not-allowed', 'method-not-allowed', 'ambiguous-path', 'client-not-allowed'];
  denials.forEach(([what, method, host, path, extra], index) => {
    test(`${kind.name}: ${what} is denied with 403 ${expected[index]} and never forwarded`, async () => {
      const context = fakeContext({ rules: RULES });
      const outcome = await run(context, kind.request(method, host, path, extra));
      assert.equal(outcome.forwarded, false);
      assert.deepEqual([outcome.status, outcome.verdict, outcome.reason], [403, 'deny', expected[index]]);
    });
  });

  test(`${kind.name}: dry_run forwards a denied request and records that it would have been denied`, async () => {
    const context = fakeContext({ rules: RULES, dry_run: true });
    const outcome = await run(context, kind.request('GET', 'storage.example.com', '/b/other'));
    assert.equal(outcome.forwarded, true);
    assert.deepEqual([outcome.verdict, outcome.reason, outcome.record.wouldDeny], ['allow', 'path-not-allowed', true]);
  });

  test(`${kind.name}: more header fields than limits.max_headers get 431 before anything else`, async () => {
    const context = fakeContext({ rules: RULES, limits: { max_headers: 8 } });
    const headers = Array.from({ length: 9 }, (_, i) => [`X-H${i}`, 'v'] as const);
    const outcome = await run(context, kind.request('GET', 'www.example.com', '/', { headers: [['Host', 'www.example.com'], ...headers] }));
    assert.deepEqual([outcome.status, outcome.reason, outcome.forwarded], [431, 'headers-too-large', false]);
  });

  test(`${kind.name}: framing two parsers could read differently is refused with 400 before any decision`, async () => {
    const framings: ReadonlyArray<ReadonlyArray<readonly [string, string]>> = [
      [['Transfer-Encoding', 'chunked'], ['Content-Length', '5']],
      [['Content-Length', '5'], ['Content-Length', '6']],
      [['Transfer-Encoding', 'gzip, chunked']],
      [['X-Bad', 'a\u0000b']],
    ];
    for (const extra of framings) {
      const outcome = await run(fakeContext({ rules: RULES }), kind.request('POST', 'www.example.com', '/', { headers: [['Host', 'www.example.com'], ...extra] }));
      assert.deepEqual([outcome.status, outcome.reason, outcome.forwarded], [400, 'malformed-request', false], JSON.stringify(extra));
    }
  });

  test(`${kind.name}: a WebSocket upgrade is decided like its GET; h2c and unknown upgrades are refused with upgrade-not-allowed`, async () => {
    const ws = await run(fakeContext({ rules: RULES }), kind.request('GET', 'www.example.com', '/socket', { upgrade: 'websocket' }));
    assert.equal(ws.forwarded, true);
    const wsDenied = await run(fakeContext({ rules: RULES }), kind.request('GET', 'storage.example.com', '/socket', { upgrade: 'websocket' }));
    assert.deepEqual([wsDenied.status, wsDenied.reason], [403, 'path-not-allowed']);
    for (const token of ['h2c', 'websocket, h2c', 'TLS/1.2', 'x-custom']) {
      const refused = await run(fakeContext({ rules: RULES }), kind.request('GET', 'www.example.com', '/', { upgrade: token }));
      assert.deepEqual([refused.status, refused.reason, refused.forwarded, refused.record.rule], [403, 'upgrade-not-allowed', false, 'web'], token);
    }
  });
}

test('explicit: without credentials 407 credentials-missing, wrong ones 407 credentials-invalid, right ones name the user', async () => {
  const auth = { authenticator: fakeAuthenticator };
  const rules = [...RULES, { name: 'alice-only', hosts: ['alice.example.com'], users: ['alice'] }];
  const missing = await run(fakeContext({ rules }, auth), { target: 'http://www.example.com/', source: { kind: 'explicit' } });
  assert.deepEqual([missing.status, missing.reason, missing.forwarded], [407, 'credentials-missing', false]);
  const wrong = await run(fakeContext({ rules }, auth), { target: 'http://www.example.com/', source: { kind: 'explicit' }, proxyAuthorization: basicAuth('alice', 'nope') });
  assert.deepEqual([wrong.status, wrong.reason], [407, 'credentials-invalid']);
  const right = await run(fakeContext({ rules }, auth), { target: 'http://alice.example.com/', source: { kind: 'explicit' }, proxyAuthorization: basicAuth('alice', 'secret') });
  assert.deepEqual([right.forwarded, right.record.user, right.record.rule], [true, 'alice', 'alice-only']);
});

test('intercepted: requests take the user who opened the tunnel; transparent clients cannot authenticate', async () => {
  const rules = [{ name: 'alice-only', hosts: ['alice.example.com'], users: ['alice'] }];
  const context = fakeContext({ rules }, { authenticator: fakeAuthenticator });
  const inside = await run(context, { target: '/', headers: [['Host', 'alice.example.com']], source: tunnelTo('alice.example.com', 443, 'https', 'alice') });
  assert.deepEqual([inside.forwarded, inside.record.user], [true, 'alice']);
  const transparent = await run(fakeContext({ rules }, { authenticator: fakeAuthenticator }),
    { target: '/', headers: [['Host', 'alice.example.com']], source: { kind: 'transparent-http', original: undefined } });
  assert.deepEqual([transparent.status, transparent.reason], [403, 'client-not-allowed']);
});

test('host-mismatch: a Host naming another host is denied on explicit and inside tunnels, 400 on transparent-http', async () => {
  const explicit = await run(fakeContext({ rules: RULES }), { target: 'http://www.example.com/', headers: [['Host', 'evil.example.net']], source: { kind: 'explicit' } });
  assert.deepEqual([explicit.status, explicit.reason, explicit.forwarded], [403, 'host-mismatch', false]);
  const inside = await run(fakeContext({ rules: RULES }), { target: '/', headers: [['Host', 'evil.example.net']], source: tunnelTo('www.example.com', 443, 'https') });
  assert.deepEqual([inside.status, inside.reason, inside.forwarded], [403, 'host-mismatch', false]);
  const absolute = await run(fakeContext({ rules: RULES }), { target: 'https://evil.example.net/', headers: [['Host', 'www.example.com']], source: tunnelTo('www.example.com', 443, 'https') });
  assert.deepEqual([absolute.status, absolute.reason], [403, 'host-mismatch']);
  const h2 = await run(fakeContext({ rules: RULES }), {
    target: '/', headers: [[':method', 'GET'], [':scheme', 'https'], [':authority', 'www.example.com'], [':path', '/'], ['host', 'evil.example.net']],
    version: [2, 0], source: tunnelTo('www.example.com', 443, 'https'),
  });
  assert.deepEqual([h2.status, h2.reason], [403, 'host-mismatch']);
  const transparent = await run(fakeContext({ rules: RULES }), {
    target: 'http://www.example.com/', headers: [['Host', 'evil.example.net']], source: { kind: 'transparent-http', original: undefined },
  });
  assert.deepEqual([transparent.status, transparent.reason], [400, 'host-mismatch']);
});

test('an HTTP/1.0 request without Host inside a tunnel is for the tunnel\'s host; HTTP/1.1 without Host is refused', async () => {
  const old = await run(fakeContext({ rules: RULES }), { target: '/index.html', version: [1, 0], source: tunnelTo('www.example.com', 443, 'https') });
  assert.deepEqual([old.forwarded, old.record.url], [true, 'https://www.example.com/index.html']);
  const modern = await run(fakeContext({ rules: RULES }), { target: '/index.html', source: tunnelTo('www.example.com', 443, 'https') });
  assert.deepEqual([modern.status, modern.reason], [403, 'host-mismatch']);
});

test('malformed targets: 400 invalid-destination; userinfo 403; both before any policy question', async () => {
  const cases: ReadonlyArray<readonly [ExchangeInput, number, string]> = [
    [{ target: 'ftp://www.example.com/', source: { kind: 'explicit' } }, 400, 'invalid-destination'],
    [{ target: 'http://user:pw@www.example.com/', source: { kind: 'explicit' } }, 403, 'userinfo-in-url'],
    [{ target: 'http://www.example.com:99999/', source: { kind: 'explicit' } }, 400, 'invalid-destination'],
    [{ target: '/', source: { kind: 'transparent-http', original: undefined } }, 400, 'invalid-destination'],
    [{ target: '/', headers: [['Host', 'a@www.example.com']], source: { kind: 'transparent-http', original: undefined } }, 403, 'userinfo-in-url'],
    [{ target: 'https://www.example.com/', headers: [['Host', 'www.example.com']], source: { kind: 'transparent-http', original: undefined } }, 400, 'invalid-destination'],
  ];
  for (const [input, status, reason] of cases) {
    const outcome = await run(fakeContext({ rules: RULES }), input);
    assert.deepEqual([outcome.status, outcome.reason, outcome.forwarded], [status, reason, false], input.target);
  }
});

test('explicit: origin-form requests get the help page, /ca.pem the CA, without a policy question', async () => {
  const help = await run(fakeContext({ rules: [] }), { target: '/', source: { kind: 'explicit' } });
  assert.deepEqual([help.status, help.reason], [400, 'not-a-proxy-request']);
  const ca = await run(fakeContext({ rules: [] }), { target: 'http://portcullis.invalid/ca.pem', source: { kind: 'explicit' } });
  assert.deepEqual([ca.status, ca.reason, ca.verdict], [200, 'ca-download', 'allow']);
});

test('transparent-http with verify_original_destination: resolved once, pinned to the verified address; a mismatch or an unknown original is host-mismatch; a blocked one address-blocked', async () => {
  const lookup = tableLookup({ 'www.example.com': ['93.184.216.34'], 'moved.example.com': ['93.184.216.99'], 'inside.example.com': ['10.0.0.5'] });
  const rules = [{ name: 'web', hosts: ['www.example.com', 'moved.example.com', 'inside.example.com'] }];
  const original = { address: '93.184.216.34', port: 80, family: 4 as const };
  const dialer = recordingDialer(createUpstreamDialer({ resolver: createResolver({}, lookup), addressCheck: createAddressGuard([]), connectTimeoutMs: 1000 }));
  const context = fakeContext({ rules, transparent: { verify_original_destination: true } }, { lookup, dialer });
  const source = (address = original): RequestSource => ({ kind: 'transparent-http', original: address });
  const verified = await run(context, { target: '/', headers: [['Host', 'www.example.com']], source: source() });
  assert.equal(verified.forwarded, true);
  assert.deepEqual(lookup.calls, ['www.example.com']);
  const { exchange, record } = fakeExchange({ target: '/', headers: [['Host', 'www.example.com']], source: source() });
  runRequest(context, exchange);
  await record.done;
  assert.deepEqual(record.forwards[0]?.checked?.allowed, ['93.184.216.34'], 'the forward is pinned to the verified address');

  const moved = await run(fakeContext({ rules, transparent: { verify_original_destination: true } }, { lookup, dialer }),
    { target: '/', headers: [['Host', 'moved.example.com']], source: source() });
  assert.deepEqual([moved.status, moved.reason, moved.record.rule], [403, 'host-mismatch', 'web']);
  const unknown = await run(fakeContext({ rules, transparent: { verify_original_destination: true } }, { lookup, dialer }),
    { target: '/', headers: [['Host', 'www.example.com']], source: { kind: 'transparent-http', original: undefined } });
  assert.deepEqual([unknown.status, unknown.reason], [403, 'host-mismatch']);
  const blocked = await run(fakeContext({ rules, transparent: { verify_original_destination: true } }, { lookup, dialer }),
    { target: '/', headers: [['Host', 'inside.example.com']], source: source({ address: '10.0.0.5', port: 80, family: 4 }) });
  assert.deepEqual([blocked.status, blocked.reason], [403, 'address-blocked']);
  assert.equal(dialer.connects.length, 0, 'the pipeline itself never connects');
});
