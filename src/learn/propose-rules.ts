import { normalizePath } from '../policy/path-normalizer.js';
import { classifyForLearning } from './learn-filter.js';
import type { LoggedRequest } from './logged-request.js';
import { mergeRules, type RuleDraft } from './merge-rules.js';
import { proposePathPrefixes } from './path-prefixes.js';
import type { Proposal } from './proposal.js';
import { createSetAsideCollector, type SetAsideCollector } from './set-aside.js';
import { createTenancy, type Tenancy } from './tenancy.js';

export interface LearnOptions {
  /** Also learn from denials by the policy in force and would-denies beyond an existing restriction. */
  readonly includeDenied?: boolean;
  /** A `*.domain` wildcard needs at least this many sibling hosts under one registrable domain (default 3; 0 never). */
  readonly wildcardMin?: number;
  /** Hosts to treat as multi-tenant, beyond the Public Suffix List and the known services. */
  readonly multiTenant?: readonly string[];
  /** Add `clients:` with the client addresses seen. */
  readonly withClients?: boolean;
}

/** All lines of one destination host, port and transport that learning keeps. */
interface Unit {
  readonly host: string;
  readonly isName: boolean;
  readonly port: number;
  readonly transport: 'http' | 'tls';
  readonly requests: LoggedRequest[];
  readonly tunnels: LoggedRequest[];
  readonly parents: LoggedRequest[];
}

const unitKey = (request: LoggedRequest): string => {
  const target = request.target!;
  return `${target.destination.host.host} ${target.destination.port} ${target.transport}`;
};

const pathOf = (request: LoggedRequest): string => {
  const normalized = normalizePath(request.target?.pathAndQuery ?? '/');
  return normalized.ok ? normalized.path : '/';
};

const MULTI_TENANT_TUNNELS = 'multi-tenant host reached through tunnels that were not decrypted: allow it with paths only after seeing them (a rule with inspect: true while observing), then learn again';
const ABOVE_TENANT = 'path above the tenant segment of a multi-tenant host: a prefix for it would cover every tenant';

/** Turns one unit into a rule draft, setting aside what cannot safely be proposed. */
const draftOf = (unit: Unit, tenancy: Tenancy, held: SetAsideCollector): RuleDraft | undefined => {
  const multi = unit.isName ? tenancy.multiTenant(unit.host) : undefined;
  const base = { host: unit.host, isName: unit.isName, port: unit.port, transport: unit.transport, multiTenant: multi };
  if (unit.tunnels.length > 0 && multi === undefined) {
    return { ...base, shape: { kind: 'whole' }, lines: [...unit.tunnels, ...unit.requests, ...unit.parents] };
  }
  for (const tunnel of unit.tunnels) held.add(tunnel, MULTI_TENANT_TUNNELS);
  if (unit.requests.length === 0) return undefined;
  const byPath = new Map<string, LoggedRequest[]>();
  for (const request of unit.requests) {
    const path = pathOf(request);
    const list = byPath.get(path);
    if (list === undefined) byPath.set(path, [request]);
    else list.push(request);
  }
  const cut = proposePathPrefixes(byPath.keys(), (segments) => tenancy.tenantDepth(unit.host, segments), multi !== undefined);
  const above = new Set(cut.aboveTenant);
  const kept: LoggedRequest[] = [];
  for (const [path, requests] of byPath) {
    if (above.has(path)) for (const request of requests) held.add(request, ABOVE_TENANT);
    else kept.push(...requests);
  }
  if (kept.length === 0 || (multi !== undefined && cut.prefixes.length === 0)) return undefined;
  const methods = [...new Set(kept.map((request) => request.method))].sort();
  return {
    ...base,
    shape: { kind: 'requests', methods, paths: cut.prefixes },
    lines: [...kept, ...unit.parents],
  };
};

/**
 * Proposes allow rules for what the logged traffic needed (docs/learn.md). Pure: the same lines
 * and options always give the same proposal.
 */
export const proposeRules = (requests: readonly LoggedRequest[], options: LearnOptions = {}): Proposal => {
  const tenancy = createTenancy(options.multiTenant ?? []);
  const held = createSetAsideCollector();
  const excluded = createSetAsideCollector();
  const units = new Map<string, Unit>();
  const unitOf = (request: LoggedRequest): Unit => {
    const key = unitKey(request);
    let unit = units.get(key);
    if (unit === undefined) {
      const { destination, transport } = request.target!;
      unit = { host: destination.host.host, isName: destination.host.kind === 'name', port: destination.port, transport, requests: [], tunnels: [], parents: [] };
      units.set(key, unit);
    }
    return unit;
  };
  for (const request of requests) {
    const disposition = classifyForLearning(request, options);
    if (disposition.kind === 'excluded') excluded.add(request, disposition.why);
    else if (disposition.kind === 'held') held.add(request, disposition.why);
    else if (disposition.kind === 'parent') unitOf(request).parents.push(request);
    else if (request.kind === 'tunnel') unitOf(request).tunnels.push(request);
    else unitOf(request).requests.push(request);
  }
  // Squid logs a bumped CONNECT like a spliced one: where decrypted requests to the same host
  // and port follow, its tunnels carried them.
  for (const unit of units.values()) {
    if (unit.transport !== 'tls' || !unit.requests.some((request) => request.target?.intercepted === true)) continue;
    const unknown = unit.tunnels.filter((tunnel) => tunnel.tunnelMode === undefined);
    unit.parents.push(...unknown);
    unit.tunnels.splice(0, unit.tunnels.length, ...unit.tunnels.filter((tunnel) => tunnel.tunnelMode !== undefined));
  }
  const drafts: RuleDraft[] = [];
  for (const unit of units.values()) {
    const draft = draftOf(unit, tenancy, held);
    if (draft !== undefined) drafts.push(draft);
    else for (const parent of unit.parents) held.add(parent, 'intercepted tunnel none of whose requests could be proposed');
  }
  const seenHosts = [...new Set([...units.values()].map((unit) => unit.host))];
  const rules = mergeRules(drafts, tenancy, { wildcardMin: options.wildcardMin ?? 3, withClients: options.withClients === true, seenHosts });
  const covered = rules.reduce((sum, rule) => sum + rule.covers.lines, 0);
  return {
    rules,
    held: held.list(),
    excluded: excluded.list(),
    totals: { lines: requests.length, covered, held: held.total(), excluded: excluded.total() },
  };
};
