import type net from 'node:net';
import { PortcullisError } from '../errors.js';

const MAX_RESPONSE_HEAD = 64 * 1024;

/**
 * Reads an HTTP response head from `socket` (an upgrade answer, a parent proxy's CONNECT
 * answer); resolves with the status and every byte read, leaving the socket paused.
 */
export const readResponseHead = (socket: net.Socket, timeoutMs: number): Promise<{ status: number; bytes: Buffer }> =>
  new Promise((resolve, reject) => {
    let bytes = Buffer.alloc(0);
    const done = (error?: Error): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      socket.pause();
      if (error) {
        reject(error);
        return;
      }
      resolve({ status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(bytes.toString('latin1', 0, 16))?.[1] ?? 0), bytes });
    };
    const onData = (chunk: Buffer): void => {
      bytes = Buffer.concat([bytes, chunk]);
      if (bytes.indexOf('\r\n\r\n') >= 0) done();
      else if (bytes.length > MAX_RESPONSE_HEAD) done(new PortcullisError('PCL_ERR_UPSTREAM_FAILED', 'upstream response head too large'));
    };
    const onClose = (): void => done(new PortcullisError('PCL_ERR_UPSTREAM_RESET', 'upstream closed before answering the upgrade'));
    const timer = setTimeout(() => done(new PortcullisError('PCL_ERR_UPSTREAM_RESPONSE_TIMEOUT', `no answer to the upgrade within ${timeoutMs} ms`)), timeoutMs);
    socket.on('data', onData);
    socket.once('close', onClose);
  });

