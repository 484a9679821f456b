import type { RuleConfig } from '../config/schema.js';
import { PortcullisError } from '../errors.js';
import { formatAuthority, type Destination } from '../flow/destination.js';
import type { CanonicalHost } from '../flow/host.js';
import { allow, deny, type Decision, type DenyDecision } from './decision.js';
import { isDohHost } from './doh.js';
import { parseHostPattern, type HostPattern } from './host-pattern.js';
import { buildRuleLookup } from './rule-lookup.js';
import {
  createClientMatcher,
  createHostMatcher,
  createMethodMatcher,
  createPathMatcher,
  createPortMatcher,
  createUserMatcher,
  parseClientIp,
  type IpAddress,
  type Matcher,
  type PortFacts,
} from './matchers.js';
import { decodeEncodedSlashes, normalizePath, validateRulePath } from './path-normalizer.js';

export interface ConnectionFacts {
  readonly destination: Destination;
  /** Client source IP; IPv4-mapped IPv6 is unwrapped here. */
  readonly clientIp: string;
  /** Authenticated proxy user, if any. */
  readonly user?: string;
  /** 'http' = plain HTTP request (default port 80); 'tls' = CONNECT / TLS (default port 443). */
  readonly transport: 'http' | 'tls';
}

export interface RequestFacts extends ConnectionFacts {
  /** As sent; methods are case-sensitive tokens, so "get" does not match a GET rule. */
  readonly method: string;
  /** Raw origin-form target as sent. */
  readonly pathAndQuery: string;
  /** Why the request looks like DNS over HTTPS (see dohRequestEvidence), when it does. */
  readonly dohEvidence?: string;
}

/** A DNS question as the DNS listener asks it: may some rule allow this name for this client, on any port? */
export interface NameFacts {
  /** The queried name, canonical (a name, never an IP literal). */
  readonly name: CanonicalHost;
  readonly clientIp: string;
  readonly user?: string;
}

export interface CompiledPolicy {
  /**
   * At CONNECT/SNI time: deny, or allow with intercept=true if any rule matching host/port/client/user
   * has paths, methods or inspect:true, wholeHost=true if any of them has neither paths nor methods,
   * and allowEch=true if any of them says `ech: allow`.
   */
  decideConnection(facts: ConnectionFacts): Decision;
  /** Full decision for one HTTP request (plain HTTP, or inside an intercepted tunnel). */
  decideRequest(facts: RequestFacts): Decision;
  /**
   * The DNS listener's question: allow when some rule matching the name, client and user could
   * allow a connection to it on any port (wildcards included); deny `dns-name-not-allowed` else.
   */
  decideName(facts: NameFacts): Decision;
  /** One line per rule, built from the matchers' explain(). */
  explainRules(): string[];
  readonly ruleNames: readonly string[];
  /**
   * Exact host names of enforced rules that decrypt their tunnels (paths, methods or inspect):
   * the names worth a certificate before their first request.
   */
  readonly interceptedNames: readonly string[];
}

interface CompiledRule {
  readonly name: string;
  /** Position in the config, for messages; among several matching rules, the first one is named. */
  readonly index: number;
  readonly patterns: readonly HostPattern[];
  readonly host: Matcher<CanonicalHost>;
  readonly port: Matcher<PortFacts>;
  readonly client: Matcher<IpAddress | undefined> | undefined;
  readonly user: Matcher<string | undefined> | undefined;
  readonly method: Matcher<string> | undefined;
  readonly path: Matcher<string> | undefined;
  readonly inspect: boolean;
  /** `ech: allow`: a spliced tunnel may carry an Encrypted Client Hello. */
  readonly allowEch: boolean;
  /** True when the requests inside a tunnel must be seen: paths, methods or inspect. */
  readonly needsRequest: boolean;
  /** `mode: report`: never allows; a denial it would have allowed carries `wouldAllow`. */
  readonly report: boolean;
}

const configError = (message: string): PortcullisError => new PortcullisError('PCL_ERR_CONFIG_INVALID', message);

const compileRule = (rule: RuleConfig, index: number): CompiledRule => {
  const where = `rules[${index}] (${rule.name})`;
  const patterns = rule.hosts.map((host, i) => {
    const parsed = parseHostPattern(host);
    if (!parsed.ok) throw configError(`${where}.hosts[${i}]: ${parsed.error}`);
    return parsed.value;
  });
  const paths = rule.paths?.map((path, i) => {
    const problem = validateRulePath(path);
    const normalized = normalizePath(path);
    if (problem !== undefined || !normalized.ok) throw configError(`${where}.paths[${i}]: ${problem ?? 'invalid path'}`);
    return normalized.path;
  });
  let client: Matcher<IpAddress | undefined> | undefined;
  try {
    client = rule.clients && createClientMatcher(rule.clients);
  } catch (error) {
    throw configError(`${where}.clients: ${(error as Error).message}`);
  }
  return Object.freeze({
    name: rule.name,
    index,
    patterns: Object.freeze(patterns),
    host: createHostMatcher(patterns),
    port: createPortMatcher(rule.ports),
    client,
    user: rule.users && createUserMatcher(rule.users),
    method: rule.methods && createMethodMatcher(rule.methods),
    path: paths && createPathMatcher(paths),
    inspect: rule.inspect === true,
    allowEch: rule.ech === 'allow',
    needsRequest: paths !== undefined || rule.methods !== undefined || rule.inspect === true,
    report: rule.mode === 'report',
  });
};

type Stage = { ok: true; rules: readonly [CompiledRule, ...CompiledRule[]] } | { ok: false; decision: DenyDecision };

const nonEmpty = (rules: readonly CompiledRule[]): rules is readonly [CompiledRule, ...CompiledRule[]] => rules.length > 0;

const explainRule = (rule: CompiledRule): string => {
  const parts = [rule.host, rule.port, rule.client, rule.user, rule.path, rule.method]
    .filter((m): m is Matcher<never> => m !== undefined)
    .map((m) => m.explain());
  return `${rule.report ? 'report' : 'allow'} ${rule.name}: ${parts.join(', ')}${rule.inspect ? ', inspect' : ''}${rule.allowEch ? ', ech allowed' : ''}${rule.report ? ' (mode: report, never allows)' : ''}`;
};

interface RuleSet {
  decideConnection(facts: ConnectionFacts): Decision;
  decideRequest(facts: RequestFacts): Decision;
  decideName(facts: NameFacts): Decision;
}

/** The rule lists this very host: an exact name or IP entry, not a wildcard or a CIDR. */
const namesExactly = (rule: CompiledRule, host: CanonicalHost): boolean =>
  rule.patterns.some((p) => (p.kind === 'exact' && p.name === host.host) || (p.kind === 'ip' && p.address === host.host));

/**
 * DNS over HTTPS passes only a rule that names the host exactly: a well-known resolver (by name
 * or address), or any host when the request carries DNS messages (`evidence`).
 */
const refuseDoh = (host: CanonicalHost, rules: readonly [CompiledRule, ...CompiledRule[]], evidence?: string): DenyDecision | undefined => {
  const why = isDohHost(host) ? `${host.host} is a well-known DNS-over-HTTPS resolver` : evidence;
  if (why === undefined || rules.some((rule) => namesExactly(rule, host))) return undefined;
  return deny('doh-blocked', rules[0].name, `${why}; only a rule that lists ${host.host} itself (not a wildcard or range) may allow DNS over HTTPS`);
};

/** The decisions of one set of rules (all enforced, or all in report mode), in their config order. */
const createRuleSet = (compiled: readonly CompiledRule[]): RuleSet => {
  const lookup = buildRuleLookup(compiled);
  const hasIpRules = compiled.some((rule) => rule.patterns.some((p) => p.kind === 'ip' || p.kind === 'cidr'));

  const matchConnection = (facts: ConnectionFacts): Stage => {
    const { host, port } = facts.destination;
    const byHost = lookup(host);
    if (!nonEmpty(byHost)) {
      const why = host.kind === 'ip' && !hasIpRules ? ': IP literals only match rules that list IP addresses or CIDR ranges' : '';
      return { ok: false, decision: deny('no-rule-matched', undefined, `no rule allows host ${host.host}${why}`) };
    }
    const byPort = byHost.filter((rule) => rule.port.matches({ port, transport: facts.transport }));
    if (!nonEmpty(byPort)) {
      const detail = `port ${port} is not allowed for ${host.host} (${facts.transport})`;
      return { ok: false, decision: deny('port-not-allowed', byHost[0].name, detail) };
    }
    return matchClient(byPort, facts, formatAuthority(facts.destination), 'client-not-allowed');
  };

  /** The rules among `candidates` whose clients and users match, or the denial naming the closest one. */
  const matchClient = (
    candidates: readonly [CompiledRule, ...CompiledRule[]], facts: { clientIp: string; user?: string }, target: string,
    reason: 'client-not-allowed' | 'dns-name-not-allowed',
  ): Stage => {
    // Parsed only when a candidate rule has `clients`: most policies never look at it.
    const clientIp = candidates.some((rule) => rule.client !== undefined) ? parseClientIp(facts.clientIp) : undefined;
    const clientOk = (rule: CompiledRule): boolean => rule.client?.matches(clientIp) ?? true;
    const byClient = candidates.filter((rule) => clientOk(rule) && (rule.user?.matches(facts.user) ?? true));
    if (!nonEmpty(byClient)) {
      const closest = candidates[0];
      const detail = clientOk(closest)
        ? `${facts.user === undefined ? 'an unauthenticated client' : `user ${facts.user}`} may not reach ${target}`
        : `client ${clientIp?.toString() ?? facts.clientIp} may not reach ${target}`;
      return { ok: false, decision: deny(reason, closest.name, detail) };
    }
    return { ok: true, rules: byClient };
  };

  const decideConnection = (facts: ConnectionFacts): Decision => {
    const stage = matchConnection(facts);
    if (!stage.ok) return stage.decision;
    const doh = refuseDoh(facts.destination.host, stage.rules);
    if (doh !== undefined) return doh;
    return allow(stage.rules[0].name, stage.rules.some((rule) => rule.needsRequest),
      stage.rules.some((rule) => rule.path === undefined && rule.method === undefined),
      stage.rules.some((rule) => rule.allowEch));
  };

  const decideRequest = (facts: RequestFacts): Decision => {
    const stage = matchConnection(facts);
    if (!stage.ok) return stage.decision;
    const byMethod = stage.rules.filter((rule) => rule.method?.matches(facts.method) ?? true);
    if (!nonEmpty(byMethod)) {
      const detail = `method ${facts.method} is not allowed for ${formatAuthority(facts.destination)}`;
      return deny('method-not-allowed', stage.rules[0].name, detail);
    }
    // Normalize only when a rule looks at the path: a rule without paths allows any path, ambiguous or not.
    const normalized = byMethod.some((rule) => rule.path !== undefined) ? normalizePath(facts.pathAndQuery) : undefined;
    const passes = (rule: CompiledRule): boolean => rule.path === undefined || (normalized?.ok === true && rule.path.matches(normalized.path));
    const full = byMethod.find(passes);
    if (full !== undefined) {
      const doh = refuseDoh(facts.destination.host, [full, ...byMethod.filter((rule) => rule !== full && passes(rule))], facts.dohEvidence);
      return doh ?? allow(full.name);
    }
    const closest = byMethod[0];
    if (normalized === undefined || !normalized.ok) {
      return deny('ambiguous-path', closest.name, normalized?.error);
    }
    const decoded = decodeEncodedSlashes(normalized.path);
    const hidden = decoded === normalized.path ? undefined : byMethod.find((rule) => rule.path?.matches(decoded));
    if (hidden !== undefined) {
      return deny('ambiguous-path', hidden.name, `ambiguous path: encoded slash (%2F) inside the segments rule ${hidden.name}'s prefix covers, in ${JSON.stringify(facts.pathAndQuery.split('?')[0])}`);
    }
    return deny('path-not-allowed', closest.name, `path ${normalized.path} is not allowed for ${formatAuthority(facts.destination)}`);
  };

  const decideName = (facts: NameFacts): Decision => {
    const byHost = lookup(facts.name);
    if (!nonEmpty(byHost)) return deny('dns-name-not-allowed', undefined, `no rule allows ${facts.name.host}`);
    const stage = matchClient(byHost, facts, facts.name.host, 'dns-name-not-allowed');
    if (!stage.ok) return stage.decision;
    return refuseDoh(facts.name, stage.rules) ?? allow(stage.rules[0].name);
  };

  return { decideConnection, decideRequest, decideName };
};

/** A denial that a report-mode rule would have allowed names that rule in `wouldAllow`. */
const withWouldAllow = (decision: Decision, reported: () => Decision): Decision => {
  if (decision.verdict === 'allow') return decision;
  const trial = reported();
  return trial.verdict === 'allow' ? { ...decision, wouldAllow: trial.rule } : decision;
};

/**
 * Compiles rules once into an immutable policy; throws PCL_ERR_CONFIG_INVALID on a bad rule.
 * Rules in `mode: report` never allow and never change interception: they are asked only
 * after the enforced rules deny, to name themselves in the denial's `wouldAllow`.
 */
export const compilePolicy = (rules: readonly RuleConfig[]): CompiledPolicy => {
  const compiled = Object.freeze(rules.map(compileRule));
  const enforced = createRuleSet(compiled.filter((rule) => !rule.report));
  const reportRules = compiled.filter((rule) => rule.report);
  const reported = reportRules.length > 0 ? createRuleSet(reportRules) : undefined;
  const explanations = Object.freeze(compiled.map(explainRule));

  return Object.freeze({
    decideConnection: reported === undefined
      ? enforced.decideConnection
      : (facts: ConnectionFacts) => withWouldAllow(enforced.decideConnection(facts), () => reported.decideConnection(facts)),
    decideRequest: reported === undefined
      ? enforced.decideRequest
      : (facts: RequestFacts) => withWouldAllow(enforced.decideRequest(facts), () => reported.decideRequest(facts)),
    decideName: reported === undefined
      ? enforced.decideName
      : (facts: NameFacts) => withWouldAllow(enforced.decideName(facts), () => reported.decideName(facts)),
    explainRules: () => [...explanations],
    ruleNames: Object.freeze(compiled.map((rule) => rule.name)),
    interceptedNames: Object.freeze([...new Set(compiled
      .filter((rule) => !rule.report && rule.needsRequest)
      .flatMap((rule) => rule.patterns.flatMap((pattern) => (pattern.kind === 'exact' ? [pattern.name] : []))))]),
  });
};
