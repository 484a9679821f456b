import ipaddr from 'ipaddr.js';
import type { RuleConfig } from '../config/schema.js';
import { parseHostPattern, patternKey, type HostPattern } from '../policy/host-pattern.js';
import { normalizePath, pathMatchesPrefix } from '../policy/path-normalizer.js';

/**
 * Whether one rule allows everything another allows (so the other adds nothing), judged on
 * the rule's matchers as written. Conservative: "not covered" when unsure.
 */

const patterns = (rule: RuleConfig): HostPattern[] =>
  rule.hosts.map(parseHostPattern).flatMap((result) => (result.ok ? [result.value] : []));

const cidrCovers = (outer: readonly [ipaddr.IPv4 | ipaddr.IPv6, number], address: ipaddr.IPv4 | ipaddr.IPv6, bits: number): boolean =>
  outer[0].kind() === address.kind() && bits >= outer[1] && address.match(outer as [ipaddr.IPv4, number]);

const patternCovers = (outer: HostPattern, inner: HostPattern): boolean => {
  if (patternKey(outer) === patternKey(inner)) return true;
  if (outer.kind === 'subdomains') {
    const name = inner.kind === 'exact' ? inner.name : inner.kind === 'subdomains' ? inner.suffix : undefined;
    return name !== undefined && name.endsWith(`.${outer.suffix}`);
  }
  if (outer.kind === 'cidr') {
    if (inner.kind === 'ip') {
      const address = ipaddr.parse(inner.address);
      return cidrCovers(outer.range, address, address.kind() === 'ipv4' ? 32 : 128);
    }
    if (inner.kind === 'cidr') return cidrCovers(outer.range, inner.range[0], inner.range[1]);
  }
  return false;
};

/** (port, transport) pairs a rule allows; a `ports` list applies to both transports. */
const portPairs = (rule: RuleConfig): Set<string> =>
  new Set(rule.ports === undefined ? ['80/http', '443/tls'] : rule.ports.flatMap((port) => [`${port}/http`, `${port}/tls`]));

const subset = <T>(inner: readonly T[] | undefined, outer: readonly T[] | undefined): boolean =>
  outer === undefined || (inner !== undefined && inner.every((item) => outer.includes(item)));

const normalized = (path: string): string => {
  const result = normalizePath(path);
  return result.ok ? result.path : path;
};

const pathsCovered = (inner: readonly string[] | undefined, outer: readonly string[] | undefined): boolean =>
  outer === undefined || (inner !== undefined && inner.every((path) => outer.some((prefix) => pathMatchesPrefix(normalized(path), normalized(prefix)))));

const clientsCovered = (inner: readonly string[] | undefined, outer: readonly string[] | undefined): boolean => {
  if (outer === undefined) return true;
  if (inner === undefined) return false;
  const ranges = outer.map((text) => parseHostPattern(text)).flatMap((r) => (r.ok ? [r.value] : []));
  return inner.every((text) => {
    const parsed = parseHostPattern(text);
    return parsed.ok && ranges.some((range) => patternCovers(range, parsed.value));
  });
};

/** True when `outer` allows every request `inner` allows. */
export const ruleCovers = (outer: RuleConfig, inner: RuleConfig): boolean => {
  const outerHosts = patterns(outer);
  if (!patterns(inner).every((pattern) => outerHosts.some((candidate) => patternCovers(candidate, pattern)))) return false;
  const outerPorts = portPairs(outer);
  if (![...portPairs(inner)].every((pair) => outerPorts.has(pair))) return false;
  const upper = (list: readonly string[] | undefined): string[] | undefined => list?.map((m) => m.toUpperCase());
  if (!subset(upper(inner.methods), upper(outer.methods))) return false;
  if (!pathsCovered(inner.paths, outer.paths)) return false;
  if (!clientsCovered(inner.clients, outer.clients)) return false;
  if (!subset(inner.users, outer.users)) return false;
  // inspect: true on the inner rule still decrypts; that is not nothing.
  const decrypts = (rule: RuleConfig): boolean => rule.inspect === true || rule.paths !== undefined || rule.methods !== undefined;
  return inner.inspect !== true || decrypts(outer);
};

/** Same matchers, written the same way after normalization. */
export const sameRule = (a: RuleConfig, b: RuleConfig): boolean => ruleCovers(a, b) && ruleCovers(b, a) && (a.inspect === true) === (b.inspect === true);
