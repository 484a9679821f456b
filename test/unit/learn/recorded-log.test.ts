import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfigText } from '../../../src/config/load-config.js';
import type { RuleConfig } from '../../../src/config/schema.js';
import { parseHost } from '../../../src/flow/host.js';
import { judgeLogged } from '../../../src/learn/judge-logged.js';
import type { LoggedRequest } from '../../../src/learn/logged-request.js';
import { parseAccessLogText } from '../../../src/learn/parse-access-log.js';
import { proposeRules } from '../../../src/learn/propose-rules.js';
import { renderProposal } from '../../../src/learn/render-proposal.js';
import { replayRequests } from '../../../src/learn/replay.js';
import { createTenancy } from '../../../src/learn/tenancy.js';
import { formatJson, formatSquid } from '../../../src/logging/access-log-format.js';
import { parseHostPattern } from '../../../src/policy/host-pattern.js';
import { compilePolicy, type CompiledPolicy } from '../../../src/policy/policy-engine.js';
import { BROAD_RULES, recordTraffic, WATCH_RULES, type Recording, type Truth } from '../../fixtures/learn/record-traffic.js';
import { seedTraffic } from '../../fixtures/learn/seed-traffic.js';

// Issue 16, "done when": a recorded log of a few thousand requests from the seeds' scenarios
// (test/fixtures/learn), learned into a policy that allows every legitimate request and none
// of the probes, with no wildcard over a multi-tenant host; and replay against a policy
// missing one rule lists exactly that rule's requests.

const traffic = seedTraffic();

interface Learned {
  readonly recording: Recording;
  readonly lines: LoggedRequest[];
  readonly truth: Map<string, Truth>;
  readonly rules: readonly RuleConfig[];
  readonly yaml: string;
  readonly policy: CompiledPolicy;
}

/** Records the traffic, writes it in `format`, parses it back, learns, renders and re-loads the proposal as a config. */
const learnFrom = (rules: readonly RuleConfig[], dryRun: boolean, format: 'json' | 'squid'): Learned => {
  const recording = recordTraffic(traffic, rules, { dryRun });
  const text = `${recording.records.map((record) => (format === 'json' ? formatJson(record) : formatSquid(record))).join('\n')}\n`;
  const parsed = parseAccessLogText(text, `recorded.${format}`);
  assert.deepEqual(parsed.problems, []);
  assert.equal(parsed.requests.length, recording.records.length);
  const yaml = renderProposal(proposeRules(parsed.requests), { sources: [`recorded.${format}`] });
  const loaded = parseConfigText(yaml, 'proposed.yaml');
  assert.ok(loaded.ok, `the proposal must load as a config: ${JSON.stringify(!loaded.ok && loaded.problems)}`);
  // Squid lines carry no flow id: line order is record order.
  const ids = recording.records.map((record) => record.id);
  const lines = parsed.requests.map((line, i) => (line.id === undefined ? { ...line, id: ids[i] as string } : line));
  return { recording, lines, truth: new Map(recording.truth.map((t) => [t.id, t])), rules: loaded.config.rules, yaml, policy: compilePolicy(loaded.config.rules) };
};

const labelled = (learned: Learned, label: Truth['label']): LoggedRequest[] =>
  learned.lines.filter((line) => learned.truth.get(line.id as string)?.label === label);

/** The proposal must deny the name a probe tries to reach, whatever path or port. */
const allowsName = (policy: CompiledPolicy, name: string): boolean => {
  const host = parseHost(name);
  assert.ok(host.ok, name);
  for (const [port, transport] of [[80, 'http'], [443, 'tls']] as const) {
    const facts = { destination: { host: host.value, port }, clientIp: '10.0.1.66', transport };
    if (policy.decideConnection(facts).verdict === 'allow') return true;
    if (policy.decideRequest({ ...facts, method: 'GET', pathAndQuery: '/' }).verdict === 'allow') return true;
  }
  return false;
};

const assertLegitAllowedProbesDenied = (learned: Learned): void => {
  const legit = labelled(learned, 'legit');
  assert.ok(legit.length > 3000, `a few thousand legitimate lines, got ${legit.length}`);
  const refused = legit.filter((line) => judgeLogged(learned.policy, line).kind !== 'allow');
  assert.deepEqual(refused.map((line) => `${line.method} ${line.url}`), [], 'every legitimate request is allowed');
  const probes = labelled(learned, 'probe');
  assert.ok(probes.length >= 20, `probes: ${probes.length}`);
  for (const probe of probes) {
    const target = learned.truth.get(probe.id as string)?.probeTarget;
    // A probe aimed at another name than its line shows (a forged Host header or SNI) is judged
    // by that name: Squid's format keeps no reason, and the line's own URL is a legitimate one.
    if (target !== undefined) assert.equal(allowsName(learned.policy, target), false, `the proposal allows the probe's target ${target}`);
    else assert.notEqual(judgeLogged(learned.policy, probe).kind, 'allow', `probe allowed: ${probe.method} ${probe.url}`);
  }
};

const assertNoWildcardOverTenants = (learned: Learned): void => {
  const tenancy = createTenancy();
  const wildcards = learned.rules.flatMap((rule) => rule.hosts).filter((host) => host.startsWith('*.'));
  assert.deepEqual(wildcards, ['*.datadoghq.com'], 'siblings of one owner get a wildcard, nothing else does');
  for (const wildcard of wildcards) {
    const pattern = parseHostPattern(wildcard);
    assert.ok(pattern.ok && pattern.value.kind === 'subdomains');
    assert.equal(tenancy.wildcardTooBroad(pattern.value.suffix), undefined);
  }
  for (const rule of learned.rules) {
    for (const host of rule.hosts) {
      if (tenancy.multiTenant(host) === undefined) continue;
      assert.ok(rule.paths !== undefined && rule.paths.length > 0, `multi-tenant host ${host} must be limited by paths (rule ${rule.name})`);
    }
  }
  assert.ok(!learned.rules.some((rule) => rule.hosts.some((host) => host.endsWith('amazonaws.com') && host.startsWith('*'))));
  assert.ok(!allowsName(learned.policy, 'raw.githubusercontent.com'), 'a multi-tenant host seen only through spliced tunnels is held back');
};

const watched = learnFrom(WATCH_RULES, true, 'json');

test('learn on the dry-run recording (json) allows every legitimate request and none of the probes', () => {
  assertLegitAllowedProbesDenied(watched);
});

test('learn never proposes a wildcard over a multi-tenant host; multi-tenant hosts get path prefixes naming the tenant', () => {
  assertNoWildcardOverTenants(watched);
  const storage = watched.rules.find((rule) => rule.hosts.includes('storage.googleapis.com'));
  assert.deepEqual(storage?.paths, ['/download/storage/v1/b/allowed-bkt/o', '/storage/v1/b/allowed-bkt', '/upload/storage/v1/b/allowed-bkt/o']);
  assert.deepEqual(watched.rules.find((rule) => rule.hosts.includes('s3.ap-northeast-2.amazonaws.com'))?.paths, ['/app-backups']);
});

test('each proposed rule says how many requests it covers and from which clients, and the counts are right', () => {
  for (const rule of watched.rules) {
    const covered = watched.lines.filter((line) => {
      const judgement = judgeLogged(watched.policy, line);
      return judgement.kind === 'allow' && judgement.rule === rule.name;
    });
    const clients = [...new Set(covered.map((line) => line.client))].sort();
    const comment = new RegExp(`# covers ${covered.length.toLocaleString('en-US')} log lines? \\(.*\\) from ${clients.length} clients?: [^\\n]*\\n\\s*(#[^\\n]*\\n\\s*)*- name: ${rule.name.replace(/\./g, '\\.')}\\n`);
    assert.match(watched.yaml, comment, `rule ${rule.name}`);
    for (const client of clients.slice(0, 5)) assert.ok(watched.yaml.includes(`${client} (`), client);
  }
});

test('what learn held back and never proposed is listed in the file, with the probes among them', () => {
  assert.match(watched.yaml, /# Held back for review[^\n]*\n(#[^\n]*\n)*#\s+10 x raw\.githubusercontent\.com: multi-tenant host reached through tunnels/);
  assert.match(watched.yaml, /#\s+4 x storage\.googleapis\.com: would deny: path-not-allowed \(rule gcs-one-bucket\); from 10\.0\.1\.66 \(4\)/);
  for (const why of ['ambiguous-path', 'address-blocked', 'dns-failed', 'host-mismatch', 'sni-mismatch', 'userinfo-in-url']) {
    assert.match(watched.yaml, new RegExp(`# Never proposed[^]*: ${why}; from 10\\.0\\.1\\.66`), why);
  }
});

test('learn on a Squid-format log of the broad, enforced policy gives a policy as tight: legitimate requests pass, probes do not', () => {
  const squid = learnFrom(BROAD_RULES, false, 'squid');
  assertLegitAllowedProbesDenied(squid);
  assertNoWildcardOverTenants(squid);
});

test('replay with the proposal missing one rule lists exactly that rule\'s requests', () => {
  // The fleet now enforces the proposal; the same traffic recorded under it.
  const enforced = recordTraffic(traffic, watched.rules, { dryRun: false });
  const lines = parseAccessLogText(`${enforced.records.map((record) => formatJson(record)).join('\n')}\n`, 'enforced.json').requests;
  const truth = new Map(enforced.truth.map((t) => [t.id, t]));
  assert.equal(replayRequests(watched.policy, lines).changed, 0, 'the policy in force changes nothing');
  for (const host of ['deb.debian.org', 'storage.googleapis.com', 'files.pythonhosted.org', 'api.datadoghq.com']) {
    const missing = watched.rules.find((rule) => rule.hosts.includes(host) || rule.hosts.some((h) => h.startsWith('*.') && host.endsWith(h.slice(1))));
    assert.ok(missing, host);
    const candidate = compilePolicy(watched.rules.filter((rule) => rule !== missing));
    const report = replayRequests(candidate, lines);
    const listed = report.newlyDenied.flatMap((group) => group.lines.map((line) => line.id as string)).sort();
    // Independent of the engine: the legitimate lines of the scenario that reached the rule's hosts.
    const expected = lines.filter((line) => {
      const label = truth.get(line.id as string)?.label;
      const name = line.target?.destination.host.host ?? '';
      return (label === 'legit' || label === 'probe-tunnel') && line.verdict === 'allow'
        && missing.hosts.some((h) => (h.startsWith('*.') ? name.endsWith(h.slice(1)) : name === h));
    }).map((line) => line.id as string).sort();
    assert.ok(expected.length > 0);
    assert.deepEqual(listed, expected, `removing ${missing.name}`);
    assert.ok(report.newlyDenied.every((group) => group.before.rule === missing.name), 'grouped under the rule that allowed them');
    assert.equal(report.newlyAllowed.length + report.nowIntercepted.length + report.nowSpliced.length, 0);
  }
});

test('replay on the dry-run recording: the proposal denies exactly what was not legitimate; a missing rule adds exactly its own requests', () => {
  const full = replayRequests(watched.policy, watched.lines);
  const ids = (report: ReturnType<typeof replayRequests>): Set<string> => new Set(report.newlyDenied.flatMap((g) => g.lines.map((l) => l.id as string)));
  const denied = ids(full);
  for (const id of denied) assert.ok(['probe', 'observe'].includes(watched.truth.get(id)?.label ?? ''), `only probes and held-back hosts change: ${id}`);
  const apt = watched.rules.find((rule) => rule.hosts.includes('deb.debian.org'))!;
  const without = ids(replayRequests(compilePolicy(watched.rules.filter((rule) => rule !== apt)), watched.lines));
  const added = [...without].filter((id) => !denied.has(id));
  // The apt lines, and the probe with a forged Host header: the rules let its URL through, the Host check did not.
  const aptLines = watched.lines.filter((line) => line.target?.destination.host.host === 'deb.debian.org'
    && (watched.truth.get(line.id as string)?.label === 'legit' || line.reason === 'host-mismatch'));
  assert.deepEqual(added.sort(), aptLines.map((line) => line.id as string).sort());
});
