import type { CanonicalHost } from '../flow/host.js';
import type { HostPattern } from './host-pattern.js';
import type { Matcher } from './matchers.js';

/** What the lookup needs of a rule: its host patterns and its host matcher. */
export interface LookupRule {
  readonly patterns: readonly HostPattern[];
  readonly host: Matcher<CanonicalHost>;
}

export type RuleLookup<R> = (host: CanonicalHost) => readonly R[];

const addTo = (map: Map<string, number[]>, key: string, index: number): void => {
  const list = map.get(key);
  if (list === undefined) map.set(key, [index]);
  else if (list[list.length - 1] !== index) list.push(index);
};

/**
 * Finds the rules whose hosts match, in config order, without scanning every rule for names:
 * exact names and IPs by key, wildcards by each parent suffix of the host, CIDRs by a scan.
 * The index only narrows; every candidate is confirmed by its own host matcher.
 */
export const buildRuleLookup = <R extends LookupRule>(rules: readonly R[]): RuleLookup<R> => {
  const exact = new Map<string, number[]>();
  const suffixes = new Map<string, number[]>();
  const cidrRules: number[] = [];
  rules.forEach((rule, index) => {
    for (const pattern of rule.patterns) {
      if (pattern.kind === 'exact') addTo(exact, pattern.name, index);
      else if (pattern.kind === 'ip') addTo(exact, pattern.address, index);
      else if (pattern.kind === 'subdomains') addTo(suffixes, pattern.suffix, index);
      else if (cidrRules[cidrRules.length - 1] !== index) cidrRules.push(index);
    }
  });
  return (host) => {
    const found = new Set<number>(exact.get(host.host));
    if (host.kind === 'name') {
      for (let dot = host.host.indexOf('.'); dot >= 0; dot = host.host.indexOf('.', dot + 1)) {
        for (const index of suffixes.get(host.host.slice(dot + 1)) ?? []) found.add(index);
      }
    } else {
      for (const index of cidrRules) found.add(index);
    }
    return [...found]
      .sort((a, b) => a - b)
      .map((index) => rules[index] as R)
      .filter((rule) => rule.host.matches(host));
  };
};
