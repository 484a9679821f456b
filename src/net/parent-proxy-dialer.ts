import { formatAuthority, type Destination } from '../flow/destination.js';
import { PortcullisError } from '../errors.js';
import { readResponseHead } from './read-response-head.js';
import type { Resolver } from './resolver.js';
import { connectOnce, type DialResult, type UpstreamDialer } from './upstream-dialer.js';
import type { CheckedDestination } from '../pipeline/dialing.js';
import type { ParentProxy } from '../config/parent-proxy-url.js';

/** A parent proxy (`upstream.proxy`), already parsed. */
export { parseParentProxyUrl, type ParentProxy, type ParentProxyResult } from '../config/parent-proxy-url.js';

/** The CONNECT request head sent to the parent, with its credentials when it has any. */
export const parentConnectHead = (parent: ParentProxy, destination: Destination): string => {
  const authority = formatAuthority(destination);
  const auth = parent.authorization === undefined ? '' : `Proxy-Authorization: ${parent.authorization}\r\n`;
  return `CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n${auth}\r\n`;
};

export interface ParentDialers {
  /** Reaches a destination through `CONNECT` at the parent (tunnels, TLS to origins, upgrades). */
  readonly tunnel: UpstreamDialer;
  /** Reaches the parent itself, for plain-HTTP requests sent to it in absolute form. */
  readonly direct: UpstreamDialer;
}

/**
 * Dialers that go through a parent proxy, as Squid's cache_peer does. The parent resolves and
 * connects to the destination, so the address guard applies to the parent's own policy, not
 * ours; our policy has already decided on the host name before anything is dialed. The
 * parent's own address is the operator's choice and is not checked against allow_ranges.
 */
export const createParentDialers = (parent: ParentProxy, resolver: Resolver, timeouts: { connectMs: number; responseMs: number }): ParentDialers => {
  const reachParent = async (signal?: AbortSignal): Promise<DialResult> => {
    const addresses = await resolver.resolve(parent.destination.host);
    let lastError: unknown;
    for (const address of addresses) {
      try {
        return { socket: await connectOnce(address, parent.destination.port, timeouts.connectMs, signal), address };
      } catch (error) {
        lastError = error;
      }
    }
    throw lastError instanceof PortcullisError
      ? new PortcullisError(lastError.code, `parent proxy ${parent.label}: ${lastError.message}`, { cause: lastError })
      : lastError;
  };
  // The parent resolves and checks: nothing is resolved here, the destination goes by name.
  const unchecked = async (destination: Destination): Promise<CheckedDestination> => ({ destination, resolved: [], allowed: [], local: false });
  const toParent = (_checked: CheckedDestination, options: { signal?: AbortSignal } = {}): Promise<DialResult> => reachParent(options.signal);
  const throughParent = async (checked: CheckedDestination, options: { signal?: AbortSignal } = {}): Promise<DialResult> => {
    const { socket, address } = await reachParent(options.signal);
    const authority = formatAuthority(checked.destination);
    socket.write(parentConnectHead(parent, checked.destination));
    try {
      const answer = await readResponseHead(socket, timeouts.responseMs);
      if (answer.status !== 200) {
        const line = (answer.bytes.toString('latin1').split('\r\n')[0] ?? '').replace(/[^\x20-\x7e]/g, '?').slice(0, 200);
        const hint = answer.status === 407 ? (parent.authorization === undefined ? ' (the parent wants credentials: http://user:password@parent in upstream.proxy)' : ' (the parent refused the credentials in upstream.proxy)') : '';
        throw new PortcullisError('PCL_ERR_UPSTREAM_FAILED', `parent proxy ${parent.label} refused CONNECT ${authority}: ${line}${hint}`);
      }
      const rest = answer.bytes.subarray(answer.bytes.indexOf('\r\n\r\n') + 4);
      if (rest.length > 0) socket.unshift(rest);
      return { socket, address };
    } catch (error) {
      socket.destroy();
      throw error;
    }
  };
  return {
    direct: { check: unchecked, connect: toParent, dial: async (destination, options) => toParent(await unchecked(destination), options) },
    tunnel: { check: unchecked, connect: throughParent, dial: async (destination, options) => throughParent(await unchecked(destination), options) },
  };
};
