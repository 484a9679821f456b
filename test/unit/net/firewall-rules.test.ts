import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ListenerConfig } from '../../../src/config/schema.js';
import { commandLines, DEFAULT_RULE_OPTIONS, firewallRules, type FirewallRuleOptions } from '../../../src/net/firewall-rules.js';

const listeners = (http = '[::]:3129', tls = '[::]:3130'): ListenerConfig[] => [
  { address: '127.0.0.1:3128', mode: 'explicit' },
  { address: http, mode: 'transparent-http' },
  { address: tls, mode: 'transparent-tls' },
] as ListenerConfig[];

const rules = (options: Partial<FirewallRuleOptions>, config = listeners()): { lines: string[]; text: string; warnings: readonly string[] } => {
  const result = firewallRules(config, { ...DEFAULT_RULE_OPTIONS, ...options });
  assert.ok(result.ok, result.ok ? '' : result.error);
  return { lines: commandLines(result.text), text: result.text, warnings: result.warnings };
};

test('gateway iptables rules redirect 80 and 443 from the private interface to the listeners, for IPv4 and IPv6, and refuse QUIC and DNS over TLS/QUIC', () => {
  const { lines } = rules({ target: 'gateway', format: 'iptables', interface: 'eth1' });
  assert.deepEqual(lines, [
    'iptables -t nat -A PREROUTING -i eth1 -p tcp --dport 80 -j REDIRECT --to-ports 3129',
    'iptables -t nat -A PREROUTING -i eth1 -p tcp --dport 443 -j REDIRECT --to-ports 3130',
    'iptables -A FORWARD -i eth1 -p udp --dport 443 -j REJECT',
    'iptables -A FORWARD -i eth1 -p tcp --dport 853 -j REJECT',
    'iptables -A FORWARD -i eth1 -p udp --dport 853 -j REJECT',
    'ip6tables -t nat -A PREROUTING -i eth1 -p tcp --dport 80 -j REDIRECT --to-ports 3129',
    'ip6tables -t nat -A PREROUTING -i eth1 -p tcp --dport 443 -j REDIRECT --to-ports 3130',
    'ip6tables -A FORWARD -i eth1 -p udp --dport 443 -j REJECT',
    'ip6tables -A FORWARD -i eth1 -p tcp --dport 853 -j REJECT',
    'ip6tables -A FORWARD -i eth1 -p udp --dport 853 -j REJECT',
  ]);
});

test('a dns listener gets UDP and TCP 53 redirected to it, gateway and same host, iptables and nft', () => {
  const config = [...listeners(), { address: '[::]:5353', mode: 'dns' }] as ListenerConfig[];
  const gateway = rules({ target: 'gateway', format: 'iptables', family: '4', interface: 'eth1' }, config);
  assert.ok(gateway.lines.includes('iptables -t nat -A PREROUTING -i eth1 -p udp --dport 53 -j REDIRECT --to-ports 5353'));
  assert.ok(gateway.lines.includes('iptables -t nat -A PREROUTING -i eth1 -p tcp --dport 53 -j REDIRECT --to-ports 5353'));
  assert.match(gateway.text, /answered by Portcullis's DNS listener/);
  const sameHost = rules({ target: 'same-host', format: 'nftables' }, config);
  assert.ok(sameHost.lines.includes(`nft 'add rule inet portcullis output oifname != "lo" udp dport 53 meta skuid != "portcullis" redirect to :5353'`));
  assert.ok(sameHost.warnings.some((w) => /stub resolver/.test(w)));
  // A dns listener alone is enough for a rule set: DNS redirected, QUIC and 853 refused.
  const dnsOnly = rules({ target: 'gateway', format: 'iptables', family: '4' }, [{ address: '0.0.0.0:53', mode: 'dns' }] as ListenerConfig[]);
  assert.deepEqual(dnsOnly.lines, [
    'iptables -t nat -A PREROUTING -p udp --dport 53 -j REDIRECT --to-ports 53',
    'iptables -t nat -A PREROUTING -p tcp --dport 53 -j REDIRECT --to-ports 53',
    'iptables -A FORWARD -p udp --dport 443 -j REJECT',
    'iptables -A FORWARD -p tcp --dport 853 -j REJECT',
    'iptables -A FORWARD -p udp --dport 853 -j REJECT',
  ]);
});

test('without a dns listener the rules say DNS is not redirected', () => {
  assert.match(rules({ target: 'gateway' }).text, /No dns listener: DNS to outside servers is not redirected/);
});

test('same-host iptables rules carry the owner-match loop guard and leave loopback alone', () => {
  const { lines, text } = rules({ target: 'same-host', format: 'iptables', family: '4', owner: { kind: 'user', name: 'portcullis' } });
  assert.deepEqual(lines, [
    'iptables -t nat -A OUTPUT ! -o lo -p tcp --dport 80 -m owner ! --uid-owner portcullis -j REDIRECT --to-ports 3129',
    'iptables -t nat -A OUTPUT ! -o lo -p tcp --dport 443 -m owner ! --uid-owner portcullis -j REDIRECT --to-ports 3130',
    'iptables -A OUTPUT ! -o lo -p udp --dport 443 -j REJECT',
    'iptables -A OUTPUT ! -o lo -p tcp --dport 853 -j REJECT',
    'iptables -A OUTPUT ! -o lo -p udp --dport 853 -j REJECT',
  ]);
  assert.match(text, /routing loop/);
});

test('--group matches the group instead of the user, in iptables and nft', () => {
  const { lines } = rules({ target: 'same-host', family: '6', owner: { kind: 'group', name: 'proxy' } });
  assert.ok(lines.includes('ip6tables -t nat -A OUTPUT ! -o lo -p tcp --dport 443 -m owner ! --gid-owner proxy -j REDIRECT --to-ports 3130'));
  assert.ok(lines.includes(`nft 'add rule inet portcullis output meta nfproto ipv6 oifname != "lo" tcp dport 443 meta skgid != "proxy" redirect to :3130'`));
});

test('nftables rules use one inet table with prerouting, forward and output chains', () => {
  const { lines } = rules({ format: 'nftables', interface: 'eth+', owner: { kind: 'user', name: '998' } });
  assert.deepEqual(lines, [
    'nft add table inet portcullis',
    `nft 'add chain inet portcullis prerouting { type nat hook prerouting priority dstnat; policy accept; }'`,
    `nft 'add chain inet portcullis forward { type filter hook forward priority filter; policy accept; }'`,
    `nft 'add rule inet portcullis prerouting iifname "eth*" tcp dport 80 redirect to :3129'`,
    `nft 'add rule inet portcullis prerouting iifname "eth*" tcp dport 443 redirect to :3130'`,
    `nft 'add rule inet portcullis forward iifname "eth*" udp dport 443 reject'`,
    `nft 'add rule inet portcullis forward iifname "eth*" tcp dport 853 reject'`,
    `nft 'add rule inet portcullis forward iifname "eth*" udp dport 853 reject'`,
    `nft 'add chain inet portcullis output { type nat hook output priority -100; policy accept; }'`,
    `nft 'add chain inet portcullis output_filter { type filter hook output priority filter; policy accept; }'`,
    `nft 'add rule inet portcullis output oifname != "lo" tcp dport 80 meta skuid != 998 redirect to :3129'`,
    `nft 'add rule inet portcullis output oifname != "lo" tcp dport 443 meta skuid != 998 redirect to :3130'`,
    `nft 'add rule inet portcullis output_filter oifname != "lo" udp dport 443 reject'`,
    `nft 'add rule inet portcullis output_filter oifname != "lo" tcp dport 853 reject'`,
    `nft 'add rule inet portcullis output_filter oifname != "lo" udp dport 853 reject'`,
  ]);
});

test('source ranges go to the rules of their own IP family', () => {
  const { lines } = rules({ target: 'gateway', sources: ['10.0.1.0/24', 'fd00:1::/64'] });
  assert.ok(lines.includes('iptables -t nat -A PREROUTING -s 10.0.1.0/24 -p tcp --dport 443 -j REDIRECT --to-ports 3130'));
  assert.ok(lines.includes('ip6tables -t nat -A PREROUTING -s fd00:1::/64 -p tcp --dport 443 -j REDIRECT --to-ports 3130'));
  assert.ok(!lines.some((line) => line.startsWith('iptables') && line.includes('fd00')));
  assert.ok(lines.includes(`nft 'add rule inet portcullis prerouting ip saddr 10.0.1.0/24 tcp dport 80 redirect to :3129'`));
  assert.ok(lines.includes(`nft 'add rule inet portcullis prerouting ip6 saddr fd00:1::/64 tcp dport 80 redirect to :3129'`));
});

test('extra ports are redirected to the same listener', () => {
  const { lines } = rules({ target: 'gateway', format: 'iptables', family: '4', httpPorts: [80, 8080], tlsPorts: [443, 8443] });
  assert.deepEqual(lines.filter((line) => line.includes('REDIRECT')).map((line) => line.replace(/.*--dport (\d+).*--to-ports (\d+)/, '$1>$2')),
    ['80>3129', '8080>3129', '443>3130', '8443>3130']);
});

test('only the listeners that exist get rules; a TLS-only config redirects 443 only', () => {
  const { lines } = rules({ target: 'gateway', format: 'iptables', family: '4' }, [{ address: '0.0.0.0:3130', mode: 'transparent-tls' }] as ListenerConfig[]);
  assert.ok(lines.every((line) => !line.includes('--dport 80 ')));
  assert.ok(lines.some((line) => line.includes('--dport 443 -j REDIRECT --to-ports 3130')));
});

test('listeners that cannot receive what the rules send are warned about', () => {
  const v4only = rules({ target: 'gateway' }, listeners('0.0.0.0:3129', '0.0.0.0:3130'));
  assert.ok(v4only.warnings.some((w) => /does not accept IPv6/.test(w)));
  const loopback = rules({ target: 'gateway' }, listeners('127.0.0.1:3129', '127.0.0.1:3130'));
  assert.ok(loopback.warnings.some((w) => /on loopback/.test(w)));
  assert.match(loopback.text, /# warning: /);
  const sameHost = rules({ target: 'same-host', family: '4' }, listeners('127.0.0.1:3129', '127.0.0.1:3130'));
  assert.deepEqual(sameHost.warnings, []);
});

test('a config without transparent listeners, or with port 0, gets an error that shows what to add', () => {
  const none = firewallRules([{ address: '127.0.0.1:3128', mode: 'explicit' }] as ListenerConfig[], DEFAULT_RULE_OPTIONS);
  assert.ok(!none.ok && /no transparent or dns listener/.test(none.error) && /mode: transparent-tls/.test(none.error) && /mode: dns/.test(none.error));
  const ephemeral = firewallRules([{ address: '0.0.0.0:0', mode: 'transparent-tls' }] as ListenerConfig[], DEFAULT_RULE_OPTIONS);
  assert.ok(!ephemeral.ok);
});

test('malformed options are refused before any rule is printed', () => {
  for (const bad of [
    { owner: { kind: 'user' as const, name: 'root; rm -rf /' } },
    { interface: 'eth1 -j ACCEPT' },
    { sources: ['10.0.0.0/33'] },
    { tlsPorts: [0] },
  ]) {
    const result = firewallRules(listeners(), { ...DEFAULT_RULE_OPTIONS, ...bad });
    assert.equal(result.ok, false, JSON.stringify(bad));
  }
});

test('commandLines keeps commands in order and drops comments and blank lines', () => {
  assert.deepEqual(commandLines('# a\n\niptables -A X\n  # b\nnft add table inet t\n'), ['iptables -A X', 'nft add table inet t']);
});
