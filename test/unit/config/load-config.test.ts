import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_CONFIG_YAML, loadDefaultConfig } from '../../../src/config/default-config.js';
import {
  formatProblem, loadConfig, parseConfigText, resolveConfigPaths, type ConfigProblem, type ConfigResult,
} from '../../../src/config/load-config.js';
import type { ProxyConfig } from '../../../src/config/schema.js';

const FIXTURES = fileURLToPath(new URL('../../fixtures/configs/', import.meta.url));
const fixture = (name: string): string => path.join(FIXTURES, name);

const expectConfig = (result: ConfigResult): ProxyConfig => {
  if (!result.ok) assert.fail(`expected a valid config, got:\n${result.problems.map(formatProblem).join('\n')}`);
  return result.config;
};

const expectProblems = (result: ConfigResult): ConfigProblem[] => {
  if (result.ok) assert.fail('expected problems, the config was accepted');
  return result.problems;
};

const invalidFixtures: { name: string; file: string; line: number; key: string; message: string }[] = [
  { name: 'a bare "*" host is refused at its list entry', file: 'invalid-bare-star.yaml', line: 4, key: 'rules[0].hosts[0]', message: 'bare "*" would allow every host' },
  { name: 'a wildcard inside a label is refused', file: 'invalid-mid-label-wildcard.yaml', line: 6, key: 'rules[0].hosts[1]', message: '"*" may only be the whole first label' },
  { name: 'a host repeated in another spelling is a duplicate', file: 'invalid-duplicate-host.yaml', line: 6, key: 'rules[0].hosts[1]', message: 'repeats hosts[0]' },
  { name: 'two rules may not share a name', file: 'invalid-duplicate-rule-name.yaml', line: 5, key: 'rules[1].name', message: 'rule name "web" repeats rules[0]' },
  { name: 'an unknown key in a rule is an error with a suggestion', file: 'invalid-unknown-key.yaml', line: 5, key: 'rules[0].prots', message: 'unknown key "prots" (did you mean "ports"?)' },
  { name: 'an unknown top-level key is an error with a suggestion', file: 'invalid-unknown-top-key.yaml', line: 4, key: 'rule', message: 'unknown key "rule" (did you mean "rules"?)' },
  { name: 'a YAML syntax error is reported at its line without a key', file: 'invalid-yaml-syntax.yaml', line: 4, key: '', message: 'Nested mappings are not allowed' },
  { name: 'a CIDR with too long a prefix is refused', file: 'invalid-bad-cidr.yaml', line: 5, key: 'destinations.allow_ranges[1]', message: 'must be an IP address or CIDR range' },
  { name: 'a port above 65535 is refused with the range and the value given', file: 'invalid-bad-port.yaml', line: 5, key: 'rules[0].ports[1]', message: 'a port is 1 to 65535, got 70000' },
  { name: 'a port inside a host entry says to put it in ports:', file: 'invalid-host-with-port.yaml', line: 5, key: 'rules[0].hosts[0]', message: 'put the port in ports: (ports: [443])' },
  { name: 'an unknown log format lists the allowed ones', file: 'invalid-log-format.yaml', line: 3, key: 'log.format', message: '"xml" is not allowed; use one of: json, squid, console' },
  { name: 'a listen address without a port is refused', file: 'invalid-listen-address.yaml', line: 3, key: 'listen[0].address', message: 'must be host:port' },
  { name: 'default: allow is refused', file: 'invalid-default-allow.yaml', line: 5, key: 'default', message: 'the only default is "deny"' },
  { name: 'a resolve entry must map to an IP address', file: 'invalid-resolve-not-ip.yaml', line: 4, key: 'resolve["www.example.com"]', message: '"localhost" is not an IP address' },
  { name: 'a key written twice in one mapping is refused', file: 'invalid-duplicate-yaml-key.yaml', line: 5, key: 'rules[0].hosts', message: 'duplicate key "hosts"' },
  { name: 'a path prefix must start with a slash', file: 'invalid-path-no-slash.yaml', line: 5, key: 'rules[0].paths[0]', message: 'must start with "/"' },
  { name: 'a rule with an empty hosts list is refused', file: 'invalid-hosts-empty.yaml', line: 4, key: 'rules[0].hosts', message: 'list at least one host' },
  { name: 'a method with a space in it is refused', file: 'invalid-method.yaml', line: 5, key: 'rules[0].methods[1]', message: 'must be an HTTP method token' },
  { name: 'a duration in words is refused', file: 'invalid-duration.yaml', line: 4, key: 'timeouts.idle', message: '"10 minutes" is not a duration' },
];

for (const row of invalidFixtures) {
  test(`${row.name} (${row.file})`, async () => {
    const problems = expectProblems(await loadConfig(fixture(row.file)));
    assert.equal(problems.length, 1, problems.map(formatProblem).join('\n'));
    const [problem] = problems as [ConfigProblem];
    assert.equal(problem.file, fixture(row.file));
    assert.equal(problem.line, row.line);
    assert.equal(problem.key, row.key);
    assert.ok(problem.message.includes(row.message), `message ${JSON.stringify(problem.message)} lacks ${JSON.stringify(row.message)}`);
  });
}

const inlineCases: { name: string; yaml: string; problems: { line: number; key: string; message: string }[] }[] = [
  { name: 'a top-level list is not a config', yaml: '- listen\n', problems: [{ line: 1, key: '', message: 'the top level must be a mapping' }] },
  { name: 'a top-level string is not a config', yaml: 'hello\n', problems: [{ line: 1, key: '', message: 'got the string "hello"' }] },
  { name: 'a wrong type says what was expected and what was given', yaml: 'rules:\n  - name: web\n    hosts: example.com\n', problems: [{ line: 3, key: 'rules[0].hosts', message: 'expected a list, got the string "example.com"' }] },
  { name: 'a quoted port is a string, not a number', yaml: 'rules:\n  - name: web\n    hosts: [a.com]\n    ports: ["443"]\n', problems: [{ line: 4, key: 'rules[0].ports[0]', message: 'expected a number, got the string "443"' }] },
  { name: 'a missing required key points at its mapping', yaml: 'rules:\n  - hosts: [a.com]\n', problems: [{ line: 2, key: 'rules[0].name', message: 'is required' }] },
  { name: 'an empty value where a mapping belongs is named as such', yaml: 'log:\n', problems: [{ line: 1, key: 'log', message: 'expected a mapping, got an empty value' }] },
  { name: 'a value of the wrong type in a union lists every accepted type', yaml: 'timeouts:\n  idle: true\n', problems: [{ line: 2, key: 'timeouts.idle', message: 'expected a number or a string, got true' }] },
  { name: 'a rule\'s ech is deny or allow, nothing else', yaml: 'rules:\n  - name: web\n    hosts: [a.com]\n    ech: yes\n', problems: [{ line: 4, key: 'rules[0].ech', message: 'use one of' }] },
  { name: 'a DNS rate is a count per window', yaml: 'dns:\n  exfiltration:\n    rate: fast\n', problems: [{ line: 3, key: 'dns.exfiltration.rate', message: '"fast" is not a rate; write a count per window, e.g. 20/s, 1000/10m' }] },
  { name: 'a DNS answer TTL is at most a day', yaml: 'dns:\n  answer_ttl: 48h\n', problems: [{ line: 2, key: 'dns.answer_ttl', message: 'at most 1 day' }] },
  { name: 'refuse_with is nxdomain or refused', yaml: 'dns:\n  refuse_with: servfail\n', problems: [{ line: 2, key: 'dns.refuse_with', message: 'use one of: nxdomain, refused' }] },
  { name: 'a DNS upstream is an IP address with an optional port', yaml: 'dns:\n  upstream: [dns.google]\n', problems: [{ line: 2, key: 'dns.upstream[0]', message: 'must be an IP address' }] },
  { name: 'a DNS label limit stays within what DNS allows', yaml: 'dns:\n  exfiltration:\n    max_label_length: 64\n', problems: [{ line: 3, key: 'dns.exfiltration.max_label_length', message: '63' }] },
  { name: 'a dns listener takes no tls', yaml: 'listen:\n  - address: 127.0.0.1:5353\n    mode: dns\n    tls: {}\n', problems: [{ line: 4, key: 'listen[0].tls', message: 'a dns listener speaks plain DNS' }] },
  { name: 'an unknown key far from every known one gets no suggestion', yaml: 'bogus: 1\n', problems: [{ line: 1, key: 'bogus', message: 'unknown key "bogus"' }] },
  { name: 'an alias without an anchor is a problem, not a crash', yaml: 'state_dir: *nowhere\n', problems: [{ line: 1, key: '', message: 'has no anchor' }] },
  {
    name: 'every problem in a file is listed, in line order',
    yaml: 'log:\n  format: xml\nlisten:\n  - address: nowhere\nbogus: true\n',
    problems: [
      { line: 2, key: 'log.format', message: 'use one of' },
      { line: 4, key: 'listen[0].address', message: 'must be host:port' },
      { line: 5, key: 'bogus', message: 'unknown key' },
    ],
  },
];

for (const row of inlineCases) {
  test(row.name, () => {
    const problems = expectProblems(parseConfigText(row.yaml, 'inline.yaml'));
    assert.deepEqual(problems.map((p) => ({ line: p.line, key: p.key })), row.problems.map((p) => ({ line: p.line, key: p.key })),
      problems.map(formatProblem).join('\n'));
    row.problems.forEach((expected, index) => {
      const message = problems[index]?.message ?? '';
      assert.ok(message.includes(expected.message), `message ${JSON.stringify(message)} lacks ${JSON.stringify(expected.message)}`);
    });
  });
}

test('unknown-key problems point at the key itself, one problem per key', () => {
  const problems = expectProblems(parseConfigText('rules:\n  - name: web\n    hosts: [a.com]\n    hots: [b.com]\n    methodz: [GET]\n', 'x.yaml'));
  assert.deepEqual(problems.map((p) => [p.line, p.column, p.key]), [[4, 5, 'rules[0].hots'], [5, 5, 'rules[0].methodz']]);
  assert.match(problems[1]?.message ?? '', /did you mean "methods"\?/);
});

test('a minimal config loads', async () => {
  const config = expectConfig(await loadConfig(fixture('valid-minimal.yaml')));
  assert.deepEqual(config.rules.map((rule) => rule.name), ['example']);
});

test('a config using every key loads with its values', async () => {
  const config = expectConfig(await loadConfig(fixture('valid-full.yaml')));
  assert.equal(config.listen.length, 4);
  assert.equal(config.listen[1]?.mode, 'transparent-tls');
  assert.equal(config.listen[3]?.mode, 'dns');
  assert.deepEqual(config.dns, {
    answer_ttl: 30_000, refuse_with: 'refused', https_records: 'refuse', upstream: ['192.0.2.53', '[2001:db8::53]:5353'], max_tcp_connections: 64,
    exfiltration: { max_label_length: 40, max_name_length: 100, max_entropy: 4.2, rate: { count: 20, perMs: 1000 }, new_name_budget: { count: 500, perMs: 600_000 } },
  });
  assert.equal(config.admin?.enabled, false);
  assert.deepEqual(config.resolve['storage.example.com'], ['10.0.0.5', '::1']);
  assert.equal(config.timeouts.upstream_connect, 5_000);
  assert.equal(config.timeouts.upstream_response, 120_000);
  assert.equal(config.timeouts.tunnel_idle, 3_600_000);
  assert.deepEqual(config.rules[0]?.methods, ['GET', 'POST']);
  assert.equal(config.rules[2]?.ech, 'allow');
  assert.equal(config.dry_run, true);
});

test('an empty file is valid and means every default', () => {
  const config = expectConfig(parseConfigText('', 'empty.yaml'));
  assert.deepEqual(config.listen, [{ address: '127.0.0.1:3128', mode: 'explicit' }]);
  assert.equal(config.state_dir, './.portcullis');
  assert.deepEqual(config.log, { format: 'json', file: '-' });
  assert.deepEqual(config.rules, []);
  assert.equal(config.default, 'deny');
  assert.equal(config.dry_run, false);
  assert.equal(config.timeouts.idle, 60_000);
});

test('a file holding only comments is valid', () => {
  expectConfig(parseConfigText('# nothing here yet\n\n# still nothing\n', 'comments.yaml'));
});

test('defaults fill what a rule leaves out', () => {
  const config = expectConfig(parseConfigText('rules:\n  - name: web\n    hosts: [a.com]\n', 'x.yaml'));
  assert.equal(config.rules[0]?.inspect, false);
  assert.equal(config.rules[0]?.ech, undefined, 'no ech key: an ECH hello is denied (ech: allow opts in)');
  assert.equal(config.rules[0]?.ports, undefined);
});

test('the loaded config is deep-frozen', async () => {
  const config = expectConfig(await loadConfig(fixture('valid-full.yaml')));
  assert.ok(Object.isFrozen(config));
  assert.throws(() => { (config as { state_dir: string }).state_dir = '/elsewhere'; }, TypeError);
  assert.throws(() => { (config.rules as unknown as unknown[]).push({}); }, TypeError);
  assert.throws(() => { (config.listen[0] as { address: string }).address = '0.0.0.0:1'; }, TypeError);
  assert.throws(() => { (config.upstream?.tls?.extra_ca as string[])[0] = '/x'; }, TypeError);
});

test('parsing twice gives independent results that share no defaults', () => {
  const first = expectConfig(parseConfigText('', 'a.yaml'));
  const second = expectConfig(parseConfigText('', 'b.yaml'));
  assert.notEqual(first.listen[0], second.listen[0]);
});

test('relative paths are resolved against the config file directory', async () => {
  const config = expectConfig(await loadConfig(fixture('valid-full.yaml')));
  assert.equal(config.state_dir, path.join(FIXTURES, 'state'));
  assert.equal(config.ca?.cert, path.join(FIXTURES, 'ca.pem'));
  assert.equal(config.ca?.key, '/etc/portcullis/ca-key.pem');
  assert.deepEqual(config.upstream?.tls?.extra_ca, [path.join(FIXTURES, 'origin-ca.pem'), '/etc/ssl/extra.pem']);
  assert.equal(config.log.file, path.join(FIXTURES, 'logs/access.log'));
});

test('log file "-" stays stdout when paths are resolved', () => {
  const config = resolveConfigPaths(expectConfig(parseConfigText('', 'x.yaml')), '/srv/portcullis');
  assert.equal(config.log.file, '-');
  assert.equal(config.state_dir, '/srv/portcullis/.portcullis');
  assert.deepEqual(config.ca, { leaf_key: 'ecdsa', cache_size: 1000, name_constraints: false });
  assert.equal(config.upstream, undefined);
  assert.ok(Object.isFrozen(config) && Object.isFrozen(config.log));
});

test('parseConfigText leaves paths as written', () => {
  const config = expectConfig(parseConfigText('state_dir: ./here\n', 'x.yaml'));
  assert.equal(config.state_dir, './here');
});

test('a missing file is a problem naming the OS error, at line 0', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'portcullis-config-'));
  const missing = path.join(dir, 'nope.yaml');
  try {
    const problems = expectProblems(await loadConfig(missing));
    assert.equal(problems.length, 1);
    assert.equal(problems[0]?.line, 0);
    assert.match(problems[0]?.message ?? '', /file not found \(ENOENT\)/);
    assert.equal(formatProblem(problems[0]!), `${missing}: cannot read the config: file not found (ENOENT)`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a file written to disk is read and validated', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'portcullis-config-'));
  try {
    const file = path.join(dir, 'portcullis.yaml');
    await writeFile(file, 'rules:\n  - name: web\n    hosts: ["a.*.b"]\n');
    const problems = expectProblems(await loadConfig(file));
    assert.equal(formatProblem(problems[0]!), `${file}:3 rules[0].hosts[0]: "a.*.b": "*" may only be the whole first label, as in "*.example.com"`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('formatProblem prints file:line key: message, without the column', () => {
  const line = formatProblem({ file: 'portcullis.yaml', line: 12, column: 7, key: 'rules[0].hosts[1]', message: 'bad' });
  assert.equal(line, 'portcullis.yaml:12 rules[0].hosts[1]: bad');
  assert.equal(formatProblem({ file: 'p.yaml', line: 3, column: 1, key: '', message: 'syntax' }), 'p.yaml:3: syntax');
});

test('the embedded default config parses with the 127.0.0.1:3128 listener and admin on 9090', () => {
  const config = expectConfig(parseConfigText(DEFAULT_CONFIG_YAML, 'default.yaml'));
  assert.deepEqual(config.listen, [{ address: '127.0.0.1:3128', mode: 'explicit' }]);
  assert.equal(config.admin?.address, '127.0.0.1:9090');
  assert.deepEqual(config.log, { format: 'console', file: '-' });
  assert.ok(config.rules.length > 0);
});

test('loadDefaultConfig resolves state_dir against the given directory and freezes the result', () => {
  const config = loadDefaultConfig('/var/lib/app');
  assert.equal(config.state_dir, '/var/lib/app/.portcullis');
  assert.equal(config.listen[0]?.address, '127.0.0.1:3128');
  assert.ok(Object.isFrozen(config.rules[0]));
});
