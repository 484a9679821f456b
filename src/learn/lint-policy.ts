import type { RuleConfig } from '../config/schema.js';
import { parseHostPattern } from '../policy/host-pattern.js';
import { compilePolicy } from '../policy/policy-engine.js';
import { judgeLogged } from './judge-logged.js';
import type { LoggedRequest } from './logged-request.js';
import { ruleCovers, sameRule } from './rule-coverage.js';
import type { Tenancy } from './tenancy.js';

export type LintCode =
  | 'wildcard-multi-tenant' | 'multi-tenant-spliced' | 'multi-tenant-unrestricted'
  | 'duplicate' | 'covered' | 'unused' | 'ports-unused';

export interface LintFinding {
  /** Index of the rule in `rules`. */
  readonly index: number;
  readonly rule: string;
  readonly code: LintCode;
  readonly message: string;
}

const hostFindings = (rule: RuleConfig, index: number, tenancy: Tenancy, seen: readonly string[]): LintFinding[] => {
  const findings: LintFinding[] = [];
  const add = (code: LintCode, message: string): void => { findings.push({ index, rule: rule.name, code, message }); };
  for (const host of rule.hosts) {
    const parsed = parseHostPattern(host);
    if (!parsed.ok) continue;
    const pattern = parsed.value;
    if (pattern.kind === 'subdomains') {
      const why = tenancy.wildcardTooBroad(pattern.suffix, seen);
      if (why !== undefined) add('wildcard-multi-tenant', `"${host}" reaches across tenants: ${why}; list the names you need instead`);
    } else if (pattern.kind === 'exact' && rule.paths === undefined) {
      const why = tenancy.multiTenant(pattern.name);
      if (why === undefined) continue;
      if (rule.inspect !== true && rule.methods === undefined) {
        add('multi-tenant-spliced', `${pattern.name} is ${why}; with inspect: false and no paths its tunnels are spliced, so every tenant passes unseen: add paths naming yours (they are checked after decrypting)`);
      } else {
        add('multi-tenant-unrestricted', `${pattern.name} is ${why}; without paths every tenant passes (inspect only logs them): add paths naming yours`);
      }
    }
  }
  return findings;
};

const redundancyFindings = (rules: readonly RuleConfig[]): LintFinding[] => {
  const findings: LintFinding[] = [];
  const modeOf = (rule: RuleConfig): string => rule.mode ?? 'enforce';
  rules.forEach((rule, index) => {
    for (let other = 0; other < rules.length; other += 1) {
      const outer = rules[other] as RuleConfig;
      if (other === index || modeOf(outer) === 'report') continue;
      const duplicate = modeOf(rule) === 'enforce' && sameRule(outer, rule);
      // Of two copies, the later one is flagged; a copy is never "covered" by its twin.
      if (duplicate && other > index) continue;
      if (!duplicate && !ruleCovers(outer, rule)) continue;
      const message = duplicate
        ? `repeats rules[${other}] (${outer.name}): remove one`
        : modeOf(rule) === 'report'
          ? `mode: report, but rules[${other}] (${outer.name}) already allows everything it matches: it will never report anything`
          : `allows nothing that rules[${other}] (${outer.name}) does not already allow: remove it, or narrow rules[${other}]`;
      findings.push({ index, rule: rule.name, code: duplicate ? 'duplicate' : 'covered', message });
      break;
    }
  });
  return findings;
};

const PAIR_TEXT: Record<string, string> = { '80/http': 'plain HTTP to port 80', '443/tls': 'CONNECT (TLS) to port 443' };

/** Rules no logged request needed, and ports no logged request used. Each rule is judged alone, by the policy engine. */
const logFindings = (rules: readonly RuleConfig[], logs: readonly LoggedRequest[]): LintFinding[] => {
  const findings: LintFinding[] = [];
  rules.forEach((rule, index) => {
    const alone = compilePolicy([{ ...rule, mode: 'enforce' }]);
    const used = new Set<string>();
    let matched = 0;
    for (const line of logs) {
      const judgement = judgeLogged(alone, line);
      if (judgement.kind !== 'allow' || line.target === undefined) continue;
      matched += 1;
      used.add(`${line.target.destination.port}/${line.kind === 'tunnel' || line.target.intercepted ? 'tls' : 'http'}`);
    }
    const add = (code: LintCode, message: string): void => { findings.push({ index, rule: rule.name, code, message }); };
    if (matched === 0) {
      add('unused', `no request in the logs (${logs.length.toLocaleString('en-US')} lines) matched it: remove it if nothing needs it`);
      return;
    }
    if (rule.ports === undefined) {
      const idle = ['80/http', '443/tls'].filter((pair) => !used.has(pair));
      if (idle.length === 1) {
        const needed = idle[0] === '80/http' ? 443 : 80;
        add('ports-unused', `without ports it also allows ${PAIR_TEXT[idle[0] as string]}, which no logged request used: add ports: [${needed}]`);
      }
    } else {
      const usedPorts = new Set([...used].map((pair) => Number(pair.split('/')[0])));
      const idle = rule.ports.filter((port) => !usedPorts.has(port));
      if (idle.length > 0) add('ports-unused', `port${idle.length === 1 ? '' : 's'} ${idle.join(', ')} ${idle.length === 1 ? 'was' : 'were'} never used in the logs: drop ${idle.length === 1 ? 'it' : 'them'} from ports`);
    }
  });
  return findings;
};

/**
 * Rules broader than they need to be (docs/learn.md): wildcards over multi-tenant hosts,
 * multi-tenant hosts allowed whole, duplicates and rules another rule covers; with logs, rules
 * no request matched and ports no request used. `rules` as the policy sees them (groups expanded).
 */
export const lintRules = (rules: readonly RuleConfig[], tenancy: Tenancy, logs?: readonly LoggedRequest[]): LintFinding[] => {
  const seen = logs === undefined ? [] : [...new Set(logs.flatMap((line) => (line.target?.destination.host.kind === 'name' ? [line.target.destination.host.host] : [])))];
  const findings = [
    ...rules.flatMap((rule, index) => hostFindings(rule, index, tenancy, seen)),
    ...redundancyFindings(rules),
    ...(logs !== undefined ? logFindings(rules, logs) : []),
  ];
  return findings.sort((a, b) => a.index - b.index);
};
