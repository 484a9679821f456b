import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RuleConfig } from '../../../src/config/schema.js';
import type { FlowRecord } from '../../../src/flow/flow-record.js';
import { formatReplay, summarizeReplay } from '../../../src/learn/format-replay.js';
import { fromFlowRecord } from '../../../src/learn/from-flow-record.js';
import { lintRules, type LintCode } from '../../../src/learn/lint-policy.js';
import { replayRequests } from '../../../src/learn/replay.js';
import { createTenancy } from '../../../src/learn/tenancy.js';
import { compilePolicy } from '../../../src/policy/policy-engine.js';
import { makeRecord } from '../admin/make-record.js';

const rule = (input: Omit<RuleConfig, 'inspect'> & { inspect?: boolean }): RuleConfig => ({ inspect: false, ...input });
const tenancy = createTenancy();
const codes = (rules: RuleConfig[], logs?: FlowRecord[]): Array<[string, LintCode]> =>
  lintRules(rules, tenancy, logs?.map(fromFlowRecord)).map((finding) => [finding.rule, finding.code]);

const tunnel = (authority: string, overrides: Partial<FlowRecord> = {}): FlowRecord => makeRecord({
  kind: 'tunnel', method: 'CONNECT', url: authority, host: authority.split(':')[0] as string, port: Number(authority.split(':')[1]), tunnelMode: 'splice', ...overrides,
});

test('lint flags wildcards over multi-tenant hosts and suffixes', () => {
  assert.deepEqual(codes([
    rule({ name: 'gcs-all', hosts: ['*.googleapis.com'] }),
    rule({ name: 'aws', hosts: ['*.amazonaws.com'], ports: [443] }),
    rule({ name: 'gh', hosts: ['*.githubusercontent.com'], ports: [443] }),
    rule({ name: 'fine', hosts: ['*.debian.org'], ports: [80] }),
  ]), [['gcs-all', 'wildcard-multi-tenant'], ['aws', 'wildcard-multi-tenant'], ['gh', 'wildcard-multi-tenant']]);
});

test('lint flags multi-tenant hosts allowed whole: spliced (inspect: false) or inspected without paths', () => {
  assert.deepEqual(codes([
    rule({ name: 'spliced', hosts: ['raw.githubusercontent.com'] }),
    rule({ name: 'watched', hosts: ['s3.eu-west-1.amazonaws.com'], inspect: true }),
    rule({ name: 'one-bucket', hosts: ['storage.googleapis.com'], paths: ['/storage/v1/b/mine'] }),
  ]), [['spliced', 'multi-tenant-spliced'], ['watched', 'multi-tenant-unrestricted']]);
});

test('lint flags duplicates once, rules another covers, and report rules that can never report', () => {
  assert.deepEqual(codes([
    rule({ name: 'apt', hosts: ['deb.debian.org'], methods: ['GET'] }),
    rule({ name: 'apt-copy', hosts: ['Deb.Debian.org.'], methods: ['get'] }),
    rule({ name: 'wide', hosts: ['*.example.com'], ports: [80, 443, 8080] }),
    rule({ name: 'narrow', hosts: ['api.example.com'], ports: [8080], paths: ['/v1'] }),
    rule({ name: 'narrow-trial', hosts: ['www.example.com'], mode: 'report' }),
    rule({ name: 'other-client', hosts: ['deb.debian.org'], methods: ['GET'], clients: ['10.0.0.0/8'] }),
  ]), [['apt-copy', 'duplicate'], ['narrow', 'covered'], ['narrow-trial', 'covered'], ['other-client', 'covered']]);
});

test('lint with logs flags rules no request matched, and ports none used', () => {
  const logs = [tunnel('pypi.org:443'), tunnel('repo.example.net:8443')];
  assert.deepEqual(codes([
    rule({ name: 'pypi', hosts: ['pypi.org'] }),
    rule({ name: 'vendor', hosts: ['repo.example.net'], ports: [8443, 9443] }),
    rule({ name: 'stale', hosts: ['old.example.net'], ports: [443] }),
  ], logs), [['pypi', 'ports-unused'], ['vendor', 'ports-unused'], ['stale', 'unused']]);
  const [pypi] = lintRules([rule({ name: 'pypi', hosts: ['pypi.org'] })], tenancy, logs.map(fromFlowRecord));
  assert.match(pypi?.message ?? '', /add ports: \[443\]/);
});

test('replay groups what changes by the rule before and the reason now, and counts what does not', () => {
  const lines = [
    makeRecord({ id: '1', url: 'http://deb.debian.org/debian/a', host: 'deb.debian.org', rule: 'apt' }),
    makeRecord({ id: '2', url: 'http://deb.debian.org/debian/a', host: 'deb.debian.org', rule: 'apt' }),
    makeRecord({ id: '3', url: 'http://pypi.org/simple/', host: 'pypi.org', verdict: 'deny', reason: 'no-rule-matched', rule: undefined, status: 403 }),
    makeRecord({ id: '4', url: 'http://169.254.169.254/', host: '169.254.169.254', verdict: 'deny', reason: 'address-blocked', status: 403 }),
    tunnel('files.example.net:443', { id: '5', rule: 'files' }),
    tunnel('files.example.net:443', { id: '6', rule: 'files', reason: 'sni-mismatch', wouldDeny: true }),
  ].map(fromFlowRecord);
  const candidate = compilePolicy([
    rule({ name: 'pypi', hosts: ['pypi.org'] }),
    rule({ name: 'files', hosts: ['files.example.net'], paths: ['/pub'] }),
    rule({ name: 'trial-apt', hosts: ['deb.debian.org'], mode: 'report' }),
  ]);
  const report = replayRequests(candidate, lines);
  assert.deepEqual(report.newlyDenied.map((g) => [g.before.rule, g.now.reason, g.now.wouldAllow, g.lines.map((l) => l.id)]), [['apt', 'no-rule-matched', 'trial-apt', ['1', '2']]]);
  assert.deepEqual(report.newlyAllowed.map((g) => [g.before.reason, g.now.rule, g.lines.map((l) => l.id)]), [['no-rule-matched', 'pypi', ['3']]]);
  assert.deepEqual(report.nowIntercepted.map((g) => [g.now.rule, g.lines.map((l) => l.id)]), [['files', ['5']]]);
  assert.deepEqual([report.unchanged, Object.fromEntries(report.notJudged), report.changed], [{ allowed: 0, denied: 1 }, { 'sni-mismatch': 1 }, 4]);
  const text = formatReplay(report, 'candidate.yaml', 3);
  assert.match(text, /Allowed before, denied now: 2\n {2}2 x was allowed by rule apt; now denied: no-rule-matched \(default deny\); would allow: rule trial-apt \(mode: report\)\n/);
  assert.match(text, /Denied before, allowed now: 1\n {2}1 x was denied: no-rule-matched; now allowed by rule pypi/);
  assert.match(text, /4 lines change\.\n$/);
  assert.equal(summarizeReplay(report).newlyDenied[0]?.examples[0]?.text, 'GET http://deb.debian.org/debian/a');
  assert.equal(replayRequests(compilePolicy([rule({ name: 'apt', hosts: ['deb.debian.org'] }), rule({ name: 'files', hosts: ['files.example.net'] })]), lines.slice(0, 2)).changed, 0);
});

test('replay leaves alone what passed without the rules (a CA download from the proxy itself)', () => {
  const download = fromFlowRecord(makeRecord({ url: 'http://portcullis.invalid/ca.pem', host: 'portcullis.invalid', reason: 'ca-download', rule: undefined }));
  const report = replayRequests(compilePolicy([]), [download]);
  assert.deepEqual([report.changed, Object.fromEntries(report.notJudged)], [0, { 'ca-download': 1 }]);
});
