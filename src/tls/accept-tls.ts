import type net from 'node:net';
import tls from 'node:tls';

export interface AcceptTlsEvents {
  /** The handshake finished. */
  secure(secure: tls.TLSSocket): void;
  /** The handshake failed, the client left, or it did not finish in time; the sockets are already destroyed. */
  failed(problem: { readonly code: string; readonly message: string; readonly timedOut: boolean }): void;
}

/**
 * Terminates a client's TLS on an accepted socket: every TLS server surface of the proxy (TLS to
 * the proxy, intercepted tunnels) goes through here, so each one bounds the handshake in time:
 * a client that sends a ClientHello and then stalls, or reads the ServerHello and leaves, is
 * closed after `timeoutMs` and reported, instead of holding a descriptor and a connection slot.
 */
export const acceptTls = (socket: net.Socket, options: tls.TLSSocketOptions, timeoutMs: number, events: AcceptTlsEvents): tls.TLSSocket => {
  const secure = new tls.TLSSocket(socket, { ...options, isServer: true });
  let settled = false;
  const fail = (code: string, message: string, timedOut: boolean): void => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    secure.destroy();
    socket.destroy();
    events.failed({ code, message, timedOut });
  };
  const timer = setTimeout(() => fail('ETIMEDOUT', `the TLS handshake did not finish within ${timeoutMs} ms`, true), timeoutMs);
  timer.unref();
  secure.once('secure', () => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    events.secure(secure);
  });
  secure.on('error', (error: NodeJS.ErrnoException) => {
    if (!settled) fail(error.code ?? 'ERR_TLS', error.message, false);
    else secure.destroy();
  });
  // A client gone mid-handshake (FIN or reset) is a failed handshake too, not a silent leak:
  // listeners accept half-open sockets, so a FIN alone would otherwise close nothing.
  const left = (): void => fail('ECONNRESET', 'the client closed the connection during the TLS handshake', false);
  secure.once('end', left);
  secure.once('close', left);
  return secure;
};
