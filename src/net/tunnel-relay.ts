import type net from 'node:net';
import type { Transform } from 'node:stream';

/**
 * Relays bytes both ways with backpressure (pipe) and half-close: when one side ends its
 * writing, the other side's writing end is closed and the reverse direction keeps flowing.
 * Resolves once both sockets are closed. An `upstreamGate` (a Transform) sees, and may refuse,
 * everything the client sends.
 */
export const relayTunnel = (client: net.Socket, upstream: net.Socket, idleTimeoutMs: number, upstreamGate?: Transform): Promise<void> =>
  new Promise((resolve) => {
    let open = 2;
    const onClose = (): void => {
      open -= 1;
      if (open === 0) resolve();
    };
    const destroyBoth = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.once('close', () => {
      upstream.destroy();
      onClose();
    });
    upstream.once('close', () => {
      // Let the client read what is already queued before it sees the end.
      if (client.writableLength === 0) client.destroy();
      else client.end();
      onClose();
    });
    client.on('error', destroyBoth);
    upstream.on('error', destroyBoth);
    if (idleTimeoutMs > 0) {
      client.setTimeout(idleTimeoutMs, destroyBoth);
      upstream.setTimeout(idleTimeoutMs, destroyBoth);
    }
    if (upstreamGate) {
      // What the client sends passes the gate first; a gate that refuses (errors) ends both sides.
      upstreamGate.on('error', destroyBoth);
      client.pipe(upstreamGate).pipe(upstream);
    } else {
      client.pipe(upstream);
    }
    upstream.pipe(client);
  });
