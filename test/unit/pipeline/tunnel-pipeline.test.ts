import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { PeekResult } from '../../../src/net/peek-client-hello.js';
import { runTunnel } from '../../../src/pipeline/tunnel-pipeline.js';
import { basicAuth, fakeAuthenticator, fakeContext, fakeTunnel, tableLookup, type FakeContext, type TunnelInput } from '../../helpers/pipeline-fakes.js';

/**
 * The tunnel pipeline without sockets, for both tunnel listeners: an explicit CONNECT (the
 * authority names the destination; the ClientHello comes after the 200) and a transparent TLS
 * connection (the ClientHello's SNI names it, before anything else).
 */
const LOOKUP = tableLookup({
  'www.example.com': ['93.184.216.34'],
  'api.example.com': ['93.184.216.35'],
  'inside.example.com': ['10.0.0.5'],
  'moved.example.com': ['93.184.216.99'],
});
const RULES = [
  { name: 'web', hosts: ['www.example.com', 'inside.example.com', 'moved.example.com'] },
  { name: 'api', hosts: ['api.example.com'], paths: ['/v1'] },
  { name: 'office', hosts: ['office.example.com'], clients: ['192.168.0.0/16'] },
];
const hello = (sni?: string): PeekResult => (sni === undefined
  ? { status: 'ok', alpn: [], version: 0x0304, ech: false, length: 200 }
  : { status: 'ok', sni, alpn: [], version: 0x0304, ech: false, length: 200 });

interface TunnelKind {
  readonly name: string;
  /** A tunnel to `host` whose ClientHello names `sni` (defaults to the host). */
  open(host: string, sni?: string | null): TunnelInput;
  /** The HTTP status a refused client of this kind is told (transparent TLS clients get an alert, no HTTP). */
  readonly refusedStatus: number;
}

const KINDS: readonly TunnelKind[] = [
  {
    name: 'CONNECT',
    open: (host, sni) => ({ connect: `${host}:443`, hello: hello(sni === null ? undefined : sni ?? host) }),
    refusedStatus: 403,
  },
  {
    name: 'transparent-tls',
    open: (host, sni) => ({ hello: hello(sni === null ? undefined : sni ?? host), original: { address: '93.184.216.34', port: 443, family: 4 } }),
    refusedStatus: 0,
  },
];

const go = async (context: FakeContext, input: TunnelInput): Promise<{ record: ReturnType<typeof fakeTunnel>['record']; flow: FakeContext['flows'][number] | undefined }> => {
  const tunnel = fakeTunnel(context, input);
  runTunnel(context, tunnel.client, tunnel.deps);
  await tunnel.record.done;
  return { record: tunnel.record, flow: context.flows[0] };
};

for (const kind of KINDS) {
  test(`${kind.name}: a host with whole-host rules is spliced to its checked address, the ClientHello relayed untouched`, async () => {
    const { record, flow } = await go(fakeContext({ rules: RULES }, { lookup: LOOKUP }), kind.open('www.example.com'));
    assert.deepEqual(record.connects.map((c) => c.allowed), [['93.184.216.34']]);
    assert.deepEqual(record.spliced.map((s) => [s.address, s.buffered.toString()]), [['93.184.216.34', 'hello-bytes']]);
    assert.equal(record.established, 1);
    assert.deepEqual([flow?.verdict, flow?.rule, flow?.tunnelMode, flow?.status, flow?.upstreamAddress, flow?.bytesUp, flow?.bytesDown],
      ['allow', 'web', 'splice', 200, '93.184.216.34:443', 10, 20]);
  });

  test(`${kind.name}: a host whose rules need the requests is intercepted, never dialed here`, async () => {
    const { record } = await go(fakeContext({ rules: RULES }, { lookup: LOOKUP }), kind.open('api.example.com'));
    assert.equal(record.intercepted.length, 1);
    assert.equal(record.intercepted[0]?.destination.host.host, 'api.example.com');
    assert.equal(record.intercepted[0]?.scheme, 'https');
    assert.equal(record.connects.length, 0);
    assert.equal(record.prewarmed.length, 0, 'paths-only rules: the origin hears nothing before a request is allowed');
  });

  test(`${kind.name}: a host no rule names is refused (${kind.refusedStatus || 'TLS alert'}) before any dial`, async () => {
    const { record, flow } = await go(fakeContext({ rules: RULES }, { lookup: LOOKUP }), kind.open('evil.example.net'));
    assert.equal(record.connects.length, 0);
    assert.equal(record.refusals[0]?.alert, 'access_denied');
    assert.deepEqual([flow?.verdict, flow?.reason, flow?.status], ['deny', 'no-rule-matched', kind.refusedStatus]);
  });

  test(`${kind.name}: a client outside the rule's clients is refused with client-not-allowed`, async () => {
    const { flow } = await go(fakeContext({ rules: RULES }, { lookup: LOOKUP }), kind.open('office.example.com'));
    assert.deepEqual([flow?.verdict, flow?.reason, flow?.rule], ['deny', 'client-not-allowed', 'office']);
  });

  test(`${kind.name}: a name resolving only to a blocked range is address-blocked, nothing dialed`, async () => {
    const { record, flow } = await go(fakeContext({ rules: RULES, destinations: { allow_ranges: [] } }, { lookup: LOOKUP }), kind.open('inside.example.com'));
    assert.equal(record.connects.length, 0);
    assert.deepEqual([flow?.verdict, flow?.reason, flow?.rule], ['deny', 'address-blocked', 'web']);
    assert.equal(record.refusals[0]?.response.status, 403);
  });

  test(`${kind.name}: dry_run lets a denied tunnel through as a splice and records would_deny`, async () => {
    const { record, flow } = await go(fakeContext({ rules: RULES, dry_run: true }, { lookup: tableLookup({ 'evil.example.net': ['93.184.216.50'] }) }),
      kind.open('evil.example.net'));
    assert.equal(record.spliced.length, 1);
    assert.deepEqual([flow?.verdict, flow?.reason, flow?.wouldDeny], ['allow', 'no-rule-matched', true]);
  });
}

test('CONNECT: a ClientHello naming another host is refused after the 200 with an unrecognized_name alert; the origin gets no byte', async () => {
  const { record, flow } = await go(fakeContext({ rules: RULES }, { lookup: LOOKUP }), KINDS[0]!.open('www.example.com', 'evil.example.net'));
  assert.equal(record.spliced.length, 0);
  assert.equal(record.refusals[0]?.alert, 'unrecognized_name');
  assert.deepEqual([flow?.verdict, flow?.reason, flow?.sni, flow?.rule], ['deny', 'sni-mismatch', 'evil.example.net', 'web']);
});

test('CONNECT: no SNI is sni-missing (deny by default), spliced with missing_sni: allow; an IP tunnel needs none', async () => {
  const denied = await go(fakeContext({ rules: RULES }, { lookup: LOOKUP }), KINDS[0]!.open('www.example.com', null));
  assert.deepEqual([denied.flow?.reason, denied.record.refusals[0]?.alert, denied.record.spliced.length], ['sni-missing', 'access_denied', 0]);
  const allowed = await go(fakeContext({ rules: RULES, missing_sni: 'allow' }, { lookup: LOOKUP }), KINDS[0]!.open('www.example.com', null));
  assert.equal(allowed.record.spliced.length, 1);
  const ip = await go(fakeContext({ rules: [{ name: 'ip', hosts: ['93.184.216.34'] }] }), { connect: '93.184.216.34:443', hello: hello() });
  assert.equal(ip.record.spliced.length, 1);
});

test('CONNECT: 407 without credentials when auth is on; the user reaches the tunnel flow and its rules', async () => {
  const rules = [{ name: 'alice-only', hosts: ['www.example.com'], users: ['alice'] }];
  const missing = await go(fakeContext({ rules }, { lookup: LOOKUP, authenticator: fakeAuthenticator }), { connect: 'www.example.com:443', hello: hello('www.example.com') });
  assert.deepEqual([missing.flow?.status, missing.flow?.reason, missing.record.connects.length], [407, 'credentials-missing', 0]);
  const wrong = await go(fakeContext({ rules }, { lookup: LOOKUP, authenticator: fakeAuthenticator }),
    { connect: 'www.example.com:443', hello: hello('www.example.com'), proxyAuthorization: basicAuth('alice', 'x') });
  assert.deepEqual([wrong.flow?.status, wrong.flow?.reason], [407, 'credentials-invalid']);
  const right = await go(fakeContext({ rules }, { lookup: LOOKUP, authenticator: fakeAuthenticator }),
    { connect: 'www.example.com:443', hello: hello('www.example.com'), proxyAuthorization: basicAuth('alice', 'secret') });
  assert.deepEqual([right.flow?.verdict, right.flow?.user, right.record.spliced.length], ['allow', 'alice', 1]);
});

test('CONNECT: malformed authorities are 400 invalid-destination, credentials in them 403 userinfo-in-url', async () => {
  for (const [authority, status, reason] of [['www.example.com', 400, 'invalid-destination'], ['www.example.com:0', 400, 'invalid-destination'],
    ['user@www.example.com:443', 403, 'userinfo-in-url'], ['[::1:443', 400, 'invalid-destination']] as const) {
    const { flow, record } = await go(fakeContext({ rules: RULES }, { lookup: LOOKUP }), { connect: authority, hello: hello('www.example.com') });
    assert.deepEqual([flow?.status, flow?.reason, record.connects.length], [status, reason, 0], authority);
  }
});

test('transparent-tls: no SNI is denied, or routed by the original destination under an IP rule; plain text is closed without an alert', async () => {
  const original = { address: '93.184.216.34', port: 443, family: 4 as const };
  const denied = await go(fakeContext({ rules: RULES }, { lookup: LOOKUP }), { hello: hello(), original });
  assert.deepEqual([denied.flow?.reason, denied.record.refusals[0]?.alert], ['sni-missing', 'access_denied']);
  const routed = await go(fakeContext({ rules: [{ name: 'ip', hosts: ['93.184.216.34'] }], transparent: { sni_missing: 'original-destination' } }),
    { hello: hello(), original });
  assert.deepEqual([routed.flow?.verdict, routed.flow?.rule, routed.record.spliced[0]?.address], ['allow', 'ip', '93.184.216.34']);
  const plain = await go(fakeContext({ rules: RULES }, { lookup: LOOKUP }), { hello: { status: 'not-tls' }, original });
  assert.deepEqual([plain.flow?.reason, plain.record.refusals[0]?.alert], ['sni-missing', undefined]);
});

test('transparent-tls with verify_original_destination: pinned to the verified address; a name resolving elsewhere is host-mismatch', async () => {
  const original = { address: '93.184.216.34', port: 443, family: 4 as const };
  const config = { rules: RULES, transparent: { verify_original_destination: true } };
  const lookup = tableLookup({ 'www.example.com': ['93.184.216.34', '93.184.216.36'], 'moved.example.com': ['93.184.216.99'] });
  const verified = await go(fakeContext(config, { lookup }), { hello: hello('www.example.com'), original });
  assert.deepEqual(verified.record.connects.map((c) => c.allowed), [['93.184.216.34']], 'only the address the client dialed');
  assert.deepEqual(lookup.calls, ['www.example.com'], 'one resolution');
  const moved = await go(fakeContext(config, { lookup }), { hello: hello('moved.example.com'), original });
  assert.deepEqual([moved.flow?.reason, moved.flow?.rule, moved.record.connects.length], ['host-mismatch', 'web', 0]);
});

for (const kind of KINDS) {
  test(`${kind.name}: a ClientHello carrying Encrypted Client Hello is refused with ech-present unless the rule says ech: allow`, async () => {
    const echHello = (input: TunnelInput): TunnelInput => ({ ...input, hello: { ...(input.hello as PeekResult & { status: 'ok' }), ech: true } });
    const denied = await go(fakeContext({ rules: RULES }, { lookup: LOOKUP }), echHello(kind.open('www.example.com')));
    assert.equal(denied.record.spliced.length, 0);
    assert.deepEqual([denied.flow?.verdict, denied.flow?.reason, denied.flow?.rule, denied.record.refusals[0]?.alert], ['deny', 'ech-present', 'web', 'access_denied']);
    if (kind.name === 'transparent-tls') assert.equal(denied.record.connects.length, 0, 'refused before anything is dialed');
    const rules = [{ name: 'web', hosts: ['www.example.com'], ech: 'allow' }];
    const allowed = await go(fakeContext({ rules }, { lookup: LOOKUP }), echHello(kind.open('www.example.com')));
    assert.deepEqual([allowed.flow?.verdict, allowed.record.spliced.length], ['allow', 1]);
  });
}

test('CONNECT: plain HTTP after the 200 is served request by request, never spliced', async () => {
  const { record, flow } = await go(fakeContext({ rules: RULES }, { lookup: LOOKUP }), { connect: 'www.example.com:443', hello: { status: 'not-tls' } });
  assert.equal(record.spliced.length, 0);
  assert.equal(record.servedHttp.length, 1);
  assert.equal(record.servedHttp[0]?.tunnel.scheme, 'http');
  assert.equal(flow, undefined, 'the tunnel flow ends when its connection does');
});

test('CONNECT host:80 under a rule for plain HTTP only opens a tunnel for plain HTTP; TLS in it gets the TLS decision', async () => {
  const rules = [{ name: 'web80', hosts: ['www.example.com'] }];
  const plain = await go(fakeContext({ rules }, { lookup: LOOKUP }), { connect: 'www.example.com:80', hello: { status: 'not-tls' } });
  assert.deepEqual([plain.record.established, plain.record.servedHttp[0]?.tunnel.destination.port, plain.record.connects.length], [1, 80, 0]);
  const tls = await go(fakeContext({ rules }, { lookup: LOOKUP }), { connect: 'www.example.com:80', hello: hello('www.example.com') });
  assert.deepEqual([tls.flow?.verdict, tls.flow?.reason, tls.record.spliced.length, tls.record.intercepted.length], ['deny', 'port-not-allowed', 0, 0]);
  const none = await go(fakeContext({ rules }, { lookup: LOOKUP }), { connect: 'www.example.com:8080', hello: { status: 'not-tls' } });
  assert.deepEqual([none.flow?.status, none.flow?.reason, none.record.established], [403, 'port-not-allowed', 0]);
});

test('CONNECT: bytes that are neither TLS nor HTTP are sni-missing, or spliced untouched with missing_sni: allow', async () => {
  const denied = await go(fakeContext({ rules: RULES }, { lookup: LOOKUP }), { connect: 'www.example.com:443', hello: { status: 'not-tls' }, buffered: 'hello through the tunnel' });
  assert.deepEqual([denied.flow?.reason, denied.record.spliced.length, denied.record.servedHttp.length], ['sni-missing', 0, 0]);
  const allowed = await go(fakeContext({ rules: RULES, missing_sni: 'allow' }, { lookup: LOOKUP }),
    { connect: 'www.example.com:443', hello: { status: 'not-tls' }, buffered: 'hello through the tunnel' });
  assert.deepEqual([allowed.record.spliced[0]?.buffered.toString(), allowed.record.servedHttp.length], ['hello through the tunnel', 0]);
});
