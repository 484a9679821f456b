import http from 'node:http';
import type net from 'node:net';
import type { Destination } from '../flow/destination.js';
import type { UpstreamDialer } from './upstream-dialer.js';

/** Request options carrying the already-parsed destination down to the agent. */
export interface DialingRequestOptions extends http.RequestOptions {
  destination: Destination;
}

/**
 * A keep-alive agent whose new connections go through the upstream dialer (resolve once,
 * check the address, connect to that address). Pooled sockets are keyed by canonical host:port.
 */
export interface DialingAgent extends http.Agent {
  /** The IP a pooled socket was connected to. */
  addressOf(socket: net.Socket): string | undefined;
}

export const createDialingAgent = (dialer: () => UpstreamDialer, options: { freeSocketTimeoutMs: number }): DialingAgent => {
  const addresses = new WeakMap<net.Socket, string>();
  const agent = new http.Agent({
    keepAlive: true,
    keepAliveMsecs: 15_000,
    maxFreeSockets: 256,
    scheduling: 'lifo',
    timeout: options.freeSocketTimeoutMs,
  }) as http.Agent & { addressOf?: (socket: net.Socket) => string | undefined };
  // Node's Agent accepts an asynchronous createConnection that reports through the callback.
  (agent as unknown as { createConnection: unknown }).createConnection = (
    requestOptions: DialingRequestOptions,
    callback: (error: Error | null, socket?: net.Socket) => void,
  ): undefined => {
    dialer()
      .dial(requestOptions.destination)
      .then(({ socket, address }) => {
        addresses.set(socket, address);
        callback(null, socket);
      }, (error: Error) => callback(error));
    return undefined;
  };
  agent.addressOf = (socket) => addresses.get(socket);
  return agent as DialingAgent;
};
