import type net from 'node:net';

export type SniffedProtocol = 'tls' | 'plain' | 'closed';

/**
 * Waits for the first bytes of a connection and puts them back: a TLS handshake record
 * (0x16) means the client speaks TLS to the proxy itself; anything else is plain HTTP.
 */
export const sniffProtocol = (socket: net.Socket, timeoutMs: number): Promise<SniffedProtocol> =>
  new Promise((resolve) => {
    const done = (result: SniffedProtocol): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      socket.off('end', onClose);
      resolve(result);
    };
    const onData = (chunk: Buffer): void => {
      socket.pause();
      socket.unshift(chunk);
      done(chunk[0] === 0x16 ? 'tls' : 'plain');
    };
    const onClose = (): void => done('closed');
    const timer = setTimeout(() => {
      socket.destroy();
      done('closed');
    }, timeoutMs);
    socket.on('data', onData);
    socket.once('end', onClose);
    socket.once('close', onClose);
  });
