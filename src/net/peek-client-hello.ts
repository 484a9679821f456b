import type net from 'node:net';
import { MAX_CLIENT_HELLO, parseClientHello, type ClientHelloResult } from './client-hello.js';

export type PeekResult = ClientHelloResult | { readonly status: 'timeout' } | { readonly status: 'closed' };

/**
 * Reads from the client until a whole ClientHello (or clearly something else) has arrived,
 * without consuming it: the bytes are returned so they can be relayed untouched. The socket
 * is left paused.
 */
export const peekClientHello = (socket: net.Socket, initial: Buffer, timeoutMs: number): Promise<{ result: PeekResult; buffered: Buffer }> =>
  new Promise((resolve) => {
    let buffered = initial;
    const finish = (result: PeekResult): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onClosed);
      socket.off('close', onClosed);
      socket.pause();
      resolve({ result, buffered });
    };
    const evaluate = (): boolean => {
      if (buffered.length === 0) return false;
      const result = parseClientHello(buffered);
      if (result.status === 'need-more' && buffered.length <= MAX_CLIENT_HELLO + 1024) return false;
      finish(result.status === 'need-more' ? { status: 'invalid', error: 'ClientHello too large' } : result);
      return true;
    };
    const onData = (chunk: Buffer): void => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      evaluate();
    };
    const onClosed = (): void => finish({ status: 'closed' });
    const timer = setTimeout(() => finish({ status: 'timeout' }), timeoutMs);
    if (evaluate()) return;
    // The client may have gone already (its 'close' fired before we listened).
    if (socket.destroyed || socket.readableEnded) {
      finish({ status: 'closed' });
      return;
    }
    socket.on('data', onData);
    socket.once('end', onClosed);
    socket.once('close', onClosed);
    socket.resume();
  });

/** A fatal TLS alert record (RFC 8446 §6): what a client sees when its tunnel is refused after CONNECT. */
export const tlsAlert = (description: 'access_denied' | 'unrecognized_name' | 'handshake_failure'): Buffer =>
  Buffer.from([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, { access_denied: 49, unrecognized_name: 112, handshake_failure: 40 }[description]]);
