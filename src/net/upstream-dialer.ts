import net from 'node:net';
import type { Destination } from '../flow/destination.js';
import { PortcullisError } from '../errors.js';
import type { Resolver } from './resolver.js';
import type { CheckedDestination, PipelineDialer } from '../pipeline/dialing.js';

/** Answers whether one resolved address may be dialed (see policy/address-guard.ts). */
export interface AddressCheck {
  check(ip: string): { allowed: true } | { allowed: false; range: string };
}

export interface DialResult {
  readonly socket: net.Socket;
  /** The exact IP that was checked and connected to. */
  readonly address: string;
}

export interface UpstreamDialer extends PipelineDialer<DialResult> {
  /** check() then connect(): resolves once, checks every address, connects to a checked one. */
  dial(destination: Destination, options?: { signal?: AbortSignal }): Promise<DialResult>;
}

export interface DialerOptions {
  readonly resolver: Resolver;
  readonly addressCheck: AddressCheck;
  readonly connectTimeoutMs: number;
}

export const connectOnce = (address: string, port: number, timeoutMs: number, signal?: AbortSignal): Promise<net.Socket> =>
  new Promise((resolve, reject) => {
    const socket = net.connect({ host: address, port, allowHalfOpen: true, noDelay: true });
    const fail = (error: PortcullisError): void => {
      cleanup();
      socket.destroy();
      reject(error);
    };
    const onTimeout = (): void =>
      fail(new PortcullisError('PCL_ERR_UPSTREAM_TIMEOUT', `connect to ${address}:${port} timed out after ${timeoutMs} ms`));
    const onError = (error: NodeJS.ErrnoException): void => {
      const code = error.code ?? 'EUNKNOWN';
      fail(code === 'ECONNREFUSED'
        ? new PortcullisError('PCL_ERR_UPSTREAM_REFUSED', `connection to ${address}:${port} refused`, { cause: error })
        : code === 'ETIMEDOUT'
          ? new PortcullisError('PCL_ERR_UPSTREAM_TIMEOUT', `connect to ${address}:${port} timed out (${code})`, { cause: error })
          : new PortcullisError('PCL_ERR_UPSTREAM_FAILED', `connect to ${address}:${port} failed (${code})`, { cause: error }));
    };
    const onAbort = (): void => fail(new PortcullisError('PCL_ERR_CLIENT_ABORTED', 'client went away while connecting upstream'));
    const onConnect = (): void => {
      cleanup();
      resolve(socket);
    };
    const timer = setTimeout(onTimeout, timeoutMs);
    const cleanup = (): void => {
      clearTimeout(timer);
      socket.off('error', onError);
      socket.off('connect', onConnect);
      signal?.removeEventListener('abort', onAbort);
    };
    socket.once('error', onError);
    socket.once('connect', onConnect);
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
  });

/** Tries the checked addresses in order; a client that left stops the attempts. */
export const connectChecked = async (checked: CheckedDestination, timeoutMs: number, signal?: AbortSignal): Promise<DialResult> => {
  // Made only when every address failed: an Error captures a stack trace, a cost on every dial otherwise.
  let lastError: unknown;
  for (const address of checked.allowed) {
    try {
      const socket = await connectOnce(address, checked.destination.port, timeoutMs, signal);
      return { socket, address };
    } catch (error) {
      lastError = error;
      if (error instanceof PortcullisError && error.code === 'PCL_ERR_CLIENT_ABORTED') break;
    }
  }
  throw lastError ?? new PortcullisError('PCL_ERR_ADDRESS_BLOCKED', `no checked address to dial for ${checked.destination.host.host}`);
};

export const createUpstreamDialer = (options: DialerOptions): UpstreamDialer => {
  const check = async (destination: Destination): Promise<CheckedDestination> => {
    const resolved = await options.resolver.resolve(destination.host);
    const allowed: string[] = [];
    const blocked: string[] = [];
    for (const address of resolved) {
      const verdict = options.addressCheck.check(address);
      if (verdict.allowed) allowed.push(address);
      else blocked.push(`${address} (${verdict.range})`);
    }
    if (allowed.length === 0) {
      throw new PortcullisError('PCL_ERR_ADDRESS_BLOCKED',
        `${destination.host.host} resolves to a blocked address: ${blocked.join(', ')}; list the range in destinations.allow_ranges to allow it`);
    }
    return { destination, resolved, allowed, local: true };
  };
  const connect = (checked: CheckedDestination, connectOptions: { signal?: AbortSignal } = {}): Promise<DialResult> =>
    connectChecked(checked, options.connectTimeoutMs, connectOptions.signal);
  return {
    check,
    connect,
    dial: async (destination, dialOptions = {}) => connect(await check(destination), dialOptions),
  };
};
