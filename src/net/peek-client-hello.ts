import type net from 'node:net';
import { createClientHelloReader, type ClientHelloResult } from './client-hello.js';

export type PeekResult = ClientHelloResult | { readonly status: 'timeout' } | { readonly status: 'closed' };

/**
 * Reads from the client until a whole ClientHello (or clearly something else) has arrived,
 * without consuming it: the bytes are returned so they can be relayed untouched. The socket
 * is left paused.
 */
export const peekClientHello = (socket: net.Socket, initial: Buffer, timeoutMs: number): Promise<{ result: PeekResult; buffered: Buffer }> =>
  new Promise((resolve) => {
    // Chunks are kept as they came and joined once: re-joining on every chunk would be
    // quadratic for a client that sends its hello a byte at a time.
    const chunks: Buffer[] = initial.length > 0 ? [initial] : [];
    const reader = createClientHelloReader();
    const finish = (result: PeekResult): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onClosed);
      socket.off('close', onClosed);
      socket.pause();
      resolve({ result, buffered: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks) });
    };
    const offer = (chunk: Buffer): boolean => {
      const result = reader.push(chunk);
      if (result.status === 'need-more') return false;
      finish(result);
      return true;
    };
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      offer(chunk);
    };
    const onClosed = (): void => finish({ status: 'closed' });
    const timer = setTimeout(() => finish({ status: 'timeout' }), timeoutMs);
    if (initial.length > 0 && offer(initial)) return;
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
