import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RuleConfig } from '../../../src/config/schema.js';
import { parseAbsoluteTarget, parseAuthority } from '../../../src/flow/destination.js';
import { parseHost } from '../../../src/flow/host.js';
import type { Decision } from '../../../src/policy/decision.js';
import { compilePolicy, type ConnectionFacts, type RequestFacts } from '../../../src/policy/policy-engine.js';

type RuleInput = Omit<RuleConfig, 'inspect' | 'ech'> & { inspect?: boolean; ech?: 'deny' | 'allow' };
const rule = (input: RuleInput): RuleConfig => ({ inspect: false, ech: 'deny', ...input });

interface Who {
  readonly clientIp?: string;
  readonly user?: string;
}

/**
 * A destination given in Unicode, as `explain` or the admin API may name it: the edge refuses
 * non-ASCII authorities, but the policy must still match a Unicode name to its rule.
 */
const unicodeDestination = (authority: string): ReturnType<typeof parseAuthority> => {
  const colon = authority.lastIndexOf(':');
  const host = parseHost(authority.slice(0, colon));
  return host.ok ? { ok: true, value: { host: host.value, port: Number(authority.slice(colon + 1)) } } : { ok: false, reason: 'invalid-destination', error: host.error };
};

/** CONNECT-style facts from an authority; transport tls unless told. */
const connect = (authority: string, who: Who = {}, transport: 'http' | 'tls' = 'tls'): ConnectionFacts => {
  const destination = /[^\x00-\x7f]/.test(authority) ? unicodeDestination(authority) : parseAuthority(authority);
  if (!destination.ok) throw new Error(`bad test authority ${authority}: ${destination.error}`);
  return { destination: destination.value, clientIp: who.clientIp ?? '10.9.9.9', transport, ...(who.user === undefined ? {} : { user: who.user }) };
};

/** Request facts from an absolute URL: https means inside a TLS tunnel, http means plain HTTP. */
const request = (method: string, url: string, who: Who = {}): RequestFacts => {
  const target = parseAbsoluteTarget(url);
  if (!target.ok) throw new Error(`bad test URL ${url}: ${target.error}`);
  return {
    destination: target.value.destination,
    clientIp: who.clientIp ?? '10.9.9.9',
    transport: target.value.scheme === 'https' ? 'tls' : 'http',
    method,
    pathAndQuery: target.value.pathAndQuery,
    ...(who.user === undefined ? {} : { user: who.user }),
  };
};

const rules: readonly RuleConfig[] = [
  rule({ name: 'gcs', hosts: ['www.googleapis.com'], paths: ['/storage/v1/b/allowed-bkt'], methods: ['GET', 'POST'] }),
  rule({ name: 'gcs-upload', hosts: ['www.googleapis.com'], paths: ['/upload/storage/v1/b/allowed-bkt'], methods: ['POST'] }),
  rule({ name: 'google-auth', hosts: ['accounts.google.com', 'oauth2.googleapis.com'] }),
  rule({ name: 'aws', hosts: ['*.amazonaws.com'] }),
  rule({ name: 's3', hosts: ['s3.amazonaws.com'] }),
  rule({ name: 'internal', hosts: ['10.1.2.3', '192.168.0.0/16', '2001:db8::/32'], ports: [8080] }),
  rule({ name: 'office', hosts: ['intranet.example.org'], clients: ['10.0.0.0/8'], users: ['alice'] }),
  rule({ name: 'audit', hosts: ['audit.example.net'], inspect: true }),
  rule({ name: 'wild', hosts: ['*.example.com'] }),
  rule({ name: 'multi-port', hosts: ['multi.example.net'], ports: [443, 8443] }),
  rule({ name: 'idn', hosts: ['bücher.de'] }),
  rule({ name: 'punycode', hosts: ['xn--mnchen-3ya.de'] }),
  rule({ name: 'read-only', hosts: ['api.example.org'], methods: ['GET', 'HEAD'] }),
  rule({ name: 'docs-any', hosts: ['docs.example.org'] }),
  rule({ name: 'docs-paths', hosts: ['docs.example.org'], paths: ['/private'] }),
  rule({ name: 'split-inside', hosts: ['audit-split.example.net'], clients: ['10.0.0.0/8'], inspect: true }),
  rule({ name: 'split-outside', hosts: ['audit-split.example.net'], paths: ['/public'] }),
  rule({ name: 'ech-ok', hosts: ['ech.example.net'], ech: 'allow' }),
  rule({ name: 'ech-default', hosts: ['ech-mixed.example.net'] }),
  rule({ name: 'ech-office', hosts: ['ech-mixed.example.net'], clients: ['10.0.0.0/8'], ech: 'allow' }),
];
const policy = compilePolicy(rules);

type Expected = Partial<Record<'verdict' | 'reason' | 'rule' | 'intercept' | 'wholeHost' | 'allowEch', string | boolean>>;

const subset = (decision: Decision, expected: Expected): Expected =>
  Object.fromEntries(Object.keys(expected).map((key) => [key, (decision as Record<string, unknown>)[key]])) as Expected;

const allowed = (rule: string, intercept?: boolean): Expected =>
  intercept === undefined ? { verdict: 'allow', rule } : { verdict: 'allow', rule, intercept };
const denied = (reason: string, rule?: string): Expected =>
  rule === undefined ? { verdict: 'deny', reason } : { verdict: 'deny', reason, rule };

const connections: ReadonlyArray<readonly [string, ConnectionFacts, Expected]> = [
  ['intercepts www.googleapis.com:443 because its rule has paths', connect('www.googleapis.com:443'), allowed('gcs', true)],
  ['splices accounts.google.com:443 because its rule names only hosts', connect('accounts.google.com:443'), allowed('google-auth', false)],
  ['allows the second host of a rule', connect('oauth2.googleapis.com:443'), allowed('google-auth', false)],
  ['allows a subdomain for *.amazonaws.com', connect('ec2.amazonaws.com:443'), allowed('aws', false)],
  ['allows a deep subdomain for *.amazonaws.com', connect('a.b.c.amazonaws.com:443'), allowed('aws', false)],
  ['names the first rule in config order when two rules match', connect('s3.amazonaws.com:443'), allowed('aws', false)],
  ['denies the apex amazonaws.com when the rule is *.amazonaws.com', connect('amazonaws.com:443'), denied('no-rule-matched')],
  ['denies evil-example.com when the rule is *.example.com', connect('evil-example.com:443'), denied('no-rule-matched')],
  ['denies xexample.com when the rule is *.example.com', connect('xexample.com:443'), denied('no-rule-matched')],
  ['denies example.com.evil.test when the rule is *.example.com', connect('example.com.evil.test:443'), denied('no-rule-matched')],
  ['denies www.example.com.evil.test when the rule is *.example.com', connect('www.example.com.evil.test:443'), denied('no-rule-matched')],
  ['denies the apex example.com when the rule is *.example.com', connect('example.com:443'), denied('no-rule-matched')],
  ['allows www.example.com for *.example.com', connect('www.example.com:443'), allowed('wild')],
  ['allows a mixed-case name', connect('WWW.GoogleAPIs.COM:443'), allowed('gcs', true)],
  ['allows a name with a trailing dot', connect('accounts.google.com.:443'), allowed('google-auth')],
  ['allows a mixed-case subdomain with a trailing dot for a wildcard', connect('S3.Eu.AmazonAWS.com.:443'), allowed('aws')],
  ['denies a name that only ends with a rule host', connect('evilaccounts.google.com:443'), denied('no-rule-matched')],
  ['denies a subdomain of an exact rule host', connect('x.accounts.google.com:443'), denied('no-rule-matched')],
  ['allows an IDN host in Unicode when the rule is in Unicode', connect('bücher.de:443'), allowed('idn')],
  ['allows an IDN host in punycode when the rule is in Unicode', connect('xn--bcher-kva.de:443'), allowed('idn')],
  ['allows an IDN host in Unicode when the rule is in punycode', connect('münchen.de:443'), allowed('punycode')],
  ['allows an IDN host in uppercase Unicode', connect('BÜCHER.de:443'), allowed('idn')],
  ['denies a look-alike of an IDN host', connect('bucher.de:443'), denied('no-rule-matched')],
  ['denies port 8443 when the rule has no ports', connect('accounts.google.com:8443'), denied('port-not-allowed', 'google-auth')],
  ['denies port 80 over TLS when the rule has no ports', connect('accounts.google.com:80'), denied('port-not-allowed', 'google-auth')],
  ['allows port 80 for plain HTTP when the rule has no ports', connect('accounts.google.com:80', {}, 'http'), allowed('google-auth')],
  ['denies port 443 for plain HTTP when the rule has no ports', connect('accounts.google.com:443', {}, 'http'), denied('port-not-allowed', 'google-auth')],
  ['allows a listed non-default port', connect('multi.example.net:8443'), allowed('multi-port')],
  ['denies port 80 for plain HTTP when the rule lists only 443 and 8443', connect('multi.example.net:80', {}, 'http'), denied('port-not-allowed', 'multi-port')],
  ['allows an IP literal listed in a rule', connect('10.1.2.3:8080'), allowed('internal')],
  ['allows an IP literal written in hex when its dotted form is listed', connect('0xa.1.2.3:8080'), allowed('internal')],
  ['allows an IP literal written as one decimal number', connect('167838211:8080'), allowed('internal')],
  ['allows an IPv4-mapped IPv6 literal of a listed IP', connect('[::ffff:10.1.2.3]:8080'), allowed('internal')],
  ['denies the neighbour of a listed IP literal', connect('10.1.2.4:8080'), denied('no-rule-matched')],
  ['allows an IP literal inside a listed CIDR', connect('192.168.77.1:8080'), allowed('internal')],
  ['allows an IPv6 literal inside a listed CIDR', connect('[2001:db8::42]:8080'), allowed('internal')],
  ['denies an IP literal just outside a listed CIDR', connect('192.169.0.1:8080'), denied('no-rule-matched')],
  ['denies an IP literal on a port its rule does not list', connect('10.1.2.3:443'), denied('port-not-allowed', 'internal')],
  ['denies an IP literal of a host that only has a name rule', connect('142.250.1.1:443'), denied('no-rule-matched')],
  ['allows a listed client with a listed user', connect('intranet.example.org:443', { clientIp: '10.1.1.1', user: 'alice' }), allowed('office')],
  ['allows a listed client that arrives IPv4-mapped', connect('intranet.example.org:443', { clientIp: '::ffff:10.1.1.1', user: 'alice' }), allowed('office')],
  ['denies a client outside the listed range', connect('intranet.example.org:443', { clientIp: '192.168.1.1', user: 'alice' }), denied('client-not-allowed', 'office')],
  ['denies a listed client with another user', connect('intranet.example.org:443', { clientIp: '10.1.1.1', user: 'bob' }), denied('client-not-allowed', 'office')],
  ['denies a listed client without a user', connect('intranet.example.org:443', { clientIp: '10.1.1.1' }), denied('client-not-allowed', 'office')],
  ['denies a user whose name differs only in case', connect('intranet.example.org:443', { clientIp: '10.1.1.1', user: 'Alice' }), denied('client-not-allowed', 'office')],
  ['denies a client whose IP cannot be parsed', connect('intranet.example.org:443', { clientIp: 'garbage', user: 'alice' }), denied('client-not-allowed', 'office')],
  ['intercepts a host whose rule asks for inspect', connect('audit.example.net:443'), allowed('audit', true)],
  ['intercepts a host whose rule lists methods', connect('api.example.org:443'), allowed('read-only', true)],
  ['intercepts when one matching rule has paths and another does not', connect('docs.example.org:443'), allowed('docs-any', true)],
  ['says an inspect-only rule allows the whole host', connect('audit.example.net:443'), { verdict: 'allow', intercept: true, wholeHost: true }],
  ['says a host-only rule allows the whole host', connect('accounts.google.com:443'), { verdict: 'allow', intercept: false, wholeHost: true }],
  ['says a rule with paths does not allow the whole host', connect('www.googleapis.com:443'), { verdict: 'allow', intercept: true, wholeHost: false }],
  ['says a rule with methods only does not allow the whole host', connect('api.example.org:443'), { verdict: 'allow', intercept: true, wholeHost: false }],
  ['says the whole host is allowed when one of two matching rules has no paths', connect('docs.example.org:443'), { verdict: 'allow', intercept: true, wholeHost: true }],
  ['does not count a rule for another client toward the whole host', connect('audit-split.example.net:443', { clientIp: '192.168.1.1' }), { verdict: 'allow', intercept: true, wholeHost: false }],
  ['denies a host no rule names', connect('example.net:443'), denied('no-rule-matched')],
  ['does not allow ECH by default', connect('accounts.google.com:443'), { verdict: 'allow', allowEch: false }],
  ['allows ECH when the matching rule says ech: allow', connect('ech.example.net:443'), { verdict: 'allow', rule: 'ech-ok', allowEch: true }],
  ['allows ECH when one of several matching rules says so', connect('ech-mixed.example.net:443'), { verdict: 'allow', rule: 'ech-default', allowEch: true }],
  ['does not take ech: allow from a rule for another client', connect('ech-mixed.example.net:443', { clientIp: '192.168.1.1' }), { verdict: 'allow', rule: 'ech-default', allowEch: false }],
];

for (const [name, facts, expected] of connections) {
  test(`decideConnection ${name}`, () => {
    const decision = policy.decideConnection(facts);
    assert.deepEqual(subset(decision, expected), expected);
  });
}

const G = 'https://www.googleapis.com';
const requests: ReadonlyArray<readonly [string, RequestFacts, Expected]> = [
  ['allows GET on an object in the allowed bucket', request('GET', `${G}/storage/v1/b/allowed-bkt/o/file.txt`), allowed('gcs', false)],
  ['allows GET on the allowed bucket itself', request('GET', `${G}/storage/v1/b/allowed-bkt`), allowed('gcs')],
  ['allows GET on the allowed bucket with a trailing slash', request('GET', `${G}/storage/v1/b/allowed-bkt/`), allowed('gcs')],
  ['allows POST on the allowed bucket', request('POST', `${G}/storage/v1/b/allowed-bkt/o`), allowed('gcs')],
  ['allows a path whose unreserved characters are percent-encoded', request('GET', `${G}/storage/v1/b/allowed-%62kt/o`), allowed('gcs')],
  ['allows the allowed bucket whatever the query says', request('GET', `${G}/storage/v1/b/allowed-bkt?x=/../../other-bkt`), allowed('gcs')],
  ['allows POST on the upload path through the second rule for the host', request('POST', `${G}/upload/storage/v1/b/allowed-bkt/o`), allowed('gcs-upload')],
  ['denies /storage/v1/b/allowed-bkt-evil when the rule allows /storage/v1/b/allowed-bkt', request('GET', `${G}/storage/v1/b/allowed-bkt-evil`), denied('path-not-allowed', 'gcs')],
  ['denies /storage/v1/b/allowed-bktx when the rule allows /storage/v1/b/allowed-bkt', request('GET', `${G}/storage/v1/b/allowed-bktx/o`), denied('path-not-allowed', 'gcs')],
  ['denies another bucket', request('GET', `${G}/storage/v1/b/other-bkt/o`), denied('path-not-allowed', 'gcs')],
  ['denies another bucket even when the query names the allowed one', request('GET', `${G}/storage/v1/b/other-bkt?p=/storage/v1/b/allowed-bkt`), denied('path-not-allowed', 'gcs')],
  ['denies the allowed bucket in another case', request('GET', `${G}/storage/v1/b/ALLOWED-BKT`), denied('path-not-allowed', 'gcs')],
  ['denies the allowed bucket followed by a path parameter', request('GET', `${G}/storage/v1/b/allowed-bkt;x/o`), denied('path-not-allowed', 'gcs')],
  ['denies DELETE on the allowed bucket', request('DELETE', `${G}/storage/v1/b/allowed-bkt/o`), denied('method-not-allowed', 'gcs')],
  ['denies a lowercase get because methods are case-sensitive', request('get', `${G}/storage/v1/b/allowed-bkt/o`), denied('method-not-allowed', 'gcs')],
  ['denies GET on the upload path that only allows POST, naming the rule that got furthest', request('GET', `${G}/upload/storage/v1/b/allowed-bkt/o`), denied('path-not-allowed', 'gcs')],
  ['denies a dot-dot escape out of the allowed bucket as ambiguous', request('GET', `${G}/storage/v1/b/allowed-bkt/../other-bkt/o`), denied('ambiguous-path', 'gcs')],
  ['denies an encoded dot-dot escape as ambiguous', request('GET', `${G}/storage/v1/b/allowed-bkt/%2e%2e/other-bkt`), denied('ambiguous-path', 'gcs')],
  ['denies a half-encoded dot-dot escape as ambiguous', request('GET', `${G}/storage/v1/b/allowed-bkt/.%2E/other-bkt`), denied('ambiguous-path', 'gcs')],
  ['denies an encoded slash as ambiguous', request('GET', `${G}/storage/v1/b/allowed-bkt%2f..%2fother-bkt`), denied('ambiguous-path', 'gcs')],
  ['denies an encoded backslash as ambiguous', request('GET', `${G}/storage/v1/b/allowed-bkt%5c..%5cother-bkt`), denied('ambiguous-path', 'gcs')],
  ['denies a literal backslash as ambiguous', request('GET', `${G}/storage/v1/b/allowed-bkt\\..\\other-bkt`), denied('ambiguous-path', 'gcs')],
  ['denies a double slash as ambiguous', request('GET', `${G}//storage/v1/b/allowed-bkt`), denied('ambiguous-path', 'gcs')],
  ['denies a Tomcat-style ..; escape as ambiguous', request('GET', `${G}/storage/v1/b/allowed-bkt/..;/other-bkt`), denied('ambiguous-path', 'gcs')],
  ['denies an overlong UTF-8 dot-dot as ambiguous', request('GET', `${G}/storage/v1/b/allowed-bkt/%c0%ae%c0%ae/other-bkt`), denied('ambiguous-path', 'gcs')],
  ['denies an encoded NUL as ambiguous', request('GET', `${G}/storage/v1/b/allowed-bkt%00.json`), denied('ambiguous-path', 'gcs')],
  ['denies a request to a host no rule names', request('GET', 'https://storage.googleapis.com/storage/v1/b/allowed-bkt'), denied('no-rule-matched')],
  ['allows any path on a host whose rule has no paths', request('DELETE', 'https://accounts.google.com/anything/at/all'), allowed('google-auth')],
  ['allows an ambiguous path on a host whose rule has no paths', request('GET', 'https://accounts.google.com/a/../b'), allowed('google-auth')],
  ['allows plain HTTP on port 80 when the rule has no ports', request('GET', 'http://accounts.google.com/x'), allowed('google-auth')],
  ['denies plain HTTP on port 443 when the rule has no ports', request('GET', 'http://accounts.google.com:443/x'), denied('port-not-allowed', 'google-auth')],
  ['allows GET on a methods-only rule at any path', request('GET', 'https://api.example.org/v1/things'), allowed('read-only')],
  ['allows an ambiguous path on a methods-only rule, which does not look at paths', request('GET', 'https://api.example.org/v1/../admin'), allowed('read-only')],
  ['denies POST on a methods-only rule', request('POST', 'https://api.example.org/v1/things'), denied('method-not-allowed', 'read-only')],
  ['allows any path when one rule for the host has no paths', request('GET', 'https://docs.example.org/public/x'), allowed('docs-any')],
  ['allows a requests that passes an inspect rule', request('PUT', 'https://audit.example.net/x'), allowed('audit')],
  ['denies a request from a client outside the listed range', request('GET', 'https://intranet.example.org/', { clientIp: '172.16.0.1', user: 'alice' }), denied('client-not-allowed', 'office')],
  ['allows a request from a listed client and user', request('GET', 'https://intranet.example.org/', { clientIp: '10.0.0.1', user: 'alice' }), allowed('office')],
];

for (const [name, facts, expected] of requests) {
  test(`decideRequest ${name}`, () => {
    const decision = policy.decideRequest(facts);
    assert.deepEqual(subset(decision, expected), expected);
  });
}

test('decideRequest gives the normalization error as the detail of an ambiguous path', () => {
  const decision = policy.decideRequest(request('GET', `${G}/storage/v1/b/allowed-bkt/%2e%2e/x`));
  assert.equal(decision.verdict, 'deny');
  assert.match((decision as { detail?: string }).detail ?? '', /ambiguous path: dot-segment/);
});

test('decideConnection names the host in the detail when no rule matched', () => {
  const decision = policy.decideConnection(connect('example.net:443'));
  assert.match((decision as { detail?: string }).detail ?? '', /example\.net/);
});

test('decideConnection explains that IP literals only match IP rules when no rule lists any', () => {
  const namesOnly = compilePolicy([rule({ name: 'named', hosts: ['www.example.com'] })]);
  const decision = namesOnly.decideConnection(connect('93.184.216.34:443'));
  assert.equal(decision.reason, 'no-rule-matched');
  assert.match((decision as { detail?: string }).detail ?? '', /IP literals only match rules that list IP addresses or CIDR ranges/);
});

test('decideConnection does not blame IP literals when some rule lists IPs', () => {
  const decision = policy.decideConnection(connect('93.184.216.34:443'));
  assert.doesNotMatch((decision as { detail?: string }).detail ?? '', /IP literals only/);
});

test('rule order never changes a verdict', () => {
  const reversed = compilePolicy([...rules].reverse());
  for (const [, facts] of connections) assert.equal(reversed.decideConnection(facts).verdict, policy.decideConnection(facts).verdict);
  for (const [, facts] of requests) assert.equal(reversed.decideRequest(facts).verdict, policy.decideRequest(facts).verdict);
});

test('a policy without rules denies everything', () => {
  const empty = compilePolicy([]);
  assert.equal(empty.decideConnection(connect('www.example.com:443')).reason, 'no-rule-matched');
  assert.equal(empty.decideRequest(request('GET', 'http://www.example.com/')).reason, 'no-rule-matched');
});

test('explainRules describes each rule with its matchers', () => {
  const explained = compilePolicy([
    rule({ name: 'gcs', hosts: ['www.googleapis.com'], ports: [443, 80], paths: ['/storage/v1/b/allowed-bkt'], methods: ['GET', 'POST'] }),
    rule({ name: 'aws', hosts: ['*.amazonaws.com', 'AWS.example.com.'], inspect: true }),
    rule({ name: 'office', hosts: ['10.0.0.0/8'], clients: ['192.168.0.0/16'], users: ['alice', 'bob'] }),
  ]).explainRules();
  assert.deepEqual(explained, [
    'allow gcs: host www.googleapis.com, port 443|80, path /storage/v1/b/allowed-bkt, method GET|POST',
    'allow aws: host *.amazonaws.com|aws.example.com, port 80 (http)|443 (tls), inspect',
    'allow office: host 10.0.0.0/8, port 80 (http)|443 (tls), client 192.168.0.0/16, user alice|bob',
  ]);
});

test('explainRules shows rule paths in normalized form', () => {
  const [line] = compilePolicy([rule({ name: 'p', hosts: ['a.example.com'], paths: ['/%61bc/%3a'] })]).explainRules();
  assert.match(line ?? '', /path \/abc\/%3A/);
});

test('ruleNames lists the rules in config order', () => {
  assert.deepEqual(policy.ruleNames, rules.map((r) => r.name));
});

test('the compiled policy is immutable', () => {
  assert.ok(Object.isFrozen(policy));
  assert.ok(Object.isFrozen(policy.ruleNames));
  const lines = policy.explainRules();
  lines.pop();
  assert.equal(policy.explainRules().length, rules.length);
});

const compileErrors: ReadonlyArray<readonly [string, RuleInput]> = [
  ['refuses a bare * host', { name: 'all', hosts: ['*'] }],
  ['refuses a mid-label wildcard', { name: 'mid', hosts: ['a*.example.com'] }],
  ['refuses a rule path with a dot-dot segment', { name: 'dots', hosts: ['a.example.com'], paths: ['/a/../b'] }],
  ['refuses a rule path with a query', { name: 'query', hosts: ['a.example.com'], paths: ['/a?b=1'] }],
  ['refuses a rule path with an encoded slash', { name: 'slash', hosts: ['a.example.com'], paths: ['/a%2fb'] }],
  ['refuses a client that is not an IP or CIDR', { name: 'client', hosts: ['a.example.com'], clients: ['office'] }],
];

for (const [name, input] of compileErrors) {
  test(`compilePolicy ${name}`, () => {
    assert.throws(() => compilePolicy([rule(input)]), (error: unknown) => (error as { code?: string }).code === 'PCL_ERR_CONFIG_INVALID');
  });
}

test('the host index finds exact names, wildcards and CIDRs among thousands of rules', () => {
  const many: RuleConfig[] = [];
  for (let i = 0; i < 5000; i++) many.push(rule({ name: `r${i}`, hosts: [`host${i}.example.com`] }));
  many.push(rule({ name: 'wild', hosts: ['*.deep.example.net'] }));
  many.push(rule({ name: 'cidr', hosts: ['203.0.113.0/24'] }));
  const big = compilePolicy(many);
  assert.deepEqual(subset(big.decideConnection(connect('host4999.example.com:443')), allowed('r4999')), allowed('r4999'));
  assert.deepEqual(subset(big.decideConnection(connect('a.b.c.deep.example.net:443')), allowed('wild')), allowed('wild'));
  assert.deepEqual(subset(big.decideConnection(connect('203.0.113.9:443')), allowed('cidr')), allowed('cidr'));
  assert.equal(big.decideConnection(connect('host5000.example.com:443')).reason, 'no-rule-matched');
  assert.equal(big.decideConnection(connect('deep.example.net:443')).reason, 'no-rule-matched');
});

// mode: report (design.md "Contract additions"): a report-mode rule never allows and never
// changes interception; a denial it would have allowed names it in wouldAllow.
const staged = compilePolicy([
  rule({ name: 'apt', hosts: ['deb.debian.org'], methods: ['GET', 'HEAD'] }),
  rule({ name: 'gcs', hosts: ['www.googleapis.com'], paths: ['/storage/v1/b/allowed-bkt'] }),
  rule({ name: 'trial-pypi', hosts: ['pypi.org', 'files.pythonhosted.org'], mode: 'report' }),
  rule({ name: 'trial-bucket', hosts: ['www.googleapis.com'], paths: ['/storage/v1/b/second-bkt'], mode: 'report' }),
  rule({ name: 'trial-apt-post', hosts: ['deb.debian.org'], methods: ['POST'], clients: ['10.1.0.0/16'], mode: 'report' }),
  rule({ name: 'explicit-enforce', hosts: ['example.org'], mode: 'enforce' }),
]);

const reportCases: ReadonlyArray<readonly [string, Decision, Partial<Decision> & { wouldAllow?: string }]> = [
  ['a tunnel only a report rule allows is denied, naming the rule', staged.decideConnection(connect('pypi.org:443')),
    { verdict: 'deny', reason: 'no-rule-matched', wouldAllow: 'trial-pypi' }],
  ['a plain request only a report rule allows is denied, naming the rule', staged.decideRequest(request('GET', 'http://files.pythonhosted.org/x')),
    { verdict: 'deny', reason: 'no-rule-matched', wouldAllow: 'trial-pypi' }],
  ['a path only a report rule allows is denied with the enforced reason and rule', staged.decideRequest(request('GET', 'https://www.googleapis.com/storage/v1/b/second-bkt/o')),
    { verdict: 'deny', reason: 'path-not-allowed', rule: 'gcs', wouldAllow: 'trial-bucket' }],
  ['a path no rule allows carries no wouldAllow', staged.decideRequest(request('GET', 'https://www.googleapis.com/storage/v1/b/third-bkt/o')),
    { verdict: 'deny', reason: 'path-not-allowed', rule: 'gcs', wouldAllow: undefined }],
  ['a report rule is asked with the same client facts', staged.decideRequest(request('POST', 'http://deb.debian.org/up', { clientIp: '10.1.2.3' })),
    { verdict: 'deny', reason: 'method-not-allowed', rule: 'apt', wouldAllow: 'trial-apt-post' }],
  ['a report rule that does not match the client names nothing', staged.decideRequest(request('POST', 'http://deb.debian.org/up', { clientIp: '10.2.0.1' })),
    { verdict: 'deny', reason: 'method-not-allowed', wouldAllow: undefined }],
  ['an enforced allow is untouched by report rules', staged.decideRequest(request('GET', 'http://deb.debian.org/debian/')),
    { verdict: 'allow', rule: 'apt' }],
  ['mode: enforce is the default made explicit', staged.decideConnection(connect('example.org:443')),
    { verdict: 'allow', rule: 'explicit-enforce' }],
];

for (const [name, decision, expected] of reportCases) {
  test(`report mode: ${name}`, () => {
    for (const [key, value] of Object.entries(expected)) {
      assert.equal((decision as unknown as Record<string, unknown>)[key], value, `${key} of ${JSON.stringify(decision)}`);
    }
  });
}

test('report mode: a report rule with paths never makes a host intercepted', () => {
  const spliced = compilePolicy([
    rule({ name: 'whole', hosts: ['api.example.com'] }),
    rule({ name: 'narrow-trial', hosts: ['api.example.com'], paths: ['/v2'], mode: 'report' }),
  ]);
  assert.deepEqual(subset(spliced.decideConnection(connect('api.example.com:443')), { verdict: 'allow', rule: 'whole', intercept: false }),
    { verdict: 'allow', rule: 'whole', intercept: false });
});

test('report mode: explainRules marks report rules, ruleNames keeps config order', () => {
  assert.deepEqual(staged.ruleNames, ['apt', 'gcs', 'trial-pypi', 'trial-bucket', 'trial-apt-post', 'explicit-enforce']);
  assert.equal(staged.explainRules()[2], 'report trial-pypi: host pypi.org|files.pythonhosted.org, port 80 (http)|443 (tls) (mode: report, never allows)');
});
