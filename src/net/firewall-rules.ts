import ipaddr from 'ipaddr.js';
import type { ListenerConfig } from '../config/schema.js';
import { splitListenAddress } from './listen-address.js';

/**
 * The firewall rules that send traffic into Portcullis's transparent listeners, as exact
 * iptables/ip6tables and nft commands (`portcullis transparent rules`). Pure: the same input
 * always prints the same text, and the e2e test runs exactly what this prints.
 */

export type RulesTarget = 'gateway' | 'same-host' | 'all';
export type RulesFormat = 'iptables' | 'nftables' | 'all';
export type RulesFamily = '4' | '6' | 'all';

export interface FirewallRuleOptions {
  /** Who Portcullis runs as: its own connections are never redirected (the loop guard). */
  readonly owner: { readonly kind: 'user' | 'group'; readonly name: string };
  /** Gateway: the interface facing the private network (-i / iifname). */
  readonly interface?: string;
  /** Gateway: private source ranges (-s / ip saddr); IPv4 and IPv6 ranges go to their own family. */
  readonly sources: readonly string[];
  readonly target: RulesTarget;
  readonly format: RulesFormat;
  readonly family: RulesFamily;
  /** Destination ports sent to the transparent-http listener (default 80). */
  readonly httpPorts: readonly number[];
  /** Destination ports sent to the transparent-tls listener (default 443). */
  readonly tlsPorts: readonly number[];
}

export const DEFAULT_RULE_OPTIONS: FirewallRuleOptions = Object.freeze<FirewallRuleOptions>({
  owner: { kind: 'user' as const, name: 'portcullis' },
  sources: [],
  target: 'all',
  format: 'all',
  family: 'all',
  httpPorts: [80],
  tlsPorts: [443],
});

export type RulesResult = { readonly ok: true; readonly text: string; readonly warnings: readonly string[] } | { readonly ok: false; readonly error: string };

/** One redirect: destination ports -> a local listener port. */
interface Redirect {
  readonly mode: 'transparent-http' | 'transparent-tls' | 'dns';
  readonly ports: readonly number[];
  /** TCP for the proxy listeners; UDP and TCP for DNS. */
  readonly protocols: readonly ('udp' | 'tcp')[];
  readonly to: number;
}

/** Refused at the firewall, never redirected: QUIC (HTTP/3) and DNS over QUIC on UDP, DNS over TLS on TCP. */
const REJECTED: ReadonlyArray<readonly ['udp' | 'tcp', number]> = [['udp', 443], ['tcp', 853], ['udp', 853]];

const NAME = /^[a-z_][a-z0-9_-]{0,31}\$?$|^\d{1,10}$/i;
const INTERFACE = /^[A-Za-z0-9_.:-]{1,15}\+?$/;

/** Checks the options before any text is built; returns the first problem. */
export const validateRuleOptions = (options: FirewallRuleOptions): string | undefined => {
  if (!NAME.test(options.owner.name)) return `--${options.owner.kind} "${options.owner.name}" is not a user/group name or numeric id`;
  if (options.interface !== undefined && !INTERFACE.test(options.interface)) return `--interface "${options.interface}" is not an interface name`;
  for (const source of options.sources) {
    try {
      ipaddr.parseCIDR(source.includes('/') ? source : `${source}/${source.includes(':') ? 128 : 32}`);
    } catch {
      return `--source "${source}" is not an IP address or CIDR range`;
    }
  }
  for (const port of [...options.httpPorts, ...options.tlsPorts]) {
    if (!Number.isInteger(port) || port < 1 || port > 65535) return `port ${port} is not between 1 and 65535`;
  }
  return undefined;
};

const familyOf = (cidr: string): 4 | 6 => (cidr.includes(':') ? 6 : 4);

/** Which families a listener bound to `host` accepts: [::] is dual-stack on Linux. */
const listensOn = (host: string): { v4: boolean; v6: boolean; loopbackOnly: boolean } => {
  if (host === '' || host === '0.0.0.0') return { v4: true, v6: false, loopbackOnly: false };
  if (host === '::') return { v4: true, v6: true, loopbackOnly: false };
  if (host === 'localhost') return { v4: true, v6: false, loopbackOnly: true };
  if (!ipaddr.isValid(host)) return { v4: true, v6: false, loopbackOnly: false };
  const address = ipaddr.process(host);
  return { v4: address.kind() === 'ipv4', v6: address.kind() === 'ipv6', loopbackOnly: address.range() === 'loopback' };
};

const redirectsFor = (listeners: readonly ListenerConfig[], options: FirewallRuleOptions, warnings: string[]): Redirect[] => {
  const out: Redirect[] = [];
  for (const mode of ['transparent-http', 'transparent-tls', 'dns'] as const) {
    const matching = listeners.filter((listener) => listener.mode === mode);
    const first = matching[0];
    if (first === undefined) continue;
    if (matching.length > 1) warnings.push(`more than one ${mode} listener: rules point at the first, ${first.address}`);
    const { host, port } = splitListenAddress(first.address);
    if (port === 0) {
      warnings.push(`${mode} listener ${first.address} has port 0 (any free port): give it a fixed port to redirect to; skipped`);
      continue;
    }
    const bound = listensOn(host);
    const wantV4 = options.family !== '6';
    const wantV6 = options.family !== '4';
    if (bound.loopbackOnly && options.target !== 'same-host') {
      warnings.push(`${mode} listener ${first.address} is on loopback: a gateway REDIRECT (PREROUTING) rewrites the destination to the address of the incoming interface, so listen on 0.0.0.0 or [::] for the gateway rules`);
    }
    if (wantV4 && !bound.v4) warnings.push(`${mode} listener ${first.address} does not accept IPv4: redirected IPv4 connections will be refused; listen on [::]:${port} (dual-stack) to serve both`);
    if (wantV6 && !bound.v6) warnings.push(`${mode} listener ${first.address} does not accept IPv6: redirected IPv6 connections will be refused (fail closed); listen on [::]:${port} (dual-stack) to serve both`);
    out.push({
      mode, ports: mode === 'transparent-http' ? options.httpPorts : mode === 'transparent-tls' ? options.tlsPorts : [53],
      protocols: mode === 'dns' ? ['udp', 'tcp'] : ['tcp'], to: port,
    });
  }
  return out;
};

const shellQuoteNft = (command: string): string => `nft '${command}'`;

// ---- iptables ---------------------------------------------------------------------------

const ownerMatch = (options: FirewallRuleOptions): string =>
  `-m owner ! --${options.owner.kind === 'user' ? 'uid' : 'gid'}-owner ${options.owner.name}`;

const iptablesLines = (redirects: readonly Redirect[], options: FirewallRuleOptions, family: 4 | 6): string[] => {
  const cmd = family === 4 ? 'iptables' : 'ip6tables';
  const label = family === 4 ? 'IPv4' : 'IPv6';
  const lines: string[] = [];
  const sources = options.sources.filter((source) => familyOf(source) === family);
  const gatewayFroms = (): string[] => {
    const iface = options.interface !== undefined ? `-i ${options.interface} ` : '';
    if (options.sources.length > 0) return sources.map((source) => `${iface}-s ${source} `);
    return [iface];
  };
  if (options.target !== 'same-host') {
    lines.push(`# gateway host, ${label}: connections from the private network to these ports are redirected into Portcullis.`);
    lines.push('# PREROUTING never sees this host\'s own packets, so Portcullis\'s upstream connections are not redirected back.');
    const froms = gatewayFroms();
    if (froms.length === 0) {
      lines.push(`# (no ${label} range among --source: no ${label} gateway rules)`);
    }
    for (const from of froms) {
      for (const redirect of redirects) {
        for (const protocol of redirect.protocols) {
          for (const port of redirect.ports) lines.push(`${cmd} -t nat -A PREROUTING ${from}-p ${protocol} --dport ${port} -j REDIRECT --to-ports ${redirect.to}`);
        }
      }
      for (const [protocol, port] of REJECTED) lines.push(`${cmd} -A FORWARD ${from}-p ${protocol} --dport ${port} -j REJECT`);
    }
  }
  if (options.target !== 'gateway') {
    if (lines.length > 0) lines.push('');
    lines.push(`# same host, ${label}: this host's own programs are redirected; the owner match exempts Portcullis (${options.owner.kind} ${options.owner.name}),`);
    lines.push('# whose upstream connections would otherwise be redirected back into itself (a routing loop). Traffic to local addresses (lo) is left alone.');
    for (const redirect of redirects) {
      for (const protocol of redirect.protocols) {
        for (const port of redirect.ports) {
          lines.push(`${cmd} -t nat -A OUTPUT ! -o lo -p ${protocol} --dport ${port} ${ownerMatch(options)} -j REDIRECT --to-ports ${redirect.to}`);
        }
      }
    }
    for (const [protocol, port] of REJECTED) lines.push(`${cmd} -A OUTPUT ! -o lo -p ${protocol} --dport ${port} -j REJECT`);
  }
  return lines;
};

// ---- nftables ---------------------------------------------------------------------------

const nftLines = (redirects: readonly Redirect[], options: FirewallRuleOptions): string[] => {
  const lines: string[] = [];
  const only = options.family === '4' ? 'meta nfproto ipv4 ' : options.family === '6' ? 'meta nfproto ipv6 ' : '';
  const iface = options.interface !== undefined ? `iifname "${options.interface.replace(/\+$/, '*')}" ` : '';
  const sources = options.sources.filter((source) => options.family === 'all' || String(familyOf(source)) === options.family);
  const froms = options.sources.length === 0
    ? [`${iface}${only}`]
    : sources.map((source) => `${iface}${familyOf(source) === 4 ? 'ip' : 'ip6'} saddr ${source} `);
  lines.push('# one table for IPv4 and IPv6 (inet); remove everything with: nft delete table inet portcullis');
  lines.push('nft add table inet portcullis');
  if (options.target !== 'same-host') {
    lines.push('# gateway host: connections from the private network are redirected into Portcullis; QUIC (UDP 443) and DNS over TLS/QUIC (853) are refused.');
    lines.push(shellQuoteNft('add chain inet portcullis prerouting { type nat hook prerouting priority dstnat; policy accept; }'));
    lines.push(shellQuoteNft('add chain inet portcullis forward { type filter hook forward priority filter; policy accept; }'));
    for (const from of froms) {
      for (const redirect of redirects) {
        for (const protocol of redirect.protocols) {
          for (const port of redirect.ports) lines.push(shellQuoteNft(`add rule inet portcullis prerouting ${from}${protocol} dport ${port} redirect to :${redirect.to}`));
        }
      }
      for (const [protocol, port] of REJECTED) lines.push(shellQuoteNft(`add rule inet portcullis forward ${from}${protocol} dport ${port} reject`));
    }
  }
  if (options.target !== 'gateway') {
    const owner = `meta sk${options.owner.kind === 'user' ? 'uid' : 'gid'} != ${/^\d+$/.test(options.owner.name) ? options.owner.name : `"${options.owner.name}"`}`;
    lines.push(`# same host: this host's own programs are redirected; the match ${owner} exempts Portcullis (the loop guard).`);
    lines.push(shellQuoteNft('add chain inet portcullis output { type nat hook output priority -100; policy accept; }'));
    lines.push(shellQuoteNft('add chain inet portcullis output_filter { type filter hook output priority filter; policy accept; }'));
    for (const redirect of redirects) {
      for (const protocol of redirect.protocols) {
        for (const port of redirect.ports) {
          lines.push(shellQuoteNft(`add rule inet portcullis output ${only}oifname != "lo" ${protocol} dport ${port} ${owner} redirect to :${redirect.to}`));
        }
      }
    }
    for (const [protocol, port] of REJECTED) lines.push(shellQuoteNft(`add rule inet portcullis output_filter ${only}oifname != "lo" ${protocol} dport ${port} reject`));
  }
  return lines;
};

/**
 * Builds the rules for the transparent listeners in `listeners`. Fails when there is none
 * (nothing to redirect to) or an option is malformed.
 */
export const firewallRules = (listeners: readonly ListenerConfig[], options: FirewallRuleOptions): RulesResult => {
  const problem = validateRuleOptions(options);
  if (problem !== undefined) return { ok: false, error: problem };
  const warnings: string[] = [];
  const redirects = redirectsFor(listeners, options, warnings);
  if (redirects.length === 0) {
    return {
      ok: false,
      error: 'no transparent or dns listener with a fixed port in the config; add for example\n'
        + 'listen:\n  - { address: "[::]:3129", mode: transparent-http }\n  - { address: "[::]:3130", mode: transparent-tls }\n  - { address: "[::]:5353", mode: dns }',
    };
  }
  if (options.target !== 'gateway' && redirects.some((r) => r.mode === 'dns')) {
    warnings.push('same host: a local stub resolver (systemd-resolved, dnsmasq) forwards DNS as its own user, so its queries are redirected too, and Portcullis\'s own lookups through it would come back to Portcullis: let Portcullis resolve without the stub (an /etc/resolv.conf naming a remote server, or resolve: pins)');
  }
  const summary = redirects.map((r) => `${r.protocols.join('+')} ${r.ports.join(',')} -> :${r.to} (${r.mode})`).join('; ');
  const sections: string[] = [
    `# Portcullis transparent mode: ${summary}`,
    `# Run as root. Portcullis must run as ${options.owner.kind} ${options.owner.name} (the same-host loop guard relies on it).`,
    '# QUIC (HTTP/3, UDP 443) would pass around the proxy: the REJECT rules make clients fall back to TCP.',
    '# DNS over TLS and over QUIC (853) would pass around the DNS policy: refused too.',
    ...(redirects.some((r) => r.mode === 'dns')
      ? ['# DNS (UDP and TCP 53) to any server is answered by Portcullis\'s DNS listener: only names a rule could allow resolve.']
      : ['# No dns listener: DNS to outside servers is not redirected (add one: listen: [{ address: "[::]:5353", mode: dns }]).']),
    ...warnings.map((warning) => `# warning: ${warning}`),
  ];
  if (options.format !== 'nftables') {
    for (const family of [4, 6] as const) {
      if (options.family !== 'all' && options.family !== String(family)) continue;
      sections.push('', ...iptablesLines(redirects, options, family));
    }
    sections.push('', '# remove: the same iptables/ip6tables commands with -D instead of -A');
  }
  if (options.format !== 'iptables') {
    sections.push('', '# ---- the same with nftables (instead of, not in addition to, the iptables commands) ----', ...nftLines(redirects, options));
  }
  return { ok: true, text: `${sections.join('\n')}\n`, warnings };
};

/** The command lines of a printed rule set, in order (comments and blank lines dropped). */
export const commandLines = (text: string): string[] =>
  text.split('\n').map((line) => line.trim()).filter((line) => line.length > 0 && !line.startsWith('#'));
