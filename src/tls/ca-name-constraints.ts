import type { RuleConfig } from '../config/schema.js';
import { parseHostPattern } from '../policy/host-pattern.js';

/**
 * The names a generated CA may sign for when `ca.name_constraints` is on: every host the
 * policy can intercept. An X.509 dNSName constraint "example.com" covers the name and all its
 * subdomains, so "*.example.com" contributes "example.com". IP and CIDR hosts contribute
 * themselves (as written).
 */
export const caNameConstraints = (rules: readonly RuleConfig[]): string[] => {
  const names = new Set<string>();
  for (const rule of rules) {
    for (const host of rule.hosts) {
      const pattern = parseHostPattern(host);
      if (!pattern.ok) continue;
      const value = pattern.value;
      names.add(value.kind === 'exact' ? value.name : value.kind === 'subdomains' ? value.suffix : value.source);
    }
  }
  return [...names].sort();
};
