import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RuleConfig } from '../../../src/config/schema.js';
import { parseAbsoluteTarget, parseAuthority } from '../../../src/flow/destination.js';
import { parseHost } from '../../../src/flow/host.js';
import { dohRequestEvidence, isDohHost } from '../../../src/policy/doh.js';
import { compilePolicy, type ConnectionFacts, type NameFacts, type RequestFacts } from '../../../src/policy/policy-engine.js';

const rule = (input: Omit<RuleConfig, 'inspect'> & { inspect?: boolean }): RuleConfig => ({ inspect: false, ...input });

const policy = compilePolicy([
  rule({ name: 'wild', hosts: ['*.example.com'] }),
  rule({ name: 'api', hosts: ['api.example.org'], paths: ['/v1'], ports: [8443] }),
  rule({ name: 'office', hosts: ['intranet.example.net'], clients: ['10.0.0.0/8'] }),
  rule({ name: 'staff', hosts: ['staff.example.net'], users: ['alice'] }),
  rule({ name: 'cloudflare-wide', hosts: ['*.cloudflare-dns.com', '*.quad9.net'] }),
  rule({ name: 'google-doh', hosts: ['dns.google'] }),
  rule({ name: 'resolvers-by-range', hosts: ['1.1.1.0/24'] }),
  rule({ name: 'resolver-by-ip', hosts: ['8.8.8.8'] }),
  rule({ name: 'report-only', hosts: ['later.example.org'], mode: 'report' }),
]);

const name = (text: string, clientIp = '10.1.2.3', user?: string): NameFacts => {
  const parsed = parseHost(text);
  if (!parsed.ok) throw new Error(parsed.error);
  return { name: parsed.value, clientIp, ...(user === undefined ? {} : { user }) };
};

const connect = (authority: string): ConnectionFacts => {
  const parsed = parseAuthority(authority);
  if (!parsed.ok) throw new Error(parsed.error);
  return { destination: parsed.value, clientIp: '10.1.2.3', transport: 'tls' };
};

const request = (method: string, url: string, dohEvidence?: string): RequestFacts => {
  const target = parseAbsoluteTarget(url);
  if (!target.ok) throw new Error(target.error);
  return {
    destination: target.value.destination, clientIp: '10.1.2.3', transport: target.value.scheme === 'https' ? 'tls' : 'http',
    method, pathAndQuery: target.value.pathAndQuery, ...(dohEvidence === undefined ? {} : { dohEvidence }),
  };
};

const names: ReadonlyArray<[string, NameFacts, Record<string, unknown>]> = [
  ['allows a name under a wildcard rule', name('a.b.example.com'), { verdict: 'allow', rule: 'wild' }],
  ['does not allow the apex of a wildcard rule', name('example.com'), { verdict: 'deny', reason: 'dns-name-not-allowed' }],
  ['allows a name whose only rule has paths and another port: some request could pass', name('api.example.org'), { verdict: 'allow', rule: 'api' }],
  ['allows a name for a client inside the rule\'s clients', name('intranet.example.net', '10.9.9.9'), { verdict: 'allow', rule: 'office' }],
  ['refuses a name for a client outside the rule\'s clients, naming the rule', name('intranet.example.net', '192.168.1.1'),
    { verdict: 'deny', reason: 'dns-name-not-allowed', rule: 'office' }],
  ['refuses a name only a user may reach when no user is known', name('staff.example.net'), { verdict: 'deny', reason: 'dns-name-not-allowed', rule: 'staff' }],
  ['allows a name a user may reach for that user', name('staff.example.net', '10.1.2.3', 'alice'), { verdict: 'allow', rule: 'staff' }],
  ['refuses a name no rule lists', name('evil.test'), { verdict: 'deny', reason: 'dns-name-not-allowed' }],
  ['refuses a DoH resolver a wildcard rule would allow', name('mozilla.cloudflare-dns.com'), { verdict: 'deny', reason: 'doh-blocked', rule: 'cloudflare-wide' }],
  ['refuses a DoH resolver under a wildcard of another provider', name('dns.quad9.net'), { verdict: 'deny', reason: 'doh-blocked' }],
  ['allows a DoH resolver a rule names exactly', name('dns.google'), { verdict: 'allow', rule: 'google-doh' }],
  ['names a report-mode rule that would allow', name('later.example.org'), { verdict: 'deny', reason: 'dns-name-not-allowed', wouldAllow: 'report-only' }],
];

for (const [title, facts, expected] of names) {
  test(`decideName ${title}`, () => {
    const decision = policy.decideName(facts) as unknown as Record<string, unknown>;
    for (const [key, value] of Object.entries(expected)) assert.equal(decision[key], value, `${key} of ${JSON.stringify(decision)}`);
  });
}

const tunnels: ReadonlyArray<[string, ConnectionFacts, Record<string, unknown>]> = [
  ['refuses a tunnel to a DoH resolver under a wildcard rule', connect('cloudflare-dns.com:443'), { verdict: 'deny', reason: 'no-rule-matched' }],
  ['refuses a tunnel to a DoH resolver\'s subdomain under a wildcard rule', connect('chrome.cloudflare-dns.com:443'), { verdict: 'deny', reason: 'doh-blocked', rule: 'cloudflare-wide' }],
  ['allows a tunnel to a DoH resolver a rule names exactly', connect('dns.google:443'), { verdict: 'allow', rule: 'google-doh' }],
  ['refuses a tunnel to a resolver address a CIDR rule covers', connect('1.1.1.1:443'), { verdict: 'deny', reason: 'doh-blocked', rule: 'resolvers-by-range' }],
  ['allows a tunnel to a resolver address a rule lists exactly', connect('8.8.8.8:443'), { verdict: 'allow', rule: 'resolver-by-ip' }],
  ['allows an ordinary host under the same wildcard', connect('www.example.com:443'), { verdict: 'allow', rule: 'wild' }],
  ['never allows DNS over TLS (853) through a rule without ports', connect('www.example.com:853'), { verdict: 'deny', reason: 'port-not-allowed', rule: 'wild' }],
  ['never allows DNS over TLS (853) to a DoH host a rule names, without ports: [853]', connect('dns.google:853'), { verdict: 'deny', reason: 'port-not-allowed' }],
];

for (const [title, facts, expected] of tunnels) {
  test(`decideConnection ${title}`, () => {
    const decision = policy.decideConnection(facts) as unknown as Record<string, unknown>;
    for (const [key, value] of Object.entries(expected)) assert.equal(decision[key], value, `${key} of ${JSON.stringify(decision)}`);
  });
}

const requests: ReadonlyArray<[string, RequestFacts, Record<string, unknown>]> = [
  ['refuses a request carrying DNS messages to a host a wildcard allows', request('POST', 'https://resolver.example.com/dns-query', 'Content-Type application/dns-message'),
    { verdict: 'deny', reason: 'doh-blocked', rule: 'wild' }],
  ['allows the same host without DNS messages', request('GET', 'https://resolver.example.com/index.html'), { verdict: 'allow', rule: 'wild' }],
  ['allows DNS messages to a host a rule names exactly', request('POST', 'https://dns.google/dns-query', 'Content-Type application/dns-message'), { verdict: 'allow', rule: 'google-doh' }],
  ['refuses a plain request to a DoH host under a wildcard', request('GET', 'http://security.cloudflare-dns.com/'), { verdict: 'deny', reason: 'doh-blocked' }],
];

for (const [title, facts, expected] of requests) {
  test(`decideRequest ${title}`, () => {
    const decision = policy.decideRequest(facts) as unknown as Record<string, unknown>;
    for (const [key, value] of Object.entries(expected)) assert.equal(decision[key], value, `${key} of ${JSON.stringify(decision)}`);
  });
}

test('isDohHost knows the documented resolvers by name, below a name, and by address', () => {
  for (const host of ['dns.google', 'dns64.dns.google', 'cloudflare-dns.com', 'one.one.one.one', 'dns.quad9.net', 'doh.opendns.com', '1.1.1.1', '2606:4700:4700::1111']) {
    const parsed = parseHost(host);
    assert.ok(parsed.ok && isDohHost(parsed.value), host);
  }
  for (const host of ['google.com', 'www.cloudflare.com', 'quad9.net', 'example.com', '1.1.1.4']) {
    const parsed = parseHost(host);
    assert.ok(parsed.ok && !isDohHost(parsed.value), host);
  }
});

const evidence: ReadonlyArray<[string, string, string[], string | undefined]> = [
  ['a DNS wire-format body', '/dns-query', ['Content-Type', 'application/dns-message'], 'Content-Type application/dns-message'],
  ['an Accept asking for the JSON API', '/resolve?name=example.com', ['accept', 'application/dns-json'], 'Accept application/dns-json'],
  ['the RFC 8484 GET form', '/dns-query?dns=AAABAAABAAAAAAAAB2V4YW1wbGUDY29tAAABAAE', [], 'a DNS message in ?dns= (RFC 8484 GET)'],
  ['an ordinary JSON request', '/api', ['Content-Type', 'application/json', 'Accept', '*/*'], undefined],
  ['a short dns= parameter that cannot hold a DNS message', '/search?dns=on', [], undefined],
];

for (const [title, path, headers, expected] of evidence) {
  test(`dohRequestEvidence sees ${title}`, () => {
    assert.equal(dohRequestEvidence(path, headers), expected);
  });
}
