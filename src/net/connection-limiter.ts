import type net from 'node:net';
import { clientIpOf } from '../flow/client-address.js';

export interface ConnectionLimits {
  readonly maxConnections: number;
  readonly maxConnectionsPerClient: number;
}

export type Admission = { readonly ok: true } | { readonly ok: false; readonly reason: string };

/** Counts open client connections per listener and per source address; releases on close. */
export interface ConnectionLimiter {
  admit(socket: net.Socket): Admission;
  open(): number;
}

export const createConnectionLimiter = (limits: () => ConnectionLimits): ConnectionLimiter => {
  let total = 0;
  const perClient = new Map<string, number>();
  return {
    open: () => total,
    admit(socket) {
      const { maxConnections, maxConnectionsPerClient } = limits();
      const client = clientIpOf(socket.remoteAddress);
      const fromClient = perClient.get(client) ?? 0;
      if (total >= maxConnections) return { ok: false, reason: `this listener already has ${total} connections (limits.max_connections)` };
      if (fromClient >= maxConnectionsPerClient) {
        return { ok: false, reason: `${client} already has ${fromClient} connections (limits.max_connections_per_client)` };
      }
      total += 1;
      perClient.set(client, fromClient + 1);
      socket.once('close', () => {
        total -= 1;
        const left = (perClient.get(client) ?? 1) - 1;
        if (left <= 0) perClient.delete(client);
        else perClient.set(client, left);
      });
      return { ok: true };
    },
  };
};
