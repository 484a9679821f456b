import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FlowRecord } from '../../../src/flow/flow-record.js';
import { fromFlowRecord } from '../../../src/learn/from-flow-record.js';
import { exampleText } from '../../../src/learn/example-text.js';
import { classifyForLearning } from '../../../src/learn/learn-filter.js';
import { proposePathPrefixes } from '../../../src/learn/path-prefixes.js';
import { proposeRules } from '../../../src/learn/propose-rules.js';
import { createTenancy } from '../../../src/learn/tenancy.js';
import { makeRecord } from '../admin/make-record.js';

const tenancy = createTenancy(['files.internal.example']);

const http = (url: string, overrides: Partial<FlowRecord> = {}): FlowRecord => {
  const parsed = new URL(url);
  return makeRecord({ url, host: parsed.hostname.replace(/^\[|\]$/g, ''), port: Number(parsed.port || (parsed.protocol === 'https:' ? 443 : 80)),
    ...(parsed.protocol === 'https:' ? { parentId: 't' } : {}), ...overrides });
};
const tunnel = (authority: string, overrides: Partial<FlowRecord> = {}): FlowRecord => makeRecord({
  kind: 'tunnel', method: 'CONNECT', url: authority, host: authority.split(':')[0] as string, port: Number(authority.split(':')[1]), tunnelMode: 'splice', ...overrides,
});

const dispositions: ReadonlyArray<readonly [string, FlowRecord, string]> = [
  ['an allowed request is learned', http('http://deb.debian.org/debian/x'), 'learn'],
  ['a dry-run would-deny with no rule matched is learned', http('http://deb.debian.org/debian/x', { reason: 'no-rule-matched', wouldDeny: true, rule: undefined }), 'learn'],
  ['a dry-run would-deny outside a rule\'s paths is held back', http('https://storage.googleapis.com/storage/v1/b/evil/o', { reason: 'path-not-allowed', wouldDeny: true }), 'held'],
  ['an enforced denial is held back', http('http://pypi.org/simple/', { verdict: 'deny', reason: 'no-rule-matched', status: 403 }), 'held'],
  ['an intercepted tunnel speaks through its requests', tunnel('storage.googleapis.com:443', { tunnelMode: 'intercept' }), 'parent'],
  ['an ambiguous path is never learned, even let through by dry run', http('http://deb.debian.org/debian/../etc/passwd', { reason: 'no-rule-matched', wouldDeny: true }), 'excluded'],
  ['an encoded slash (an object name) is learned; its prefix stops before it', http('http://deb.debian.org/a/b%2fc'), 'learn'],
  ['an SNI mismatch is never learned', tunnel('pypi.org:443', { reason: 'sni-mismatch', wouldDeny: true }), 'excluded'],
  ['a Host mismatch is never learned', http('http://deb.debian.org/', { reason: 'host-mismatch', wouldDeny: true }), 'excluded'],
  ['credentials in the URL are never learned', http('http://***@evil.example/', { verdict: 'deny', reason: 'userinfo-in-url' }), 'excluded'],
  ['a misdirected credential is never learned', http('https://api.openai.com/v1/x', { verdict: 'deny', reason: 'credential-misdirected' }), 'excluded'],
  ['an invalid destination is never learned', makeRecord({ url: 'ftp://x/', host: '-', port: 0, verdict: 'deny', reason: 'invalid-destination' }), 'excluded'],
  ['the cloud metadata address is never learned', http('http://169.254.169.254/latest/meta-data/', { reason: 'no-rule-matched', wouldDeny: true }), 'excluded'],
  ['a private IP literal is never learned', http('http://10.1.2.3/admin'), 'excluded'],
  ['a name that did not resolve is never learned', http('http://x1.exfil.example/', { errorCode: 'PCL_ERR_DNS_FAILED', status: 502 }), 'excluded'],
  ['a public IP literal is learned', http('http://151.101.0.10/x'), 'learn'],
];

for (const [name, record, expected] of dispositions) {
  test(`learn filter: ${name}`, () => {
    assert.equal(classifyForLearning(fromFlowRecord(record)).kind, expected);
  });
}

test('learn filter: --include-denied learns policy denials, never bypass attempts', () => {
  const options = { includeDenied: true };
  assert.equal(classifyForLearning(fromFlowRecord(http('http://pypi.org/simple/', { verdict: 'deny', reason: 'no-rule-matched' })), options).kind, 'learn');
  assert.equal(classifyForLearning(fromFlowRecord(http('http://x/', { verdict: 'deny', reason: 'ambiguous-path' })), options).kind, 'excluded');
});

test('path prefixes: a segment with an encoded slash is data, never part of a proposed prefix', () => {
  assert.deepEqual(proposePathPrefixes(['/storage/v1/b/bkt/o/dir%2Ffile', '/storage/v1/b/bkt/o/other%2Fx'], () => 4, true).prefixes, ['/storage/v1/b/bkt/o']);
});

test('path prefixes: cut where requests diverge, one prefix per branch', () => {
  assert.deepEqual(proposePathPrefixes(['/debian/dists/bookworm/InRelease', '/debian/pool/main/c/curl/c.deb', '/debian/'], () => 1, false),
    { prefixes: ['/debian'], aboveTenant: [] });
  assert.deepEqual(proposePathPrefixes(['/simple/requests/', '/simple/idna/', '/pypi/idna/json'], () => 1, false).prefixes, ['/pypi/idna/json', '/simple']);
  assert.deepEqual(proposePathPrefixes(['/only/one/file.txt'], () => 1, false).prefixes, ['/only/one/file.txt']);
});

test('path prefixes: a single-tenant host asked for "/" or with many top-level branches needs no paths', () => {
  assert.deepEqual(proposePathPrefixes(['/', '/a'], () => 1, false).prefixes, []);
  assert.deepEqual(proposePathPrefixes(Array.from({ length: 9 }, (_, i) => `/p${i}/x`), () => 1, false).prefixes, []);
});

test('path prefixes: on a multi-tenant host the cut never comes before the tenant segment', () => {
  const depth = (segments: readonly string[]): number => tenancy.tenantDepth('storage.googleapis.com', segments);
  const cut = proposePathPrefixes(['/storage/v1/b/bkt-a/o/x', '/storage/v1/b/bkt-a/o/y', '/storage/v1/b/bkt-b/o', '/storage/v1/b', '/bkt-c/file'], depth, true);
  assert.deepEqual(cut.prefixes, ['/bkt-c/file', '/storage/v1/b/bkt-a/o', '/storage/v1/b/bkt-b/o']);
  assert.deepEqual(cut.aboveTenant, ['/storage/v1/b'], 'listing buckets would need a prefix covering them all');
  const repos = proposePathPrefixes(['/acme/app/main/a', '/acme/lib/main/b'], (s) => tenancy.tenantDepth('raw.githubusercontent.com', s), true);
  assert.deepEqual(repos.prefixes, ['/acme/app/main/a', '/acme/lib/main/b'], 'two repositories of one owner stay two prefixes');
});

test('tenancy: public suffixes and known services are multi-tenant; wildcards may not reach across owners', () => {
  assert.match(tenancy.multiTenant('s3.eu-west-1.amazonaws.com') ?? '', /public suffix/);
  assert.match(tenancy.multiTenant('raw.githubusercontent.com') ?? '', /told apart by the path/);
  assert.match(tenancy.multiTenant('files.internal.example') ?? '', /--multi-tenant/);
  assert.equal(tenancy.multiTenant('oauth2.googleapis.com'), undefined);
  assert.equal(tenancy.multiTenant('my-bucket.s3.eu-west-1.amazonaws.com'), undefined, 'a virtual-hosted bucket is its tenant alone');
  assert.match(tenancy.wildcardTooBroad('googleapis.com') ?? '', /public suffix/);
  assert.match(tenancy.wildcardTooBroad('amazonaws.com') ?? '', /s3\.amazonaws\.com/);
  assert.equal(tenancy.wildcardTooBroad('debian.org'), undefined);
  assert.equal(tenancy.registrableDomain('a.b.example.co.uk'), 'example.co.uk');
  assert.equal(tenancy.registrableDomain('s3.amazonaws.com'), undefined);
});

const lines = (records: FlowRecord[]): ReturnType<typeof fromFlowRecord>[] => records.map(fromFlowRecord);

test('proposal: siblings of one owner share a wildcard only from --wildcard-min on; the apex is listed beside it', () => {
  const siblings = ['a.example.org', 'b.example.org', 'example.org'].map((host) => tunnel(`${host}:443`));
  assert.deepEqual(proposeRules(lines(siblings)).rules.map((r) => r.hosts), [['a.example.org', 'b.example.org', 'example.org']]);
  const three = [...siblings, tunnel('c.example.org:443')];
  assert.deepEqual(proposeRules(lines(three)).rules.map((r) => r.hosts), [['*.example.org', 'example.org']]);
  assert.deepEqual(proposeRules(lines(three), { wildcardMin: 0 }).rules.map((r) => r.hosts), [['a.example.org', 'b.example.org', 'c.example.org', 'example.org']]);
});

test('proposal: ports are listed unless exactly plain HTTP 80 and TLS 443 were seen; a host with two shapes gets a rule per port', () => {
  const both = proposeRules(lines(['http', 'https'].flatMap((scheme) => ['a', 'b'].map((file) => http(`${scheme}://mirror.example.net/debian/${file}`)))));
  assert.deepEqual(both.rules.map((r) => [r.hosts, r.ports, r.paths]), [[['mirror.example.net'], undefined, ['/debian']]]);
  const mixed = proposeRules(lines([http('http://deb.example.net/debian/a'), tunnel('deb.example.net:443'), tunnel('deb.example.net:8443')]));
  assert.deepEqual(mixed.rules.map((r) => [r.name, r.ports, r.paths ?? null]).sort(), [
    ['deb.example.net-443-8443', [443, 8443], null],
    ['deb.example.net-80', [80], ['/debian/a']],
  ]);
});

test('proposal: --with-clients adds the clients seen; users are noted', () => {
  const records = [tunnel('pypi.org:443', { client: { address: '10.0.3.2', port: 1 }, user: 'ci' }), tunnel('pypi.org:443', { client: { address: '10.0.3.1', port: 1 } })];
  const [rule] = proposeRules(lines(records), { withClients: true }).rules;
  assert.deepEqual(rule?.clients, ['10.0.3.1', '10.0.3.2']);
  assert.ok(rule?.notes.includes('users seen: ci'));
});

test('proposal: --include-denied proposes what the policy in force denied', () => {
  const denied = [http('http://pypi.org/simple/x/', { verdict: 'deny', reason: 'no-rule-matched', status: 403 })];
  assert.equal(proposeRules(lines(denied)).rules.length, 0);
  assert.equal(proposeRules(lines(denied)).held[0]?.why, 'denied (no-rule-matched)');
  assert.deepEqual(proposeRules(lines(denied), { includeDenied: true }).rules.map((r) => r.paths), [['/simple/x']]);
});

test('examples in proposals and replay reports hide query values (tokens, signatures)', () => {
  assert.equal(exampleText({ method: 'GET', url: 'https://x.example/a?X-Amz-Signature=abc123&alt=media&flag' }), 'GET https://x.example/a?X-Amz-Signature=…&alt=…&flag');
  const proposal = proposeRules(lines([http('http://pypi.org/simple/?token=s3cr3t', { verdict: 'deny', reason: 'no-rule-matched', status: 403 })]));
  assert.deepEqual(proposal.held[0]?.examples, ['GET http://pypi.org/simple/?token=…']);
});
