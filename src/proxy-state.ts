import type { ProxyConfig } from './config/schema.js';
import { createAddressGuard } from './policy/address-guard.js';
import { compilePolicy, type CompiledPolicy } from './policy/policy-engine.js';
import { createResolver, type LookupAll } from './net/resolver.js';
import { createUpstreamDialer, type UpstreamDialer } from './net/upstream-dialer.js';

/**
 * Everything derived from one config: built once, immutable, swapped whole on reload so that
 * a decision never mixes two policies.
 */
export interface ProxyState {
  readonly config: ProxyConfig;
  readonly policy: CompiledPolicy;
  readonly dialer: UpstreamDialer;
}

export const buildProxyState = (config: ProxyConfig, lookup?: LookupAll): ProxyState => {
  const policy = compilePolicy(config.rules);
  const resolver = createResolver(config.resolve, lookup);
  const dialer = createUpstreamDialer({
    resolver,
    addressCheck: createAddressGuard(config.destinations.allow_ranges),
    connectTimeoutMs: config.timeouts.upstream_connect,
  });
  return Object.freeze({ config, policy, dialer });
};
