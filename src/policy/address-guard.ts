import ipaddr from 'ipaddr.js';
import { parseHost } from '../flow/host.js';

export type AddressCheck = { allowed: true } | { allowed: false; range: string };

export interface AddressGuard {
  /** Classifies one resolved IP: only ordinary public unicast passes, unless in allowRanges. */
  check(ip: string): AddressCheck;
}

type Range = readonly [ipaddr.IPv4 | ipaddr.IPv6, number];

const GLOBAL_UNICAST_V6 = ipaddr.parseCIDR('2000::/3');
/** IPv4-compatible IPv6 (::a.b.c.d, deprecated): some stacks still route it to IPv4. */
const IPV4_COMPATIBLE = ipaddr.parseCIDR('::/96');

const parseRange = (text: string): Range => {
  const trimmed = text.trim();
  if (!trimmed.includes('/')) {
    const parsed = parseHost(trimmed);
    if (!parsed.ok || parsed.value.kind !== 'ip') throw new Error(`"${text}" is not an IP address or CIDR range`);
    return [ipaddr.parse(parsed.value.host), parsed.value.family === 4 ? 32 : 128];
  }
  const [address, bits] = ipaddr.parseCIDR(trimmed);
  if (address.kind() === 'ipv6' && (address as ipaddr.IPv6).isIPv4MappedAddress() && bits >= 96) {
    return [(address as ipaddr.IPv6).toIPv4Address(), bits - 96];
  }
  return [address, bits];
};

const inRange = (address: ipaddr.IPv4 | ipaddr.IPv6, range: Range): boolean =>
  address.kind() === range[0].kind() && address.match(range as [ipaddr.IPv4, number]);

/** The ipaddr.js range name of an address, plus the IPv6 space ipaddr.js calls unicast but nobody routes. */
const classify = (address: ipaddr.IPv4 | ipaddr.IPv6): string => {
  const range = address.range();
  if (range !== 'unicast' || address.kind() === 'ipv4') return range;
  if (inRange(address, IPV4_COMPATIBLE)) return 'ipv4Compatible';
  return inRange(address, GLOBAL_UNICAST_V6) ? 'unicast' : 'reserved';
};

/**
 * Builds the check applied to every address a destination resolves to, before dialing.
 * Throws on an allowRanges entry that is not an IP or CIDR (the config schema refuses those first).
 */
export const createAddressGuard = (allowRanges: readonly string[]): AddressGuard => {
  const allowed: readonly Range[] = Object.freeze(allowRanges.map(parseRange));
  return Object.freeze({
    check(ip: string): AddressCheck {
      // parseHost, not ipaddr.parse alone: ipaddr.js reads "::1.2.3.4" as ::ffff:1.2.3.4.
      const parsed = parseHost(ip);
      if (!parsed.ok || parsed.value.kind !== 'ip') return { allowed: false, range: 'invalid' };
      const address = ipaddr.parse(parsed.value.host);
      if (allowed.some((range) => inRange(address, range))) return { allowed: true };
      const range = classify(address);
      return range === 'unicast' ? { allowed: true } : { allowed: false, range };
    },
  });
};
