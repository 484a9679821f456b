import { Duplex } from 'node:stream';
import type tls from 'node:tls';

/**
 * Node's HTTP/2 server cannot take over a server-side TLSSocket that was created around an
 * existing socket (it stalls when it consumes that socket's native handle), but it accepts any
 * JavaScript Duplex. This adapter is that Duplex, with backpressure both ways.
 */
export const http2StreamAdapter = (secure: tls.TLSSocket): Duplex => {
  const adapter = new Duplex({
    read() {
      secure.resume();
    },
    write(chunk: Buffer, _encoding, callback) {
      if (secure.write(chunk)) callback();
      else secure.once('drain', () => callback());
    },
    final(callback) {
      secure.end(callback);
    },
    destroy(error, callback) {
      secure.destroy(error ?? undefined);
      callback(error);
    },
  });
  secure.on('data', (chunk: Buffer) => {
    if (!adapter.push(chunk)) secure.pause();
  });
  secure.once('end', () => adapter.push(null));
  secure.once('close', () => adapter.destroy());
  secure.on('error', (error) => adapter.destroy(error));
  Object.defineProperty(adapter, 'remoteAddress', { get: () => secure.remoteAddress });
  Object.defineProperty(adapter, 'remotePort', { get: () => secure.remotePort });
  return adapter;
};
