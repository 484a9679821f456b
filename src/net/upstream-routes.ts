import type { ProxyConfig } from '../config/schema.js';
import { parseParentProxyUrl, type ParentProxy } from '../config/parent-proxy-url.js';
import { PortcullisError } from '../errors.js';
import type { Destination } from '../flow/destination.js';
import { parseHostPattern, type HostPattern } from '../policy/host-pattern.js';
import { createHostMatcher } from '../policy/matchers.js';
import { createParentDialers } from './parent-proxy-dialer.js';
import type { Resolver } from './resolver.js';
import type { UpstreamDialer } from './upstream-dialer.js';

/** One way to reach destinations: directly, or through one parent proxy. */
export interface UpstreamRoute {
  /** Stable within a config ("direct", "parent", "rule:NAME"): pools are kept per route. */
  readonly key: string;
  /** Reaches a destination as a byte stream (tunnels, TLS to origins, upgrades). */
  readonly tunnel: UpstreamDialer;
  /** Reaches where plain-HTTP requests go: the destination, or the parent. */
  readonly http: UpstreamDialer;
  /** Set for a parent: plain-HTTP requests go to it in absolute form, with its credentials. */
  readonly parent?: ParentProxy;
}

export interface UpstreamRoutes {
  /** The route for a destination: the allowing rule's `proxy`, else `upstream.proxy` unless `upstream.no_proxy` names the host, else direct. */
  routeFor(destination: Destination, rule: string | undefined): UpstreamRoute;
  /** The route of this config with that key (a pool made under an older config finds the new one). */
  byKey(key: string): UpstreamRoute | undefined;
}

const configError = (message: string): PortcullisError => new PortcullisError('PCL_ERR_CONFIG_INVALID', message);

/**
 * The ways out of one config, Squid's cache_peer and always_direct in a few keys: a global
 * parent (`upstream.proxy`), hosts that skip it (`upstream.no_proxy`, rule host syntax), and a
 * rule's own `proxy` (a parent URL, or `direct`). The policy decides first, whichever way the
 * request then leaves.
 */
export const createUpstreamRoutes = (config: ProxyConfig, resolver: Resolver, direct: UpstreamDialer): UpstreamRoutes => {
  const timeouts = { connectMs: config.timeouts.upstream_connect, responseMs: config.timeouts.upstream_response };
  const viaParent = (key: string, url: string, where: string): UpstreamRoute => {
    const parsed = parseParentProxyUrl(url);
    if (!parsed.ok) throw configError(`${where}: ${parsed.error.replace(/^upstream\.proxy:? ?/, '')}`);
    const dialers = createParentDialers(parsed.value, resolver, timeouts);
    return Object.freeze({ key, tunnel: dialers.tunnel, http: dialers.direct, parent: parsed.value });
  };
  const directRoute: UpstreamRoute = Object.freeze({ key: 'direct', tunnel: direct, http: direct });
  const global = config.upstream?.proxy === undefined ? undefined : viaParent('parent', config.upstream.proxy, 'upstream.proxy');
  const noProxy = createHostMatcher((config.upstream?.no_proxy ?? []).map((entry, index): HostPattern => {
    const parsed = parseHostPattern(entry);
    if (!parsed.ok) throw configError(`upstream.no_proxy[${index}]: ${parsed.error}`);
    return parsed.value;
  }));
  const byRule = new Map<string, UpstreamRoute>();
  config.rules.forEach((rule, index) => {
    if (rule.proxy === undefined) return;
    byRule.set(rule.name, rule.proxy === 'direct' ? directRoute : viaParent(`rule:${rule.name}`, rule.proxy, `rules[${index}] (${rule.name}).proxy`));
  });
  const all = new Map<string, UpstreamRoute>([[directRoute.key, directRoute], ...(global ? [[global.key, global] as const] : []),
    ...[...byRule.values()].map((route) => [route.key, route] as const)]);
  return {
    routeFor: (destination, rule) => {
      const own = rule === undefined ? undefined : byRule.get(rule);
      if (own) return own;
      return global !== undefined && !noProxy.matches(destination.host) ? global : directRoute;
    },
    byKey: (key) => all.get(key),
  };
};
