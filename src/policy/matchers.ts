import ipaddr from 'ipaddr.js';
import { parseHost, type CanonicalHost } from '../flow/host.js';
import { explainPattern, hostMatchesPattern, type HostPattern } from './host-pattern.js';
import { pathMatchesPrefix } from './path-normalizer.js';

/** One condition of a rule. `explain()` is what `portcullis explain`, `check` and the dashboard show. */
export interface Matcher<T> {
  matches(value: T): boolean;
  explain(): string;
}

export type IpAddress = ipaddr.IPv4 | ipaddr.IPv6;

const matcher = <T>(matches: (value: T) => boolean, explanation: string): Matcher<T> =>
  Object.freeze({ matches, explain: () => explanation });

export const createHostMatcher = (patterns: readonly HostPattern[]): Matcher<CanonicalHost> =>
  matcher(
    (host) => patterns.some((pattern) => hostMatchesPattern(host, pattern)),
    `host ${patterns.map(explainPattern).join('|')}`,
  );

export interface PortFacts {
  readonly port: number;
  readonly transport: 'http' | 'tls';
}

/** A rule without `ports` allows 80 for plain HTTP and 443 for CONNECT/TLS. */
export const createPortMatcher = (ports: readonly number[] | undefined): Matcher<PortFacts> =>
  ports === undefined
    ? matcher(({ port, transport }) => port === (transport === 'http' ? 80 : 443), 'port 80 (http)|443 (tls)')
    : matcher(({ port }) => ports.includes(port), `port ${ports.join('|')}`);

/** Unwraps IPv4-mapped IPv6 so "::ffff:10.0.0.1" is the client 10.0.0.1; undefined if unparsable. */
export const parseClientIp = (text: string): IpAddress | undefined => {
  const parsed = parseHost(text);
  return parsed.ok && parsed.value.kind === 'ip' ? ipaddr.parse(parsed.value.host) : undefined;
};

const parseClientRange = (text: string): readonly [IpAddress, number] => {
  if (!text.includes('/')) {
    const address = parseClientIp(text);
    if (address === undefined) throw new Error(`"${text}" is not an IP address or CIDR range`);
    return [address, address.kind() === 'ipv4' ? 32 : 128];
  }
  const [address, bits] = ipaddr.parseCIDR(text);
  return address.kind() === 'ipv6' && (address as ipaddr.IPv6).isIPv4MappedAddress() && bits >= 96
    ? [(address as ipaddr.IPv6).toIPv4Address(), bits - 96]
    : [address, bits];
};

export const createClientMatcher = (clients: readonly string[]): Matcher<IpAddress | undefined> => {
  const ranges = Object.freeze(clients.map(parseClientRange));
  return matcher(
    (address) =>
      address !== undefined &&
      ranges.some(([base, bits]) => base.kind() === address.kind() && address.match(base as ipaddr.IPv4, bits)),
    `client ${clients.join('|')}`,
  );
};

export const createUserMatcher = (users: readonly string[]): Matcher<string | undefined> =>
  matcher((user) => user !== undefined && users.includes(user), `user ${users.join('|')}`);

/** Methods are case-sensitive tokens (RFC 9110): "get" is not "GET". */
export const createMethodMatcher = (methods: readonly string[]): Matcher<string> =>
  matcher((method) => methods.includes(method), `method ${methods.join('|')}`);

/** Takes prefixes already normalized by normalizePath and matches normalized paths. */
export const createPathMatcher = (prefixes: readonly string[]): Matcher<string> =>
  matcher((path) => prefixes.some((prefix) => pathMatchesPrefix(path, prefix)), `path ${prefixes.join('|')}`);
