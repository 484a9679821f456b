import type { FlowSummary } from './flow-view.js';

/**
 * The "denied" view: denied (and would-deny) flows grouped by host, each group with a
 * ready-made allow rule in the config's YAML syntax. Pure: the dashboard bundles it, and
 * `GET /api/denied` serves the same groups.
 */

export type DeniedFlow = Pick<FlowSummary, 'host' | 'port' | 'kind' | 'method' | 'url' | 'reason' | 'client' | 'decision' | 'startedAt'>;

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
  /** Why there is no suggestion, or what else to change. */
  readonly note?: string;
}

/** Reasons an allow rule can fix; the others are not policy gaps (or need another key). */
const RULE_FIXABLE = new Set(['no-rule-matched', 'port-not-allowed', 'client-not-allowed', 'method-not-allowed', 'path-not-allowed', 'ip-literal-not-allowed']);
const MAX_LISTED = 5;

const isDenied = (flow: DeniedFlow): boolean => flow.decision === 'deny' || flow.decision === 'would-deny';

/** Plain YAML scalars that mean the same as written, in block and flow context alike. */
const PLAIN = /^[A-Za-z0-9/_][A-Za-z0-9._/~%+-]*$/;
/** A YAML scalar: bare when it is plainly safe, else a JSON (= YAML double-quoted) string. */
const scalar = (text: string): string => (PLAIN.test(text) && !/^(true|false|null|yes|no|on|off|~)$/i.test(text) && !/^[0-9._+-]+$/.test(text) ? text : JSON.stringify(text));
const list = (items: readonly (string | number)[]): string => `[${items.map((item) => (typeof item === 'number' ? String(item) : scalar(item))).join(', ')}]`;

const ruleName = (host: string): string => `allow-${host}`.replace(/[^A-Za-z0-9_.:-]/g, '-').slice(0, 100);

const pathOf = (url: string): string | undefined => {
  try {
    const { pathname } = new URL(url);
    return pathname.startsWith('/') ? pathname : undefined;
  } catch {
    return undefined;
  }
};

const defaultPort = (flow: DeniedFlow): number => (flow.kind === 'tunnel' || flow.url.startsWith('https:') ? 443 : 80);

const firstDistinct = <T>(values: Iterable<T>): T[] => [...new Set(values)].slice(0, MAX_LISTED);

/** The YAML rule for the fixable flows of one host (all of the same host). */
export const suggestAllowRule = (host: string, flows: readonly DeniedFlow[]): string => {
  const lines = [`  - name: ${scalar(ruleName(host))}`, `    hosts: ${list([host])}`];
  // Ports default to 80 (HTTP) and 443 (CONNECT/TLS): list them only when some flow used another.
  if (flows.some((flow) => flow.port !== defaultPort(flow))) {
    lines.push(`    ports: ${list([...new Set(flows.map((flow) => flow.port))].sort((a, b) => a - b))}`);
  }
  if (flows.some((flow) => flow.reason === 'method-not-allowed')) {
    lines.push(`    methods: ${list(firstDistinct(flows.filter((f) => f.kind === 'http').map((f) => f.method.toUpperCase())))}`);
  }
  if (flows.some((flow) => flow.reason === 'path-not-allowed')) {
    const paths = firstDistinct(flows.filter((f) => f.reason === 'path-not-allowed').map((f) => pathOf(f.url)).filter((p): p is string => p !== undefined));
    if (paths.length > 0) lines.push(`    paths: ${list(paths)}`);
  }
  if (flows.some((flow) => flow.reason === 'client-not-allowed')) {
    lines.push(`    clients: ${list(firstDistinct(flows.map((f) => f.client.address)))}`);
  }
  if (lines.length > 2 && lines.some((line) => /^ {4}(methods|paths):/.test(line)) && flows.some((flow) => defaultPort(flow) === 443)) {
    lines.push('    # on HTTPS, paths/methods mean decrypting: clients must trust the CA');
  }
  return `${lines.join('\n')}\n`;
};

const noteFor = (reasons: Record<string, number>, fixable: boolean): string | undefined => {
  const other = Object.keys(reasons).filter((reason) => !RULE_FIXABLE.has(reason));
  if (other.length === 0) return undefined;
  const parts: string[] = [];
  if (other.includes('address-blocked')) parts.push('address-blocked: the host resolves to a private or reserved address; list its range in destinations.allow_ranges if that is intended');
  const rest = other.filter((reason) => reason !== 'address-blocked');
  if (rest.length > 0) parts.push(`${rest.join(', ')}: not a missing rule (the request itself was refused)`);
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
    const fixable = group.filter((flow) => RULE_FIXABLE.has(flow.reason));
    const note = noteFor(reasons, fixable.length > 0);
    groups.push({
      host,
      count: group.length,
      reasons,
      ports: [...new Set(group.map((flow) => flow.port))].sort((a, b) => a - b),
      clients: firstDistinct(group.map((flow) => flow.client.address)),
      lastSeen: group.reduce((latest, flow) => Math.max(latest, flow.startedAt), 0),
      ...(fixable.length > 0 ? { suggestion: suggestAllowRule(host, fixable) } : {}),
      ...(note !== undefined ? { note } : {}),
    });
  }
  return groups.sort((a, b) => b.count - a.count || b.lastSeen - a.lastSeen || a.host.localeCompare(b.host));
};
