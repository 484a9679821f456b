import type { Destination } from '../flow/destination.js';
import ipaddr from 'ipaddr.js';
import { deny, type DenyDecision } from '../policy/decision.js';
import type { ProxyState } from '../proxy-state.js';
import type { ProxyRuntime } from '../runtime.js';
import { formatOriginalDestination, type OriginalDestination } from './original-destination.js';
import { createResolver, type LookupAll, type Resolver } from './resolver.js';

/**
 * Squid's host_verify_strict for transparent listeners: with
 * `transparent.verify_original_destination: true`, the name a client gave (Host or SNI) must
 * resolve to the address it actually dialed, and the port must be the one it dialed. Otherwise
 * a client could dial a forbidden address and name an allowed host. Fails closed: an unknown
 * original destination or a failed lookup denies.
 */
export type OriginalDestinationVerifier = (destination: Destination, original: OriginalDestination | undefined) => Promise<DenyDecision | undefined>;

export const createOriginalDestinationVerifier = (runtime: ProxyRuntime, lookup?: LookupAll): OriginalDestinationVerifier => {
  // One resolver per config (pins change on reload); the map lets old states go.
  const resolvers = new WeakMap<ProxyState, Resolver>();
  const resolverFor = (state: ProxyState): Resolver => {
    let resolver = resolvers.get(state);
    if (!resolver) {
      resolver = createResolver(state.config.resolve, lookup);
      resolvers.set(state, resolver);
    }
    return resolver;
  };
  return async (destination, original) => {
    const state = runtime.state();
    if (!state.config.transparent.verify_original_destination) return undefined;
    const name = destination.host.host;
    if (original === undefined) {
      return deny('host-mismatch', undefined,
        `verify_original_destination is on but the original destination of this connection is unknown (not redirected, or SO_ORIGINAL_DST unavailable), so ${name} cannot be verified`);
    }
    const dialed = formatOriginalDestination(original);
    if (destination.port !== original.port) {
      return deny('host-mismatch', undefined, `port ${destination.port} of ${name} is not the port the client dialed (${dialed})`);
    }
    let addresses: string[];
    try {
      addresses = await resolverFor(state).resolve(destination.host);
    } catch (error) {
      return deny('host-mismatch', undefined, `cannot verify ${name} against the original destination ${dialed}: ${(error as Error).message}`);
    }
    const canonical = addresses.map((address) => (ipaddr.isValid(address) ? ipaddr.process(address).toString() : address));
    if (canonical.includes(original.address)) return undefined;
    return deny('host-mismatch', undefined,
      `${name} resolves to ${canonical.join(', ')}, not to the original destination ${original.address} the client dialed`);
  };
};
