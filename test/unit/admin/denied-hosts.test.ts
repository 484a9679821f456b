import assert from 'node:assert/strict';
import { test } from 'node:test';
import { groupDeniedByHost } from '../../../src/admin/denied-hosts.js';
import { toFlowView } from '../../../src/admin/to-flow-view.js';
import { parseConfigText } from '../../../src/config/load-config.js';
import type { FlowRecord } from '../../../src/flow/flow-record.js';
import { makeRecord } from './make-record.js';

let seq = 0;
const deniedFlow = (overrides: Partial<FlowRecord>) =>
  toFlowView(makeRecord({ verdict: 'deny', reason: 'no-rule-matched', rule: undefined, status: 403, ...overrides }), (seq += 1));

/** The suggestion must be a valid entry under `rules:` (what `portcullis check` accepts). */
const assertValidRule = (suggestion: string | undefined): void => {
  assert.ok(suggestion);
  const result = parseConfigText(`rules:\n${suggestion}`, 'suggestion.yaml');
  assert.ok(result.ok, JSON.stringify(!result.ok && result.problems));
};

test('groups denied flows by host, most denied first, ignoring allowed ones', () => {
  const groups = groupDeniedByHost([
    deniedFlow({ host: 'a.test', url: 'http://a.test/' }),
    deniedFlow({ host: 'b.test', url: 'http://b.test/1' }),
    deniedFlow({ host: 'b.test', url: 'http://b.test/2', startedAt: 1_700_000_000_500 }),
    toFlowView(makeRecord({ host: 'b.test' }), 99),
  ]);
  assert.deepEqual(groups.map((g) => [g.host, g.count]), [['b.test', 2], ['a.test', 1]]);
  assert.equal(groups[0]?.lastSeen, 1_700_000_000_500);
});

test('a host denied on default ports gets a whole-host rule without ports', () => {
  const [group] = groupDeniedByHost([
    deniedFlow({ host: 'api.example.com', url: 'http://api.example.com/x', port: 80 }),
    deniedFlow({ kind: 'tunnel', method: 'CONNECT', host: 'api.example.com', url: 'api.example.com:443', port: 443 }),
  ]);
  assert.equal(group?.suggestion, '  - name: allow-api.example.com\n    hosts: [api.example.com]\n');
  assertValidRule(group?.suggestion);
});

test('other ports are listed, with the defaults that were also used', () => {
  const [group] = groupDeniedByHost([
    deniedFlow({ host: 'db.test', url: 'http://db.test:8080/', port: 8080 }),
    deniedFlow({ kind: 'tunnel', method: 'CONNECT', host: 'db.test', url: 'db.test:443', port: 443 }),
  ]);
  assert.match(group?.suggestion ?? '', /ports: \[443, 8080\]/);
  assertValidRule(group?.suggestion);
});

test('path and method denials of a rule are never turned into a rule: no suggestion, a note saying why', () => {
  const [group] = groupDeniedByHost([
    deniedFlow({ host: 'www.googleapis.com', url: 'https://www.googleapis.com/storage/v1/b/other/o?alt=json', port: 443, parentId: 't-1', reason: 'path-not-allowed', rule: 'gcs' }),
    deniedFlow({ host: 'www.googleapis.com', url: 'https://www.googleapis.com/upload', port: 443, parentId: 't-1', method: 'PUT', reason: 'method-not-allowed', rule: 'gcs' }),
  ]);
  assert.equal(group?.suggestion, undefined);
  assert.equal(group?.samples, undefined);
  assert.match(group?.note ?? '', /path-not-allowed, method-not-allowed: a rule limits this host's paths or methods on purpose/);
  assert.match(group?.note ?? '', /Explain/);
});

const attackShaped: ReadonlyArray<readonly [string, Partial<FlowRecord>]> = [
  ['a decoy of an allowed path (the bucket name with a suffix)', { url: 'https://www.googleapis.com/storage/v1/b/allowed-bkt-evil/o', reason: 'path-not-allowed', rule: 'gcs' }],
  ['a decoy with a dot suffix', { url: 'https://www.googleapis.com/storage/v1/b/allowed-bkt.evil', reason: 'path-not-allowed', rule: 'gcs' }],
  ['another bucket', { url: 'https://www.googleapis.com/storage/v1/b/victim-bkt/o/secrets', reason: 'path-not-allowed', rule: 'gcs' }],
  ['an ambiguous path', { url: 'https://www.googleapis.com/storage/v1/b/allowed-bkt/o/..%2F..%2Fvictim', reason: 'ambiguous-path', rule: 'gcs' }],
  ['an encoded slash hiding the bucket', { url: 'https://www.googleapis.com/storage/v1/b%2Fallowed-bkt/o', reason: 'ambiguous-path', rule: 'gcs' }],
  ['an OPTIONS request refused by methods', { method: 'OPTIONS', url: 'https://www.googleapis.com/storage/v1/b/allowed-bkt/o', reason: 'method-not-allowed', rule: 'gcs' }],
  ['a DELETE refused by methods', { method: 'DELETE', url: 'https://www.googleapis.com/storage/v1/b/allowed-bkt/o/x', reason: 'method-not-allowed', rule: 'gcs' }],
  ['a host-mismatch (domain fronting)', { url: 'https://www.googleapis.com/', reason: 'host-mismatch' }],
];

for (const [name, overrides] of attackShaped) {
  test(`no rule is suggested from ${name}`, () => {
    const [group] = groupDeniedByHost([deniedFlow({ host: 'www.googleapis.com', port: 443, parentId: 't-1', ...overrides })]);
    assert.equal(group?.suggestion, undefined);
    assert.ok(group?.note !== undefined && group.note.length > 0);
  });
}

test('a suggestion made beside attack-shaped denials holds the host only: no path, no method', () => {
  const [group] = groupDeniedByHost([
    deniedFlow({ host: 'evil.test', url: 'http://evil.test/exfil', reason: 'no-rule-matched' }),
    deniedFlow({ host: 'evil.test', url: 'http://evil.test/a/../b', reason: 'ambiguous-path' }),
    deniedFlow({ host: 'evil.test', url: 'http://evil.test/x', method: 'OPTIONS', reason: 'no-rule-matched' }),
  ]);
  assert.equal(group?.suggestion, '  - name: allow-evil.test\n    hosts: [evil.test]\n');
  assert.doesNotMatch(group?.suggestion ?? '', /paths|methods|OPTIONS/);
  assert.match(group?.note ?? '', /^Also ambiguous-path: not a missing rule/);
  assertValidRule(group?.suggestion);
});

test('a host denied only for OPTIONS or TRACE requests gets no suggestion: a preflight or a probe opens nothing', () => {
  const [group] = groupDeniedByHost([
    deniedFlow({ host: 'cdn.test', url: 'http://cdn.test/a', method: 'OPTIONS' }),
    deniedFlow({ host: 'cdn.test', url: 'http://cdn.test/b', method: 'TRACE' }),
  ]);
  assert.equal(group?.suggestion, undefined);
  assert.match(group?.note ?? '', /only OPTIONS\/TRACE requests were refused/);
});

test('a suggestion carries the denied requests to explain it with, a tunnel as https://host:port/', () => {
  const [group] = groupDeniedByHost([
    deniedFlow({ kind: 'tunnel', method: 'CONNECT', host: 'db.test', url: 'db.test:8443', port: 8443, client: { address: '10.0.0.7', port: 1 } }),
    deniedFlow({ host: 'db.test', url: 'http://db.test:8080/q', port: 8080 }),
    deniedFlow({ host: 'db.test', url: 'http://db.test:8080/q', port: 8080 }),
  ]);
  assert.deepEqual(group?.samples, [
    { method: 'GET', url: 'https://db.test:8443/', client: '10.0.0.7' },
    { method: 'GET', url: 'http://db.test:8080/q', client: '10.0.0.5' },
  ]);
});

test('client denials list the clients; odd names and IPv6 hosts are quoted', () => {
  const [group] = groupDeniedByHost([
    deniedFlow({ host: '::1', url: 'http://[::1]:8080/', port: 8080, reason: 'client-not-allowed', rule: 'local', client: { address: '10.1.2.3', port: 1 } }),
  ]);
  assert.equal(group?.suggestion, '  - name: "allow-::1"\n    hosts: ["::1"]\n    ports: [8080]\n    clients: ["10.1.2.3"]\n');
  assertValidRule(group?.suggestion);
});

test('reasons a rule cannot fix get a note instead of a suggestion', () => {
  const [blocked] = groupDeniedByHost([deniedFlow({ host: 'metadata.test', url: 'http://metadata.test/', reason: 'address-blocked', rule: 'meta' })]);
  assert.equal(blocked?.suggestion, undefined);
  assert.match(blocked?.note ?? '', /destinations\.allow_ranges/);
  const [smuggled] = groupDeniedByHost([deniedFlow({ host: 'x.test', url: 'http://x.test/', reason: 'host-mismatch' })]);
  assert.equal(smuggled?.suggestion, undefined);
  assert.match(smuggled?.note ?? '', /host-mismatch: not a missing rule/);
});

test('flows without a parsed host are left out', () => {
  assert.deepEqual(groupDeniedByHost([deniedFlow({ host: '-', url: '-', reason: 'malformed-request' })]), []);
});

test('a name the DNS listener refused gets a whole-host rule, without the DNS port 0; a suspected exfiltration gets none', () => {
  const dns = { kind: 'dns' as const, method: 'A', port: 0, status: 0, dns: { transport: 'udp' as const, rcode: 'NXDOMAIN', answers: [] } };
  const groups = groupDeniedByHost([
    deniedFlow({ ...dns, host: 'pypi.org', url: 'pypi.org', reason: 'dns-name-not-allowed' }),
    deniedFlow({ ...dns, host: 'mzxw6ytboi.t.example.com', url: 'mzxw6ytboi.t.example.com', reason: 'dns-exfiltration-suspected', rule: 'wild' }),
  ]);
  const pypi = groups.find((g) => g.host === 'pypi.org');
  assert.equal(pypi?.suggestion, '  - name: allow-pypi.org\n    hosts: [pypi.org]\n');
  assert.deepEqual(pypi?.ports, []);
  assert.deepEqual(pypi?.samples, [{ method: 'GET', url: 'https://pypi.org/', client: '10.0.0.5' }]);
  assertValidRule(pypi?.suggestion);
  assert.equal(groups.find((g) => g.host === 'mzxw6ytboi.t.example.com')?.suggestion, undefined);
});
