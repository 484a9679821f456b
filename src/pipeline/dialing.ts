import ipaddr from 'ipaddr.js';
import type { Destination } from '../flow/destination.js';

/**
 * A destination resolved once and put through the address guard. `allowed` are the only
 * addresses that may ever be dialed for this flow: the dialer connects to them and nothing
 * else, so the address checked is the address dialed (smokescreen's rule).
 */
export interface CheckedDestination {
  readonly destination: Destination;
  /** Every address the name resolved to, in the resolver's order (empty through a parent proxy). */
  readonly resolved: readonly string[];
  /** Those that passed the address guard, in order. */
  readonly allowed: readonly string[];
  /** False when a parent proxy resolves and connects: nothing was resolved or checked here. */
  readonly local: boolean;
}

/** An open upstream connection as the pipeline sees it: which address it went to. */
export interface UpstreamLink {
  readonly address: string;
  readonly socket: { destroy(): void };
}

/** Reaches destinations; a fake in the pipeline's unit tests. */
export interface PipelineDialer<L extends UpstreamLink> {
  /** Resolves once and checks every address; throws PCL_ERR_DNS_FAILED or PCL_ERR_ADDRESS_BLOCKED. */
  check(destination: Destination): Promise<CheckedDestination>;
  /** Connects to the checked addresses only, in order. */
  connect(checked: CheckedDestination, options?: { signal?: AbortSignal }): Promise<L>;
}

/** Canonical text of an IP (IPv4-mapped IPv6 unwrapped), to compare addresses written differently. */
export const canonicalIp = (address: string): string => (ipaddr.isValid(address) ? ipaddr.process(address).toString() : address);
