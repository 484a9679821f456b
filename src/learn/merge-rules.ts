import type { LoggedRequest } from './logged-request.js';
import type { Coverage, ProposedRule } from './proposal.js';
import type { Tenancy } from './tenancy.js';

/** One host, port and transport, with the shape its rule needs and the lines it covers. */
export interface RuleDraft {
  readonly host: string;
  readonly isName: boolean;
  readonly port: number;
  readonly transport: 'http' | 'tls';
  /** Why the host serves many tenants, when it does. */
  readonly multiTenant: string | undefined;
  readonly shape: { readonly kind: 'whole' } | { readonly kind: 'requests'; readonly methods: readonly string[]; readonly paths: readonly string[] };
  readonly lines: readonly LoggedRequest[];
}

export interface MergeOptions {
  readonly wildcardMin: number;
  readonly withClients: boolean;
  /** Every host in the logs, to find public suffixes a wildcard would cover. */
  readonly seenHosts: readonly string[];
}

const MAX_LISTED = 5;

interface HostRule {
  readonly hosts: string[];
  readonly drafts: RuleDraft[];
  ports: number[] | undefined;
  readonly notes: string[];
  nameHint: string;
}

const isDefaultPair = (draft: RuleDraft): boolean => (draft.transport === 'http' ? draft.port === 80 : draft.port === 443);

const shapeKey = (draft: RuleDraft): string =>
  draft.shape.kind === 'whole' ? 'whole' : `${draft.shape.methods.join(',')} ${draft.shape.paths.join(' ')}`;

const listed = (items: readonly string[]): string =>
  `${items.slice(0, MAX_LISTED).join(', ')}${items.length > MAX_LISTED ? `, and ${items.length - MAX_LISTED} more` : ''}`;

const coverageOf = (lines: readonly LoggedRequest[]): Coverage => {
  const clients = new Map<string, number>();
  const users = new Set<string>();
  let requests = 0;
  for (const line of lines) {
    clients.set(line.client, (clients.get(line.client) ?? 0) + 1);
    if (line.user !== undefined) users.add(line.user);
    if (line.kind === 'http') requests += 1;
  }
  const sorted = new Map([...clients].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])));
  return { lines: lines.length, requests, tunnels: lines.length - requests, clients: sorted, users: [...users].sort() };
};

const coverageNote = (covers: Coverage): string => {
  const clients = [...covers.clients].map(([client, n]) => `${client} (${n.toLocaleString('en-US')})`);
  const plural = (n: number, word: string): string => `${n.toLocaleString('en-US')} ${word}${n === 1 ? '' : 's'}`;
  return `covers ${plural(covers.lines, 'log line')} (${plural(covers.requests, 'request')}, ${plural(covers.tunnels, 'tunnel')}) from ${plural(covers.clients.size, 'client')}: ${listed(clients)}`;
};

/** One rule per host and shape, with the ports seen (no `ports` when that is exactly the 80/443 default). */
const perHost = (drafts: readonly RuleDraft[]): HostRule[] => {
  const byHost = new Map<string, Map<string, RuleDraft[]>>();
  for (const draft of drafts) {
    const shapes = byHost.get(draft.host) ?? new Map<string, RuleDraft[]>();
    byHost.set(draft.host, shapes);
    const key = shapeKey(draft);
    shapes.set(key, [...(shapes.get(key) ?? []), draft]);
  }
  const rules: HostRule[] = [];
  for (const [host, shapes] of byHost) {
    for (const group of shapes.values()) {
      // No `ports` means exactly plain HTTP to 80 plus TLS to 443: only when both were seen.
      const pairs = new Set(group.map((draft) => `${draft.port}/${draft.transport}`));
      const defaults = shapes.size === 1 && group.every(isDefaultPair) && pairs.size === 2;
      const ports = defaults ? undefined : [...new Set(group.map((draft) => draft.port))].sort((a, b) => a - b);
      const first = group[0] as RuleDraft;
      const name = first.isName ? host : `ip-${host}`;
      rules.push({ hosts: [host], drafts: group, ports, notes: [], nameHint: shapes.size > 1 && ports ? `${name}-${ports.join('-')}` : name });
    }
  }
  return rules;
};

/** Whole-host rules of sibling names share one rule, a wildcard when enough siblings were seen and it stays within one owner. */
const mergeSiblings = (rules: HostRule[], tenancy: Tenancy, options: MergeOptions): HostRule[] => {
  const groups = new Map<string, HostRule[]>();
  const out: HostRule[] = [];
  for (const rule of rules) {
    const draft = rule.drafts[0] as RuleDraft;
    const domain = draft.isName && draft.multiTenant === undefined && draft.shape.kind === 'whole' ? tenancy.registrableDomain(draft.host) : undefined;
    if (domain === undefined) {
      out.push(rule);
      continue;
    }
    const key = `${domain} ${rule.ports?.join(',') ?? 'default'}`;
    groups.set(key, [...(groups.get(key) ?? []), rule]);
  }
  for (const [key, group] of groups) {
    const domain = key.split(' ')[0] as string;
    const first = group[0] as HostRule;
    if (group.length === 1) {
      out.push(first);
      continue;
    }
    const hosts = group.map((rule) => rule.hosts[0] as string).sort();
    const siblings = hosts.filter((host) => host !== domain);
    const merged: HostRule = { hosts, drafts: group.flatMap((rule) => rule.drafts), ports: first.ports, notes: [], nameHint: domain };
    if (options.wildcardMin > 0 && siblings.length >= options.wildcardMin) {
      const tooBroad = tenancy.wildcardTooBroad(domain, options.seenHosts);
      if (tooBroad === undefined) {
        merged.hosts.splice(0, merged.hosts.length, `*.${domain}`, ...(hosts.includes(domain) ? [domain] : []));
        merged.notes.push(`wildcard: ${siblings.length} hosts seen under ${domain}: ${listed(siblings)}`);
      } else {
        merged.notes.push(`no *.${domain} wildcard: ${tooBroad}`);
      }
    }
    out.push(merged);
  }
  return out;
};

const uniqueName = (hint: string, taken: Set<string>): string => {
  const base = hint.replace(/[^A-Za-z0-9_.:-]/g, '-').slice(0, 100) || 'rule';
  let name = base;
  for (let i = 2; taken.has(name); i += 1) name = `${base}-${i}`;
  taken.add(name);
  return name;
};

/** Turns drafts into the proposed rules, most used first. */
export const mergeRules = (drafts: readonly RuleDraft[], tenancy: Tenancy, options: MergeOptions): ProposedRule[] => {
  const merged = mergeSiblings(perHost(drafts), tenancy, options);
  const built = merged.map((rule) => {
    const lines = rule.drafts.flatMap((draft) => draft.lines);
    const covers = coverageOf(lines);
    const draft = rule.drafts[0] as RuleDraft;
    const notes = [coverageNote(covers)];
    if (covers.users.length > 0) notes.push(`users seen: ${listed(covers.users)}`);
    notes.push(...rule.notes);
    if (draft.multiTenant !== undefined) notes.push(`${draft.host} is ${draft.multiTenant}; each path names one tenant`);
    const shape = draft.shape;
    if (shape.kind === 'requests' && rule.drafts.some((d) => d.transport === 'tls')) {
      notes.push('HTTPS with paths or methods is decrypted: clients must trust the Portcullis CA (portcullis ca trust)');
    }
    return { rule, covers, notes, shape };
  }).sort((a, b) => b.covers.lines - a.covers.lines || (a.rule.hosts[0] ?? '').localeCompare(b.rule.hosts[0] ?? ''));
  const taken = new Set<string>();
  return built.map(({ rule, covers, notes, shape }) => ({
    name: uniqueName(rule.nameHint, taken),
    hosts: rule.hosts,
    ...(rule.ports !== undefined ? { ports: rule.ports } : {}),
    ...(shape.kind === 'requests' ? { methods: shape.methods } : {}),
    ...(shape.kind === 'requests' && shape.paths.length > 0 ? { paths: shape.paths } : {}),
    ...(options.withClients ? { clients: [...covers.clients.keys()].sort() } : {}),
    notes,
    covers,
  }));
};
