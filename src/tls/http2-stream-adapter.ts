import { Duplex } from 'node:stream';
import type tls from 'node:tls';

/**
 * Node's HTTP/2 server cannot take over a server-side TLSSocket that was created around an
 * existing socket (it stalls when it consumes that socket's native handle), but it accepts any
 * JavaScript Duplex. This adapter is that Duplex, with backpressure both ways.
 */
const BUFFER_BYTES = 256 * 1024;

export const http2StreamAdapter = (secure: tls.TLSSocket): Duplex => {
  // The HTTP/2 session has one write outstanding at a time: waiting for the TLS socket's 'drain'
  // after each batch (its high-water mark is 16 KiB) left the session idle for every round trip
  // through the kernel. Up to BUFFER_BYTES may queue in the TLS socket before it has to wait.
  const toSecure = (data: Buffer, callback: (error?: Error | null) => void): void => {
    secure.write(data);
    if (secure.writableLength < BUFFER_BYTES) callback();
    else secure.once('drain', () => callback());
  };
  const adapter = new Duplex({
    // HTTP/2 writes many small frames: let them queue and go out together (writev), one TLS
    // write for several frames rather than one per 16 KiB DATA frame.
    writableHighWaterMark: BUFFER_BYTES,
    readableHighWaterMark: BUFFER_BYTES,
    read() {
      secure.resume();
    },
    write(chunk: Buffer, _encoding, callback) {
      toSecure(chunk, callback);
    },
    writev(chunks, callback) {
      toSecure(chunks.length === 1 ? (chunks[0]?.chunk as Buffer) : Buffer.concat(chunks.map((c) => c.chunk as Buffer)), callback);
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
