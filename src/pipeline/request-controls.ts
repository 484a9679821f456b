import type { ProxyConfig } from '../config/schema.js';
import type { HeaderRulesConfig } from '../config/request-controls-schema.js';

/** One set of header changes (a `headers.request` or `headers.response` block), names lowercased for matching. */
export interface HeaderOps {
  readonly remove: ReadonlySet<string>;
  readonly set: ReadonlyArray<readonly [string, string]>;
  readonly add: ReadonlyArray<readonly [string, string]>;
}

/** A credential to inject: where, the finished value (the secret in it), and the stand-in it replaces. */
export interface Injection {
  readonly header?: string;
  readonly query?: string;
  readonly value: string;
  readonly standIn?: string;
}

/** What a request allowed by one rule gets done to it, on top of the policy's yes. */
export interface RuleControls {
  /** Global header rules first, then the rule's. */
  readonly request: readonly HeaderOps[];
  readonly response: readonly HeaderOps[];
  readonly forwarded: 'strip' | 'replace' | 'keep';
  readonly inject: readonly Injection[];
  readonly maxRequestBytes?: number;
  readonly rate?: { readonly count: number; readonly perMs: number };
}

export interface RequestControls {
  /** The controls of the rule that allowed a request (global ones only when no rule did). */
  forRule(rule: string | undefined): RuleControls;
  /** The stand-in found in `text`, with the rule it belongs to. */
  findStandIn(text: string): { readonly standIn: string; readonly rule: string } | undefined;
}

/** A secret for rules[ruleIndex].inject[entryIndex], read by the caller (env or file). */
export type SecretOf = (ruleIndex: number, entryIndex: number) => string;

const compileOps = (ops: HeaderRulesConfig['request']): HeaderOps | undefined => ops === undefined ? undefined : {
  remove: new Set((ops.remove ?? []).map((name) => name.toLowerCase())),
  set: Object.entries(ops.set ?? {}),
  add: Object.entries(ops.add ?? {}),
};

const defined = <T>(values: ReadonlyArray<T | undefined>): T[] => values.filter((v): v is T => v !== undefined);

export const compileRequestControls = (config: ProxyConfig, secretOf: SecretOf): RequestControls => {
  const global = config.headers;
  const base: RuleControls = Object.freeze({
    request: defined([compileOps(global?.request)]),
    response: defined([compileOps(global?.response)]),
    forwarded: global?.forwarded ?? 'keep',
    inject: [],
  });
  const byRule = new Map<string, RuleControls>();
  const standIns = new Map<string, string>();
  config.rules.forEach((rule, ruleIndex) => {
    const inject = (rule.inject ?? []).map((entry, entryIndex): Injection => {
      const secret = secretOf(ruleIndex, entryIndex);
      if (entry.replace !== undefined) standIns.set(entry.replace, rule.name);
      return {
        ...(entry.header !== undefined ? { header: entry.header } : {}),
        ...(entry.query !== undefined ? { query: entry.query } : {}),
        value: (entry.value ?? '{secret}').split('{secret}').join(secret),
        ...(entry.replace !== undefined ? { standIn: entry.replace } : {}),
      };
    });
    byRule.set(rule.name, Object.freeze({
      request: [...base.request, ...defined([compileOps(rule.headers?.request)])],
      response: [...base.response, ...defined([compileOps(rule.headers?.response)])],
      forwarded: rule.headers?.forwarded ?? base.forwarded,
      inject,
      ...(rule.max_request_bytes !== undefined ? { maxRequestBytes: rule.max_request_bytes } : {}),
      ...(rule.rate !== undefined ? { rate: rule.rate.per_client } : {}),
    }));
  });
  const tokens = [...standIns.keys()];
  return {
    forRule: (rule) => (rule === undefined ? base : byRule.get(rule) ?? base),
    findStandIn: (text) => {
      const standIn = tokens.find((token) => text.includes(token));
      return standIn === undefined ? undefined : { standIn, rule: standIns.get(standIn) as string };
    },
  };
};

const FORWARDED = new Set(['x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto', 'forwarded', 'via']);

const applyOps = (headers: string[], ops: HeaderOps): string[] => {
  const replaced = new Set(ops.set.map(([name]) => name.toLowerCase()));
  const out: string[] = [];
  for (let i = 0; i < headers.length; i += 2) {
    const lower = (headers[i] as string).toLowerCase();
    if (ops.remove.has(lower) || replaced.has(lower)) continue;
    out.push(headers[i] as string, headers[i + 1] as string);
  }
  for (const [name, value] of ops.set) out.push(name, value);
  for (const [name, value] of ops.add) out.push(name, value);
  return out;
};

/** `Forwarded: for=` wants IPv6 quoted and bracketed (RFC 7239). */
const forwardedFor = (ip: string): string => (ip.includes(':') ? `for="[${ip}]"` : `for=${ip}`);

/**
 * The request headers that go upstream: the client's (hop-by-hop already gone), its
 * X-Forwarded-For / Forwarded / Via stripped, replaced or kept, then the header rules, then the
 * credentials to inject (last, so no header rule can drop or alter them). Nothing is added that
 * the config does not ask for: no Via, no X-Forwarded-For of Portcullis's own.
 */
export const requestHeadersFor = (headers: string[], controls: RuleControls, clientIp: string, inject: boolean): string[] => {
  let out = headers;
  if (controls.forwarded !== 'keep') {
    out = [];
    for (let i = 0; i < headers.length; i += 2) {
      if (!FORWARDED.has((headers[i] as string).toLowerCase())) out.push(headers[i] as string, headers[i + 1] as string);
    }
    if (controls.forwarded === 'replace') out.push('X-Forwarded-For', clientIp, 'Forwarded', forwardedFor(clientIp));
  }
  for (const ops of controls.request) out = applyOps(out, ops);
  if (!inject) return out;
  for (const injection of controls.inject) {
    if (injection.header === undefined) continue;
    const lower = injection.header.toLowerCase();
    let present = false;
    for (let i = 0; i < out.length; i += 2) {
      if ((out[i] as string).toLowerCase() !== lower) continue;
      if (injection.standIn !== undefined && !(out[i + 1] as string).includes(injection.standIn)) continue;
      present = true;
      out[i + 1] = injection.value;
    }
    // Without a stand-in the credential is always set; with one, only where the client put it.
    if (!present && injection.standIn === undefined) out.push(injection.header, injection.value);
  }
  return out;
};

/** The response headers that go to the client: the server's, then the header rules. */
export const responseHeadersFor = (headers: string[], controls: RuleControls): string[] => {
  let out = headers;
  for (const ops of controls.response) out = applyOps(out, ops);
  return out;
};

/** The path and query that go upstream, with query-parameter credentials injected. */
export const pathWithCredentials = (pathAndQuery: string, controls: RuleControls): string => {
  const queries = controls.inject.filter((injection) => injection.query !== undefined);
  if (queries.length === 0) return pathAndQuery;
  const question = pathAndQuery.indexOf('?');
  const path = question < 0 ? pathAndQuery : pathAndQuery.slice(0, question);
  const params = question < 0 ? [] : pathAndQuery.slice(question + 1).split('&').filter((p) => p !== '');
  for (const injection of queries) {
    const name = injection.query as string;
    const encoded = `${name}=${encodeURIComponent(injection.value)}`;
    let present = false;
    for (let i = 0; i < params.length; i += 1) {
      const param = params[i] as string;
      if (param.split('=')[0] !== name) continue;
      if (injection.standIn !== undefined && !decodeParam(param.slice(name.length + 1)).includes(injection.standIn)) continue;
      present = true;
      params[i] = encoded;
    }
    if (!present && injection.standIn === undefined) params.push(encoded);
  }
  return params.length === 0 ? path : `${path}?${params.join('&')}`;
};

const decodeParam = (value: string): string => {
  try {
    return decodeURIComponent(value.replace(/\+/g, ' '));
  } catch {
    return value;
  }
};
