import type { FlowSummary } from './flow-view.js';

/**
 * The "denied" view: denied (and would-deny) flows grouped by host, each group with a
 * ready-made allow rule in the config's YAML syntax. Pure: the dashboard bundles it, and
 * `GET /api/denied` serves the same groups.
 *
 * A suggestion is offered only where the policy has a gap, not where it said no on purpose:
 * for hosts, ports and clients no rule covers (no-rule-matched and the like). A request a
 * rule's `paths` or `methods` refused, an ambiguous path, or a request that looks like a probe
 * (OPTIONS, TRACE) never becomes part of a rule: an attacker's request for another bucket, a
 * decoy of an allowed path (`/b/allowed-bkt-evil`) or a preflight looks just like a missing
 * rule, and one click must not open it.
 */

export type DeniedFlow = Pick<FlowSummary, 'host' | 'port' | 'kind' | 'method' | 'url' | 'reason' | 'client' | 'decision' | 'startedAt'> & Partial<Pick<FlowSummary, 'rule'>>;

export interface DeniedGroup {
  readonly host: string;
  readonly count: number;
  /** Count per reason code. */
  readonly reasons: Readonly<Record<string, number>>;
  readonly ports: readonly number[];
  readonly clients: readonly string[];
  readonly lastSeen: number;
  /** An entry for `rules:` that would allow what was denied, when a rule can. */
  readonly suggestion?: string;
  /** Denied requests the suggestion is meant for, to explain against it before copying (at most five). */
  readonly samples?: readonly DeniedSample[];
  /** Why there is no suggestion, or what else to change. */
  readonly note?: string;
}

/** A denied request as `explain` takes it: an absolute URL (https://host:port/ for a tunnel). */
export interface DeniedSample {
  readonly method: string;
  readonly url: string;
  readonly client: string;
}

/** Gaps: no rule covers this host, port or client. Only these get a suggestion. */
const RULE_FIXABLE = new Set(['no-rule-matched', 'port-not-allowed', 'client-not-allowed', 'ip-literal-not-allowed', 'dns-name-not-allowed']);
/** Refused by a rule's paths or methods on purpose: shown, never turned into a rule. */
const DELIBERATE = new Set(['path-not-allowed', 'method-not-allowed']);
/** Methods a suggestion never rests on alone: preflights and probes. */
const PROBE_METHODS = new Set(['OPTIONS', 'TRACE']);
const MAX_LISTED = 5;

const isDenied = (flow: DeniedFlow): boolean => flow.decision === 'deny' || flow.decision === 'would-deny';

/** Plain YAML scalars that mean the same as written, in block and flow context alike. */
const PLAIN = /^[A-Za-z0-9/_][A-Za-z0-9._/~%+-]*$/;
/** A YAML scalar: bare when it is plainly safe, else a JSON (= YAML double-quoted) string. */
const scalar = (text: string): string => (PLAIN.test(text) && !/^(true|false|null|yes|no|on|off|~)$/i.test(text) && !/^[0-9._+-]+$/.test(text) ? text : JSON.stringify(text));
const list = (items: readonly (string | number)[]): string => `[${items.map((item) => (typeof item === 'number' ? String(item) : scalar(item))).join(', ')}]`;

const ruleName = (host: string): string => `allow-${host}`.replace(/[^A-Za-z0-9_.:-]/g, '-').slice(0, 100);

const defaultPort = (flow: DeniedFlow): number => (flow.kind === 'dns' ? 0 : flow.kind === 'tunnel' || flow.url.startsWith('https:') ? 443 : 80);

const firstDistinct = <T>(values: Iterable<T>): T[] => [...new Set(values)].slice(0, MAX_LISTED);

/**
 * The YAML rule for the fixable flows of one host (all of the same host): the host, the ports
 * beyond the defaults, and the clients when a client was refused. Never paths or methods.
 */
export const suggestAllowRule = (host: string, flows: readonly DeniedFlow[]): string => {
  const lines = [`  - name: ${scalar(ruleName(host))}`, `    hosts: ${list([host])}`];
  // Ports default to 80 (HTTP) and 443 (CONNECT/TLS): list them only when some flow used another.
  if (flows.some((flow) => flow.port !== defaultPort(flow))) {
    lines.push(`    ports: ${list([...new Set(flows.filter((flow) => flow.kind !== 'dns').map((flow) => flow.port))].sort((a, b) => a - b))}`);
  }
  if (flows.some((flow) => flow.reason === 'client-not-allowed' || (flow.reason === 'dns-name-not-allowed' && flow.rule !== undefined))) {
    lines.push(`    clients: ${list(firstDistinct(flows.map((f) => f.client.address)))}`);
  }
  return `${lines.join('\n')}\n`;
};

/** What explain takes for a denied flow: tunnels become https://host:port/. */
const sampleOf = (flow: DeniedFlow): DeniedSample => {
  // A refused DNS name: what the client would have done next is a request to it.
  if (flow.kind === 'dns') return { method: 'GET', url: `https://${flow.host}/`, client: flow.client.address };
  if (flow.kind === 'tunnel') {
    const host = flow.host.includes(':') ? `[${flow.host}]` : flow.host;
    return { method: 'GET', url: `https://${host}:${flow.port}/`, client: flow.client.address };
  }
  return { method: flow.method, url: flow.url, client: flow.client.address };
};

const samplesOf = (flows: readonly DeniedFlow[]): DeniedSample[] => {
  const seen = new Map<string, DeniedSample>();
  for (const flow of flows) {
    const sample = sampleOf(flow);
    const key = `${sample.method} ${sample.url} ${sample.client}`;
    if (!seen.has(key)) seen.set(key, sample);
    if (seen.size >= MAX_LISTED) break;
  }
  return [...seen.values()];
};

/** A flow that is only a probe: an OPTIONS or TRACE request (tunnels are never probes here). */
const isProbe = (flow: DeniedFlow): boolean => flow.kind === 'http' && PROBE_METHODS.has(flow.method.toUpperCase());

const noteFor = (reasons: Record<string, number>, fixable: boolean, probesOnly: boolean): string | undefined => {
  const parts: string[] = [];
  if (probesOnly) parts.push('only OPTIONS/TRACE requests were refused: a preflight or a probe is no reason to open the host, so no rule is offered');
  const deliberate = Object.keys(reasons).filter((reason) => DELIBERATE.has(reason));
  if (deliberate.length > 0) {
    parts.push(`${deliberate.join(', ')}: a rule limits this host's paths or methods on purpose, so these requests are not turned into a rule (a probe for another bucket or a decoy of an allowed path looks the same); test one with Explain and widen the rule by hand if it is legitimate`);
  }
  const other = Object.keys(reasons).filter((reason) => !RULE_FIXABLE.has(reason) && !DELIBERATE.has(reason));
  if (other.includes('address-blocked')) parts.push('address-blocked: the host resolves to a private or reserved address; list its range in destinations.allow_ranges if that is intended');
  const rest = other.filter((reason) => reason !== 'address-blocked');
  if (rest.length > 0) parts.push(`${rest.join(', ')}: not a missing rule (the request itself was refused)`);
  if (parts.length === 0) return undefined;
  return `${fixable ? 'Also ' : ''}${parts.join('; ')}`;
};

/** Groups denied flows by host, most denied first. */
export const groupDeniedByHost = (flows: Iterable<DeniedFlow>): DeniedGroup[] => {
  const byHost = new Map<string, DeniedFlow[]>();
  for (const flow of flows) {
    if (!isDenied(flow) || flow.host === '-' || flow.host === '') continue;
    const group = byHost.get(flow.host);
    if (group) group.push(flow);
    else byHost.set(flow.host, [flow]);
  }
  const groups: DeniedGroup[] = [];
  for (const [host, group] of byHost) {
    const reasons: Record<string, number> = {};
    for (const flow of group) reasons[flow.reason] = (reasons[flow.reason] ?? 0) + 1;
    const gaps = group.filter((flow) => RULE_FIXABLE.has(flow.reason));
    const fixable = gaps.filter((flow) => !isProbe(flow));
    const note = noteFor(reasons, fixable.length > 0, gaps.length > 0 && fixable.length === 0);
    groups.push({
      host,
      count: group.length,
      reasons,
      ports: [...new Set(group.filter((flow) => flow.kind !== 'dns').map((flow) => flow.port))].sort((a, b) => a - b),
      clients: firstDistinct(group.map((flow) => flow.client.address)),
      lastSeen: group.reduce((latest, flow) => Math.max(latest, flow.startedAt), 0),
      ...(fixable.length > 0 ? { suggestion: suggestAllowRule(host, fixable), samples: samplesOf(fixable) } : {}),
      ...(note !== undefined ? { note } : {}),
    });
  }
  return groups.sort((a, b) => b.count - a.count || b.lastSeen - a.lastSeen || a.host.localeCompare(b.host));
};
