import type http from 'node:http';
import type net from 'node:net';
import { whenResponseClosed } from '../http/when-response-closed.js';

/** A connection accepted during a drain that has not sent its request after this long is closed. */
const FRESH_MS = 1000;

/**
 * What a graceful stop needs to know of each accepted connection: a tunnel (CONNECT, upgrade,
 * transparent TLS) runs until it ends or the grace period does; an HTTP connection is closed as
 * soon as it has no request in flight; one that was accepted but has not sent its first request
 * yet gets a moment to send it (a load balancer may still be routing to us), so that a request
 * that reached this process is answered, not dropped.
 */
export interface DrainTracker {
  accepted(socket: net.Socket): void;
  /** `secure` carries the requests of `raw` (TLS to the proxy). */
  wraps(raw: net.Socket, secure: object): void;
  tunnel(socket: object): void;
  /** A request arrived on `socket`; during a drain its response closes the connection. */
  request(socket: object, res: http.ServerResponse): void;
  /** Starts the drain and closes what may be closed now; call again until every connection is gone. */
  tick(sockets: Iterable<net.Socket>, now: number): void;
}

interface State {
  kind: 'fresh' | 'http' | 'tunnel';
  inFlight: number;
  readonly acceptedAt: number;
}

export const createDrainTracker = (clock: () => number): DrainTracker => {
  const states = new WeakMap<object, State>();
  const rawOf = new WeakMap<object, net.Socket>();
  let draining = false;
  const stateOf = (socket: object): State | undefined => states.get(rawOf.get(socket) ?? socket);
  return {
    accepted: (socket) => {
      states.set(socket, { kind: 'fresh', inFlight: 0, acceptedAt: clock() });
    },
    wraps: (raw, secure) => {
      rawOf.set(secure, raw);
    },
    tunnel: (socket) => {
      const state = stateOf(socket);
      if (state) state.kind = 'tunnel';
    },
    request: (socket, res) => {
      const state = stateOf(socket);
      if (!state) return;
      if (state.kind === 'fresh') state.kind = 'http';
      state.inFlight += 1;
      if (draining) res.shouldKeepAlive = false;
      whenResponseClosed(res, () => {
        state.inFlight -= 1;
      });
    },
    tick: (sockets, now) => {
      draining = true;
      for (const socket of sockets) {
        const state = states.get(socket);
        if (state === undefined || state.kind === 'tunnel') continue;
        const idle = state.kind === 'http' && state.inFlight === 0;
        const stale = state.kind === 'fresh' && now - state.acceptedAt > FRESH_MS;
        if (idle || stale) socket.destroy();
      }
    },
  };
};
