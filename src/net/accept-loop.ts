import net from 'node:net';
import { bindServer } from './bind-server.js';

/** A bound TCP port that hands accepted sockets on and tracks them for a graceful close. */
export interface AcceptLoop {
  readonly sockets: ReadonlySet<net.Socket>;
  /** Bound address ("0.0.0.0:3130"), known after listen(). */
  address(): string;
  listen(): Promise<string>;
  /**
   * Stops accepting; while sockets remain open and `graceMs` has not passed, calls `tick`
   * (e.g. to close idle keep-alive connections) every 50 ms; then destroys what is left.
   */
  close(graceMs: number, tick?: () => void): Promise<void>;
}

export const createAcceptLoop = (address: string, onSocket: (socket: net.Socket) => void): AcceptLoop => {
  const sockets = new Set<net.Socket>();
  let bound = address;
  let closing: Promise<void> | undefined;
  const server = net.createServer({ noDelay: true, allowHalfOpen: true });
  server.on('connection', (socket: net.Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    onSocket(socket);
  });
  return {
    sockets,
    address: () => bound,
    listen: async () => {
      bound = await bindServer(server, address, '');
      return bound;
    },
    close: (graceMs, tick) => {
      closing ??= (async () => {
        const stopped = new Promise<void>((resolve) => {
          if (server.listening) server.close(() => resolve());
          else resolve();
        });
        tick?.();
        const deadline = Date.now() + graceMs;
        while (sockets.size > 0 && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 50));
          tick?.();
        }
        for (const socket of sockets) socket.destroy();
        await stopped;
      })();
      return closing;
    },
  };
};
