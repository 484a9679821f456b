import type net from 'node:net';
import { serializeParts } from '../http/deny-response.js';
import type { Credentials } from '../pipeline/authenticate.js';
import type { FlowOrigin } from '../pipeline/flow.js';
import type { TunnelContext } from '../pipeline/identify-request.js';
import type { Refusal } from '../pipeline/refusal.js';
import type { HelloPeek, TunnelClient, WrittenAnswer } from '../pipeline/tunnel-pipeline.js';
import type { ProxyRuntime } from '../runtime.js';
import type { OriginalDestination } from './original-destination.js';
import { peekClientHello, tlsAlert } from './peek-client-hello.js';
import { relayTunnel } from './tunnel-relay.js';
import type { DialResult } from './upstream-dialer.js';

/** Encoded once: a string would be encoded again for every tunnel. Never modified. */
const ESTABLISHED = Buffer.from('HTTP/1.1 200 Connection Established\r\n\r\n', 'latin1');
/** A refused client that keeps its end open is closed after this long. */
const LINGER_MS = 5000;

/** Takes over a tunnel's client connection: to decrypt it (the interceptor), or to read plain HTTP in it. */
export type TakeOverTunnel = (client: net.Socket, buffered: Buffer, tunnel: TunnelContext) => void;

export interface SocketTunnelOptions {
  readonly connection: Omit<FlowOrigin, 'id' | 'startedAt'>;
  /** A CONNECT request: its authority, headers and credentials; `head` is what followed it. */
  readonly connect?: { readonly authority: string; readonly rawHeaders: readonly string[]; readonly credentials: Credentials; readonly head: Buffer };
  /** A transparent connection: its original destination and the ClientHello already peeked at. */
  readonly transparent?: { readonly original: OriginalDestination | undefined; readonly hello: HelloPeek };
  readonly intercept: TakeOverTunnel;
  readonly serveHttp: TakeOverTunnel;
}

/**
 * The client end of a tunnel on a real socket. A CONNECT client is answered in HTTP until its
 * 200 and in TLS alerts after it; a transparent client only ever speaks TLS.
 */
export const socketTunnelClient = (runtime: ProxyRuntime, socket: net.Socket, options: SocketTunnelOptions): TunnelClient<DialResult> => {
  let speaksHttp = options.connect !== undefined;
  socket.on('error', () => {});
  const linger = (): void => {
    socket.resume(); // drain what the client still sends until it closes
    setTimeout(() => socket.destroy(), LINGER_MS).unref();
  };
  return {
    connection: options.connection,
    ...(options.connect ? { connect: options.connect } : {}),
    ...(options.transparent?.original ? { original: options.transparent.original } : {}),
    hello: () => options.transparent
      ? Promise.resolve(options.transparent.hello)
      : peekClientHello(socket, options.connect?.head ?? Buffer.alloc(0), runtime.state().config.timeouts.client_hello),
    established() {
      const wrote = speaksHttp ? ESTABLISHED.length : 0;
      if (speaksHttp) socket.write(ESTABLISHED);
      speaksHttp = false;
      return wrote;
    },
    refuse(refusal: Refusal) {
      if (socket.destroyed) return undefined;
      let written: WrittenAnswer | undefined;
      if (speaksHttp) {
        const { head, body } = serializeParts(refusal.response);
        socket.end(Buffer.concat([head, body]));
        written = { status: refusal.response.status, headBytes: head.length, bodyBytes: body.length };
      } else if (refusal.alert) {
        socket.end(tlsAlert(refusal.alert));
      } else {
        socket.end();
      }
      linger();
      return written;
    },
    gone: () => socket.destroyed,
    onGone(abort) {
      socket.once('close', abort);
      socket.on('error', abort);
      return () => {
        socket.off('close', abort);
        socket.off('error', abort);
      };
    },
    intercept(tunnel, buffered) {
      // Hand over on a later turn of the event loop: wrapping the socket's handle in a TLSSocket
      // while its 'data' dispatch (that delivered the ClientHello) is still unwinding stalls the
      // handshake when the certificate is already cached (seen on Node 20).
      setImmediate(() => options.intercept(socket, buffered, tunnel));
    },
    serveHttp(tunnel, buffered) {
      options.serveHttp(socket, buffered, tunnel);
    },
    async splice(upstream, buffered) {
      upstream.socket.on('error', () => {});
      if (buffered.length > 0) upstream.socket.write(buffered);
      await relayTunnel(socket, upstream.socket, runtime.state().config.timeouts.tunnel_idle);
      return { up: upstream.socket.bytesWritten, down: upstream.socket.bytesRead };
    },
    close: () => {
      // end(), not destroy(): what was written (a 200) still reaches a client that half-closed.
      if (socket.destroyed) return;
      socket.end();
      linger();
    },
  };
};
