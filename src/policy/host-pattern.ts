import ipaddr from 'ipaddr.js';
import { parseHost, type CanonicalHost } from '../flow/host.js';

/**
 * One entry of a rule's `hosts`: an exact name, `*.suffix` (any subdomain, never the apex),
 * an IP literal or a CIDR. Names match only names and IPs only IPs, so an IP-literal
 * destination never passes a name rule.
 */
export type HostPattern =
  | { readonly kind: 'exact'; readonly name: string; readonly source: string }
  | { readonly kind: 'subdomains'; readonly suffix: string; readonly source: string }
  | { readonly kind: 'ip'; readonly address: string; readonly source: string }
  | { readonly kind: 'cidr'; readonly range: readonly [ipaddr.IPv4 | ipaddr.IPv6, number]; readonly source: string };

export type HostPatternResult = { ok: true; value: HostPattern } | { ok: false; error: string };

/**
 * The message for a `hosts` entry that is really a URL or holds a port ("example.com:443",
 * "[::1]:443", "https://example.com"), or undefined when it is neither.
 */
const misplacedPort = (source: string): string | undefined => {
  const text = source.trim();
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) return `"${source}": a host entry is a host name, not a URL; write the name alone (and its port in ports:)`;
  const port = /^(?:\[[^\]]*\]|[^:\[\]]+):(\d+)$/.exec(text)?.[1];
  return port === undefined ? undefined : `"${source}": a host entry holds no port; put the port in ports: (ports: [${Number(port)}])`;
};

/** Parses and normalizes one `hosts` entry; the error says what is wrong in a few words. */
export const parseHostPattern = (source: string): HostPatternResult => {
  const text = source.trim();
  if (text === '*' || text === '*.' || text === '**') {
    return { ok: false, error: 'a bare "*" would allow every host; list the hosts or use "*.example.com"' };
  }
  if (text.includes('/')) {
    try {
      const [address, bits] = ipaddr.parseCIDR(text);
      const unwrapped =
        address.kind() === 'ipv6' && (address as ipaddr.IPv6).isIPv4MappedAddress() && bits >= 96
          ? ([(address as ipaddr.IPv6).toIPv4Address(), bits - 96] as const)
          : ([address, bits] as const);
      return { ok: true, value: { kind: 'cidr', range: unwrapped, source } };
    } catch {
      return { ok: false, error: `"${source}" is not a valid CIDR range` };
    }
  }
  if (text.startsWith('*.')) {
    const rest = text.slice(2);
    if (rest.includes('*')) return { ok: false, error: `"${source}": "*" may only be the whole first label` };
    const parsed = parseHost(rest);
    if (!parsed.ok) return { ok: false, error: misplacedPort(source) ?? `"${source}": ${parsed.error}` };
    if (parsed.value.kind === 'ip') return { ok: false, error: `"${source}": a wildcard cannot apply to an IP address` };
    if (!parsed.value.host.includes('.')) {
      return { ok: false, error: `"${source}" would allow a whole top-level domain; name at least two labels` };
    }
    return { ok: true, value: { kind: 'subdomains', suffix: parsed.value.host, source } };
  }
  if (text.includes('*')) {
    return { ok: false, error: `"${source}": "*" may only be the whole first label, as in "*.example.com"` };
  }
  const parsed = parseHost(text);
  if (!parsed.ok) return { ok: false, error: misplacedPort(source) ?? `"${source}": ${parsed.error}` };
  return parsed.value.kind === 'ip'
    ? { ok: true, value: { kind: 'ip', address: parsed.value.host, source } }
    : { ok: true, value: { kind: 'exact', name: parsed.value.host, source } };
};

/** The canonical text of a pattern, used to find duplicates ("Example.com." repeats "example.com"). */
export const patternKey = (pattern: HostPattern): string => {
  switch (pattern.kind) {
    case 'exact': return pattern.name;
    case 'subdomains': return `*.${pattern.suffix}`;
    case 'ip': return pattern.address;
    case 'cidr': return `${pattern.range[0].toString()}/${pattern.range[1]}`;
  }
};

export const hostMatchesPattern = (host: CanonicalHost, pattern: HostPattern): boolean => {
  switch (pattern.kind) {
    case 'exact':
      return host.kind === 'name' && host.host === pattern.name;
    case 'subdomains':
      return host.kind === 'name' && host.host.endsWith(`.${pattern.suffix}`);
    case 'ip':
      return host.kind === 'ip' && host.host === pattern.address;
    case 'cidr': {
      if (host.kind !== 'ip') return false;
      const address = ipaddr.parse(host.host);
      return address.kind() === pattern.range[0].kind() && address.match(pattern.range as [ipaddr.IPv4, number]);
    }
  }
};

export const explainPattern = (pattern: HostPattern): string => patternKey(pattern);
