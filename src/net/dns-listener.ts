import dgram from 'node:dgram';
import net from 'node:net';
import type { ListenerConfig } from '../config/schema.js';
import { PortcullisError } from '../errors.js';
import { clientIpOf } from '../flow/client-address.js';
import type { DnsReply } from '../pipeline/dns-answers.js';
import { runDnsQuery, type DnsDeps } from '../pipeline/dns-pipeline.js';
import type { ProxyRuntime } from '../runtime.js';
import { createAcceptLoop, type AcceptLoop } from './accept-loop.js';
import { encodeReply, readQuery, udpLimit } from './dns-message.js';
import { joinListenAddress, splitListenAddress } from './listen-address.js';
import type { Listener } from './listener.js';

/** A TCP connection that sends nothing for this long is closed (RFC 7766 asks for seconds, not minutes). */
export const DNS_TCP_IDLE_MS = 10_000;
/** Queries one TCP connection may have in progress; beyond, its socket is paused until answers go out. */
const TCP_IN_FLIGHT = 16;
/** UDP queries in progress at once; beyond, new ones are answered REFUSED at once. */
const UDP_IN_FLIGHT = 1024;
/** Attempts to find a port free for both UDP and TCP when the config asks for port 0. */
const BIND_ATTEMPTS = 10;

/**
 * The DNS listener (`mode: dns`): UDP and TCP on the same address. Every message is decoded
 * (dns-packet), handed to the DNS pipeline, and the reply encoded to fit the transport. TCP
 * messages are length-prefixed (at most 65535 bytes by construction); connections are bounded
 * in number (dns.max_tcp_connections), idle time and queries in flight.
 */
export const createDnsListener = (runtime: ProxyRuntime, config: ListenerConfig, deps: DnsDeps): Listener => {
  const { host, port: wantedPort } = splitListenAddress(config.address);
  let bound = config.address;
  let udp: dgram.Socket | undefined;
  let tcp: AcceptLoop | undefined;
  let udpInFlight = 0;
  let closed = false;
  const listener = (): string => bound;

  const handle = (message: Buffer, client: { address: string; port: number }, transport: 'udp' | 'tcp', reply: (bytes: Buffer) => void, done: () => void): void => {
    const received = readQuery(message);
    const respond = (answer: DnsReply): void => {
      try {
        reply(encodeReply(received, answer, transport === 'udp' ? udpLimit(received) : 65_535));
      } catch (error) {
        runtime.logger.error({ err: error }, 'DNS reply could not be encoded');
      }
    };
    let finished = false;
    const finish = (): void => {
      if (!finished) done();
      finished = true;
    };
    runDnsQuery(runtime, {
      connection: { client: { address: clientIpOf(client.address), port: client.port }, listener: listener() },
      transport, query: received.query,
      respond: (answer) => {
        respond(answer);
        finish();
      },
    }, deps);
    if (!received.query.ok && !received.query.respond) finish();
  };

  const onDatagram = (socket: dgram.Socket) => (message: Buffer, from: dgram.RemoteInfo): void => {
    const client = { address: from.address, port: from.port };
    const send = (bytes: Buffer): void => {
      if (!closed) socket.send(bytes, from.port, from.address, () => {});
    };
    if (udpInFlight >= UDP_IN_FLIGHT) {
      const busy = readQuery(message);
      if (busy.query.ok || busy.query.respond) send(encodeReply(busy, { rcode: 'REFUSED', answers: [] }, udpLimit(busy)));
      return;
    }
    udpInFlight += 1;
    handle(message, client, 'udp', send, () => { udpInFlight -= 1; });
  };

  const onTcp = (socket: net.Socket): void => {
    if (tcp !== undefined && tcp.sockets.size > runtime.state().config.dns.max_tcp_connections) {
      socket.destroy();
      return;
    }
    socket.setTimeout(DNS_TCP_IDLE_MS, () => socket.destroy());
    const client = { address: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 };
    let pending: Buffer = Buffer.alloc(0);
    let inFlight = 0;
    let ended = false;
    const settle = (): void => {
      if (inFlight < TCP_IN_FLIGHT && socket.isPaused() && !ended) socket.resume();
      if (ended && inFlight === 0) socket.end();
    };
    const write = (bytes: Buffer): void => {
      if (socket.destroyed || !socket.writable) return;
      const length = Buffer.alloc(2);
      length.writeUInt16BE(bytes.length);
      socket.write(Buffer.concat([length, bytes]));
    };
    socket.on('data', (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      while (pending.length >= 2) {
        const size = pending.readUInt16BE(0);
        if (size === 0) {
          socket.destroy();
          return;
        }
        if (pending.length < 2 + size) break;
        const message = pending.subarray(2, 2 + size);
        pending = pending.subarray(2 + size);
        inFlight += 1;
        handle(Buffer.from(message), client, 'tcp', write, () => {
          inFlight -= 1;
          settle();
        });
      }
      if (inFlight >= TCP_IN_FLIGHT) socket.pause();
    });
    socket.on('end', () => {
      ended = true;
      settle();
    });
  };

  const bindUdp = (port: number): Promise<dgram.Socket> => new Promise((resolve, reject) => {
    const socket = dgram.createSocket(net.isIPv6(host) ? { type: 'udp6', ipv6Only: false } : { type: 'udp4' });
    socket.once('error', reject);
    // Not exclusive: worker processes (portcullis run --workers N) share one socket, as they share the TCP port.
    socket.bind({ address: host, port, exclusive: false }, () => {
      socket.off('error', reject);
      socket.on('error', (error) => runtime.logger.warn({ err: error }, 'DNS listener UDP error'));
      socket.on('message', onDatagram(socket));
      resolve(socket);
    });
  });

  const listen = async (): Promise<string> => {
    let lastError: unknown;
    for (let attempt = 0; attempt < (wantedPort === 0 ? BIND_ATTEMPTS : 1); attempt += 1) {
      const loop = createAcceptLoop(config.address, onTcp);
      const address = await loop.listen();
      try {
        udp = await bindUdp(splitListenAddress(address).port);
        tcp = loop;
        bound = joinListenAddress(host, splitListenAddress(address).port);
        return bound;
      } catch (error) {
        lastError = error;
        await loop.close(0);
      }
    }
    throw new PortcullisError('PCL_ERR_LISTEN_FAILED', `DNS listener cannot listen on UDP ${config.address}: ${(lastError as Error).message}`, { cause: lastError });
  };

  return {
    config,
    address: listener,
    listen,
    connections: () => tcp?.sockets.size ?? 0,
    close: async (graceMs = 0) => {
      if (closed) return;
      closed = true;
      udp?.close();
      await tcp?.close(graceMs);
    },
  };
};
